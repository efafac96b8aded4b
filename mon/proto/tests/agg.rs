//! Per-operation merge behaviour, limits and JSON shapes of `mon_proto::agg`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use mon_proto::agg::{
    capped_text, AggError, Answer, Bucket, ExecOutcome, Local, Partial, Query, QueryParseError,
    Unit, CLIENT, EXEC_OUTPUT_CAP, NODE_LIST_CAP,
};
use mon_proto::shown::CommandOutput;
use serde_json::json;

fn words(s: &str) -> Vec<String> {
    s.split_whitespace().map(str::to_string).collect()
}

fn parse(s: &str) -> Result<Query, QueryParseError> {
    Query::parse(&words(s))
}

/// Folds the local results of `nodes` into one partial, in order.
fn fold(q: &Query, nodes: Vec<(&str, Local)>) -> Partial {
    let mut acc = Partial::empty(q);
    for (n, l) in nodes {
        acc.merge(Partial::from_local(q, n, l)).unwrap();
    }
    acc
}

fn out(exit: i32, stdout: &str) -> Local {
    Local::Exec(ExecOutcome {
        exit: Some(exit),
        stdout: stdout.to_string(),
        ..ExecOutcome::default()
    })
}

// ---------------------------------------------------------------- operations

#[test]
fn count_counts_answering_nodes_but_not_denied() {
    let q = Query::Count;
    let p = fold(
        &q,
        vec![
            ("a", Local::Present),
            ("b", Local::Present),
            ("c", Local::Denied("no policy line".into())),
        ],
    );
    assert_eq!(p.coverage().answered, 2);
    assert_eq!(p.coverage().denied.total(), 1);
    assert_eq!(p.coverage().denied.entries()[0].node, "c");
    assert_eq!(p.finish(&q), Answer::Count(2));
}

#[test]
fn count_sums_skipped_nodes_of_a_push_where() {
    let q = Query::Count;
    let p = fold(
        &q,
        vec![
            ("a", Local::Present),
            ("b", Local::Skipped),
            ("c", Local::Skipped),
            ("d", Local::Failed("where: no such resource".into())),
        ],
    );
    let c = p.coverage();
    assert_eq!(c.answered, 4);
    assert_eq!(c.skipped, 2);
    assert_eq!(c.failed.total(), 1);
    // Survives the wire.
    let back: Partial = ciborium::from_reader(&mon_proto::wire::encode(&p)[..]).unwrap();
    assert_eq!(back.coverage().skipped, 2);
    assert_eq!(p.finish(&q), Answer::Count(4));
}

#[test]
fn depth_counts_levels() {
    let q = Query::Depth;
    // a -> b -> c, a -> d
    let mut c = Partial::from_local(&q, "c", Local::Present);
    c.add_depth_level();
    let mut b = Partial::from_local(&q, "b", Local::Present);
    b.merge(c).unwrap();
    let mut d = Partial::from_local(&q, "d", Local::Present);
    d.add_depth_level();
    b.add_depth_level();
    let mut a = Partial::from_local(&q, "a", Local::Present);
    a.merge(b).unwrap();
    a.merge(d).unwrap();
    assert_eq!(a.finish(&q), Answer::Depth(3));
    assert_eq!(
        Partial::from_local(&q, "solo", Local::Present).finish(&q),
        Answer::Depth(1)
    );
    // An empty subtree adds no level.
    let mut empty = Partial::empty(&q);
    empty.add_depth_level();
    let mut solo = Partial::from_local(&q, "solo", Local::Present);
    solo.merge(empty).unwrap();
    assert_eq!(solo.finish(&q), Answer::Depth(1));
}

#[test]
fn topology_edges_with_client_root() {
    let q = Query::Topology;
    let p = fold(
        &q,
        vec![
            (
                "b",
                Local::Topology {
                    parent: Some("a".into()),
                },
            ),
            ("a", Local::Topology { parent: None }),
            (
                "c",
                Local::Topology {
                    parent: Some("a".into()),
                },
            ),
        ],
    );
    let a = p.finish(&q);
    assert_eq!(
        a,
        Answer::Topology(vec![
            (CLIENT.into(), "a".into()),
            ("a".into(), "b".into()),
            ("a".into(), "c".into()),
        ])
    );
    assert_eq!(
        a.to_json(),
        json!([["@client", "a"], ["a", "b"], ["a", "c"]])
    );
    let dot = a.render_dot().unwrap();
    assert!(dot.starts_with("digraph mon {\n"), "{dot}");
    assert!(dot.contains("  \"a\" -> \"b\";\n"), "{dot}");
    assert_eq!(Answer::Count(1).render_dot(), None);
    // A node's name cannot reorder or drive the terminal the DOT text is shown on.
    let evil = Answer::Topology(vec![("a".into(), "b\u{202e}c\u{1b}[2J\u{2066}".into())]);
    let dot = evil.render_dot().unwrap();
    assert!(dot.contains("  \"a\" -> \"bc[2J\";\n"), "{dot:?}");
}

