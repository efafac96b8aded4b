//! The operation-specific part of a [`Partial`](super::Partial) and how two of them merge
//! (the rules are in the docs of [`crate::agg`]). A merge is checked whole first
//! ([`Body::check_merge`]) and only then applied, so a refused merge changes nothing.

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};

use super::super::histo::HistoStore;
use super::super::local::{ExecOutcome, Local};
use super::super::nodelist::cut_str;
use super::super::query::Query;
use super::super::{CLIENT, EXEC_OUTPUT_CAP, MAX_NODE_NAME, MAX_TOP_N};
use super::{too_large, AggError};

/// One exec outcome with its nodes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(super) struct GroupPart {
    pub(super) outcome: ExecOutcome,
    pub(super) nodes: Vec<String>,
}

/// The operation-specific part.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(super) enum Body {
    /// `skipped`: nodes of a push whose `--where` did not hold (they relayed only).
    Count {
        skipped: u64,
    },
    Depth {
        depth: u32,
    },
    Topology {
        edges: Vec<(String, String)>,
    },
    /// Double-double sum `hi + lo` of `n` values.
    Avg {
        hi: f64,
        lo: f64,
        n: u64,
    },
    Top {
        n: u32,
        items: Vec<(String, f64)>,
    },
    Histo {
        store: HistoStore,
    },
    Filter {
        nodes: Vec<String>,
    },
    Grep {
        nodes: Vec<String>,
    },
    Exec {
        groups: Vec<GroupPart>,
        skipped: u64,
    },
}

