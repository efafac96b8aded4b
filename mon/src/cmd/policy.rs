//! `mon policy check`, `mon policy explain` and `mon policy add-user`: the slice admin's
//! tools.

mod add_user;

use std::fmt::Write as _;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use mon_policy::ssh_key::{HashAlg, PublicKey};
use mon_policy::{
    check_paths_report, parse_time, Operation, Request, SessionDecision, Severity, SlicePolicy,
};

use crate::exit;
use crate::out::{errln, out, outln};

/// `mon policy …`
#[derive(Debug, clap::Subcommand)]
pub enum PolicyCmd {
    /// Check slice directories and policy files: errors and warnings as file:line:col.
    ///
    /// A directory is a slice directory (holding allowed_signers, mon_policy, revoked_keys) or
    /// a directory of slice directories. A file is checked as the policy file its name starts
    /// with (so allowed_signers.new can be checked before it replaces allowed_signers).
    /// Exit 0 when there are no errors (warnings allowed), 1 on any error, 2 when a path
    /// cannot be read.
    Check(CheckArgs),
    /// Explain what a slice's policy decides for a key and an operation.
    ///
    /// OP is a query (count, depth, topology, members, avg, top, histo, filter RES…),
    /// `grep WORD FILE` (or `filter grep WORD FILE`), `exec CMD ARGS…`, `push [SRC] DEST` or
    /// `audit fleet` (the audit read, `mon-audit@mon`).
    /// Several operations of one session are separated by `--and` (e.g. `grep x /var/log/a
    /// --and exec uptime`): the session is decided under one principal, as a server does.
    /// Prints allow or deny, the reason code, the class the operation needs, the principal and
    /// the deciding file:line. Exit 0 allow, 1 deny, 2 usage or load error.
    Explain(ExplainArgs),
    /// Grant a user's key capability classes in a slice, without editing files by hand.
    ///
    /// Adds `PRINCIPAL namespaces="…" ssh-ed25519 KEY` to CONFIG_DIR/slices/SLICE/
    /// allowed_signers and, when narrowing options are given, one `PRINCIPAL options` line to
    /// its mon_policy. The slice as it would be is checked as `mon policy check` does:
    /// errors write nothing, warnings about the new lines are shown. Refuses a key the slice
    /// already lists or revokes. Each file is replaced atomically, mon_policy first.
    AddUser(add_user::AddUserArgs),
}

/// Arguments of `mon policy check`.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// Slice directories, directories of slices, or policy files.
    #[arg(required = true, value_name = "DIR|FILE")]
    pub paths: Vec<PathBuf>,
    /// Check validity windows at this time instead of now (@UNIX, YYYYMMDD[HHMM[SS]][Z] or
    /// RFC 3339).
    #[arg(long, value_name = "TIME")]
    pub at: Option<String>,
}

/// Arguments of `mon policy explain`.
#[derive(Debug, clap::Args)]
pub struct ExplainArgs {
    /// The slice directory (allowed_signers, mon_policy, revoked_keys).
    #[arg(long, value_name = "DIR")]
    pub slice_dir: PathBuf,
    /// The user's public key (an OpenSSH ssh-ed25519 .pub file).
    #[arg(long, value_name = "KEY.pub")]
    pub key: PathBuf,
    /// The principal the session names (default: found by key, as ssh-keygen -Y
    /// find-principals does).
    #[arg(long, value_name = "P")]
    pub principal: Option<String>,
    /// The client address, as the entry node sees it (checked against from=).
    #[arg(long, value_name = "IP")]
    pub from: Option<IpAddr>,
    /// The node deciding (checked against nodes=; default: this host's name).
    #[arg(long, value_name = "NAME")]
    pub node: Option<String>,
    /// Decide at this time instead of now (@UNIX, YYYYMMDD[HHMM[SS]][Z] or RFC 3339).
    #[arg(long, value_name = "TIME")]
    pub at: Option<String>,
    /// The namespace the session is signed with (default: the class OP needs).
    #[arg(long, value_name = "NS")]
    pub namespace: Option<String>,
    /// The session's fanout (checked against max-fanout=).
    #[arg(long, value_name = "N")]
    pub fanout: Option<u32>,
    /// The session's lifetime in seconds (checked against max-lifetime=).
    #[arg(long, value_name = "SECONDS")]
    pub lifetime: Option<u64>,
    /// The operation and its arguments.
    #[arg(
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "OP"
    )]
    pub op: Vec<String>,
}

/// Runs a `mon policy` subcommand and returns the process exit code.
pub fn run(cmd: PolicyCmd) -> anyhow::Result<u8> {
    match cmd {
        PolicyCmd::Check(a) => check(a),
        PolicyCmd::Explain(a) => explain(a),
        PolicyCmd::AddUser(a) => add_user::run(&a),
    }
}

