//! The mergeable partial result of one subtree (merge rules in the docs of [`super`]).
//!
//! [`Partial`] holds the coverage lists; its operation-specific part and how two of those merge
//! is in `partial/body.rs`.

mod body;

use body::{Body, GroupPart};

use serde::{Deserialize, Serialize};

use super::answer::{Answer, Coverage, ExecGroup};
use super::histo::HistoStore;
use super::local::Local;
use super::nodelist::{cut_str, NodeList};
use super::query::Query;
use super::{MAX_LIST_LEN, MAX_NODE_NAME};

/// A partial received from the network that cannot be merged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AggError {
    /// The partial answers another operation.
    #[error("partial result of kind '{got}' where '{expected}' was expected")]
    WrongKind {
        /// Kind expected.
        expected: &'static str,
        /// Kind received.
        got: &'static str,
    },
    /// A `top` partial for another N.
    #[error("top partial for N={got} where N={expected} was expected")]
    TopN {
        /// N expected.
        expected: u32,
        /// N received.
        got: u32,
    },
    /// A list would exceed its limit.
    #[error("partial result too large: {what} would hold {len} entries, limit {max}")]
    TooLarge {
        /// Which list.
        what: &'static str,
        /// Size it would have.
        len: usize,
        /// Limit.
        max: usize,
    },
    /// Broken invariant.
    #[error("invalid partial result: {0}")]
    Invalid(&'static str),
}

/// The partial result of a subtree: mergeable, serde (CBOR) encodable, bounded (see the module
/// docs of [`super`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Partial {
    answered: u64,
    failed: NodeList,
    denied: NodeList,
    missing: NodeList,
    body: Body,
}

fn too_large(what: &'static str, len: usize) -> Result<(), AggError> {
    if len > MAX_LIST_LEN {
        Err(AggError::TooLarge {
            what,
            len,
            max: MAX_LIST_LEN,
        })
    } else {
        Ok(())
    }
}

impl Partial {
    /// The partial of an empty subtree (also what a relay-only node starts from).
    pub fn empty(q: &Query) -> Self {
        Partial {
            answered: 0,
            failed: NodeList::default(),
            denied: NodeList::default(),
            missing: NodeList::default(),
            body: Body::empty(q),
        }
    }

    /// The partial of one node, `node`, from its local evaluation.
    ///
    /// `Failed` counts the node as answered and lists it in `failed`; `Denied` lists it in
    /// `denied` only. A local result that does not fit the query (a driver bug) or a non-finite
    /// value is reported as a failure of the node.
    pub fn from_local(q: &Query, node: &str, local: Local) -> Self {
        let node = cut_str(node, MAX_NODE_NAME);
        let mut p = Partial::empty(q);
        let failure: Option<String> = match (&mut p.body, local) {
            (_, Local::Denied(reason)) => {
                p.denied.push(node, &reason);
                return p;
            }
            (_, Local::Failed(reason)) => Some(reason),
            (_, Local::Value(v)) if !v.is_finite() => {
                Some(format!("the value {v} is not a finite number"))
            }
            (body, local) => body.record_local(q, node, local),
        };
        p.answered = 1;
        if let Some(reason) = failure {
            p.failed.push(node, &reason);
        }
        p
    }

    /// Records that this node's own evaluation failed (e.g. did not finish before the
    /// deadline): the node counts as answered and is listed with the reason.
    pub fn add_failed(&mut self, node: &str, reason: &str) {
        self.answered = self.answered.saturating_add(1);
        self.failed.push(node, reason);
    }

    /// Records a child that refused the session (its policy denied it); it is not counted
    /// as answered.
    pub fn add_denied(&mut self, node: &str, reason: &str) {
        self.denied.push(node, reason);
    }

    /// Records a child whose subtree did not answer (lost, timed out, or sent a partial that
    /// `merge` refused).
    pub fn add_missing(&mut self, child: &str, reason: &str) {
        self.missing.push(child, reason);
    }

    /// Takes off the missing list the nodes `answered` selects: a node one parent gave up on
    /// (its answer or Prune lost or late) that answered through another parent of the same
    /// subtree is not missing.
    pub fn drop_missing_answered(&mut self, answered: impl FnMut(&str) -> bool) {
        self.missing.remove_where(answered);
    }

    /// `depth`: counts this subtree one level deeper. A parent calls it on each child's partial
    /// (or once on the merge of its children only) before merging its own. No effect on an empty
    /// subtree nor on other operations.
    pub fn add_depth_level(&mut self) {
        if let Body::Depth { depth } = &mut self.body {
            if *depth > 0 {
                *depth = depth.saturating_add(1);
            }
        }
    }

    /// The audit part, to forge bad partials in tests.
    #[cfg(test)]
    pub(crate) fn audit_part_mut(&mut self) -> Option<&mut super::audit::AuditPart> {
        match &mut self.body {
            Body::Audit { part } => Some(part),
            _ => None,
        }
    }

