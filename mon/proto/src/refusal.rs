//! Why a node refuses a Session: every code a client can see in a `Deny` (and the audit log in
//! a `session.deny` / `replay.reject` record's `reason`), in one closed enum.
//!
//! The codes ([`Refusal::code`]) are stable: scripts match on them, the client maps them to
//! its exit code ([`Refusal::retry_later`]: exit 4, else exit 3), and docs/protocol.md
//! ("Session refusal codes") lists every one (a unit test keeps that table complete). A
//! refusal of the slice policy carries the policy's own [`Reason`] (its code table is
//! `mon_policy::Reason`'s). Whether a refusal is audited or junk is not a property of the
//! code: the node decides it once, in `admit` (node/join/admit.rs), from where the session
//! came and whether its signature verified.
//!
//! | code | refused because | client exit |
//! |---|---|---|
//! | `too-large`, `malformed`, `trailing-bytes`, `bad-version`, `invalid-field` | the session body does not decode strictly ([`crate::wire::DecodeError::code`]) | 3 |
//! | `parent-auth` | the first-hop key differs from the body's `client_eph` | 3 |
//! | `storage-unavailable` | the node cannot make its audit log or replay journal durable | 4 |
//! | policy codes (`no-policy`, `key-not-listed`, …) | the slice policy refuses ([`Reason`]) | 3 |
//! | `bad-signature-format` | the SSHSIG does not parse | 3 |
//! | `namespace-mismatch` | the signature's namespace differs from the body's | 3 |
//! | `unknown-namespace` | the body's namespace is not a MON operation class | 3 |
//! | `key-mismatch` | the body names another key than the signature's | 3 |
//! | `push-dest` | this node's name cannot stand for `{node}` in the push destination | 3 |
//! | `bad-signature` | the signature does not verify | 3 |
//! | `issued-in-future` | `issued_at` is beyond the allowed clock skew | 3 |
//! | `session-expired` | the join deadline (`expires_at` + skew) has passed | 3 |
//! | `join-window-too-long` | `expires_at − issued_at` exceeds the server's limit | 3 |
//! | `lifetime-too-long` | the lifetime exceeds the server's limit (or a `max-lifetime=`) | 3 |
//! | `run-as-missing` | a root server, and the deciding policy gives no `run-as` | 3 |
//! | `run-as-not-allowed` | the `run-as` user is not among those the operator allows the slice | 3 |
//! | `busy`, `busy-key`, `busy-slice` | the session table (or a key's audit share) is full | 4 |
//! | `equivocation` | the key's session id already names another body | 3 |
//! | `replay-cache-full`, `replay-cache-key-full`, `replay-cache-slice-full` | the replay cache (or a key's, a slice's share) is full | 4 |
//! | `replay-floor` | issued before the node's replay floor (its replay state was lost) | 3 |
//! | `handshake` | the hop handshake failed | 3 |

use mon_policy::Reason;

use crate::wire::DecodeError;

/// Why a node refused a Session (see the module docs for the code table).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Refusal {
    /// The body is larger than its limit.
    TooLarge,
    /// The body is not the CBOR it should be.
    Malformed,
    /// Bytes after the body.
    TrailingBytes,
    /// An unknown body version.
    BadVersion,
    /// A field out of its allowed range.
    InvalidField,
    /// The first-hop key differs from the session's `client_eph`.
    ParentAuth,
    /// The node cannot make its records durable now.
    StorageUnavailable,
    /// The slice policy refuses (its own code).
    Policy(Reason),
    /// The SSHSIG does not parse.
    BadSignatureFormat,
    /// The signature's namespace differs from the body's.
    NamespaceMismatch,
    /// The body's namespace is not a MON class.
    UnknownNamespace,
    /// The body names another key than the signature's.
    KeyMismatch,
    /// This node's name cannot stand for `{node}` in a push destination.
    PushDest,
    /// The signature does not verify.
    BadSignature,
    /// Issued beyond the allowed clock skew.
    IssuedInFuture,
    /// The join deadline has passed.
    SessionExpired,
    /// The join window exceeds the server's limit.
    JoinWindowTooLong,
    /// The lifetime exceeds the server's limit (the same code as the policy's `max-lifetime=`).
    LifetimeOverLimit,
    /// An interactive session's lifetime exceeds the server's limit for interactive
    /// sessions ([`crate::verify::Limits::max_interactive_lifetime_s`]).
    InteractiveLifetimeOverLimit,
    /// A root server, and the deciding policy gives no `run-as`.
    RunAsMissing,
    /// The `run-as` user is not one the node's operator allows the slice.
    RunAsNotAllowed,
    /// The session table is full.
    Busy,
    /// The key's share of the session table, or of the audit log this minute, is full.
    BusyKey,
    /// The slice's share of the session table is full.
    BusySlice,
    /// The key holds its most interactive sessions on this node
    /// ([`crate::node::NodeConfig::max_interactive_per_key`]).
    BusyInteractive,
    /// The key's session id already names another body.
    Equivocation,
    /// The replay cache is full.
    ReplayCacheFull,
    /// The key's share of the replay cache is full.
    ReplayCacheKeyFull,
    /// The slice's share of the replay cache is full.
    ReplayCacheSliceFull,
    /// Issued before the node's replay floor.
    ReplayFloor,
    /// The hop handshake failed.
    Handshake,
}

impl Refusal {
    /// Every refusal this crate defines, and every refusing policy reason (for documentation
    /// and tests).
    pub fn all() -> Vec<Refusal> {
        let mut all = NODE_REFUSALS.to_vec();
        all.extend(
            Reason::ALL
                .iter()
                .filter(|r| **r != Reason::Allowed)
                .map(|r| Refusal::Policy(*r)),
        );
        all
    }

