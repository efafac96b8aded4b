//! The scheduler's public types: policy, tuning, outcomes, events, errors and counters.

use std::fmt;

use thiserror::Error;

use super::ParentId;
use crate::push::manifest::BlockError;

/// How the next block to request from a parent is chosen.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Policy {
    /// The paper's: the lowest-index block this parent has that we still need (no duplicate
    /// requests; a block waits for its parent or for the request timeout).
    FirstFit,
    /// The block this parent has that we need and that the fewest of our parents hold, ties
    /// broken at random; plus duplicate requests (at most two per block) in the endgame, for
    /// requests older than `hedge_after_ms`, and when another parent is expected to deliver
    /// sooner. The first copy to verify wins and the others are cancelled.
    #[default]
    RarestFirst,
}

impl Policy {
    /// The CLI / config spelling.
    pub fn as_str(&self) -> &'static str {
        match self {
            Policy::FirstFit => "first-fit",
            Policy::RarestFirst => "rarest-first",
        }
    }

    /// Parses the CLI / config spelling.
    pub fn parse(s: &str) -> Option<Policy> {
        match s {
            "first-fit" => Some(Policy::FirstFit),
            "rarest-first" => Some(Policy::RarestFirst),
            _ => None,
        }
    }
}

/// Tuning knobs; [`Config::default`] is what the server uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Requests outstanding per parent (clamped to `1..=MAX_DEPTH`).
    pub depth: u8,
    /// A request unanswered this long is re-issued elsewhere.
    pub request_timeout_ms: u64,
    /// Timeout rounds in a row without a block before a parent is dropped as unresponsive
    /// (`None`: never; dead links are left to the transport).
    pub max_strikes: Option<u32>,
    /// Endgame: with at most this many blocks missing, a parent with a free slot and nothing
    /// new to offer is also asked for a block already requested elsewhere.
    pub endgame_blocks: u32,
    /// Hedging: a request older than this may be duplicated at another parent that has a free
    /// slot and nothing new to offer (`None`: only in the endgame).
    pub hedge_after_ms: Option<u64>,
    /// Window of every parent but the first (primary) one (clamped to `1..=depth`).
    pub secondary_depth: u8,
    /// Rarest-first only: treat the first live parent as the main feed. Others are asked
    /// only for blocks it does not hold, and a block it holds that is outstanding at another
    /// parent is duplicated to it as soon as it has a free slot.
    pub primary_first: bool,
    /// With `primary_first`: a primary that progresses far slower than another parent is
    /// passed over ([`Event::Preferred`], see `rebalance.rs`).
    pub pass_over_slow_primary: bool,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            depth: 4,
            request_timeout_ms: 30_000,
            max_strikes: None,
            endgame_blocks: 16,
            hedge_after_ms: Some(2_000),
            secondary_depth: 2,
            primary_first: false,
            pass_over_slow_primary: false,
        }
    }
}

/// Bytes a node keeps requested from its first parent at once (see [`Config::for_block_size`]).
pub const PRIMARY_WINDOW_BYTES: u32 = 1024 * 1024;

impl Config {
    /// The default tuning with the first parent's window sized in bytes: at least
    /// [`PRIMARY_WINDOW_BYTES`] outstanding (and at least 4 requests). A window of 4 blocks
    /// is 128 KiB with 32 KiB blocks, less than one request round trip's worth when the
    /// requests queue behind the child's own full uplink (measured: 100–200 ms at
    /// 10 Mbit/s, which capped the first receiver at ~6 Mbit/s).
    pub fn for_block_size(block_size: u32) -> Config {
        let d = Config::default();
        let by_bytes = PRIMARY_WINDOW_BYTES.div_ceil(block_size.max(1));
        let depth = u8::try_from(by_bytes)
            .unwrap_or(u8::MAX)
            .clamp(d.depth, super::MAX_DEPTH);
        Config { depth, ..d }
    }
}

/// What became of a received block.
#[derive(Debug, PartialEq, Eq)]
pub enum BlockOutcome {
    /// It matches the manifest: write it, then call [`Download::stored`](super::Download::stored).
    Verified,
    /// It does not match: the parent has been dropped for the session (see
    /// [`Event::ParentDropped`]) and the block will be requested elsewhere.
    Corrupt(BlockError),
    /// We already hold it (a hedged or endgame copy, or a late answer): ignore it.
    Duplicate,
    /// Not requested from this parent, out of range, or from an unknown parent: ignore it.
    Unexpected,
}

/// Why a parent was dropped by the scheduler.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DropReason {
    /// It sent a block that does not match the signed manifest.
    Corrupt {
        /// The block.
        index: u32,
        /// How it failed to verify.
        error: BlockError,
    },
    /// Its requests timed out `max_strikes` rounds in a row.
    Unresponsive {
        /// Requests that timed out on this link.
        timeouts: u32,
    },
}

