//! `mon push`'s output: the summary (human lines or one JSON object) and a denial's JSON.

use mon_proto::agg::bytes as human;
use mon_proto::client::finish::PushSummary;
use mon_proto::fold::fold_by_reason;
use mon_proto::push::ends::{End, NodeEnd};
use mon_proto::shown::{shown, shown_json};
use mon_proto::wire::session::Manifest;
use serde_json::json;

use crate::client::GlobalOpts;
use crate::out::{errln, outln};

/// With `--json`, the push's line for a denial (after the session's report of it).
pub(super) fn print_denied_json(g: &GlobalOpts, node: &str, code: &str, text: &str) {
    if g.json {
        let v = json!({"command": "push", "denied_by": node, "code": code, "reason": text});
        outln!("{}", shown_json(&v.to_string()));
    }
}

/// Prints the push summary (one JSON object, or the human lines).
pub(super) fn print_summary(
    g: &GlobalOpts,
    entry: &str,
    m: &Manifest,
    sum: &PushSummary,
    served: u64,
    secs: f64,
) {
    let aggregate = sum.done as f64 * m.size as f64 / secs;
    if g.json {
        print_summary_json(entry, m, sum, served, secs, aggregate);
    } else {
        print_summary_human(m, sum, served, secs, aggregate);
    }
}

/// The push summary as lines: the counts, the source's load, then each node not done.
fn print_summary_human(m: &Manifest, sum: &PushSummary, served: u64, secs: f64, aggregate: f64) {
    let skipped_text = skipped_text(m, sum);
    outln!(
        "pushed {} to {}: {} nodes done{skipped_text}, {} failed, {} denied, {} missing in {secs:.1} s",
        human(m.size as f64),
        m.dest,
        sum.done,
        sum.failed.len(),
        sum.denied.len(),
        sum.missing.len()
    );
    outln!(
        "source served {} ({:.1}x the file); aggregate {}/s",
        human(served as f64),
        served as f64 / (m.size.max(1)) as f64,
        human(aggregate)
    );
    // The nodes not done are diagnostics: stderr, one line per reason, folded.
    for line in not_done_lines(sum) {
        errln!("{line}");
    }
}

/// The lines naming the nodes not done, one per kind and reason, node names folded. Names
/// and reasons come from nodes: shown escaped (`mon_proto::shown`).
fn not_done_lines(sum: &PushSummary) -> Vec<String> {
    let mut lines = Vec::new();
    for (what, v) in [
        ("failed", &sum.failed),
        ("denied", &sum.denied),
        ("missing", &sum.missing),
    ] {
        let entries = v.iter().map(|(n, r)| (n.as_str(), r.as_str()));
        for (nodes, reason) in fold_by_reason(entries) {
            lines.push(format!("{what}: {}: {}", shown(&nodes), shown(reason)));
        }
    }
    lines
}

/// The line `mon push` prints above its bar when a node reports a failure while the push
/// runs (nothing for a node done or skipped). The name and code come from nodes: escaped.
pub(super) fn ended_line(e: &NodeEnd) -> Option<String> {
    match &e.end {
        End::Failed(code) => Some(format!("{}: failed ({})", shown(&e.node), shown(code))),
        End::Done | End::Skipped => None,
    }
}

/// `, N skipped (COND did not hold)` for a push with `--where`.
fn skipped_text(m: &Manifest, sum: &PushSummary) -> String {
    match &m.cond {
        Some(w) => format!(
            ", {} skipped ({} {} {} did not hold)",
            sum.skipped, w.res, w.op, w.value
        ),
        None => String::new(),
    }
}

/// The push summary as one JSON object (documented in docs/operations.md).
fn print_summary_json(
    entry: &str,
    m: &Manifest,
    sum: &PushSummary,
    served: u64,
    secs: f64,
    aggregate: f64,
) {
    let v = json!({
            "command": "push",
            "entry": entry,
            "dest": m.dest,
            "size": m.size,
            "blocks": m.blocks.len(),
            "done": sum.done,
            "skipped": sum.skipped,
            "where": m.cond.as_ref().map(|w| format!("{} {} {}", w.res, w.op, w.value)),
            "failed": node_reasons(&sum.failed),
            "denied": node_reasons(&sum.denied),
            "missing": node_reasons(&sum.missing),
            "relayed": sum.relayed,
            "source_bytes": served,
            "seconds": secs,
            "aggregate_bytes_per_s": aggregate,
    });
    outln!("{}", shown_json(&v.to_string()));
}

/// Nodes and their reasons as JSON objects.
fn node_reasons(v: &[(String, String)]) -> Vec<serde_json::Value> {
    v.iter()
        .map(|(n, r)| json!({"node": n, "reason": r}))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_names_and_reasons_are_shown_escaped() {
        let sum = PushSummary {
            failed: vec![(
                "n1\u{1b}[2J".into(),
                "no-space: disk\u{1b}]0;owned\u{7}".into(),
            )],
            denied: vec![("n2".into(), "denied\nforged: line".into())],
            done: 0,
            skipped: 0,
            missing: Vec::new(),
            relayed: 0,
            failing: 2,
        };
        let lines = not_done_lines(&sum);
        assert_eq!(lines.len(), 2, "{lines:?}");
        for l in &lines {
            assert!(
                !l.chars().any(|c| c.is_control()),
                "raw control character in {l:?}"
            );
        }
        assert!(lines[0].contains("\\u{1b}[2J"), "{lines:?}");
        let e = NodeEnd {
            node: "n3\u{1b}[1A".into(),
            end: End::Failed("no-space".into()),
        };
        let line = ended_line(&e).expect("a failure is printed");
        assert_eq!(line, "n3\\u{1b}[1A: failed (no-space)");
        let done = NodeEnd {
            node: "n4".into(),
            end: End::Done,
        };
        assert_eq!(ended_line(&done), None);
    }
}
