//! Per-node push progress: which nodes finished their part (landed the file, were skipped by
//! `--where`, or failed with a short code), reported up the first-parent tree while the push
//! runs ([`crate::push::msg::PushMsg::Ended`]), so that the client can show each node done or
//! failed as it happens instead of only with the final result. Display only: the session's
//! result stays the authority.
//!
//! The one home of its bounds: a report names at most [`MAX_ENDS_PER_MSG`] nodes (the rest
//! go in the next report), a failure code is at most [`MAX_END_CODE`] bytes of `[a-z0-9-]`,
//! a node name at most [`MAX_NODE_NAME`] bytes, and a node remembers at most
//! [`MAX_ENDS_TRACKED`] names per session (the roster's bound).
//!
//! Each node keeps an [`EndLog`]: its own end and those its result children report go in
//! once per name ([`EndLog::record`]), and leave in reports of at most [`MAX_ENDS_PER_MSG`]
//! ([`EndLog::take`]) in the order they came, so a relay merges its children's reports and
//! loses nothing across reports.

use std::collections::{HashSet, VecDeque};

use serde::{Deserialize, Serialize};

use crate::agg::{Local, MAX_NODE_NAME};

/// Most nodes one `Ended` report names; more wait for the next report.
pub const MAX_ENDS_PER_MSG: usize = 256;
/// Longest failure code in a report (bytes of `[a-z0-9-]`).
pub const MAX_END_CODE: usize = 32;
/// Most node names one session's log remembers (one per roster node).
pub const MAX_ENDS_TRACKED: usize = crate::roster::MAX_ROSTER;
/// The code of a failure whose reason does not start with one.
pub const GENERIC_FAILURE: &str = "failed";

/// How one node's part of a push ended.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum End {
    /// The file landed.
    Done,
    /// `--where` did not hold: the node relayed only.
    Skipped,
    /// The node failed; its short code (`no-space`, `lost-all-parents`, …; the final result
    /// carries the whole reason).
    Failed(String),
}

/// One node's end, as a report carries it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeEnd {
    /// The node's name.
    pub node: String,
    /// How its part ended.
    pub end: End,
}

/// Why a report is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EndsError {
    /// More than [`MAX_ENDS_PER_MSG`] nodes.
    #[error("{0} nodes in one report, more than {MAX_ENDS_PER_MSG}")]
    TooMany(usize),
    /// An empty or over-long node name.
    #[error("a node name of {0} bytes (1..={MAX_NODE_NAME})")]
    BadName(usize),
    /// A failure code that is empty, too long or not `[a-z0-9-]`.
    #[error("a failure code that is not 1..={MAX_END_CODE} bytes of [a-z0-9-]")]
    BadCode,
}

fn code_ok(code: &str) -> bool {
    (1..=MAX_END_CODE).contains(&code.len())
        && code
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Checks a decoded report against the bounds.
pub fn check(ends: &[NodeEnd]) -> Result<(), EndsError> {
    if ends.len() > MAX_ENDS_PER_MSG {
        return Err(EndsError::TooMany(ends.len()));
    }
    for e in ends {
        if e.node.is_empty() || e.node.len() > MAX_NODE_NAME {
            return Err(EndsError::BadName(e.node.len()));
        }
        if let End::Failed(code) = &e.end {
            if !code_ok(code) {
                return Err(EndsError::BadCode);
            }
        }
    }
    Ok(())
}

/// The short code of a failure reason `code: text` (the count partial's form), or
/// [`GENERIC_FAILURE`] when it does not start with one.
pub fn failure_code(reason: &str) -> String {
    match reason.split_once(':') {
        Some((code, _)) if code_ok(code) => code.to_string(),
        _ => GENERIC_FAILURE.to_string(),
    }
}

/// A node's own end from its local result (`None`: a present-only slot of a node outside
/// `targets`, which relays and is not one of the session's nodes).
pub fn of_local(targeted: bool, local: &Local) -> Option<End> {
    if !targeted {
        return None;
    }
    match local {
        Local::Present => Some(End::Done),
        Local::Skipped => Some(End::Skipped),
        Local::Failed(reason) | Local::Denied(reason) => Some(End::Failed(failure_code(reason))),
        _ => None,
    }
}

/// The ends a node has learnt in one session and not yet reported to its result parent.
#[derive(Clone, Debug, Default)]
pub struct EndLog {
    seen: HashSet<String>,
    pending: VecDeque<NodeEnd>,
    dropped: u64,
}

impl EndLog {
    /// An empty log.
    pub fn new() -> EndLog {
        EndLog::default()
    }

    /// Takes `e` in for the next report, once per node name; false when the name was
    /// already recorded, or the log is full ([`MAX_ENDS_TRACKED`], counted in
    /// [`EndLog::dropped`]).
    pub fn record(&mut self, e: NodeEnd) -> bool {
        if self.seen.contains(&e.node) {
            return false;
        }
        if self.seen.len() >= MAX_ENDS_TRACKED {
            self.dropped += 1;
            return false;
        }
        self.seen.insert(e.node.clone());
        self.pending.push_back(e);
        true
    }

    /// Merges a child's report (checked with [`check`] when it was decoded); returns how
    /// many were new.
    pub fn merge(&mut self, ends: Vec<NodeEnd>) -> usize {
        let mut new = 0;
        for e in ends {
            new += usize::from(self.record(e));
        }
        new
    }

    /// The next report: at most [`MAX_ENDS_PER_MSG`] ends, oldest first (`None` when
    /// nothing is pending).
    pub fn take(&mut self) -> Option<Vec<NodeEnd>> {
        if self.pending.is_empty() {
            return None;
        }
        let n = self.pending.len().min(MAX_ENDS_PER_MSG);
        Some(self.pending.drain(..n).collect())
    }

    /// Whether ends wait to be reported.
    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Ends refused because the log was full.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }
}

#[cfg(test)]
mod tests;
