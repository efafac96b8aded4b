//! `mon audit export SESSION_ID --out DIR`: the recorded session body and signature, ready for
//! `ssh-keygen -Y verify`.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use mon_proto::audit::AuditRecord;

use super::armor::{armor_sshsig, sshsig_namespace};
use crate::exit;
use crate::out::errln;

/// Arguments of `mon audit export`.
#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// The session id (hex, as `mon audit show` prints it; a unique prefix of 8+ digits is
    /// enough).
    pub session_id: String,
    /// The log file, or a state dir (its audit.jsonl and rotated files)
    /// [default: ./audit.jsonl].
    #[arg(long, value_name = "FILE")]
    pub log: Option<PathBuf>,
    /// Directory to write session.cbor and session.sig into (created if missing).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

const MIN_PREFIX: usize = 8;

/// Finds the session's `session.accept` / `session.deny` record and writes its files.
pub fn run(args: ExportArgs) -> anyhow::Result<u8> {
    let want = session_prefix(&args.session_id)?;
    let given = args.log.clone().unwrap_or_else(super::default_log);
    let mut search = Search {
        want: &want,
        found: None,
        without_body: None,
    };
    for file in super::log_files(&given)? {
        let mut reader = super::open_file(&file)?;
        while let Some(line) = reader
            .next_line()
            .with_context(|| format!("cannot read audit log {}", file.display()))?
        {
            if let Some(rec) = session_record(&line.bytes, &want) {
                search.consider(At(file.clone(), line.no), rec)?;
            }
        }
    }
    let Some((at, rec)) = search.found else {
        report_not_found(&given, &want, search.without_body);
        return Ok(exit::PARTIAL_OR_NEGATIVE);
    };
    write_export(&at.0, at.1, &rec, &args.out)?;
    Ok(exit::OK)
}

/// The session id prefix to look for: at least [`MIN_PREFIX`] hex digits, lower case.
fn session_prefix(given: &str) -> anyhow::Result<String> {
    let want = given.trim().to_ascii_lowercase();
    if want.len() < MIN_PREFIX || !want.bytes().all(|b| b.is_ascii_hexdigit()) {
        anyhow::bail!("session id {given:?}: expected at least {MIN_PREFIX} hex digits");
    }
    Ok(want)
}

/// The line's record when it is a `session.accept` / `session.deny` of a session whose id
/// starts with `want`.
fn session_record(line: &[u8], want: &str) -> Option<AuditRecord> {
    let rec = std::str::from_utf8(line)
        .ok()
        .and_then(|s| AuditRecord::parse(s).ok())?;
    if !matches!(rec.event.as_str(), "session.accept" | "session.deny") {
        return None;
    }
    rec.session_id.as_deref()?.starts_with(want).then_some(rec)
}

/// A line of a file of the log.
struct At(PathBuf, usize);

impl std::fmt::Display for At {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.0.display(), self.1)
    }
}

/// The search for the one session record to export.
struct Search<'a> {
    want: &'a str,
    /// The first record with body and signature, and its line.
    found: Option<(At, AuditRecord)>,
    /// The first matching line recorded without them.
    without_body: Option<At>,
}

impl Search<'_> {
    /// Takes a matching record: keeps the first one, fails when the prefix names a second
    /// session, warns when the same session is recorded with another body or signature.
    fn consider(&mut self, at: At, rec: AuditRecord) -> anyhow::Result<()> {
        if rec.session_body.is_none() || rec.session_sig.is_none() {
            self.without_body.get_or_insert(at);
            return Ok(());
        }
        let Some((first_at, first)) = &self.found else {
            self.found = Some((at, rec));
            return Ok(());
        };
        if first.session_id != rec.session_id {
            anyhow::bail!(
                "session id prefix {} is ambiguous: {first_at} and {at} name different \
                 sessions; give more digits",
                self.want,
            );
        }
        if first.session_body != rec.session_body || first.session_sig != rec.session_sig {
            errln!(
                "warning: {at} records session {} with a different body or signature \
                 than {first_at} (equivocation?); exporting {first_at}",
                rec.session_id.as_deref().unwrap_or_default()
            );
        }
        Ok(())
    }
}

/// Says why nothing was exported.
fn report_not_found(path: &Path, want: &str, without_body: Option<At>) {
    match without_body {
        Some(at) => errln!(
            "{at}: session {want} is recorded without its body and signature; nothing to \
             export"
        ),
        None => errln!(
            "no session.accept or session.deny record for session {want} in {}",
            path.display()
        ),
    }
}

