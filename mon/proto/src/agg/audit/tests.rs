//! `audit fleet` partials: bounds of one node's and of merged partials, merge order, refusals.
#![allow(clippy::unwrap_used)]

use super::*;
use crate::agg::{Answer, Local, Partial, Query};
use crate::audit::AuditRecord;

fn rec(seq: u64, ts_s: u64, event: &str, principal: &str) -> AuditRecord {
    let line = format!(
        r#"{{"v":1,"log_id":"00","seq":{seq},"ts":"2026-12-07T20:{:02}:{:02}.000Z","node":"x","event":"{event}","result":"deny","slice":"lab","principal":"{principal}","prev":"0","hash":"0"}}"#,
        ts_s / 60,
        ts_s % 60
    );
    AuditRecord::parse(&line).unwrap()
}

fn filter(limit: u32) -> AuditFilter {
    AuditFilter {
        limit,
        ..AuditFilter::default()
    }
}

/// Node `node`'s partial: `n` records, the k-th at second `offset + k`, principal `p{k}`.
fn node_part(q: &Query, node: &str, n: u64, offset: u64, broken: bool) -> Partial {
    let Query::Audit(f) = q else { panic!() };
    let mut scan = AuditScan::new(f.clone());
    for k in 0..n {
        scan.offer(&rec(k, offset + k, "session.deny", &format!("p{k}")));
    }
    if broken {
        scan.chain_broken("hash mismatch");
    }
    Partial::from_local(q, node, Local::Audit(Box::new(scan)))
}

fn answer(p: Partial, q: &Query) -> AuditAnswer {
    match p.finish(q) {
        Answer::Audit(a) => a,
        other => panic!("{other:?}"),
    }
}

#[test]
fn one_node_keeps_its_newest_records_and_counts_them_all() {
    let q = Query::audit(filter(3)).unwrap();
    let p = node_part(&q, "n1", 10, 0, false);
    p.check_for(&q).unwrap();
    let a = answer(p, &q);
    assert_eq!(a.matched, 10);
    assert_eq!(a.records.len(), 3);
    assert_eq!(
        a.records.iter().map(|r| r.seq).collect::<Vec<_>>(),
        vec![9, 8, 7]
    );
    assert!(a.records.iter().all(|r| r.node == "n1" && r.chain_verified));
    assert_eq!(a.by_node.keys, vec![("n1".to_string(), 10)]);
    assert_eq!(a.by_event.keys, vec![("session.deny".to_string(), 10)]);
    assert_eq!((a.chain_ok, a.chain_broken.total()), (1, 0));
}

#[test]
fn merged_partials_stay_bounded_whatever_the_fleet() {
    let q = Query::audit(filter(MAX_AUDIT_LIMIT)).unwrap();
    let mut all = Partial::empty(&q);
    let nodes = 300u64;
    for i in 0..nodes {
        // Node i: 200 records with 200 distinct principals; node 7's chain is broken.
        let p = node_part(&q, &format!("n{i}"), 200, i, i == 7);
        all.merge(p).unwrap();
        all.check_for(&q).unwrap();
    }
    let a = answer(all, &q);
    assert_eq!(a.matched, nodes * 200);
    assert_eq!(a.records.len(), MAX_AUDIT_LIMIT as usize);
    for c in [&a.by_node, &a.by_principal, &a.by_event] {
        assert!(c.keys.len() <= MAX_AUDIT_KEYS, "{}", c.keys.len());
        assert_eq!(
            c.total(),
            nodes * 200,
            "nothing is lost: the cut keys are in other"
        );
    }
    assert_eq!(a.by_node.keys.len(), MAX_AUDIT_KEYS);
    assert_eq!(a.by_node.other, (nodes - MAX_AUDIT_KEYS as u64) * 200);
    assert_eq!((a.chain_ok, a.chain_broken.total()), (nodes - 1, 1));
    assert_eq!(a.chain_broken.entries()[0].node, "n7");
    // Newest first: the latest seconds are the last records of the highest nodes.
    let newest = &a.records[0];
    assert_eq!((newest.node.as_str(), newest.seq), ("n299", 199));
    assert!(a.records.windows(2).all(|w| w[0].ts >= w[1].ts));
    assert!(a
        .records
        .iter()
        .all(|r| r.chain_verified == (r.node != "n7")));
}

