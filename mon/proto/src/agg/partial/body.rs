//! The operation-specific part of a [`Partial`](super::Partial) and how two of them merge
//! (the rules are in the docs of [`crate::agg`]). A merge is checked whole first
//! ([`Body::check_merge`]) and only then applied, so a refused merge changes nothing.

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};

use super::super::audit::AuditPart;
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
    Audit {
        part: AuditPart,
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
            Body::Audit { .. } => "audit",
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
            Query::Audit(f) => Body::Audit {
                part: AuditPart::empty(f.limit),
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
            Body::Top { n, items } => check_top(*n, items)?,
            Body::Histo { store } => store.check().map_err(AggError::Invalid)?,
            Body::Filter { nodes } | Body::Grep { nodes } => {
                too_large("node names", nodes.len())?;
                if !names_ok(nodes.iter()) {
                    return Err(AggError::Invalid("node name too long"));
                }
            }
            Body::Exec { groups, .. } => check_groups(groups)?,
            Body::Audit { part } => part.check().map_err(AggError::Invalid)?,
        }
        Ok(())
    }

    /// Puts one node's local result (not a denial or failure, nor a non-finite value) into a
    /// fresh body; `Some(reason)` when it does not fit the query (a driver bug).
    pub(super) fn record_local(&mut self, q: &Query, node: &str, local: Local) -> Option<String> {
        match (self, local) {
            (Body::Count { skipped } | Body::Exec { skipped, .. }, Local::Skipped) => *skipped = 1,
            (Body::Count { .. }, _) => {}
            (Body::Depth { depth }, _) => *depth = 1,
            (Body::Topology { edges }, Local::Topology { parent }) => {
                let parent = parent.unwrap_or_else(|| CLIENT.to_string());
                edges.push((
                    cut_str(&parent, MAX_NODE_NAME).to_string(),
                    node.to_string(),
                ));
            }
            (Body::Grep { nodes }, Local::Matched(m)) => {
                if m {
                    nodes.push(node.to_string());
                }
            }
            (Body::Audit { part }, Local::Audit(scan)) => *part = scan.into_part(node),
            (Body::Exec { groups, .. }, Local::Exec(o)) => groups.push(GroupPart {
                outcome: cap_outcome(o),
                nodes: vec![node.to_string()],
            }),
            (body, Local::Value(v)) => return body.record_value(q, node, v),
            (body, other) => return Some(misfit(body, &other)),
        }
        None
    }

    /// [`Body::record_local`] of a value, into an avg, top, histo or filter body.
    fn record_value(&mut self, q: &Query, node: &str, v: f64) -> Option<String> {
        match self {
            Body::Avg { hi, n, .. } => {
                *hi = v;
                *n = 1;
            }
            Body::Top { items, .. } => items.push((node.to_string(), v)),
            Body::Histo { store } => *store = HistoStore::one(v),
            Body::Filter { nodes } => {
                if let Query::Filter { op, value, .. } = q {
                    if op.eval(v, *value) {
                        nodes.push(node.to_string());
                    }
                }
            }
            body => return Some(misfit(body, &Local::Value(v))),
        }
        None
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
            (Body::Audit { part: a }, Body::Audit { part: b }) if !a.same_limit(b) => {
                return Err(AggError::Invalid("audit partial for another limit"))
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
            (a @ Body::Avg { .. }, Body::Avg { hi, lo, n }) => a.add_avg(hi, lo, n),
            (Body::Top { n, items: a }, Body::Top { items: b, .. }) => merge_top(*n, a, b),
            (Body::Histo { store: a }, Body::Histo { store: b }) => a.merge(b),
            (Body::Filter { nodes: a }, Body::Filter { nodes: b })
            | (Body::Grep { nodes: a }, Body::Grep { nodes: b }) => union_names(a, b),
            (a @ Body::Exec { .. }, Body::Exec { groups, skipped }) => a.add_exec(groups, skipped),
            (Body::Count { skipped: a }, Body::Count { skipped: b }) => *a = a.saturating_add(b),
            (Body::Audit { part: a }, Body::Audit { part: b }) => a.merge(b),
            // Mismatches (unreachable: kinds were compared).
            _ => {}
        }
    }

    /// An avg merge: adds the other side's double-double sum and count.
    fn add_avg(&mut self, h2: f64, l2: f64, n2: u64) {
        if let Body::Avg { hi, lo, n } = self {
            add_double_double(hi, lo, h2, l2);
            *n = n.saturating_add(n2);
        }
    }

    /// An exec merge: adds the other side's skipped count and merges its groups.
    fn add_exec(&mut self, b: Vec<GroupPart>, s2: u64) {
        if let Body::Exec { groups, skipped } = self {
            *skipped = skipped.saturating_add(s2);
            merge_groups(groups, b);
        }
    }
}

/// The driver-bug message for a local result that does not fit the body's query.
fn misfit(body: &Body, local: &Local) -> String {
    format!(
        "internal error: local result {local:?} does not fit a '{}' query",
        body.kind()
    )
}

/// `top N` received: N within bounds, at most N finite entries with valid names.
fn check_top(n: u32, items: &[(String, f64)]) -> Result<(), AggError> {
    if n == 0 || n > MAX_TOP_N || items.len() > n as usize {
        return Err(AggError::Invalid("top list longer than N"));
    }
    if items.iter().any(|(_, v)| !v.is_finite()) {
        return Err(AggError::Invalid("top value not finite"));
    }
    if !names_ok(items.iter().map(|(n, _)| n)) {
        return Err(AggError::Invalid("node name too long"));
    }
    Ok(())
}

/// Exec groups received: bounded, each with nodes, output within the cap, valid names.
fn check_groups(groups: &[GroupPart]) -> Result<(), AggError> {
    too_large("exec groups", groups.len())?;
    for g in groups {
        too_large("exec group nodes", g.nodes.len())?;
        if g.nodes.is_empty() {
            return Err(AggError::Invalid("exec group without nodes"));
        }
        if g.outcome.stdout.len() > EXEC_OUTPUT_CAP || g.outcome.stderr.len() > EXEC_OUTPUT_CAP {
            return Err(AggError::Invalid("exec output longer than the cap"));
        }
        if !names_ok(g.nodes.iter()) {
            return Err(AggError::Invalid("node name too long"));
        }
    }
    Ok(())
}

/// Adds the double-double `h2 + l2` to `hi + lo` (error-free transformation).
fn add_double_double(hi: &mut f64, lo: &mut f64, h2: f64, l2: f64) {
    let (s, e) = two_sum(*hi, h2);
    let e = e + (*lo + l2);
    let new_hi = s + e;
    *lo = e - (new_hi - s);
    *hi = new_hi;
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
