//! Final answers (client side), their stable JSON shapes and human rendering.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::local::ExecOutcome;
use super::nodelist::NodeList;
use super::unit::Unit;
use crate::fold::{fold, fold_counted};
use crate::shown::{shown, shown_output, CommandOutput};

/// A histogram bucket `[lo, hi)` (the last one `[lo, hi]`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Bucket {
    /// Lower bound.
    pub lo: f64,
    /// Upper bound.
    pub hi: f64,
    /// Number of nodes.
    pub count: u64,
}

/// Nodes whose command had the same outcome.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecGroup {
    /// The outcome they share (its fields are serialized inline, beside `nodes`).
    #[serde(flatten)]
    pub outcome: ExecOutcome,
    /// The nodes, sorted.
    pub nodes: Vec<String>,
}

/// The final answer to a query.
#[derive(Clone, Debug, PartialEq)]
pub enum Answer {
    /// `count`: nodes that answered.
    Count(u64),
    /// `depth`: levels of the tree.
    Depth(u32),
    /// `topology`: `(parent, child)` edges, sorted; the entry node's parent is
    /// [`super::CLIENT`].
    Topology(Vec<(String, String)>),
    /// `avg`: the mean (`None` without any value) over `n` values.
    Avg {
        /// Mean.
        mean: Option<f64>,
        /// Number of values.
        n: u64,
    },
    /// `top`: `(node, value)`, descending value, ties by node name.
    Top(Vec<(String, f64)>),
    /// `histo`: the buckets; `approximate` when more than 4,096 distinct values were seen
    /// (counts then within ±1% of bucket bounds).
    Histo {
        /// Buckets.
        buckets: Vec<Bucket>,
        /// Approximate form used.
        approximate: bool,
    },
    /// `filter` and `filter grep`: matching nodes, sorted.
    Filter(Vec<String>),
    /// `exec`: outcome groups, most nodes first.
    Exec(Vec<ExecGroup>),
    /// `audit fleet`: counts, the newest records, the chains.
    Audit(super::audit::AuditAnswer),
}

/// Who answered, and who did not.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Coverage {
    /// Nodes that evaluated the query (successfully or not).
    pub answered: u64,
    /// `exec --where`: nodes where the condition did not hold.
    pub skipped: u64,
    /// Nodes whose local evaluation failed, with reasons.
    pub failed: NodeList,
    /// Nodes whose policy denied the operation.
    pub denied: NodeList,
    /// Roots of subtrees that did not answer in time.
    pub missing: NodeList,
}

fn list_json(l: &NodeList) -> Value {
    Value::Array(
        l.entries()
            .iter()
            .map(|e| json!({"node": e.node, "reason": e.reason}))
            .collect(),
    )
}

impl Coverage {
    /// `{"answered", "skipped", "failed", "failed_total", "denied", "denied_total", "missing",
    /// "missing_total"}`; the lists are `[{"node", "reason"}]` (at most 256 entries each, the
    /// `_total` fields count them all).
    pub fn to_json(&self) -> Value {
        json!({
            "answered": self.answered,
            "skipped": self.skipped,
            "failed": list_json(&self.failed),
            "failed_total": self.failed.total(),
            "denied": list_json(&self.denied),
            "denied_total": self.denied.total(),
            "missing": list_json(&self.missing),
            "missing_total": self.missing.total(),
        })
    }
}

fn dot_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            // Control characters and bidirectional overrides (`mon_proto::shown`): left out.
            c if crate::shown::hidden(c) => {}
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `avg`: the mean and how many nodes it is over, or that there was no value.
fn render_avg(out: &mut String, mean: Option<f64>, n: u64, unit: Unit) {
    match mean {
        Some(m) => {
            let _ = writeln!(out, "{} (over {n} nodes)", unit.format(m));
        }
        None => out.push_str("no value (no node reported the resource)\n"),
    }
}

/// `filter`/`grep`: the matching nodes as one folded node set with their number
/// (`n[1-8,10] (9)`), or that none matched.
fn render_nodes(out: &mut String, nodes: &[String]) {
    if nodes.is_empty() {
        out.push_str("(no node matched)\n");
    } else {
        let _ = writeln!(out, "{}", shown(&fold_counted(nodes)));
    }
}

/// `top`: one line per node, names padded to a column.
fn render_top(out: &mut String, items: &[(String, f64)], unit: Unit) {
    let names: Vec<_> = items.iter().map(|(n, _)| shown(n)).collect();
    let w = names.iter().map(|n| n.chars().count()).max().unwrap_or(0);
    for (n, (_, v)) in names.iter().zip(items) {
        let _ = writeln!(out, "{n:<w$}  {}", unit.format(*v));
    }
}

/// A histogram as labelled bars, 40 characters for the fullest bucket.
fn render_histo(out: &mut String, buckets: &[Bucket], approximate: bool, unit: Unit) {
    if buckets.is_empty() {
        out.push_str("no value (no node reported the resource)\n");
    }
    let max = buckets.iter().map(|b| b.count).max().unwrap_or(0).max(1);
    let last = buckets.len().saturating_sub(1);
    let labels: Vec<String> = buckets
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let close = if i == last { ']' } else { ')' };
            format!("[{}, {}{close}", unit.format(b.lo), unit.format(b.hi))
        })
        .collect();
    let w = labels.iter().map(String::len).max().unwrap_or(0);
    for (b, label) in buckets.iter().zip(&labels) {
        let bar = "#".repeat((b.count.saturating_mul(40).div_ceil(max)) as usize);
        let _ = writeln!(out, "{label:<w$}  {:>6}  {bar}", b.count);
    }
    if approximate {
        out.push_str("(approximate: more than 4096 distinct values)\n");
    }
}