impl DropReason {
    /// A stable reason code for audit records and counters.
    pub fn code(&self) -> &'static str {
        match self {
            DropReason::Corrupt { .. } => "corrupt-block",
            DropReason::Unresponsive { .. } => "unresponsive",
        }
    }
}

impl fmt::Display for DropReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DropReason::Corrupt { error, .. } => write!(f, "sent a corrupt block: {error}"),
            DropReason::Unresponsive { timeouts } => {
                write!(f, "unresponsive ({timeouts} requests timed out)")
            }
        }
    }
}

/// Output for the caller, drained with [`Download::poll_event`](super::Download::poll_event).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// We now hold this block: advertise it to every child.
    Have(u32),
    /// Tell this parent to drop its queued request for the block (we got it elsewhere).
    Cancel {
        /// The parent.
        parent: ParentId,
        /// The block.
        index: u32,
    },
    /// The primary parent is gone and this one is now the first: ask it to serve us as one of
    /// its primary children (weight [`crate::push::serve::PRIMARY_WEIGHT`]).
    PrimaryChanged(ParentId),
    /// The primary progressed far slower than this parent, which now comes first: ask it to
    /// serve us with the primary weight (`Prefer`); our result still goes to the session's
    /// first parent, and the old primary stays linked as a secondary.
    Preferred(ParentId),
    /// Close the link to this parent and audit why; it is refused for the rest of the session.
    ParentDropped {
        /// The parent.
        parent: ParentId,
        /// Why.
        reason: DropReason,
    },
}

/// Why a download cannot finish.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum FailReason {
    /// Every parent is gone and blocks are still missing.
    #[error(
        "lost all parents ({lost} lost, {dropped} dropped for misbehaviour) \
         with {missing} of {total} blocks missing"
    )]
    LostAllParents {
        /// Blocks still missing.
        missing: u32,
        /// Blocks in the file.
        total: u32,
        /// Parents whose links were lost.
        lost: u32,
        /// Parents dropped for corrupt blocks or unresponsiveness.
        dropped: u32,
    },
}

impl FailReason {
    /// A stable reason code for results and audit records.
    pub fn code(&self) -> &'static str {
        match self {
            FailReason::LostAllParents { .. } => "lost-all-parents",
        }
    }
}

/// A protocol violation by a parent (the caller should close the link and audit it).
#[derive(Debug, Error, PartialEq, Eq)]
pub enum PeerError {
    /// No such parent is linked.
    #[error("parent {0} is not linked")]
    UnknownParent(ParentId),
    /// The advert covers the wrong number of blocks.
    #[error("advert covers {got} blocks, the manifest has {want}")]
    BitmapLength {
        /// Blocks covered.
        got: u32,
        /// Blocks in the manifest.
        want: u32,
    },
    /// A `Have` for a block past the end.
    #[error("have for block {index}, the manifest has {blocks}")]
    IndexOutOfRange {
        /// Index received.
        index: u32,
        /// Blocks in the manifest.
        blocks: u32,
    },
}

/// Why a parent could not be added.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum AddParentError {
    /// Already linked.
    #[error("parent {0} is already linked")]
    Duplicate(ParentId),
    /// Dropped earlier in this session for misbehaviour.
    #[error("parent {0} was dropped for this session")]
    Dropped(ParentId),
    /// Too many parents (live, or dropped and remembered).
    #[error("too many parents for one download")]
    TooMany,
}

/// Why a child's request for a block cannot be served.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum ServeRefusal {
    /// Past the last block.
    #[error("block {index} does not exist (the manifest has {blocks})")]
    OutOfRange {
        /// Index requested.
        index: u32,
        /// Blocks in the manifest.
        blocks: u32,
    },
    /// Not (yet) held and verified here.
    #[error("block {0} is not held here")]
    NotHeld(u32),
}

/// Per-parent counters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParentStats {
    /// The parent.
    pub parent: ParentId,
    /// Blocks it advertises.
    pub advertised: u32,
    /// Verified blocks received from it.
    pub blocks: u32,
    /// Verified bytes received from it.
    pub bytes: u64,
    /// Requests outstanding now.
    pub outstanding: u32,
    /// Requests that timed out.
    pub timeouts: u32,
}

/// Download counters.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Live parents.
    pub parents: Vec<ParentStats>,
    /// Verified blocks received (all parents, including gone ones).
    pub blocks: u32,
    /// Verified bytes received.
    pub bytes: u64,
    /// Blocks that failed verification.
    pub corrupt: u32,
    /// Copies of blocks already held.
    pub duplicates: u32,
    /// Blocks nobody asked for.
    pub unexpected: u32,
    /// Requests that timed out.
    pub timeouts: u32,
    /// Duplicate requests issued (endgame and hedging).
    pub hedges: u32,
    /// Parents removed by the caller (link lost).
    pub lost_parents: u32,
    /// Parents dropped by the scheduler (corrupt, unresponsive).
    pub dropped_parents: u32,
    /// Times a slow primary was passed over ([`Event::Preferred`]).
    pub rebalanced: u32,
}