impl Body {
    pub(super) fn kind(&self) -> &'static str {
        match self {
            Body::Count { .. } => "count",
            Body::Depth { .. } => "depth",
            Body::Topology { .. } => "topology",
            Body::Avg { .. } => "avg",
            Body::Top { .. } => "top",
            Body::Histo { .. } => "histo",
            Body::Filter { .. } => "filter",
            Body::Grep { .. } => "grep",
            Body::Exec { .. } => "exec",
        }
    }

    pub(super) fn empty(q: &Query) -> Body {
        match q {
            Query::Count => Body::Count { skipped: 0 },
            Query::Depth => Body::Depth { depth: 0 },
            Query::Topology => Body::Topology { edges: Vec::new() },
            Query::Avg { .. } => Body::Avg {
                hi: 0.0,
                lo: 0.0,
                n: 0,
            },
            Query::Top { n, .. } => Body::Top {
                n: *n,
                items: Vec::new(),
            },
            Query::Histo { .. } => Body::Histo {
                store: HistoStore::empty(),
            },
            Query::Filter { .. } => Body::Filter { nodes: Vec::new() },
            Query::Grep { .. } => Body::Grep { nodes: Vec::new() },
            Query::Exec { .. } => Body::Exec {
                groups: Vec::new(),
                skipped: 0,
            },
        }
    }

    /// Checks the limits and invariants of a body received from the network.
    pub(super) fn check(&self) -> Result<(), AggError> {
        match self {
            Body::Count { .. } | Body::Depth { .. } => {}
            Body::Topology { edges } => {
                too_large("topology edges", edges.len())?;
                if !names_ok(edges.iter().flat_map(|(p, c)| [p, c])) {
                    return Err(AggError::Invalid("node name too long"));
                }
            }
            Body::Avg { hi, lo, .. } => {
                if !hi.is_finite() || !lo.is_finite() {
                    return Err(AggError::Invalid("avg sum not finite"));
                }
            }
            Body::Top { n, items } => {
                if *n == 0 || *n > MAX_TOP_N || items.len() > *n as usize {
                    return Err(AggError::Invalid("top list longer than N"));
                }
                if items.iter().any(|(_, v)| !v.is_finite()) {
                    return Err(AggError::Invalid("top value not finite"));
                }
                if !names_ok(items.iter().map(|(n, _)| n)) {
                    return Err(AggError::Invalid("node name too long"));
                }
            }
            Body::Histo { store } => store.check().map_err(AggError::Invalid)?,
            Body::Filter { nodes } | Body::Grep { nodes } => {
                too_large("node names", nodes.len())?;
                if !names_ok(nodes.iter()) {
                    return Err(AggError::Invalid("node name too long"));
                }
            }
            Body::Exec { groups, .. } => {
                too_large("exec groups", groups.len())?;
                for g in groups {
                    too_large("exec group nodes", g.nodes.len())?;
                    if g.nodes.is_empty() {
                        return Err(AggError::Invalid("exec group without nodes"));
                    }
                    if g.outcome.stdout.len() > EXEC_OUTPUT_CAP
                        || g.outcome.stderr.len() > EXEC_OUTPUT_CAP
                    {
                        return Err(AggError::Invalid("exec output longer than the cap"));
                    }
                    if !names_ok(g.nodes.iter()) {
                        return Err(AggError::Invalid("node name too long"));
                    }
                }
            }
        }
        Ok(())
    }

    /// Puts one node's local result (not a denial or failure, nor a non-finite value) into a
    /// fresh body; `Some(reason)` when it does not fit the query (a driver bug).
    pub(super) fn record_local(&mut self, q: &Query, node: &str, local: Local) -> Option<String> {
        match (self, local) {
            (Body::Count { skipped }, Local::Skipped) => {
                *skipped = 1;
                None
            }
            (Body::Count { .. }, _) => None,
            (Body::Depth { depth }, _) => {
                *depth = 1;
                None
            }
            (Body::Topology { edges }, Local::Topology { parent }) => {
                let parent = parent.unwrap_or_else(|| CLIENT.to_string());
                edges.push((
                    cut_str(&parent, MAX_NODE_NAME).to_string(),
                    node.to_string(),
                ));
                None
            }
            (Body::Avg { hi, n, .. }, Local::Value(v)) => {
                *hi = v;
                *n = 1;
                None
            }
            (Body::Top { items, .. }, Local::Value(v)) => {
                items.push((node.to_string(), v));
                None
            }
            (Body::Histo { store }, Local::Value(v)) => {
                *store = HistoStore::one(v);
                None
            }
            (Body::Filter { nodes }, Local::Value(v)) => {
                if let Query::Filter { op, value, .. } = q {
                    if op.eval(v, *value) {
                        nodes.push(node.to_string());
                    }
                }
                None
            }
            (Body::Grep { nodes }, Local::Matched(m)) => {
                if m {
                    nodes.push(node.to_string());
                }
                None
            }
            (Body::Exec { groups, .. }, Local::Exec(o)) => {
                groups.push(GroupPart {
                    outcome: cap_outcome(o),
                    nodes: vec![node.to_string()],
                });
                None
            }
            (Body::Exec { skipped, .. }, Local::Skipped) => {
                *skipped = 1;
                None
            }
            (body, other) => Some(format!(
                "internal error: local result {other:?} does not fit a '{}' query",
                body.kind()
            )),
        }
    }

    /// Checks that need both sides of a merge, before any change: the same `top N`, and the
    /// merged lists within [`MAX_LIST_LEN`](super::super::MAX_LIST_LEN). Kinds are compared by
    /// the caller.
    pub(super) fn check_merge(&self, other: &Body) -> Result<(), AggError> {
        match (self, other) {
            (Body::Top { n: a, .. }, Body::Top { n: b, .. }) if a != b => {
                return Err(AggError::TopN {
                    expected: *a,
                    got: *b,
                })
            }
            (Body::Topology { edges: a }, Body::Topology { edges: b }) => {
                too_large("topology edges", a.len() + b.len())?
            }
            (Body::Filter { nodes: a }, Body::Filter { nodes: b })
            | (Body::Grep { nodes: a }, Body::Grep { nodes: b }) => {
                too_large("node names", a.len() + b.len())?
            }
            (Body::Exec { groups: a, .. }, Body::Exec { groups: b, .. }) => {
                too_large("exec groups", a.len() + b.len())?;
                let nodes: usize = a.iter().chain(b).map(|g| g.nodes.len()).sum();
                too_large("exec group nodes", nodes)?
            }
            _ => {}
        }
        Ok(())
    }

    /// Merges `other` (of the same kind, checked by [`Body::check_merge`]) into `self`.
    pub(super) fn merge(&mut self, other: Body) {
        match (self, other) {
            (Body::Depth { depth: a }, Body::Depth { depth: b }) => *a = (*a).max(b),
            (Body::Topology { edges: a }, Body::Topology { edges: b }) => {
                a.extend(b);
                a.sort();
                a.dedup();
            }
            (
                Body::Avg {
                    hi: h1,
                    lo: l1,
                    n: n1,
                },
                Body::Avg {
                    hi: h2,
                    lo: l2,
                    n: n2,
                },
            ) => {
                let (s, e) = two_sum(*h1, h2);
                let e = e + (*l1 + l2);
                let hi = s + e;
                *l1 = e - (hi - s);
                *h1 = hi;
                *n1 = n1.saturating_add(n2);
            }
            (Body::Top { n, items: a }, Body::Top { items: b, .. }) => merge_top(*n, a, b),
            (Body::Histo { store: a }, Body::Histo { store: b }) => a.merge(b),
            (Body::Filter { nodes: a }, Body::Filter { nodes: b })
            | (Body::Grep { nodes: a }, Body::Grep { nodes: b }) => union_names(a, b),
            (
                Body::Exec {
                    groups: a,
                    skipped: s1,
                },
                Body::Exec {
                    groups: b,
                    skipped: s2,
                },
            ) => {
                *s1 = s1.saturating_add(s2);
                merge_groups(a, b);
            }
            (Body::Count { skipped: a }, Body::Count { skipped: b }) => *a = a.saturating_add(b),
            // Mismatches (unreachable: kinds were compared).
            _ => {}
        }
    }
}