fn check(args: CheckArgs) -> anyhow::Result<u8> {
    let now = match &args.at {
        Some(t) => parse_at(t)?,
        None => now_unix_s(),
    };
    let report = check_paths_report(&args.paths, now);
    for d in &report.diagnostics {
        outln!("{d}");
    }
    let (e, w) = (report.errors(), report.warnings());
    outln!("{}, {}", plural(e, "error"), plural(w, "warning"));
    Ok(if !report.unreadable.is_empty() {
        exit::LOCAL_ERROR
    } else if e > 0 {
        exit::PARTIAL_OR_NEGATIVE
    } else {
        exit::OK
    })
}

fn plural(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

fn explain(args: ExplainArgs) -> anyhow::Result<u8> {
    let mut ops = Vec::new();
    for words in args.op.split(|w| w == OP_SEPARATOR) {
        ops.push(parse_op(words).map_err(|m| anyhow::anyhow!("{m}"))?);
    }
    let key = read_public_key(&args.key)?;
    let now = match &args.at {
        Some(t) => parse_at(t)?,
        None => now_unix_s(),
    };
    let policy = load_for_explain(&args.slice_dir)?;
    // The class a session of these operations is signed for, as the client picks it.
    let class = mon_proto::verify::namespace_for(&ops);
    let namespace = args.namespace.as_deref().unwrap_or(class);
    let node = args.node.clone().unwrap_or_else(hostname);
    let req = Request {
        principal: args.principal.as_deref(),
        key: &key,
        namespace,
        op: &ops[0],
        client_addr: args.from,
        node: &node,
        now_unix_s: now,
        fanout: args.fanout,
        lifetime_s: args.lifetime,
    };
    // The very function a server decides a session with: one principal for every operation.
    let sd = policy.evaluate_session(&req, &ops);
    out!(
        "{}",
        render(&sd, &ops, class, namespace, &key, &node, args.from)
    );
    Ok(if sd.allowed {
        exit::OK
    } else {
        exit::PARTIAL_OR_NEGATIVE
    })
}

/// Loads the slice's policy as a server would; a policy that does not load is an error
/// (its diagnostics printed), warnings are only counted.
fn load_for_explain(slice_dir: &Path) -> anyhow::Result<SlicePolicy> {
    let (policy, warnings) = match SlicePolicy::load(slice_dir) {
        Ok(p) => p,
        Err(e) => {
            for d in &e.diagnostics {
                errln!("{d}");
            }
            anyhow::bail!(
                "the policy of {} does not load ({} errors): a server would deny everything in this slice",
                slice_dir.display(),
                e.diagnostics.len()
            );
        }
    };
    let n_warn = warnings
        .iter()
        .filter(|d| d.severity == Severity::Warning)
        .count();
    if n_warn > 0 {
        errln!(
            "note: the policy has {}; see: mon policy check {}",
            plural(n_warn, "warning"),
            slice_dir.display()
        );
    }
    Ok(policy)
}

/// Separates the operations of one session on the `mon policy explain` command line.
const OP_SEPARATOR: &str = "--and";

fn render(
    sd: &SessionDecision,
    ops: &[Operation],
    class: &str,
    namespace: &str,
    key: &PublicKey,
    node: &str,
    from: Option<IpAddr>,
) -> String {
    let mut s = String::new();
    let Some(d) = sd.deciding() else {
        return "deny\n".to_string();
    };
    let _ = writeln!(s, "{}", if sd.allowed { "allow" } else { "deny" });
    let _ = writeln!(s, "reason:     {}: {}", d.reason.code(), sd.message());
    render_operations(&mut s, sd, ops);
    let _ = writeln!(s, "class:      {class} (session signed for {namespace})");
    let principal = sd.principal.as_deref().or(d.principal.as_deref());
    let _ = writeln!(s, "principal:  {}", principal.unwrap_or("-"));
    let _ = writeln!(s, "key:        {}", key.fingerprint(HashAlg::Sha256));
    render_lines(&mut s, d);
    if let Some(u) = &sd.run_as {
        let _ = writeln!(s, "run-as:     {u}");
    }
    render_where(&mut s, node, from);
    s
}

/// The `line:` and `mon_policy:` lines: where in the policy files the decision comes from.
fn render_lines(s: &mut String, d: &mon_policy::Decision) {
    let _ = writeln!(
        s,
        "line:       {}",
        d.source()
            .map(|l| l.to_string())
            .unwrap_or_else(|| "-".to_string())
    );
    if !d.policy_lines.is_empty() {
        let lines: Vec<String> = d.policy_lines.iter().map(|l| l.to_string()).collect();
        let _ = writeln!(s, "mon_policy: {}", lines.join(", "));
    }
}

/// The `operation:` lines: the one operation, or each with its verdict (the list stops at
/// the first denied one; every operation is under the one principal).
fn render_operations(s: &mut String, sd: &SessionDecision, ops: &[Operation]) {
    if let [op] = ops {
        let _ = writeln!(s, "operation:  {}", op.describe());
        return;
    }
    for (i, op) in ops.iter().enumerate() {
        let verdict = match sd.decisions.get(i) {
            Some(d) if d.allowed => "allow".to_string(),
            Some(d) => format!("deny ({})", d.reason.code()),
            None => "not decided".to_string(),
        };
        let _ = writeln!(s, "operation:  {} : {verdict}", op.describe());
    }
}

/// The `node:` and `from:` lines: where the decision was taken for.
fn render_where(s: &mut String, node: &str, from: Option<IpAddr>) {
    let _ = writeln!(s, "node:       {node}");
    match from {
        Some(ip) => {
            let _ = writeln!(s, "from:       {ip}");
        }
        None => {
            let _ = writeln!(
                s,
                "from:       not checked (give --from IP; only the entry node checks from=)"
            );
        }
    }
}

/// Parses `OP [ARGS…]` into the operation policy looks at.
fn parse_op(words: &[String]) -> Result<Operation, String> {
    const QUERIES: [&str; 8] = [
        "count", "depth", "topology", "members", "avg", "top", "histo", "filter",
    ];
    let Some((op, rest)) = words.split_first() else {
        return Err("missing operation".to_string());
    };
    match op.as_str() {
        "grep" => grep_op(rest),
        "filter" if rest.first().map(String::as_str) == Some("grep") => {
            grep_op(rest.get(1..).unwrap_or_default())
        }
        "exec" if rest.is_empty() => Err("usage: exec CMD [ARGS…]".to_string()),
        "exec" => Ok(Operation::Exec {
            argv: rest.to_vec(),
        }),
        "audit" if rest.first().map(String::as_str) == Some("fleet") || rest.is_empty() => {
            Ok(Operation::Audit)
        }
        "push" => match rest.last() {
            Some(dest) => Ok(Operation::Push { dest: dest.clone() }),
            None => Err("usage: push [SRC] DEST".to_string()),
        },
        q if QUERIES.contains(&q) => Ok(Operation::Query {
            name: q.to_string(),
        }),
        other => Err(format!(
            "unknown operation \"{other}\": expected one of {}, grep, exec, push, audit fleet",
            QUERIES.join(", ")
        )),
    }
}

/// `grep WORD FILE`'s words after `grep`: policy looks at the FILE.
fn grep_op(args: &[String]) -> Result<Operation, String> {
    match args {
        [_word, file] => Ok(Operation::Grep { path: file.clone() }),
        _ => Err("usage: grep WORD FILE".to_string()),
    }
}

/// Reads an OpenSSH public key file and insists on Ed25519.
fn read_public_key(path: &Path) -> anyhow::Result<PublicKey> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read public key {}", path.display()))?;
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .unwrap_or_default();
    let key = PublicKey::from_openssh(line).map_err(|e| {
        anyhow::anyhow!(
            "{}: not an OpenSSH public key ({e}); give the .pub file of the user's key",
            path.display()
        )
    })?;
    if !key.algorithm().is_ed25519() {
        anyhow::bail!(
            "{}: MON needs an Ed25519 key, this is {}",
            path.display(),
            key.algorithm().as_str()
        );
    }
    Ok(key)
}