#[test]
fn avg_counts_failed_nodes_separately() {
    let q = parse("avg load").unwrap();
    let p = fold(
        &q,
        vec![
            ("a", Local::Value(1.0)),
            ("b", Local::Value(2.0)),
            (
                "c",
                Local::Failed("resource 'load': cannot read /proc/loadavg".into()),
            ),
            ("d", Local::Value(6.0)),
            ("e", Local::Value(f64::INFINITY)),
        ],
    );
    let cov = p.coverage();
    assert_eq!(cov.answered, 5);
    let failed: Vec<&str> = cov
        .failed
        .entries()
        .iter()
        .map(|e| e.node.as_str())
        .collect();
    assert_eq!(failed, ["c", "e"]);
    assert!(cov.failed.entries()[0].reason.contains("/proc/loadavg"));
    assert!(cov.failed.entries()[1]
        .reason
        .contains("not a finite number"));
    let a = p.finish(&q);
    assert_eq!(
        a,
        Answer::Avg {
            mean: Some(3.0),
            n: 3
        }
    );
    assert_eq!(a.to_json(), json!(3.0));
    let none = Partial::empty(&q).finish(&q);
    assert_eq!(none, Answer::Avg { mean: None, n: 0 });
    assert_eq!(none.to_json(), json!(null));
}

#[test]
fn top_orders_by_value_then_name_and_keeps_n() {
    let q = parse("top 3 load").unwrap();
    let p = fold(
        &q,
        vec![
            ("zeta", Local::Value(5.0)),
            ("beta", Local::Value(7.0)),
            ("alpha", Local::Value(5.0)),
            ("gamma", Local::Value(5.0)),
            ("delta", Local::Value(1.0)),
        ],
    );
    let a = p.finish(&q);
    assert_eq!(
        a,
        Answer::Top(vec![
            ("beta".into(), 7.0),
            ("alpha".into(), 5.0),
            ("gamma".into(), 5.0)
        ])
    );
    assert_eq!(
        a.to_json(),
        json!([
            {"node": "beta", "value": 7.0},
            {"node": "alpha", "value": 5.0},
            {"node": "gamma", "value": 5.0}
        ])
    );
}

#[test]
fn top_rejects_other_n() {
    let q3 = parse("top 3 load").unwrap();
    let q4 = parse("top 4 load").unwrap();
    let mut p = Partial::empty(&q3);
    let err = p
        .merge(Partial::from_local(&q4, "a", Local::Value(1.0)))
        .unwrap_err();
    assert_eq!(
        err,
        AggError::TopN {
            expected: 3,
            got: 4
        }
    );
    assert!(Partial::empty(&q3).check_for(&q4).is_err());
}

#[test]
fn histo_buckets_are_exact() {
    let q = parse("histo load --buckets 5").unwrap();
    let vals = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 9.0, 2.0];
    let nodes: Vec<(String, Local)> = vals
        .iter()
        .enumerate()
        .map(|(i, v)| (format!("n{i}"), Local::Value(*v)))
        .collect();
    let p = fold(
        &q,
        nodes.iter().map(|(n, l)| (n.as_str(), l.clone())).collect(),
    );
    let a = p.finish(&q);
    let Answer::Histo {
        buckets,
        approximate,
    } = &a
    else {
        panic!("{a:?}")
    };
    assert!(!approximate);
    let counts: Vec<u64> = buckets.iter().map(|b| b.count).collect();
    // Width 1.8: [0,1.8) {0,1}, [1.8,3.6) {2,3,2}, [3.6,5.4) {4,5}, [5.4,7.2) {6,7}, [7.2,9] {8,9,9}
    assert_eq!(counts, [2, 3, 2, 2, 3]);
    assert_eq!(buckets[0].lo, 0.0);
    assert!((buckets[0].hi - 1.8).abs() < 1e-12);
    assert_eq!(buckets[4].hi, 9.0);
    assert_eq!(a.to_json()[1]["count"], json!(3));
    assert!(a.to_json()[0].get("lo").is_some() && a.to_json()[0].get("hi").is_some());
    assert!(!a.is_approximate());
    assert!(
        a.render_human(Unit::Number, CommandOutput::Escaped)
            .contains("[7.2, 9]"),
        "{}",
        a.render_human(Unit::Number, CommandOutput::Escaped)
    );
}

