//! Printing answers: human text or one stable JSON object.

use mon_proto::agg::{Answer, Coverage, Unit};
use mon_proto::fold::{fold_by_reason, natural_cmp};
use mon_proto::shown::{shown, CommandOutput};
use serde_json::{json, Value};

use crate::out::{errln, outln};

/// Everything the client learned from a session.
#[derive(Debug)]
pub struct Outcome {
    /// Command name as typed (`count`, `filter`, …).
    pub command: String,
    /// Answer.
    pub answer: Answer,
    /// Coverage.
    pub coverage: Coverage,
    /// Nodes that relayed only (outside --targets).
    pub relayed: u64,
    /// Entry node name.
    pub entry: String,
    /// Session set-up, ms.
    pub session_ms: u64,
    /// Query, ms.
    pub query_ms: u64,
}

impl Outcome {
    /// The stable JSON object.
    pub fn to_json(&self) -> Value {
        let c = &self.coverage;
        let names = |l: &mon_proto::agg::NodeList| -> Value {
            Value::Array(
                l.entries()
                    .iter()
                    .map(|e| json!({"node": e.node, "reason": e.reason}))
                    .collect(),
            )
        };
        json!({
            "command": self.command,
            "result": self.answer.to_json(),
            "answered": c.answered,
            "missing": c.missing.total(),
            "denied": c.denied.total(),
            "failed": c.failed.total(),
            "skipped": c.skipped,
            "relayed": self.relayed,
            "missing_nodes": names(&c.missing),
            "denied_nodes": names(&c.denied),
            "failed_nodes": names(&c.failed),
            "entry": self.entry,
            "session_ms": self.session_ms,
            "query_ms": self.query_ms,
        })
    }

    /// Human text: the answer (for stdout), then the diagnostics (for stderr): the problem
    /// nodes folded by reason, and one line of coverage and timing. Values are written in
    /// `unit`, the resource's. Node names and reasons are shown escaped, a command's output
    /// as `output` says ([`mon_proto::shown`]).
    pub fn render_human(&self, dot: bool, unit: Unit, output: CommandOutput) -> (String, String) {
        let mut s = match (dot, self.answer.render_dot()) {
            (true, Some(d)) => d,
            _ => self.answer.render_human(unit, output),
        };
        if !s.ends_with('\n') {
            s.push('\n');
        }
        let c = &self.coverage;
        let mut e = String::new();
        render_problem_nodes(&mut e, c);
        e.push_str(&format!(
            "answered {} / missing {} / denied {}{} · session set-up {} ms · query {} ms (entry {})\n",
            c.answered,
            c.missing.total(),
            c.denied.total(),
            if c.failed.total() > 0 { format!(" / failed {}", c.failed.total()) } else { String::new() },
            self.session_ms,
            self.query_ms,
            shown(&self.entry),
        ));
        (s, e)
    }
}

/// The nodes missing, denied or failed: one line per reason, its nodes folded as a node set
/// (`missing: n[3,7] (2): REASON`, the largest group first), and how many more were not
/// listed.
fn render_problem_nodes(s: &mut String, c: &Coverage) {
    for (what, l) in [
        ("missing", &c.missing),
        ("denied", &c.denied),
        ("failed", &c.failed),
    ] {
        let entries = l
            .entries()
            .iter()
            .map(|e| (e.node.as_str(), e.reason.as_str()));
        for (nodes, reason) in fold_by_reason(entries) {
            s.push_str(&format!("{what}: {}: {}\n", shown(&nodes), shown(reason)));
        }
        let shown = l.entries().len() as u64;
        if l.total() > shown {
            s.push_str(&format!("{what}: … and {} more\n", l.total() - shown));
        }
    }
}

/// `mon members` as one JSON object.
pub fn members_json(entry: &str, view: &[mon_proto::membership::MemberView], ms: u64) -> Value {
    let list: Vec<Value> = view
        .iter()
        .map(|m| {
            json!({
                "name": m.name,
                "addr": m.addr.to_string(),
                "age_ms": m.age_ms,
                "rtt_ms": m.rtt_ms,
                "node_id": format!("{:016x}", m.node_id),
            })
        })
        .collect();
    json!({"command": "members", "entry": entry, "result": list, "query_ms": ms})
}

/// `mon members`: the entry server's partial view.
pub fn print_members(entry: &str, view: &[mon_proto::membership::MemberView], json: bool, ms: u64) {
    if json {
        outln!(
            "{}",
            mon_proto::shown::shown_json(&members_json(entry, view, ms).to_string())
        );
        return;
    }
    outln!("{:<20} {:<22} {:>8} {:>8}", "NAME", "ADDRESS", "AGE", "RTT");
    let mut view: Vec<_> = view.iter().collect();
    view.sort_by(|a, b| natural_cmp(&a.name, &b.name));
    for m in &view {
        let rtt = m
            .rtt_ms
            .map(|r| format!("{r:.1} ms"))
            .unwrap_or_else(|| "-".into());
        outln!(
            "{:<20} {:<22} {:>6.1} s {:>8}",
            shown(&m.name),
            m.addr,
            m.age_ms as f64 / 1000.0,
            rtt
        );
    }
    errln!(
        "{} members in {}'s partial view · {ms} ms",
        view.len(),
        shown(entry)
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use mon_proto::agg::{Answer, NodeList};

    fn list(node: &str, reason: &str) -> NodeList {
        serde_json::from_value(json!({"entries": [{"node": node, "reason": reason}], "total": 1}))
            .expect("a node list")
    }

    /// Missing, denied and failed lists and the entry's name come from nodes: a compromised
    /// node's name or reason cannot drive the terminal; the JSON keeps them as sent.
    #[test]
    fn problem_nodes_and_reasons_are_shown_escaped() {
        let evil = "\u{1b}[2J\u{1b}[Hanswered 9 / missing 0\r\n\u{202e}";
        let o = Outcome {
            command: "count".into(),
            answer: Answer::Count(1),
            coverage: Coverage {
                answered: 1,
                missing: list(&format!("n2{evil}"), evil),
                denied: list("n3", evil),
                failed: list(evil, "x"),
                ..Coverage::default()
            },
            relayed: 0,
            entry: format!("e{evil}"),
            session_ms: 1,
            query_ms: 1,
        };
        let (_, e) = o.render_human(false, Unit::Number, CommandOutput::Raw);
        assert!(
            !e.chars()
                .any(|c| c.is_control() && c != '\n' || c == '\u{202e}'),
            "{e:?}"
        );
        assert_eq!(
            e.lines().count(),
            4,
            "one line per problem and the summary: {e}"
        );
        assert!(e.contains(r"denied: n3 (1): \u{1b}[2J"), "{e}");
        assert_eq!(o.to_json()["denied_nodes"][0]["reason"], json!(evil));
    }
}
