//! [`AuditAnswer`]'s stable JSON shape and its human tables.

use std::fmt::Write as _;

use serde_json::{json, Value};

use super::part::{AuditAnswer, AuditRow, Counts};
use crate::shown::shown;

fn shown_opt(o: &Option<String>) -> String {
    o.as_deref()
        .map_or_else(|| "-".into(), |s| shown(s).into_owned())
}

fn counts_json(c: &Counts) -> Value {
    Value::Array(
        c.keys
            .iter()
            .map(|(k, n)| json!({"key": k, "count": n}))
            .collect(),
    )
}

fn row_json(r: &AuditRow) -> Value {
    json!({
        "node": r.node,
        "chain_verified": r.chain_verified,
        "seq": r.seq,
        "ts": r.ts,
        "event": r.event,
        "result": r.result,
        "reason": r.reason,
        "reason_text": r.reason_text,
        "slice": r.slice,
        "principal": r.principal,
        "key_fp": r.key_fp,
        "session_id": r.session_id,
        "client_addr": r.client_addr,
        "op": r.op,
        "argv": r.argv,
    })
}

/// A count table: `TITLE COUNT` rows, then `(other)` when keys were cut.
fn counts_table(out: &mut String, title: &str, c: &Counts) {
    if c.keys.is_empty() && c.other == 0 {
        return;
    }
    let keys: Vec<(String, u64)> = c
        .keys
        .iter()
        .map(|(k, n)| (shown(k).into_owned(), *n))
        .collect();
    let w = keys
        .iter()
        .map(|(k, _)| k.chars().count())
        .max()
        .unwrap_or(0)
        .max(title.len())
        .max(7);
    let _ = writeln!(out, "{title:<w$}  {:>7}", "COUNT");
    for (k, n) in &keys {
        let _ = writeln!(out, "{k:<w$}  {n:>7}");
    }
    if c.other > 0 {
        let _ = writeln!(out, "{:<w$}  {:>7}", "(other)", c.other);
    }
    out.push('\n');
}

/// What a record is about, in one cell: the operation and its arguments, else the reason.
fn what(r: &AuditRow) -> String {
    match (&r.op, &r.reason) {
        (Some(op), _) if r.argv.is_empty() => shown(op).into_owned(),
        (Some(op), _) => shown(&format!("{op} {}", r.argv.join(" "))).into_owned(),
        (None, Some(code)) => shown(code).into_owned(),
        (None, None) => String::new(),
    }
}

impl AuditAnswer {
    /// The stable JSON shape: `{"matched", "chain_verified_nodes", "chain_failed_nodes",
    /// "chain_failed": [{"node","reason"}], "by_event"|"by_principal"|"by_node":
    /// [{"key","count"}], "by_event_other"|"by_principal_other"|"by_node_other", "records":
    /// [{"node","chain_verified","seq","ts","event","result","reason","reason_text","slice",
    /// "principal","key_fp","session_id","client_addr","op","argv"}]}` (absent fields null).
    pub fn to_json(&self) -> Value {
        json!({
            "matched": self.matched,
            "chain_verified_nodes": self.chain_ok,
            "chain_failed_nodes": self.chain_broken.total(),
            "chain_failed": Value::Array(
                self.chain_broken
                    .entries()
                    .iter()
                    .map(|e| json!({"node": e.node, "reason": e.reason}))
                    .collect()
            ),
            "by_event": counts_json(&self.by_event),
            "by_event_other": self.by_event.other,
            "by_principal": counts_json(&self.by_principal),
            "by_principal_other": self.by_principal.other,
            "by_node": counts_json(&self.by_node),
            "by_node_other": self.by_node.other,
            "records": Value::Array(self.records.iter().map(row_json).collect()),
        })
    }

    /// Human text: the chains, the three count tables, then the newest records.
    pub fn render_human(&self) -> String {
        let mut out = String::new();
        let failed = self.chain_broken.total();
        let _ = writeln!(
            out,
            "{} matching records · chain verified on {} node{}{}",
            self.matched,
            self.chain_ok,
            if self.chain_ok == 1 { "" } else { "s" },
            if failed > 0 {
                format!(", NOT VERIFIED on {failed}")
            } else {
                String::new()
            }
        );
        for e in self.chain_broken.entries() {
            let _ = writeln!(
                out,
                "chain not verified: {}: {}",
                shown(&e.node),
                shown(&e.reason)
            );
        }
        out.push('\n');
        counts_table(&mut out, "EVENT", &self.by_event);
        counts_table(&mut out, "PRINCIPAL", &self.by_principal);
        counts_table(&mut out, "NODE", &self.by_node);
        self.records_table(&mut out);
        out
    }

    fn records_table(&self, out: &mut String) {
        if self.records.is_empty() {
            out.push_str("(no matching record)\n");
            return;
        }
        let rows: Vec<[String; 7]> = self
            .records
            .iter()
            .map(|r| {
                [
                    shown(&r.ts).into_owned(),
                    format!(
                        "{}{}",
                        shown(&r.node),
                        if r.chain_verified { "" } else { " (!)" }
                    ),
                    shown(&r.event).into_owned(),
                    shown_opt(&r.result),
                    shown_opt(&r.principal),
                    shown_opt(&r.slice),
                    what(r),
                ]
            })
            .collect();
        let head = [
            "TIME",
            "NODE",
            "EVENT",
            "RESULT",
            "PRINCIPAL",
            "SLICE",
            "WHAT",
        ];
        let mut w = head.map(str::len);
        for r in &rows {
            for (i, c) in r.iter().enumerate() {
                w[i] = w[i].max(c.chars().count());
            }
        }
        let line = |cells: [&str; 7]| {
            let mut s = String::new();
            for (i, c) in cells.iter().enumerate() {
                if i == 6 {
                    s.push_str(c);
                } else {
                    let _ = write!(s, "{c:<0$}  ", w[i]);
                }
            }
            s.trim_end().to_string()
        };
        let _ = writeln!(out, "{}", line(head));
        for r in &rows {
            let _ = writeln!(out, "{}", line(r.each_ref().map(String::as_str)));
        }
        if self.records.iter().any(|r| !r.chain_verified) {
            out.push_str("(!): that node's audit chain did not verify\n");
        }
    }
}
