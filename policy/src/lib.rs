//! MON per-slice key policy: `allowed_signers` (OpenSSH format), `mon_policy` (narrowing
//! options) and `revoked_keys`. Parse, lint and evaluate.
//!
//! A slice directory holds up to three files, maintained by the slice's admins:
//!
//! * `allowed_signers` (required): OpenSSH `ssh-keygen -Y` format, verbatim. Its `namespaces=`
//!   option lists the capability classes ([`NS_QUERY`], [`NS_READ`], [`NS_EXEC`], [`NS_PUSH`]).
//! * `mon_policy` (optional): MON-only narrowing options per principal pattern.
//! * `revoked_keys` (optional): public keys that are refused whatever the other files say.
//!
//! [`SlicePolicy::load`] parses one slice directory; [`SlicePolicy::evaluate`] turns a
//! [`Request`] into a [`Decision`] (default deny, with a stable [`Reason`] code and the deciding
//! `file:line`); [`PolicyStore`] keeps the policies of every slice of a server and reloads them
//! when their files change, keeping the last good policy when an edit is broken.
//! [`check_paths`] is the linter behind `mon policy check`.
//!
//! Every parser takes untrusted bytes, is size-limited ([`MAX_FILE_BYTES`], [`MAX_LINE_BYTES`])
//! and never panics; every error names the file, line and column.

mod allowed_signers;
mod check;
mod decision;
mod diag;
mod evaluate;
mod input;
mod keyline;
mod lint;
mod mon_policy;
mod operation;
mod options;
mod paths;
mod pattern;
mod revoked;
mod session;
mod slice;
mod store;
mod validity;
mod watch;

pub use allowed_signers::{parse_allowed_signers, AllowedSigners, SignerLine};
pub use check::{check_paths, check_paths_report, CheckReport, FileKind};
pub use decision::{Decision, Reason, SourceLine};
pub use diag::{Diagnostic, PolicyLoadError, Severity};
pub use evaluate::{grep_entry_matches, grep_path_allowed};
pub use lint::lint_allowed_signers;
pub use mon_policy::check_user;
pub use mon_policy::{parse_mon_policy, FromEntry, MonPolicy, PolicyLine, OPTION_NAMES};
pub use operation::{
    namespace_covers, namespace_for, required_namespace, Operation, CLASSES, NS_AUDIT, NS_EXEC,
    NS_PUSH, NS_QUERY, NS_READ,
};
pub use paths::normalize_abs_path;
pub use pattern::{match_pattern, ListMatch, PatternItem, PatternList};
pub use revoked::{parse_revoked_keys, RevokedKeys};
pub use session::SessionDecision;
pub use slice::{lint, PolicySources, Request, SlicePolicy};
pub use store::{PolicyStore, StoreEvent};
pub use validity::{format_time, parse_time, OutsideWindow, ParsedTime, Validity};
pub use watch::FileWatch;

/// Largest policy file accepted, in bytes (1 MiB). Larger files are rejected whole.
pub const MAX_FILE_BYTES: usize = 1 << 20;
/// Longest line accepted in a policy file, in bytes (8 KiB), not counting the newline.
pub const MAX_LINE_BYTES: usize = 8 << 10;
/// Longest single pattern in a comma-separated pattern list (as OpenSSH's `match_pattern_list`,
/// which silently fails to match longer ones; MON rejects them).
pub const MAX_PATTERN_BYTES: usize = 1023;

/// The file names inside a slice directory.
pub const ALLOWED_SIGNERS: &str = "allowed_signers";
/// Optional narrowing file name.
pub const MON_POLICY: &str = "mon_policy";
/// Optional revocation list file name.
pub const REVOKED_KEYS: &str = "revoked_keys";

/// The `ssh-key` crate this crate's API uses ([`Request::key`] is an
/// [`ssh_key::PublicKey`]), re-exported so callers use the same version.
pub use ssh_key;