#[test]
fn histo_of_equal_values_is_one_bucket_and_empty_is_none() {
    let q = parse("histo load").unwrap();
    let p = fold(
        &q,
        vec![("a", Local::Value(-0.0)), ("b", Local::Value(0.0))],
    );
    assert_eq!(
        p.finish(&q),
        Answer::Histo {
            buckets: vec![Bucket {
                lo: 0.0,
                hi: 0.0,
                count: 2
            }],
            approximate: false
        }
    );
    assert_eq!(
        Partial::empty(&q).finish(&q),
        Answer::Histo {
            buckets: vec![],
            approximate: false
        }
    );
}

#[test]
fn filter_lists_matching_nodes_sorted() {
    let q = parse("filter load G 20.0").unwrap();
    let p = fold(
        &q,
        vec![
            ("web3", Local::Value(25.0)),
            ("web1", Local::Value(20.0)),
            ("db", Local::Value(99.0)),
            ("web2", Local::Failed("no".into())),
        ],
    );
    let a = p.finish(&q);
    assert_eq!(a, Answer::Filter(vec!["db".into(), "web3".into()]));
    assert_eq!(a.to_json(), json!(["db", "web3"]));
    assert_eq!(
        a.render_human(Unit::Number, CommandOutput::Escaped),
        "db,web3 (2)\n"
    );
    // No match is an empty list, not an error.
    let q = parse("filter load G 1000").unwrap();
    let p = fold(&q, vec![("a", Local::Value(1.0))]);
    let a = p.finish(&q);
    assert_eq!(a.to_json(), json!([]));
    assert!(a
        .render_human(Unit::Number, CommandOutput::Escaped)
        .contains("no node matched"));
}

#[test]
fn grep_lists_matching_nodes() {
    let q = parse("filter grep ERROR /var/log/x").unwrap();
    let p = fold(
        &q,
        vec![
            ("b", Local::Matched(true)),
            ("a", Local::Matched(false)),
            ("c", Local::Matched(true)),
        ],
    );
    assert_eq!(p.finish(&q), Answer::Filter(vec!["b".into(), "c".into()]));
}

#[test]
fn exec_groups_identical_outcomes() {
    let q = parse("exec -- hostname").unwrap();
    let p = fold(
        &q,
        vec![
            ("c", out(0, "same\n")),
            ("a", out(0, "same\n")),
            ("b", out(1, "same\n")),
            ("d", Local::Skipped),
            ("e", out(0, "same\n")),
            (
                "f",
                Local::Failed("cannot run 'hostname': not found".into()),
            ),
        ],
    );
    let cov = p.coverage();
    assert_eq!(cov.answered, 6);
    assert_eq!(cov.skipped, 1);
    assert_eq!(cov.failed.entries()[0].node, "f");
    let a = p.finish(&q);
    let Answer::Exec(groups) = &a else {
        panic!("{a:?}")
    };
    assert_eq!(groups.len(), 2);
    assert_eq!(groups[0].nodes, ["a", "c", "e"]);
    assert_eq!(groups[0].outcome.exit, Some(0));
    assert_eq!(groups[1].nodes, ["b"]);
    assert_eq!(groups[1].outcome.exit, Some(1));
    let j = a.to_json();
    assert_eq!(j[0]["exit"], json!(0));
    assert_eq!(j[0]["stdout"], json!("same\n"));
    assert_eq!(j[0]["stderr"], json!(""));
    assert_eq!(j[0]["nodes"], json!(["a", "c", "e"]));
    assert_eq!(j[0]["signal"], json!(null));
    let human = a.render_human(Unit::Number, CommandOutput::Escaped);
    assert!(human.contains("== exit 0 on 3 nodes: a,c,e"), "{human}");
}