/// What `write_export` wrote, for the instructions it prints.
struct Written {
    body_path: PathBuf,
    body_len: usize,
    sig_path: PathBuf,
    namespace: String,
}

fn write_export(log: &Path, line_no: usize, rec: &AuditRecord, out: &Path) -> anyhow::Result<()> {
    let at = format!("{}:{line_no}", log.display());
    let body = rec
        .session_body_bytes()
        .with_context(|| at.clone())?
        .unwrap_or_default();
    let sig = rec
        .session_sig_bytes()
        .with_context(|| at.clone())?
        .unwrap_or_default();
    let namespace = sshsig_namespace(&sig).with_context(|| format!("{at}: session_sig"))?;

    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let body_path = out.join("session.cbor");
    let sig_path = out.join("session.sig");
    std::fs::write(&body_path, &body)
        .with_context(|| format!("cannot write {}", body_path.display()))?;
    std::fs::write(&sig_path, armor_sshsig(&sig))
        .with_context(|| format!("cannot write {}", sig_path.display()))?;
    let written = Written {
        body_path,
        body_len: body.len(),
        sig_path,
        namespace,
    };
    super::with_stdout(|o| print_instructions(o, rec, &written))
}

/// The allowed_signers file to verify against: the record's policy file when it is one.
fn allowed_signers(rec: &AuditRecord) -> String {
    match &rec.policy_file {
        Some(f)
            if Path::new(f)
                .file_name()
                .is_some_and(|n| n == "allowed_signers") =>
        {
            f.clone()
        }
        _ => "SLICE_DIR/allowed_signers".to_owned(),
    }
}

/// Prints what was exported and the `ssh-keygen` commands that check it.
fn print_instructions(
    o: &mut dyn std::io::Write,
    rec: &AuditRecord,
    w: &Written,
) -> std::io::Result<()> {
    print_summary(o, rec, w)?;
    print_check_commands(o, rec, w)
}

/// What the record is and what was written.
fn print_summary(
    o: &mut dyn std::io::Write,
    rec: &AuditRecord,
    w: &Written,
) -> std::io::Result<()> {
    let id = rec.session_id.as_deref().unwrap_or_default();
    writeln!(
        o,
        "session {id}: {} on {} at {} ({}slice {}, key {})",
        rec.event,
        rec.node,
        rec.ts,
        rec.principal
            .as_deref()
            .map(|p| format!("principal {p}, "))
            .unwrap_or_default(),
        rec.slice.as_deref().unwrap_or("?"),
        rec.key_fp.as_deref().unwrap_or("?"),
    )?;
    writeln!(
        o,
        "wrote {} ({} bytes) and {}",
        w.body_path.display(),
        w.body_len,
        w.sig_path.display()
    )
}

/// The `ssh-keygen` commands that check the signature (and find the principal when the
/// record names none).
fn print_check_commands(
    o: &mut dyn std::io::Write,
    rec: &AuditRecord,
    w: &Written,
) -> std::io::Result<()> {
    let allowed = allowed_signers(rec);
    let principal = rec.principal.clone().unwrap_or_else(|| "PRINCIPAL".into());
    let sig_path = sh_quote(&w.sig_path.display().to_string());
    if rec.principal.is_none() {
        writeln!(
            o,
            "the record names no principal; find it with: ssh-keygen -Y find-principals -f {} -s {}",
            sh_quote(&allowed),
            sig_path
        )?;
    }
    writeln!(o, "check the signature with:")?;
    writeln!(
        o,
        "ssh-keygen -Y verify -f {} -I {} -n {} -s {} < {}",
        sh_quote(&allowed),
        sh_quote(&principal),
        sh_quote(&w.namespace),
        sig_path,
        sh_quote(&w.body_path.display().to_string()),
    )
}

/// Quotes a word for a POSIX shell when it has characters outside a safe set.
fn sh_quote(s: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "@%+=:,./_-".contains(c);
    if !s.is_empty() && s.chars().all(safe) {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(sh_quote("mon-query@mon"), "mon-query@mon");
        assert_eq!(sh_quote("/tmp/a b/x"), "'/tmp/a b/x'");
        assert_eq!(sh_quote("$(rm)"), "'$(rm)'");
        assert_eq!(sh_quote("a'b"), "'a'\\''b'");
        assert_eq!(sh_quote(""), "''");
    }
}
