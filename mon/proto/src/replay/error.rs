//! Why the replay cache refuses a session, and the session refusal each reason is.

use crate::refusal::Refusal;

/// Why a session was refused by the replay cache.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReplayError {
    /// Same key and session id, different body.
    #[error("session id reused with a different body (equivocation)")]
    Equivocation,
    /// The cache holds `cap` live sessions: a capacity limit, not a policy decision.
    #[error(
        "this node remembers {cap} live sessions, its limit (a capacity limit, not the policy): \
         retry in {retry_s} s"
    )]
    Full {
        /// The global cap.
        cap: usize,
        /// Seconds until the first entry expires.
        retry_s: u64,
    },
    /// This key holds `cap` live sessions: a rate limit, not a policy decision.
    #[error(
        "key {key_fp} has {cap} live sessions on this node, the per-key limit (a rate limit, \
         not the policy): retry in {retry_s} s"
    )]
    KeyFull {
        /// The key.
        key_fp: String,
        /// The per-key cap.
        cap: usize,
        /// Seconds until one of the key's entries expires (at most).
        retry_s: u64,
    },
    /// This slice holds `cap` live sessions: its share of the cache, not a policy decision.
    #[error(
        "slice {slice} has {cap} live sessions on this node, the share of one slice (a \
         capacity limit, not the policy): retry in {retry_s} s"
    )]
    SliceFull {
        /// The slice.
        slice: String,
        /// The per-slice cap.
        cap: usize,
        /// Seconds until one of the slice's entries expires (at most).
        retry_s: u64,
    },
    /// The node lost its replay state and refuses sessions issued before it can be sure.
    #[error("session issued before this node's replay floor (replay state was lost)")]
    BeforeFloor,
}

impl ReplayError {
    /// The session refusal it is.
    pub fn refusal(&self) -> Refusal {
        match self {
            ReplayError::Equivocation => Refusal::Equivocation,
            ReplayError::Full { .. } => Refusal::ReplayCacheFull,
            ReplayError::KeyFull { .. } => Refusal::ReplayCacheKeyFull,
            ReplayError::SliceFull { .. } => Refusal::ReplayCacheSliceFull,
            ReplayError::BeforeFloor => Refusal::ReplayFloor,
        }
    }

    /// Stable reason code ([`Refusal::code`]).
    pub fn code(&self) -> &'static str {
        self.refusal().code()
    }
}