    /// The refusals that are a capacity or rate limit, or a node that cannot make its records
    /// durable, not the policy: the client says so and exits 4, "refused, retry later".
    pub const RETRY_LATER: [Refusal; 8] = [
        Refusal::Busy,
        Refusal::BusyKey,
        Refusal::BusySlice,
        Refusal::BusyInteractive,
        Refusal::ReplayCacheFull,
        Refusal::ReplayCacheKeyFull,
        Refusal::ReplayCacheSliceFull,
        Refusal::StorageUnavailable,
    ];

    /// The stable kebab-case code (see the module docs).
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::Policy(r) => r.code(),
            other => other.node_code(),
        }
    }

    /// Whether the client should retry later (exit 4) rather than report a denial (exit 3).
    pub fn retry_later(&self) -> bool {
        Self::RETRY_LATER.contains(self)
    }

    /// The refusal whose code is `code`, if any.
    pub fn from_code(code: &str) -> Option<Refusal> {
        Self::all().into_iter().find(|r| r.code() == code)
    }

    /// The code of a refusal this crate defines ("" for a policy reason, whose code is the
    /// policy crate's): a `const fn`, so the constants below derive from it.
    pub(crate) const fn node_code(&self) -> &'static str {
        match self {
            Refusal::TooLarge => "too-large",
            Refusal::Malformed => "malformed",
            Refusal::TrailingBytes => "trailing-bytes",
            Refusal::BadVersion => "bad-version",
            Refusal::InvalidField => "invalid-field",
            Refusal::ParentAuth => "parent-auth",
            Refusal::StorageUnavailable => "storage-unavailable",
            Refusal::Policy(_) => "",
            Refusal::BadSignatureFormat => "bad-signature-format",
            Refusal::NamespaceMismatch => "namespace-mismatch",
            Refusal::UnknownNamespace => "unknown-namespace",
            Refusal::KeyMismatch => "key-mismatch",
            Refusal::PushDest => "push-dest",
            Refusal::BadSignature => "bad-signature",
            Refusal::IssuedInFuture => "issued-in-future",
            Refusal::SessionExpired => "session-expired",
            Refusal::JoinWindowTooLong => "join-window-too-long",
            Refusal::LifetimeOverLimit => "lifetime-too-long",
            Refusal::InteractiveLifetimeOverLimit => "interactive-lifetime-too-long",
            Refusal::RunAsMissing => "run-as-missing",
            Refusal::RunAsNotAllowed => "run-as-not-allowed",
            Refusal::Busy => "busy",
            Refusal::BusyKey => "busy-key",
            Refusal::BusySlice => "busy-slice",
            Refusal::BusyInteractive => "busy-interactive",
            Refusal::Equivocation => "equivocation",
            Refusal::ReplayCacheFull => "replay-cache-full",
            Refusal::ReplayCacheKeyFull => "replay-cache-key-full",
            Refusal::ReplayCacheSliceFull => "replay-cache-slice-full",
            Refusal::ReplayFloor => "replay-floor",
            Refusal::Handshake => "handshake",
        }
    }
}

impl From<&DecodeError> for Refusal {
    fn from(e: &DecodeError) -> Refusal {
        match e {
            DecodeError::TooLarge { .. } => Refusal::TooLarge,
            DecodeError::Malformed { .. } => Refusal::Malformed,
            DecodeError::TrailingBytes { .. } => Refusal::TrailingBytes,
            DecodeError::Version { .. } => Refusal::BadVersion,
            DecodeError::Invalid { .. } => Refusal::InvalidField,
        }
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

/// Every refusal this crate defines (policy reasons aside).
const NODE_REFUSALS: [Refusal; 30] = [
    Refusal::TooLarge,
    Refusal::Malformed,
    Refusal::TrailingBytes,
    Refusal::BadVersion,
    Refusal::InvalidField,
    Refusal::ParentAuth,
    Refusal::StorageUnavailable,
    Refusal::BadSignatureFormat,
    Refusal::NamespaceMismatch,
    Refusal::UnknownNamespace,
    Refusal::KeyMismatch,
    Refusal::PushDest,
    Refusal::BadSignature,
    Refusal::IssuedInFuture,
    Refusal::SessionExpired,
    Refusal::JoinWindowTooLong,
    Refusal::LifetimeOverLimit,
    Refusal::InteractiveLifetimeOverLimit,
    Refusal::RunAsMissing,
    Refusal::RunAsNotAllowed,
    Refusal::Busy,
    Refusal::BusyKey,
    Refusal::BusySlice,
    Refusal::BusyInteractive,
    Refusal::Equivocation,
    Refusal::ReplayCacheFull,
    Refusal::ReplayCacheKeyFull,
    Refusal::ReplayCacheSliceFull,
    Refusal::ReplayFloor,
    Refusal::Handshake,
];

/// The codes of [`Refusal::RETRY_LATER`]: the client exits 4 ("refused, retry later") for
/// them.
pub const RETRY_LATER_CODES: &[&str] = &{
    let mut codes = [""; Refusal::RETRY_LATER.len()];
    let mut i = 0;
    while i < codes.len() {
        codes[i] = Refusal::RETRY_LATER[i].node_code();
        i += 1;
    }
    codes
};

/// Code of a session refused because the node cannot make its records durable (its audit log
/// or replay journal failed a write or sync; full disk, I/O error).
pub const STORAGE_UNAVAILABLE: &str = Refusal::StorageUnavailable.node_code();

#[cfg(test)]
mod tests;