/// One exec group in the JSON shape of [`Answer::to_json`], keys in the documented order.
fn exec_group_json(g: &ExecGroup) -> Value {
    json!({
        "exit": g.outcome.exit,
        "signal": g.outcome.signal,
        "stdout": g.outcome.stdout,
        "stderr": g.outcome.stderr,
        "timed_out": g.outcome.timed_out,
        "truncated": g.outcome.truncated,
        "nodes": g.nodes,
    })
}

/// One exec group: a `== status on N nodes: SET` header (the nodes folded), then its stdout
/// and stderr blocks, each labelled; the output escaped unless `output` is raw (node names
/// always are).
fn render_exec_group(out: &mut String, g: &ExecGroup, output: CommandOutput) {
    let mut status = match (g.outcome.exit, g.outcome.signal) {
        (Some(c), _) => format!("exit {c}"),
        (None, Some(s)) => format!("killed by signal {s}"),
        (None, None) => "no exit status".to_string(),
    };
    if g.outcome.timed_out {
        status.push_str(", timed out");
    }
    if g.outcome.truncated {
        status.push_str(", output truncated");
    }
    let _ = writeln!(
        out,
        "== {status} on {} node{}: {}",
        g.nodes.len(),
        if g.nodes.len() == 1 { "" } else { "s" },
        shown(&fold(&g.nodes))
    );
    block(out, "stdout", &g.outcome.stdout, output);
    block(out, "stderr", &g.outcome.stderr, output);
}

fn block(out: &mut String, label: &str, text: &str, output: CommandOutput) {
    if text.is_empty() {
        return;
    }
    let text = match output {
        CommandOutput::Escaped => shown_output(text),
        CommandOutput::Raw => text.into(),
    };
    let _ = writeln!(out, "  {label}:");
    for line in text.lines() {
        let _ = writeln!(out, "    {line}");
    }
}

impl Answer {
    /// The stable JSON shape of the result: an integer for count and depth; a number or null
    /// for avg; `[{"node","value"}]` for top; `[{"lo","hi","count"}]` for histo (see
    /// [`Answer::is_approximate`]); a list of node names for filter and grep; `[[parent, child]]`
    /// for topology (the entry node's parent is `"@client"`); `[{"exit","signal","stdout",
    /// "stderr","timed_out","truncated","nodes"}]` for exec (`exit`/`signal` null when absent);
    /// an object for audit (`AuditAnswer::to_json`).
    pub fn to_json(&self) -> Value {
        match self {
            Answer::Count(n) => json!(n),
            Answer::Depth(d) => json!(d),
            Answer::Topology(edges) => {
                Value::Array(edges.iter().map(|(p, c)| json!([p, c])).collect())
            }
            Answer::Avg { mean, .. } => mean.map_or(Value::Null, |m| json!(m)),
            Answer::Top(items) => Value::Array(
                items
                    .iter()
                    .map(|(n, v)| json!({"node": n, "value": v}))
                    .collect(),
            ),
            Answer::Histo { buckets, .. } => Value::Array(
                buckets
                    .iter()
                    .map(|b| json!({"lo": b.lo, "hi": b.hi, "count": b.count}))
                    .collect(),
            ),
            Answer::Filter(nodes) => json!(nodes),
            Answer::Exec(groups) => Value::Array(groups.iter().map(exec_group_json).collect()),
            Answer::Audit(a) => a.to_json(),
        }
    }

    /// Whether a histogram used the approximate form (the client adds `"approximate": true`).
    pub fn is_approximate(&self) -> bool {
        matches!(
            self,
            Answer::Histo {
                approximate: true,
                ..
            }
        )
    }

    /// The answer for a human (no coverage line; the caller adds it): node lists folded as
    /// node sets, values written in `unit` (the resource's; [`Unit::Number`] when unknown).
    /// Node-supplied text is shown escaped ([`crate::shown`]); a command's output too unless
    /// `output` is [`CommandOutput::Raw`].
    pub fn render_human(&self, unit: Unit, output: CommandOutput) -> String {
        let mut out = String::new();
        match self {
            Answer::Count(n) => {
                let _ = writeln!(out, "{n}");
            }
            Answer::Depth(d) => {
                let _ = writeln!(out, "{d}");
            }
            Answer::Topology(edges) => {
                for (p, c) in edges {
                    let _ = writeln!(out, "{} -> {}", shown(p), shown(c));
                }
            }
            Answer::Avg { mean, n } => render_avg(&mut out, *mean, *n, unit),
            Answer::Top(items) => render_top(&mut out, items, unit),
            Answer::Histo {
                buckets,
                approximate,
            } => render_histo(&mut out, buckets, *approximate, unit),
            Answer::Filter(nodes) => render_nodes(&mut out, nodes),
            Answer::Exec(groups) => {
                for g in groups {
                    render_exec_group(&mut out, g, output);
                }
            }
            Answer::Audit(a) => out = a.render_human(),
        }
        out
    }

    /// A topology as Graphviz DOT (`topology --dot`); `None` for other answers.
    pub fn render_dot(&self) -> Option<String> {
        let Answer::Topology(edges) = self else {
            return None;
        };
        let mut out = String::from("digraph mon {\n");
        for (p, c) in edges {
            let _ = writeln!(out, "  {} -> {};", dot_quote(p), dot_quote(c));
        }
        out.push_str("}\n");
        Some(out)
    }
}
