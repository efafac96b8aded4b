//! `mon policy add-user SLICE PRINCIPAL KEY.pub --ops …`: grant a user's key the capability
//! classes asked, as one `allowed_signers` line, and narrow it with one `mon_policy` line
//! when narrowing options are given. The slice as it would be after the edit is parsed and
//! linted as `mon policy check` does; errors write nothing, warnings are shown.

mod narrowing;
#[cfg(test)]
mod tests;

use std::fs::DirBuilder;
use std::os::unix::fs::DirBuilderExt as _;
use std::path::{Path, PathBuf};

use mon_policy::ssh_key::{HashAlg, PublicKey};
use mon_policy::{
    lint, Diagnostic, PolicySources, Severity, SlicePolicy, ALLOWED_SIGNERS, CLASSES, MON_POLICY,
    NS_EXEC, NS_PUSH, NS_QUERY, NS_READ, REVOKED_KEYS,
};

use narrowing::quoted;
pub use narrowing::Narrowing;

use super::{now_unix_s, plural, read_public_key};
use crate::cmd::replace::Original;
use crate::exit;
use crate::out::{errln, outln};

/// The folder of a config dir holding one directory per slice.
pub const SLICES_DIR: &str = "slices";

/// Mode of the policy files the helper creates: readable by all (they hold public keys),
/// writable by the owner only (the server refuses files group or others may write).
const NEW_FILE_MODE: u32 = 0o644;

/// A capability class `--ops` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Class {
    /// Queries: count, depth, topology, members, avg, top, histo, filter on resources.
    Query,
    /// Queries plus `filter grep` (reads files).
    Read,
    /// Queries, grep and exec.
    Exec,
    /// Push, plus queries.
    Push,
}

impl Class {
    /// The SSHSIG namespace of the class.
    pub fn namespace(self) -> &'static str {
        match self {
            Class::Query => NS_QUERY,
            Class::Read => NS_READ,
            Class::Exec => NS_EXEC,
            Class::Push => NS_PUSH,
        }
    }
}

/// Arguments of `mon policy add-user`.
#[derive(Debug, Clone, clap::Args)]
pub struct AddUserArgs {
    /// The slice; its files are CONFIG_DIR/slices/SLICE/ (created if missing).
    pub slice: String,
    /// The user's principal name, e.g. alice@lab (one name, no patterns).
    pub principal: String,
    /// The user's public key (an OpenSSH ssh-ed25519 .pub file).
    #[arg(value_name = "KEY.pub")]
    pub key: PathBuf,
    /// The capability classes granted (comma-separated). The client signs each session with
    /// the least class it needs, so a user who runs queries needs `query` besides `exec`.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        required = true,
        value_name = "CLASS,…"
    )]
    pub ops: Vec<Class>,
    /// The config dir holding slices/.
    #[arg(long, value_name = "DIR", default_value = crate::cmd::DEFAULT_CONFIG_DIR)]
    pub config_dir: PathBuf,
    /// The key is valid from this time on (YYYYMMDD[HHMM[SS]]Z, as ssh-keygen).
    #[arg(long, value_name = "TIME")]
    pub valid_after: Option<String>,
    /// The key is valid until this time (YYYYMMDD[HHMM[SS]]Z, as ssh-keygen).
    #[arg(long, value_name = "TIME")]
    pub valid_before: Option<String>,
    #[command(flatten)]
    pub narrow: Narrowing,
}

/// A principal `add-user` writes: one literal name.
fn check_principal(p: &str) -> Result<(), String> {
    let bad = p
        .chars()
        .find(|c| c.is_whitespace() || c.is_control() || matches!(c, ',' | '*' | '?' | '!' | '"'));
    match bad {
        _ if p.is_empty() => Err("PRINCIPAL is empty".into()),
        Some(c) => Err(format!(
            "PRINCIPAL {p:?} contains {c:?}: give one name (patterns are for hand-written lines)"
        )),
        None if p.starts_with('#') => Err(format!("PRINCIPAL {p:?} must not start with '#'")),
        None => Ok(()),
    }
}

/// A slice name: a directory name the server reads as a slice.
fn check_slice(s: &str) -> Result<(), String> {
    let bad = s
        .chars()
        .find(|c| c.is_whitespace() || c.is_control() || *c == '/');
    match bad {
        _ if s.is_empty() || s.starts_with('.') => Err(format!(
            "SLICE {s:?}: a slice name is a directory name not starting with '.'"
        )),
        Some(c) => Err(format!("SLICE {s:?} contains {c:?}")),
        None if s.len() > mon_proto::wire::session::MAX_NAME_LEN => Err(format!(
            "SLICE {s:?} is longer than {} bytes",
            mon_proto::wire::session::MAX_NAME_LEN
        )),
        None => Ok(()),
    }
}

/// The slice's files as read before the edit.
struct Slice {
    dir: PathBuf,
    signers: Original,
    policy: Original,
    revoked: Option<Vec<u8>>,
}