    /// The operation this partial answers (`Query::name`).
    pub fn kind(&self) -> &'static str {
        self.body.kind()
    }

    /// Checks the limits and invariants of a partial received from the network.
    pub fn check(&self) -> Result<(), AggError> {
        for l in [&self.failed, &self.denied, &self.missing] {
            l.check().map_err(AggError::Invalid)?;
        }
        self.body.check()
    }

    /// [`Partial::check`], plus: the partial answers `q` (the client calls this on what the
    /// entry node returns).
    pub fn check_for(&self, q: &Query) -> Result<(), AggError> {
        let expected = Body::empty(q);
        if expected.kind() != self.kind() {
            return Err(AggError::WrongKind {
                expected: expected.kind(),
                got: self.kind(),
            });
        }
        if let (Body::Audit { .. }, Body::Audit { .. }) = (&expected, &self.body) {
            expected.check_merge(&self.body)?;
        }
        if let (Body::Top { n: want, .. }, Body::Top { n: got, .. }) = (&expected, &self.body) {
            if want != got {
                return Err(AggError::TopN {
                    expected: *want,
                    got: *got,
                });
            }
        }
        self.check()
    }

    /// Merges a child's partial (or a sibling subtree's). Refuses, leaving `self` unchanged, a
    /// partial of another kind, for another `top N`, breaking a limit, or whose merge would
    /// exceed [`MAX_LIST_LEN`].
    pub fn merge(&mut self, other: Partial) -> Result<(), AggError> {
        if self.kind() != other.kind() {
            return Err(AggError::WrongKind {
                expected: self.kind(),
                got: other.kind(),
            });
        }
        other.check()?;
        self.body.check_merge(&other.body)?;
        self.answered = self.answered.saturating_add(other.answered);
        self.failed.merge(other.failed);
        self.denied.merge(other.denied);
        self.missing.merge(other.missing);
        self.body.merge(other.body);
        Ok(())
    }

    /// Who answered and who did not.
    pub fn coverage(&self) -> Coverage {
        Coverage {
            answered: self.answered,
            skipped: match &self.body {
                Body::Exec { skipped, .. } | Body::Count { skipped } => *skipped,
                _ => 0,
            },
            failed: self.failed.clone(),
            denied: self.denied.clone(),
            missing: self.missing.clone(),
        }
    }

    /// The final answer (client side). Call [`Partial::check_for`] first: a partial of another
    /// kind than `q` yields the empty answer of `q`'s kind.
    pub fn finish(self, q: &Query) -> Answer {
        let body = if self.kind() == Body::empty(q).kind() {
            self.body
        } else {
            Body::empty(q)
        };
        match body {
            Body::Count { .. } => Answer::Count(self.answered),
            Body::Depth { depth } => Answer::Depth(depth),
            Body::Topology { edges } => Answer::Topology(edges),
            Body::Avg { hi, lo, n } => Answer::Avg {
                mean: (n > 0).then(|| (hi + lo) / n as f64),
                n,
            },
            Body::Top { items, .. } => Answer::Top(items),
            Body::Histo { store } => histo_answer(&store, q),
            Body::Filter { nodes } | Body::Grep { nodes } => Answer::Filter(nodes),
            Body::Exec { groups, .. } => exec_answer(groups),
            Body::Audit { part } => Answer::Audit(part.finish()),
        }
    }

    /// Approximate CBOR size, bytes (to choose a datagram or a stream).
    pub fn encoded_len_hint(&self) -> usize {
        let names = |v: &[String]| v.iter().map(|n| n.len() + 2).sum::<usize>();
        let lists = self.failed.len_hint() + self.denied.len_hint() + self.missing.len_hint();
        let body = match &self.body {
            Body::Count { .. } | Body::Depth { .. } => 8,
            Body::Topology { edges } => {
                8 + edges
                    .iter()
                    .map(|(p, c)| p.len() + c.len() + 5)
                    .sum::<usize>()
            }
            Body::Avg { .. } => 30,
            Body::Top { items, .. } => 12 + items.iter().map(|(n, _)| n.len() + 12).sum::<usize>(),
            Body::Histo { store } => 8 + store.len_hint(),
            Body::Filter { nodes } | Body::Grep { nodes } => 8 + names(nodes),
            Body::Exec { groups, .. } => {
                16 + groups
                    .iter()
                    .map(|g| 40 + g.outcome.stdout.len() + g.outcome.stderr.len() + names(&g.nodes))
                    .sum::<usize>()
            }
            Body::Audit { part } => part.len_hint(),
        };
        16 + lists + body
    }
}
/// A histogram's buckets, as many as the query asks for.
fn histo_answer(store: &HistoStore, q: &Query) -> Answer {
    let b = match q {
        Query::Histo { buckets, .. } => *buckets,
        _ => super::DEFAULT_BUCKETS,
    };
    Answer::Histo {
        buckets: store.buckets(b),
        approximate: store.is_approx(),
    }
}

/// The exec groups, the largest first (a stable sort: equal sizes keep the outcome order).
fn exec_answer(groups: Vec<GroupPart>) -> Answer {
    let mut out: Vec<ExecGroup> = groups
        .into_iter()
        .map(|g| ExecGroup {
            outcome: g.outcome,
            nodes: g.nodes,
        })
        .collect();
    out.sort_by_key(|g| std::cmp::Reverse(g.nodes.len()));
    Answer::Exec(out)
}