#[test]
fn the_merge_does_not_depend_on_the_tree() {
    let q = Query::audit(filter(5)).unwrap();
    let parts: Vec<Partial> = (0..6u64)
        .map(|i| node_part(&q, &format!("n{i}"), 4 + i, i * 3, i == 2))
        .collect();
    let mut left = Partial::empty(&q);
    for p in parts.iter().cloned() {
        left.merge(p).unwrap();
    }
    let mut a = parts[5].clone();
    a.merge(parts[0].clone()).unwrap();
    let mut b = parts[3].clone();
    b.merge(parts[1].clone()).unwrap();
    b.merge(parts[4].clone()).unwrap();
    b.merge(parts[2].clone()).unwrap();
    a.merge(b).unwrap();
    assert_eq!(answer(left, &q), answer(a, &q));
}

#[test]
fn oversized_or_foreign_partials_are_refused() {
    let q = Query::audit(filter(2)).unwrap();
    let q10 = Query::audit(filter(10)).unwrap();
    // A partial for another limit: refused by the merge and by the client.
    let other = node_part(&q10, "n2", 5, 0, false);
    let mut p = node_part(&q, "n1", 5, 0, false);
    let before = p.clone();
    assert!(p.merge(other.clone()).is_err());
    assert_eq!(p, before, "a refused merge changes nothing");
    assert!(other.check_for(&q).is_err());

    // A partial holding more records than its limit (a lying child).
    let mut forged = node_part(&q10, "n3", 10, 0, false);
    if let Some(part) = forged.audit_part_mut() {
        part.limit = 2;
    }
    assert!(forged.check().is_err());
    assert!(p.merge(forged).is_err());

    // A record field beyond the bound.
    let mut long = node_part(&q, "n4", 1, 0, false);
    if let Some(part) = long.audit_part_mut() {
        part.records[0].principal = Some("x".repeat(MAX_AUDIT_FIELD + 1));
    }
    assert!(long.check().is_err());
}

#[test]
fn record_fields_are_cut_to_their_bounds() {
    let q = Query::audit(filter(1)).unwrap();
    let Query::Audit(f) = &q else { panic!() };
    let mut scan = AuditScan::new(f.clone());
    let argv: Vec<String> = (0..20)
        .map(|i| format!("\"{}{i}\"", "a".repeat(300)))
        .collect();
    let line = format!(
        r#"{{"v":1,"log_id":"00","seq":0,"ts":"2026-12-07T20:00:00.000Z","node":"x","event":"op.start","principal":"{}","argv":[{}],"prev":"0","hash":"0"}}"#,
        "p".repeat(1000),
        argv.join(",")
    );
    scan.offer(&AuditRecord::parse(&line).unwrap());
    let p = Partial::from_local(&q, "n1", Local::Audit(Box::new(scan)));
    p.check_for(&q).unwrap();
    let a = answer(p, &q);
    let r = &a.records[0];
    assert_eq!(r.principal.as_ref().unwrap().len(), MAX_AUDIT_FIELD);
    assert_eq!(r.argv.len(), MAX_AUDIT_ARGV);
    assert!(r.argv.iter().all(|x| x.len() <= MAX_AUDIT_FIELD));
    assert!(a.by_principal.keys[0].0.len() <= MAX_AUDIT_FIELD);
}

#[test]
fn the_human_table_shows_control_characters_escaped() {
    // A user's exec line lands in the log (op.start, op.deny) as they typed it; the reviewer
    // reads it in a terminal. An escape sequence or a newline in it must not reach the
    // terminal raw: it could clear the screen, rewrite the lines above or forge a row.
    let q = Query::audit(filter(5)).unwrap();
    let forged = "x\u{1b}[2J\u{1b}[1A\r\n2026-12-07T20:00:00.000Z  n1  op.start  ok  alice  lab  true\u{202e}";
    let line = format!(
        r#"{{"v":1,"log_id":"00","seq":1,"ts":"2026-12-07T20:00:01.000Z","node":"x","event":"op.start","result":"ok","slice":"lab","principal":"mallory\u001b]0;pwned\u0007","op":"exec","argv":[{}],"prev":"0","hash":"0"}}"#,
        serde_json::to_string(forged).unwrap()
    );
    let r = AuditRecord::parse(&line).unwrap();
    let Query::Audit(f) = &q else { panic!() };
    let mut scan = AuditScan::new(f.clone());
    scan.offer(&r);
    let a = answer(
        Partial::from_local(&q, "n1", Local::Audit(Box::new(scan))),
        &q,
    );
    assert_eq!(
        a.records[0].argv,
        vec![forged.to_string()],
        "kept as logged"
    );
    let text = a.render_human();
    assert!(
        !text
            .chars()
            .any(|c| c.is_control() && c != '\n' || c == '\u{202e}'),
        "{text:?}"
    );
    let rows = text.lines().filter(|l| l.starts_with("2026-")).count();
    assert_eq!(rows, 1, "one record, one row: {text}");
    assert!(text.contains(r"\u{1b}[2J"), "{text}");
}
