//! Printing answers: human text or one stable JSON object.

use mon_proto::agg::{Answer, Coverage};
use serde_json::{json, Value};

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

    /// Human text: the answer, problem nodes, one line of coverage and timing.
    pub fn render_human(&self, dot: bool) -> String {
        let mut s = String::new();
        match (dot, self.answer.render_dot()) {
            (true, Some(d)) => s.push_str(&d),
            _ => s.push_str(&self.answer.render_human()),
        }
        if !s.ends_with('\n') {
            s.push('\n');
        }
        let c = &self.coverage;
        render_problem_nodes(&mut s, c);
        s.push_str(&format!(
            "answered {} / missing {} / denied {}{} · session set-up {} ms · query {} ms (entry {})\n",
            c.answered,
            c.missing.total(),
            c.denied.total(),
            if c.failed.total() > 0 { format!(" / failed {}", c.failed.total()) } else { String::new() },
            self.session_ms,
            self.query_ms,
            self.entry,
        ));
        s
    }
}

/// The nodes missing, denied or failed, each with its reason (and how many more were not
/// listed).
fn render_problem_nodes(s: &mut String, c: &Coverage) {
    for (what, l) in [
        ("missing", &c.missing),
        ("denied", &c.denied),
        ("failed", &c.failed),
    ] {
        for e in l.entries() {
            s.push_str(&format!("{what}: {} ({})\n", e.node, e.reason));
        }
        let shown = l.entries().len() as u64;
        if l.total() > shown {
            s.push_str(&format!("{what}: … and {} more\n", l.total() - shown));
        }
    }
}

/// `mon members` as one JSON object.
fn print_members_json(entry: &str, view: &[mon_proto::membership::MemberView], ms: u64) {
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
    println!(
        "{}",
        json!({"command": "members", "entry": entry, "result": list, "query_ms": ms})
    );
}

/// `mon members`: the entry server's partial view.
pub fn print_members(entry: &str, view: &[mon_proto::membership::MemberView], json: bool, ms: u64) {
    if json {
        print_members_json(entry, view, ms);
        return;
    }
    println!("{:<20} {:<22} {:>8} {:>8}", "NAME", "ADDRESS", "AGE", "RTT");
    for m in view {
        let rtt = m
            .rtt_ms
            .map(|r| format!("{r:.1} ms"))
            .unwrap_or_else(|| "-".into());
        println!(
            "{:<20} {:<22} {:>6.1} s {:>8}",
            m.name,
            m.addr,
            m.age_ms as f64 / 1000.0,
            rtt
        );
    }
    println!("{} members in {entry}'s partial view · {ms} ms", view.len());
}
