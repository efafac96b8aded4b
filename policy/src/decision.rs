//! The outcome of a policy evaluation: allow or deny, a stable reason code, and the line that
//! decided it.

use std::fmt;
use std::path::PathBuf;

/// Why a request was allowed or denied. The codes ([`Reason::code`]) are stable: they appear in
/// audit records (`reason`) and client messages, and scripts may match on them.
///
/// | code | meaning |
/// |---|---|
/// | `allowed` | every check passed |
/// | `no-policy` | the slice has no valid policy (missing, or its first load failed) |
/// | `key-not-listed` | the key is on no `allowed_signers` line |
/// | `principal-mismatch` | the key is listed, but not for the requested principal (or, with no principal given, only under wildcard patterns) |
/// | `not-yet-valid` | every matching line has a `valid-after` in the future |
/// | `expired` | every matching line has a `valid-before` in the past |
/// | `namespace-not-granted` | no valid matching line grants the session's namespace |
/// | `op-not-in-class` | the session's namespace (class) does not cover the operation |
/// | `revoked` | the key is in `revoked_keys` |
/// | `from-denied` | the client address is outside a `from=` of `mon_policy` |
/// | `node-denied` | this node is outside a `nodes=` of `mon_policy` |
/// | `command-denied` | the exec command line does not match a `command=` |
/// | `grep-path-denied` | the grep path is outside a `grep-paths=` (or not absolute, or has `..`) |
/// | `no-push-dirs` | push with no `push-dirs=` for the principal: push is closed by default |
/// | `push-dir-denied` | the push destination is outside a `push-dirs=` (or not absolute, or has `..`) |
/// | `fanout-too-large` | the session's fanout exceeds a `max-fanout=` |
/// | `lifetime-too-long` | the session's lifetime exceeds a `max-lifetime=` |
/// | `run-as-conflict` | two applying `mon_policy` lines name different `run-as` users |
/// | `push-dest-dir` | the push destination names a directory (ends in `/`, or is a push dir itself) |
/// | `setid-denied` | the pushed file's mode has setuid, setgid or sticky bits and no applying `mon_policy` line has `allow-setid` |
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    /// Every check passed.
    Allowed,
    /// The slice has no valid policy.
    NoPolicy,
    /// The key is not in `allowed_signers`.
    KeyNotListed,
    /// The key is listed, but not for this principal.
    PrincipalMismatch,
    /// No valid line for the key grants the namespace.
    NamespaceNotGranted,
    /// The namespace does not cover the operation.
    OpNotInClass,
    /// `valid-after` is in the future.
    NotYetValid,
    /// `valid-before` is in the past.
    Expired,
    /// The key is in `revoked_keys`.
    Revoked,
    /// `from=` refuses the client address.
    FromDenied,
    /// `command=` refuses the command line.
    CommandDenied,
    /// `grep-paths=` refuses the path.
    GrepPathDenied,
    /// Push without any `push-dirs=`.
    NoPushDirs,
    /// `push-dirs=` refuses the destination.
    PushDirDenied,
    /// `nodes=` refuses this node.
    NodeDenied,
    /// `max-fanout=` exceeded.
    FanoutTooLarge,
    /// `max-lifetime=` exceeded.
    LifetimeTooLong,
    /// Applying lines disagree on `run-as`.
    RunAsConflict,
    /// The push destination names a directory.
    PushDestIsDir,
    /// Setuid, setgid or sticky bits without `allow-setid`.
    SetIdDenied,
}

