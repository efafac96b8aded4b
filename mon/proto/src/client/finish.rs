//! Finishing a result: what the client tells the user once the entry node's result arrived.
//!
//! The result's roster bitmap says whose results reached the client; when its roster digest
//! is the client's own (known_nodes), the roster nodes it does not name are accounted for as
//! missing, so that every known node appears in the answer. When the digests differ (the
//! nodes' rosters are not the client's), nothing is added.

use std::collections::HashSet;

use crate::agg::{AggError, Answer, Coverage, NodeList, Partial, Query};
use crate::roster::Roster;
use crate::targets::matches_list;
use crate::wire::packet::SubtreeResult;

/// Why a query result names a node it never heard from.
pub const QUERY_UNREACHED: &str = "not reached: down, unreachable, or missed by the overlay";
/// Why a push summary names a node no result names.
pub const PUSH_UNREACHED: &str =
    "not reached: down, unreachable, or cut off from the push's result";

/// Whether the result's roster is `roster` (the bitmap is only meaningful then): every node
/// the session could reach is then on the client's roster, and accounted for.
pub fn roster_known(roster: &Roster, r: &SubtreeResult) -> bool {
    r.roster.as_deref() == Some(&roster.digest())
}

/// The roster nodes within `targets` whose results did not reach the client (empty when the
/// result's roster differs from `roster`).
pub fn unreached(roster: &Roster, targets: &[String], r: &SubtreeResult) -> Vec<String> {
    if !roster_known(roster, r) {
        return Vec::new();
    }
    roster
        .unreached(&r.reached, |n| matches_list(targets, n))
        .into_iter()
        .map(str::to_string)
        .collect()
}

/// The roster nodes whose results reached the client (empty when the result's roster differs
/// from `roster`).
pub fn reached(roster: &Roster, r: &SubtreeResult) -> HashSet<String> {
    if !roster_known(roster, r) {
        return HashSet::new();
    }
    let unreached: HashSet<&str> = roster.unreached(&r.reached, |_| true).into_iter().collect();
    roster
        .unreached(&roster.empty_bitmap(), |n| !unreached.contains(n))
        .into_iter()
        .map(str::to_string)
        .collect()
}

/// The number of roster nodes within `targets` (the nodes a session is about).
pub fn in_targets(roster: &Roster, targets: &[String]) -> u64 {
    roster
        .unreached(&roster.empty_bitmap(), |n| matches_list(targets, n))
        .len() as u64
}

/// Finishes one operation's partial: the `unreached` nodes it does not list as denied are
/// added as missing ([`QUERY_UNREACHED`]), then the partial is checked against its query and
/// turned into the answer and its coverage.
pub fn finish_op(
    q: &Query,
    mut p: Partial,
    unreached: &[String],
) -> Result<(Answer, Coverage), AggError> {
    let denied: Vec<String> = p
        .coverage()
        .denied
        .entries()
        .iter()
        .map(|e| e.node.clone())
        .collect();
    for n in unreached.iter().filter(|n| !denied.contains(n)) {
        p.add_missing(n, QUERY_UNREACHED);
    }
    p.check_for(q)?;
    let c = p.coverage();
    Ok((p.finish(q), c))
}

/// The push's missing nodes, sorted: those reported missing and not reached through
/// another parent, and the roster nodes no result names at all (their result path was cut,
/// or the session never reached them), so that the summary accounts for every known node.
fn missing_nodes(
    reported: &NodeList,
    reached: &HashSet<String>,
    not_reached: Vec<String>,
    failed: &[(String, String)],
    denied: &[(String, String)],
) -> Vec<(String, String)> {
    let mut missing: Vec<(String, String)> = named(reported)
        .into_iter()
        .filter(|(n, _)| !reached.contains(n))
        .collect();
    for n in not_reached {
        let listed = failed
            .iter()
            .chain(denied)
            .chain(&missing)
            .any(|(m, _)| *m == n);
        if !listed {
            missing.push((n, PUSH_UNREACHED.into()));
        }
    }
    missing.sort();
    missing
}

/// `(node, reason)` pairs of a node list.
fn named(l: &NodeList) -> Vec<(String, String)> {
    l.entries()
        .iter()
        .map(|e| (e.node.clone(), e.reason.clone()))
        .collect()
}

/// What a push came to, from the entry node's result.
#[derive(Clone, Debug, PartialEq)]
pub struct PushSummary {
    /// Nodes that landed the file.
    pub done: u64,
    /// Nodes where the `--where` condition did not hold.
    pub skipped: u64,
    /// Nodes that failed, with reasons.
    pub failed: Vec<(String, String)>,
    /// Nodes that denied the push, with reasons.
    pub denied: Vec<(String, String)>,
    /// Nodes missing (sorted), with reasons: reported missing and not reached through another
    /// parent, or named by no result at all ([`PUSH_UNREACHED`]).
    pub missing: Vec<(String, String)>,
    /// Nodes that only relayed.
    pub relayed: u64,
    /// The nodes that make the push fail, from the result's totals (a list names at most
    /// 256 nodes): failed, denied and missing ones, less the listed relay-only nodes outside
    /// `--targets` when the result's roster is the client's (see [`super::verdict`]).
    pub failing: u64,
}

/// [`PushSummary::failing`]: `missing` is the summary's (reported and not reached through
/// another parent, and the targeted roster nodes no result names).
fn push_failing(
    c: &crate::agg::Coverage,
    missing: &[(String, String)],
    targets: &[String],
    known: bool,
) -> u64 {
    let failed = c.failed.total().max(c.failed.entries().len() as u64);
    let denied = super::verdict::counted(&c.denied, targets, known);
    let missing = if known {
        // Every targeted node is on the roster, and its bitmap says who reached the client.
        missing
            .iter()
            .filter(|(n, _)| matches_list(targets, n))
            .count() as u64
    } else {
        let unlisted = c
            .missing
            .total()
            .saturating_sub(c.missing.entries().len() as u64);
        (missing.len() as u64).saturating_add(unlisted)
    };
    failed.saturating_add(denied).saturating_add(missing)
}

impl PushSummary {
    /// Summarises a push result (its one `count` partial); `None` if it holds no partial.
    pub fn from_result(
        r: SubtreeResult,
        roster: &Roster,
        targets: &[String],
    ) -> Option<PushSummary> {
        let known = roster_known(roster, &r);
        let not_reached = unreached(roster, targets, &r);
        // A node whose link to one parent was lost may still have reported through another
        // (the roster bitmap says who did): it is not missing.
        let reached = reached(roster, &r);
        let relayed = r.relayed;
        let c = r.partials.into_iter().next()?.coverage();
        let skipped = c.skipped;
        let done = c
            .answered
            .saturating_sub(c.failed.total())
            .saturating_sub(skipped);
        let failed = named(&c.failed);
        let denied = named(&c.denied);
        let missing = missing_nodes(&c.missing, &reached, not_reached, &failed, &denied);
        let failing = push_failing(&c, &missing, targets, known);
        Some(PushSummary {
            done,
            skipped,
            failed,
            denied,
            missing,
            relayed,
            failing,
        })
    }

    /// True when no targeted node failed, denied or is missing (skipped nodes are fine).
    pub fn complete(&self) -> bool {
        self.failing == 0
    }
}

#[cfg(test)]
mod tests;