/// `@UNIX`, ssh-keygen's `YYYYMMDD[HHMM[SS]][Z]` (as UTC) or RFC 3339.
fn parse_at(s: &str) -> anyhow::Result<u64> {
    if let Some(n) = s.strip_prefix('@') {
        return n
            .parse()
            .with_context(|| format!("invalid time \"{s}\": @ must be followed by unix seconds"));
    }
    if let Ok(t) = parse_time(s) {
        return Ok(t.unix_s);
    }
    let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .map_err(|_| {
            anyhow::anyhow!("invalid time \"{s}\": use @UNIX, YYYYMMDD[HHMM[SS]][Z] or RFC 3339")
        })?;
    u64::try_from(t.unix_timestamp()).with_context(|| format!("time \"{s}\" is before 1970"))
}

fn now_unix_s() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// This host's name (for `nodes=`), from the kernel; `localhost` if unknown.
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn ops() {
        assert_eq!(
            parse_op(&words("avg load")),
            Ok(Operation::Query { name: "avg".into() })
        );
        assert_eq!(
            parse_op(&words("filter grep err /var/log/syslog")),
            Ok(Operation::Grep {
                path: "/var/log/syslog".into()
            })
        );
        assert_eq!(
            parse_op(&words("grep err /x")),
            Ok(Operation::Grep { path: "/x".into() })
        );
        assert_eq!(
            parse_op(&words("exec ls -l")),
            Ok(Operation::Exec {
                argv: words("ls -l")
            })
        );
        assert_eq!(
            parse_op(&words("push ./app /srv/apps/app")),
            Ok(Operation::Push {
                dest: "/srv/apps/app".into()
            })
        );
        assert!(parse_op(&words("grep x")).is_err());
        assert!(parse_op(&words("exec")).is_err());
        assert!(parse_op(&words("frobnicate")).is_err());
    }

    #[test]
    fn times() {
        assert_eq!(parse_at("@86400").ok(), Some(86_400));
        assert_eq!(parse_at("19700102Z").ok(), Some(86_400));
        assert_eq!(parse_at("1970-01-02T00:00:00Z").ok(), Some(86_400));
        assert!(parse_at("yesterday").is_err());
    }
}