impl Reason {
    /// The stable kebab-case code (see the table on [`Reason`]).
    pub fn code(&self) -> &'static str {
        match self {
            Reason::Allowed => "allowed",
            Reason::NoPolicy => "no-policy",
            Reason::KeyNotListed => "key-not-listed",
            Reason::PrincipalMismatch => "principal-mismatch",
            Reason::NamespaceNotGranted => "namespace-not-granted",
            Reason::OpNotInClass => "op-not-in-class",
            Reason::NotYetValid => "not-yet-valid",
            Reason::Expired => "expired",
            Reason::Revoked => "revoked",
            Reason::FromDenied => "from-denied",
            Reason::CommandDenied => "command-denied",
            Reason::GrepPathDenied => "grep-path-denied",
            Reason::NoPushDirs => "no-push-dirs",
            Reason::PushDirDenied => "push-dir-denied",
            Reason::NodeDenied => "node-denied",
            Reason::FanoutTooLarge => "fanout-too-large",
            Reason::LifetimeTooLong => "lifetime-too-long",
            Reason::RunAsConflict => "run-as-conflict",
            Reason::PushDestIsDir => "push-dest-dir",
            Reason::SetIdDenied => "setid-denied",
        }
    }

    /// Every reason, for documentation and tests.
    pub const ALL: [Reason; 20] = [
        Reason::Allowed,
        Reason::NoPolicy,
        Reason::KeyNotListed,
        Reason::PrincipalMismatch,
        Reason::NamespaceNotGranted,
        Reason::OpNotInClass,
        Reason::NotYetValid,
        Reason::Expired,
        Reason::Revoked,
        Reason::FromDenied,
        Reason::CommandDenied,
        Reason::GrepPathDenied,
        Reason::NoPushDirs,
        Reason::PushDirDenied,
        Reason::NodeDenied,
        Reason::FanoutTooLarge,
        Reason::LifetimeTooLong,
        Reason::RunAsConflict,
        Reason::PushDestIsDir,
        Reason::SetIdDenied,
    ];
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A `file:line` reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceLine {
    /// The policy file.
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
}

impl fmt::Display for SourceLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file.display(), self.line)
    }
}

/// The result of [`SlicePolicy::evaluate`](crate::SlicePolicy::evaluate).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Allow or deny.
    pub allowed: bool,
    /// Why (stable code via [`Reason::code`]).
    pub reason: Reason,
    /// The principal the decision is about: the requested one, or the one found by key.
    pub principal: Option<String>,
    /// The deciding file: the `allowed_signers` file when allowed; the file of the denying line
    /// when denied (`None` when no line decided, e.g. key not listed: then `file` is
    /// `allowed_signers` and `line` is `None`).
    pub file: Option<PathBuf>,
    /// The deciding line of `file`.
    pub line: Option<usize>,
    /// The `mon_policy` lines that applied (when allowed) or that were in force (when denied
    /// by one of them, it is also in `file`/`line`).
    pub policy_lines: Vec<SourceLine>,
    /// The user `exec`, `grep` and `push` run as on a server running as root (`run-as=`).
    pub run_as: Option<String>,
    /// For an allowed push: the `push-dirs` entry DEST was resolved beneath (the deepest one
    /// that holds it: every applying line's push-dirs hold it). The node lands the file
    /// relative to this directory, never following a symbolic link below it.
    pub push_dir: Option<String>,
    /// An applying `mon_policy` line has `allow-setid`: a push may land setuid, setgid and
    /// sticky bits.
    pub allow_setid: bool,
    /// For an allowed grep: the `grep-paths=` entries of every applying line that has them
    /// (the file must match an entry of each, see [`crate::grep_path_allowed`]); empty: no
    /// restriction. The node checks the real path of the file it opened against them.
    pub grep_paths: Vec<Vec<String>>,
    /// A human-readable explanation naming the key, the principal and the line.
    pub message: String,
}

impl Decision {
    /// A denial for a slice without a valid policy.
    pub fn no_policy(slice: &str) -> Decision {
        Decision {
            allowed: false,
            reason: Reason::NoPolicy,
            principal: None,
            file: None,
            line: None,
            policy_lines: Vec::new(),
            run_as: None,
            push_dir: None,
            allow_setid: false,
            grep_paths: Vec::new(),
            message: format!(
                "slice \"{slice}\" has no valid policy on this node: everything is denied"
            ),
        }
    }

    /// `file:line` of the deciding line, when there is one.
    pub fn source(&self) -> Option<SourceLine> {
        Some(SourceLine {
            file: self.file.clone()?,
            line: self.line?,
        })
    }
}