impl Slice {
    fn read(dir: &Path) -> anyhow::Result<Slice> {
        let revoked_path = dir.join(REVOKED_KEYS);
        Ok(Slice {
            dir: dir.to_path_buf(),
            signers: Original::read(&dir.join(ALLOWED_SIGNERS))?,
            policy: Original::read(&dir.join(MON_POLICY))?,
            revoked: Original::read(&revoked_path)?.bytes,
        })
    }

    /// The policy of these contents (`signers`/`policy` replacing what was read), with the
    /// warnings `mon policy check` shows, or every error.
    fn load(
        &self,
        signers: &[u8],
        policy: Option<&[u8]>,
    ) -> Result<(SlicePolicy, Vec<Diagnostic>), Vec<Diagnostic>> {
        let revoked_path = self.dir.join(REVOKED_KEYS);
        let src = PolicySources {
            allowed_signers: (&self.signers.shown, signers),
            mon_policy: policy.map(|b| (self.policy.shown.as_path(), b)),
            revoked_keys: self.revoked.as_deref().map(|b| (revoked_path.as_path(), b)),
        };
        let (p, mut warnings) = SlicePolicy::from_sources(&src).map_err(|e| e.diagnostics)?;
        warnings.extend(lint(&p, now_unix_s()));
        Ok((p, warnings))
    }
}

/// What the edit writes: the new contents of each file it changes and the new lines, and
/// the slice's policy as it will be, with its warnings.
struct Plan {
    /// New `allowed_signers` and the line added.
    signers: (String, String),
    /// New `mon_policy` and the line added, when narrowing was asked.
    policy: Option<(String, String)>,
    /// The slice after the edit.
    after: SlicePolicy,
    /// What `mon policy check` would warn about after the edit.
    warnings: Vec<Diagnostic>,
}

/// Runs `mon policy add-user`; returns the process exit code.
pub fn run(args: &AddUserArgs) -> anyhow::Result<u8> {
    check_slice(&args.slice).map_err(anyhow::Error::msg)?;
    let key = read_public_key(&args.key)?;
    let dir = args.config_dir.join(SLICES_DIR).join(&args.slice);
    let slice = Slice::read(&dir)?;
    let plan = match plan(args, &key, &slice) {
        Ok(p) => p,
        Err(Refusal::Message(m)) => anyhow::bail!("{m}"),
        Err(Refusal::Diagnostics(ds, why)) => {
            for d in ds.iter().filter(|d| d.is_error()) {
                errln!("{d}");
            }
            anyhow::bail!("{why}; nothing written");
        }
    };
    if !dir.is_dir() {
        DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(&dir)
            .map_err(|e| {
                anyhow::anyhow!("cannot create the slice directory {}: {e}", dir.display())
            })?;
    }
    // mon_policy first: a server that reloads between the two renames must never see the
    // new key without its narrowing.
    if let Some((text, line)) = &plan.policy {
        slice.policy.replace(text.as_bytes(), NEW_FILE_MODE)?;
        outln!(
            "added {}:{}: {line}",
            slice.policy.shown.display(),
            line_count(text)
        );
    }
    slice
        .signers
        .replace(plan.signers.0.as_bytes(), NEW_FILE_MODE)?;
    let (text, line) = &plan.signers;
    outln!(
        "added {}:{}: {line}",
        slice.signers.shown.display(),
        line_count(text)
    );
    show_warnings(&slice, &plan);
    let principals = plan.after.find_principals(&key, now_unix_s());
    if !principals.iter().any(|p| p == &args.principal) {
        errln!(
            "mon: note: {} is not valid now (valid-after/valid-before)",
            key.fingerprint(HashAlg::Sha256)
        );
    }
    Ok(exit::OK)
}

/// The warnings about the new lines, and how many others the slice has.
fn show_warnings(slice: &Slice, plan: &Plan) {
    let new_at = |d: &Diagnostic| {
        (d.file == slice.signers.shown && d.line == line_count(&plan.signers.0))
            || plan
                .policy
                .as_ref()
                .is_some_and(|(t, _)| d.file == slice.policy.shown && d.line == line_count(t))
    };
    let ws: Vec<&Diagnostic> = plan
        .warnings
        .iter()
        .filter(|d| d.severity == Severity::Warning)
        .collect();
    for d in ws.iter().filter(|d| new_at(d)) {
        errln!("{d}");
    }
    let others = ws.iter().filter(|d| !new_at(d)).count();
    if others > 0 {
        errln!(
            "mon: the slice has {} on other lines: mon policy check {}",
            plural(others, "warning"),
            slice.dir.display()
        );
    }
}

/// Number of the last line of `text` (which ends with a newline).
fn line_count(text: &str) -> usize {
    text.lines().count()
}

/// Why an edit is not made.
enum Refusal {
    Message(String),
    /// The slice (as it is, or as it would be) does not load: its errors, and what failed.
    Diagnostics(Vec<Diagnostic>, String),
}

impl From<String> for Refusal {
    fn from(m: String) -> Self {
        Refusal::Message(m)
    }
}

