//! Whether a command succeeded: the nodes that make a script's exit code 1.
//!
//! A command succeeds when every targeted node answered and its operation succeeded: the
//! resource was read, the grep file was readable, the command exited with an accepted status
//! ([`OkExit`], `0` unless `exec --ok-exit` says otherwise). [`add_exec_failures`] lists the
//! `exec` nodes whose outcome is not accepted among the failed nodes (with a reason a human
//! reads), and [`failing`] counts the nodes that make the command fail, from the lists' totals
//! (a list names at most [`NODE_LIST_CAP`](crate::agg::NODE_LIST_CAP) nodes).
//!
//! Nodes outside `--targets` only relay: a listed missing or denied node outside the targets
//! does not count when the result's roster is the client's, because the targeted nodes behind
//! it are then accounted for one by one ([`super::finish::unreached`]). With another roster
//! nothing says who was behind it, and it counts.

use std::fmt;
use std::ops::RangeInclusive;
use std::str::FromStr;

use crate::agg::{Answer, Coverage, ExecOutcome, NodeList, Query};
use crate::targets::matches_list;

/// Largest exit status a process can report.
const MAX_STATUS: i32 = 255;

/// The exit statuses an `exec` accepts as success (`--ok-exit LIST`, e.g. `0,1` or
/// `0-2,127`); the default accepts `0` only.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OkExit {
    ranges: Vec<RangeInclusive<i32>>,
}

impl Default for OkExit {
    fn default() -> Self {
        OkExit {
            ranges: vec![0..=0],
        }
    }
}

/// An `--ok-exit` list that does not parse.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum OkExitError {
    /// Nothing listed.
    #[error("empty list: give exit statuses such as 0,1 or 0-2,127")]
    Empty,
    /// An item that is not a status (0 to 255) or a range of them.
    #[error("{0:?} is not an exit status (0 to 255) or a range such as 0-2")]
    Item(String),
    /// A range whose end comes before its start.
    #[error("{0:?}: the range ends before it starts")]
    Backwards(String),
}

fn status(item: &str, s: &str) -> Result<i32, OkExitError> {
    match s.trim().parse::<i32>() {
        Ok(v) if (0..=MAX_STATUS).contains(&v) && !s.trim().starts_with('+') => Ok(v),
        _ => Err(OkExitError::Item(item.to_string())),
    }
}

impl FromStr for OkExit {
    type Err = OkExitError;

    fn from_str(s: &str) -> Result<OkExit, OkExitError> {
        if s.trim().is_empty() {
            return Err(OkExitError::Empty);
        }
        let mut ranges = Vec::new();
        for item in s.split(',').map(str::trim) {
            let range = match item.split_once('-') {
                Some((a, b)) => {
                    let (a, b) = (status(item, a)?, status(item, b)?);
                    if b < a {
                        return Err(OkExitError::Backwards(item.to_string()));
                    }
                    a..=b
                }
                None => {
                    let v = status(item, item)?;
                    v..=v
                }
            };
            ranges.push(range);
        }
        Ok(OkExit { ranges })
    }
}

impl fmt::Display for OkExit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.ranges.iter().enumerate() {
            let sep = if i == 0 { "" } else { "," };
            if r.start() == r.end() {
                write!(f, "{sep}{}", r.start())?;
            } else {
                write!(f, "{sep}{}-{}", r.start(), r.end())?;
            }
        }
        Ok(())
    }
}

impl OkExit {
    /// Whether `status` is accepted.
    pub fn accepts(&self, status: i32) -> bool {
        self.ranges.iter().any(|r| r.contains(&status))
    }
}

/// Why an exec outcome is a failure, or `None` when it succeeded: an exit status `ok` does
/// not accept, a signal, a timeout. `cmd_timeout_s` is the command's timeout (`--cmd-timeout`)
/// and `session_timeout_ms` the session's: a node stops the command at the earlier one.
pub fn exec_failure(
    o: &ExecOutcome,
    ok: &OkExit,
    cmd_timeout_s: u32,
    session_timeout_ms: u32,
) -> Option<String> {
    if o.timed_out {
        let cmd_ms = u64::from(cmd_timeout_s) * 1000;
        return Some(if cmd_ms < u64::from(session_timeout_ms) {
            format!("timed out after {cmd_timeout_s} s")
        } else {
            format!(
                "timed out: the session's {} s ran out first",
                f64::from(session_timeout_ms) / 1000.0
            )
        });
    }
    match (o.exit, o.signal) {
        (Some(c), _) if ok.accepts(c) => None,
        (Some(c), _) => Some(format!("exit status {c}")),
        (None, Some(s)) => Some(format!("killed by signal {s}")),
        (None, None) => Some("no exit status".to_string()),
    }
}

/// `exec`: lists the nodes of every outcome group that failed ([`exec_failure`]) in the
/// coverage's failed nodes, with the reason. Nothing for other queries.
pub fn add_exec_failures(
    q: &Query,
    answer: &Answer,
    ok: &OkExit,
    session_timeout_ms: u32,
    c: &mut Coverage,
) {
    let (Query::Exec { timeout_s, .. }, Answer::Exec(groups)) = (q, answer) else {
        return;
    };
    for g in groups {
        if let Some(reason) = exec_failure(&g.outcome, ok, *timeout_s, session_timeout_ms) {
            c.failed
                .push_all(g.nodes.iter().map(String::as_str), &reason);
        }
    }
}

/// `audit fleet`: lists the nodes whose audit chain did not verify among the failed nodes
/// (a tampered or damaged log makes the command fail). Nothing for other answers.
pub fn add_audit_failures(answer: &Answer, c: &mut Coverage) {
    let Answer::Audit(a) = answer else {
        return;
    };
    for e in a.chain_broken.entries() {
        c.failed
            .push(&e.node, &format!("audit chain not verified: {}", e.reason));
    }
}

/// The nodes of a list that count: its total, less the listed nodes outside `targets` when
/// `roster_known`.
pub(crate) fn counted(l: &NodeList, targets: &[String], roster_known: bool) -> u64 {
    if !roster_known {
        return l.total();
    }
    let outside = l
        .entries()
        .iter()
        .filter(|e| !matches_list(targets, &e.node))
        .count() as u64;
    l.total().saturating_sub(outside)
}

/// The number of nodes that make the command fail: every failed node, and the missing and
/// denied ones that count (see the module docs). `roster_known`: the result's roster is the
/// client's ([`super::finish::roster_known`]).
pub fn failing(c: &Coverage, targets: &[String], roster_known: bool) -> u64 {
    c.failed
        .total()
        .saturating_add(counted(&c.missing, targets, roster_known))
        .saturating_add(counted(&c.denied, targets, roster_known))
}

#[cfg(test)]
mod tests;