/// Node-supplied text in a human answer: node names always escaped (topology, top, filter,
/// an exec group's nodes); a command's output escaped for a terminal, as written when raw.
#[test]
fn human_answers_show_node_text_escaped_and_output_raw_only_when_asked() {
    let evil = "n1\u{1b}]0;pwned\u{7}\u{202e}";
    let clean = |t: &str| {
        !t.chars()
            .any(|c| c.is_control() && c != '\n' || c == '\u{202e}')
    };
    for a in [
        Answer::Topology(vec![(CLIENT.to_string(), evil.to_string())]),
        Answer::Top(vec![(evil.to_string(), 1.0)]),
        Answer::Filter(vec![evil.to_string()]),
    ] {
        let t = a.render_human(Unit::Number, CommandOutput::Raw);
        assert!(clean(&t), "{t:?}");
        assert!(t.contains(r"n1\u{1b}]0;pwned\u{7}\u{202e}"), "{t}");
    }
    let q = parse("exec -- cat f").unwrap();
    let out_text = "line\tone\n\u{1b}[2Jcleared\r\n";
    let Answer::Exec(mut groups) = Partial::from_local(&q, "a", out(0, out_text)).finish(&q) else {
        panic!()
    };
    groups[0].nodes = vec![evil.to_string()];
    let a = Answer::Exec(groups);
    let t = a.render_human(Unit::Number, CommandOutput::Escaped);
    assert!(clean(&t.replace('\t', " ")), "{t:?}");
    assert!(t.contains("    line\tone\n"), "tabs and lines kept: {t:?}");
    assert!(t.contains(r"    \u{1b}[2Jcleared"), "{t}");
    let raw = a.render_human(Unit::Number, CommandOutput::Raw);
    assert!(
        raw.contains("    \u{1b}[2Jcleared"),
        "raw output as written: {raw:?}"
    );
    assert!(
        raw.contains(r"n1\u{1b}]0;pwned"),
        "node names escaped even raw: {raw:?}"
    );
    assert!(!raw.contains("]0;pwned\u{7}"), "{raw:?}");
}

#[test]
fn exec_output_is_capped() {
    let q = parse("exec -- cat big").unwrap();
    let big = "x".repeat(EXEC_OUTPUT_CAP + 10);
    let p = Partial::from_local(&q, "a", out(0, &big));
    let Answer::Exec(g) = p.finish(&q) else {
        panic!()
    };
    assert_eq!(g[0].outcome.stdout.len(), EXEC_OUTPUT_CAP);
    assert!(g[0].outcome.truncated);
}

#[test]
fn capped_text_cuts_at_char_boundary() {
    assert_eq!(capped_text(b"hello", 10), ("hello".to_string(), false));
    assert_eq!(capped_text(b"hello", 3), ("hel".to_string(), true));
    let (s, cut) = capped_text("ééé".as_bytes(), 3);
    assert_eq!(s, "é");
    assert!(cut);
    let (s, cut) = capped_text(&[0xff, b'a'], 10);
    assert_eq!(s, "\u{fffd}a");
    assert!(!cut);
}

#[test]
fn node_lists_are_capped_with_exact_total() {
    let q = parse("avg load").unwrap();
    let mut p = Partial::empty(&q);
    for i in 0..300 {
        p.merge(Partial::from_local(
            &q,
            &format!("n{i:03}"),
            Local::Failed("x".repeat(1000)),
        ))
        .unwrap();
    }
    let cov = p.coverage();
    assert_eq!(cov.failed.total(), 300);
    assert_eq!(cov.failed.entries().len(), NODE_LIST_CAP);
    assert_eq!(cov.failed.entries()[0].node, "n000");
    assert_eq!(cov.failed.entries()[0].reason.len(), 256);
    let j = cov.to_json();
    assert_eq!(j["failed_total"], json!(300));
    assert_eq!(j["answered"], json!(300));
}

#[test]
fn missing_subtrees_are_reported() {
    let q = Query::Count;
    let mut p = Partial::from_local(&q, "a", Local::Present);
    p.add_missing("b", "no answer before the deadline");
    let cov = p.coverage();
    assert_eq!(cov.missing.total(), 1);
    assert_eq!(cov.missing.entries()[0].node, "b");
    assert_eq!(
        cov.to_json()["missing"],
        json!([{"node": "b", "reason": "no answer before the deadline"}])
    );
}