/// Builds the new file contents, refusing duplicates and anything that would not load.
fn plan(args: &AddUserArgs, key: &PublicKey, slice: &Slice) -> Result<Plan, Refusal> {
    check_principal(&args.principal)?;
    if args.ops.is_empty() {
        return Err(Refusal::Message("--ops names no class".into()));
    }
    let signers_text = slice.signers.text().map_err(|e| format!("{e:#}"))?;
    let policy_text = slice.policy.text().map_err(|e| format!("{e:#}"))?;
    if slice.signers.bytes.is_some() {
        let (current, _) = slice
            .load(signers_text.as_bytes(), slice.policy.bytes.as_deref())
            .map_err(|ds| {
                let why = format!(
                    "the slice {} does not load now: fix it first",
                    slice.dir.display()
                );
                Refusal::Diagnostics(ds, why)
            })?;
        refuse_duplicates(args, key, &current)?;
    }
    let signers_line = signers_line(args, key)?;
    let signers = (append(&signers_text, &signers_line), signers_line);
    let options = args.narrow.options()?;
    let policy = if options.is_empty() {
        None
    } else {
        let line = format!("{} {}", args.principal, options.join(","));
        Some((append(&policy_text, &line), line))
    };
    let new_policy = policy.as_ref().map(|(t, _)| t.as_bytes());
    let (after, warnings) = slice
        .load(
            signers.0.as_bytes(),
            new_policy.or(slice.policy.bytes.as_deref()),
        )
        .map_err(|ds| Refusal::Diagnostics(ds, "the new lines do not load".into()))?;
    check_grants(args, key, &after)?;
    Ok(Plan {
        signers,
        policy,
        after,
        warnings,
    })
}

/// Refuses a key the slice already lists or revokes, and narrowing for a principal that
/// already has its own `mon_policy` line.
fn refuse_duplicates(
    args: &AddUserArgs,
    key: &PublicKey,
    current: &SlicePolicy,
) -> Result<(), String> {
    let fp = key.fingerprint(HashAlg::Sha256);
    if let Some(n) = current.is_revoked(key) {
        return Err(format!(
            "key {fp} is revoked ({}:{n}); the user needs a new key",
            current
                .revoked_keys()
                .map_or_else(String::new, |r| r.path.display().to_string())
        ));
    }
    let signers = current.allowed_signers();
    if let Some(l) = signers.lines_for_key(key).next() {
        return Err(format!(
            "key {fp} is already listed at {}:{} (for {}); edit that line to change what it grants",
            signers.path.display(),
            l.line,
            l.principals.literals().join(",")
        ));
    }
    let own_line = current.mon_policy().and_then(|m| {
        m.lines
            .iter()
            .find(|l| {
                l.principals
                    .as_ref()
                    .is_some_and(|p| p.literals().contains(&args.principal.as_str()))
            })
            .map(|l| (m.path.clone(), l.line))
    });
    match own_line {
        Some((path, n)) if !args.narrow.options()?.is_empty() => Err(format!(
            "{}:{n} already narrows {}; every applying line must hold, so a second one would narrow further: edit that line instead",
            path.display(),
            args.principal
        )),
        _ => Ok(()),
    }
}

/// The `allowed_signers` line: `PRINCIPAL namespaces="…"[,valid-after="…"][,valid-before="…"] KEY`.
fn signers_line(args: &AddUserArgs, key: &PublicKey) -> Result<String, String> {
    let mut classes: Vec<&str> = Vec::new();
    for c in &args.ops {
        if !classes.contains(&c.namespace()) {
            classes.push(c.namespace());
        }
    }
    let mut options = vec![format!("namespaces=\"{}\"", classes.join(","))];
    if let Some(t) = &args.valid_after {
        options.push(format!("valid-after={}", quoted("valid-after", t)?));
    }
    if let Some(t) = &args.valid_before {
        options.push(format!("valid-before={}", quoted("valid-before", t)?));
    }
    let key_text = key
        .to_openssh()
        .map_err(|e| format!("cannot write the key: {e}"))?;
    Ok(format!(
        "{} {} {key_text}",
        args.principal,
        options.join(",")
    ))
}

/// Checks that the edited slice grants the key, under the principal, exactly the classes
/// asked (the new line is the key's only one).
fn check_grants(args: &AddUserArgs, key: &PublicKey, after: &SlicePolicy) -> Result<(), String> {
    let lines: Vec<_> = after.allowed_signers().lines_for_key(key).collect();
    let [line] = lines.as_slice() else {
        return Err(format!(
            "the edited allowed_signers lists the key {} times",
            lines.len()
        ));
    };
    let asked: Vec<&str> = args.ops.iter().map(|c| c.namespace()).collect();
    let right = line.principals.literals() == [args.principal.as_str()]
        && CLASSES
            .iter()
            .all(|ns| line.grants_namespace(ns) == asked.contains(ns));
    if right {
        Ok(())
    } else {
        Err("the new line does not say what was asked; nothing written".into())
    }
}

/// `text` with `line` appended (after a newline when the text lacks its last one).
fn append(text: &str, line: &str) -> String {
    let mut out = text.to_string();
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    out.push_str(line);
    out.push('\n');
    out
}