/// `top N`: one entry per node (the larger value), in [`top_order`], the first `n` kept.
fn merge_top(n: u32, a: &mut Vec<(String, f64)>, b: Vec<(String, f64)>) {
    a.extend(b);
    // One entry per node: the larger value.
    a.sort_by(|x, y| x.0.cmp(&y.0).then_with(|| y.1.total_cmp(&x.1)));
    a.dedup_by(|later, earlier| later.0 == earlier.0);
    a.sort_by(top_order);
    a.truncate(n as usize);
}

/// Exec groups: one group per outcome (in outcome order), its nodes the sorted union.
fn merge_groups(a: &mut Vec<GroupPart>, b: Vec<GroupPart>) {
    a.extend(b);
    a.sort_by(|x, y| x.outcome.cmp(&y.outcome));
    let mut merged: Vec<GroupPart> = Vec::with_capacity(a.len());
    for g in a.drain(..) {
        match merged.last_mut() {
            Some(last) if last.outcome == g.outcome => union_names(&mut last.nodes, g.nodes),
            _ => {
                let mut g = g;
                g.nodes.sort();
                g.nodes.dedup();
                merged.push(g);
            }
        }
    }
    *a = merged;
}

/// An exec outcome with stdout and stderr cut at [`EXEC_OUTPUT_CAP`] (then `truncated`).
fn cap_outcome(mut o: ExecOutcome) -> ExecOutcome {
    for s in [&mut o.stdout, &mut o.stderr] {
        if s.len() > EXEC_OUTPUT_CAP {
            let keep = cut_str(s, EXEC_OUTPUT_CAP).len();
            s.truncate(keep);
            o.truncated = true;
        }
    }
    o
}

/// `a + b` exactly as `s + e`.
fn two_sum(a: f64, b: f64) -> (f64, f64) {
    let s = a + b;
    let bb = s - a;
    (s, (a - (s - bb)) + (b - bb))
}

/// Sorted union of two name lists.
fn union_names(a: &mut Vec<String>, b: Vec<String>) {
    a.extend(b);
    a.sort();
    a.dedup();
}

/// Top order: descending value, ties by node name ascending.
fn top_order(a: &(String, f64), b: &(String, f64)) -> Ordering {
    b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0))
}

/// Every name within [`MAX_NODE_NAME`] bytes.
fn names_ok<'a>(mut names: impl Iterator<Item = &'a String>) -> bool {
    names.all(|n| n.len() <= MAX_NODE_NAME)
}