#[test]
fn wrong_kind_is_rejected_and_leaves_partial_unchanged() {
    let count = Query::Count;
    let avg = parse("avg load").unwrap();
    let mut p = Partial::from_local(&avg, "a", Local::Value(1.0));
    let before = p.clone();
    let err = p
        .merge(Partial::from_local(&count, "b", Local::Present))
        .unwrap_err();
    assert_eq!(
        err,
        AggError::WrongKind {
            expected: "avg",
            got: "count"
        }
    );
    assert_eq!(p, before);
    assert!(matches!(
        p.check_for(&count),
        Err(AggError::WrongKind { .. })
    ));
    // finish with the wrong query gives the empty answer of that query, no panic.
    assert_eq!(p.finish(&count), Answer::Count(1));
}

#[test]
fn mismatched_local_is_a_failure_not_a_panic() {
    let q = parse("avg load").unwrap();
    let p = Partial::from_local(&q, "a", Local::Matched(true));
    let cov = p.coverage();
    assert_eq!(cov.failed.total(), 1);
    assert!(cov.failed.entries()[0].reason.contains("internal error"));
}

/// Tampers with a partial through its serde form, as a malicious child could.
fn tamper(p: &Partial, f: impl FnOnce(&mut serde_json::Value)) -> Partial {
    let mut v = serde_json::to_value(p).unwrap();
    f(&mut v);
    serde_json::from_value(v).unwrap()
}

#[test]
fn garbage_partials_are_rejected() {
    let q = parse("top 1 load").unwrap();
    let p = fold(&q, vec![("a", Local::Value(1.0))]);
    let bad = tamper(&p, |v| {
        v["body"]["Top"]["items"] = json!([["a", 1.0], ["b", 2.0]]);
    });
    let mut acc = Partial::empty(&q);
    assert!(matches!(acc.merge(bad), Err(AggError::Invalid(_))));

    let q = parse("exec -- ls").unwrap();
    let p = Partial::from_local(&q, "a", out(0, "x"));
    let bad = tamper(&p, |v| {
        v["body"]["Exec"]["groups"][0]["outcome"]["stdout"] =
            json!("y".repeat(EXEC_OUTPUT_CAP + 1));
    });
    assert!(matches!(
        Partial::empty(&q).merge(bad),
        Err(AggError::Invalid(_))
    ));

    let q = parse("histo load").unwrap();
    let p = fold(&q, vec![("a", Local::Value(1.0)), ("b", Local::Value(2.0))]);
    let bad = tamper(&p, |v| {
        v["body"]["Histo"]["store"]["Exact"]["values"] = json!([[2.0, 1], [1.0, 1]]);
    });
    assert!(matches!(
        Partial::empty(&q).merge(bad),
        Err(AggError::Invalid(_))
    ));

    let q = Query::Count;
    let p = Partial::from_local(&q, "a", Local::Present);
    let bad = tamper(&p, |v| {
        v["failed"]["entries"] = json!([{"node": "x", "reason": "r"}]);
        v["failed"]["total"] = json!(0);
    });
    assert!(matches!(
        Partial::empty(&q).merge(bad),
        Err(AggError::Invalid(_))
    ));
}

#[test]
fn partials_roundtrip_through_cbor() {
    let q = parse("exec -- ls").unwrap();
    let p = fold(
        &q,
        vec![
            ("a", out(0, "x")),
            ("b", out(0, "x")),
            ("c", Local::Skipped),
        ],
    );
    let mut buf = Vec::new();
    ciborium::into_writer(&p, &mut buf).unwrap();
    let back: Partial = ciborium::from_reader(buf.as_slice()).unwrap();
    assert_eq!(back, p);
    assert!(
        p.encoded_len_hint() >= buf.len() / 2,
        "{} vs {}",
        p.encoded_len_hint(),
        buf.len()
    );
}

#[test]
fn json_shapes_of_count_and_depth_are_integers() {
    assert_eq!(Answer::Count(50).to_json(), json!(50));
    assert!(Answer::Count(50).to_json().is_u64());
    assert!(Answer::Depth(4).to_json().is_u64());
    assert_eq!(
        Answer::Count(50).render_human(Unit::Number, CommandOutput::Escaped),
        "50\n"
    );
}
