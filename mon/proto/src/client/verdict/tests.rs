#![allow(clippy::unwrap_used)]

use super::*;
use crate::agg::{ExecGroup, NodeList};

#[test]
fn ok_exit_lists_parse_single_statuses_and_ranges() {
    let ok: OkExit = "0-2,127".parse().unwrap();
    for s in [0, 1, 2, 127] {
        assert!(ok.accepts(s), "{s}");
    }
    for s in [3, 126, 128, 255, -1] {
        assert!(!ok.accepts(s), "{s}");
    }
    assert_eq!(ok.to_string(), "0-2,127");
    let ok: OkExit = " 0 , 3 ".parse().unwrap();
    assert!(ok.accepts(0) && ok.accepts(3) && !ok.accepts(1));
    assert_eq!(ok.to_string(), "0,3");
    assert_eq!("255".parse::<OkExit>().unwrap().to_string(), "255");
    assert_eq!("4-4".parse::<OkExit>().unwrap().to_string(), "4");
}

#[test]
fn the_default_accepts_zero_only() {
    let ok = OkExit::default();
    assert!(ok.accepts(0));
    assert!(!ok.accepts(1));
    assert_eq!(ok, "0".parse().unwrap());
}

#[test]
fn bad_ok_exit_lists_say_what_is_wrong() {
    assert_eq!("".parse::<OkExit>(), Err(OkExitError::Empty));
    assert_eq!(" ".parse::<OkExit>(), Err(OkExitError::Empty));
    for (bad, item) in [
        ("0,", ""),
        ("0,,1", ""),
        ("256", "256"),
        ("-1", "-1"),
        ("+1", "+1"),
        ("x", "x"),
        ("1-", "1-"),
        ("1-2-3", "1-2-3"),
        ("0,1.5", "1.5"),
    ] {
        assert_eq!(
            bad.parse::<OkExit>(),
            Err(OkExitError::Item(item.to_string())),
            "{bad}"
        );
    }
    assert_eq!(
        "5-2".parse::<OkExit>(),
        Err(OkExitError::Backwards("5-2".to_string()))
    );
    let msg = "256".parse::<OkExit>().unwrap_err().to_string();
    assert!(msg.contains("0 to 255"), "{msg}");
}

fn outcome(exit: Option<i32>, signal: Option<i32>, timed_out: bool) -> ExecOutcome {
    ExecOutcome {
        exit,
        signal,
        timed_out,
        ..ExecOutcome::default()
    }
}

#[test]
fn exec_outcomes_fail_with_a_reason_a_human_reads() {
    let ok = OkExit::default();
    let f = |o: ExecOutcome| exec_failure(&o, &ok, 30, 10_000);
    assert_eq!(f(outcome(Some(0), None, false)), None);
    assert_eq!(
        f(outcome(Some(3), None, false)).as_deref(),
        Some("exit status 3")
    );
    assert_eq!(
        f(outcome(None, Some(9), false)).as_deref(),
        Some("killed by signal 9")
    );
    assert_eq!(
        f(outcome(None, None, false)).as_deref(),
        Some("no exit status")
    );
    // Killed at the session's deadline (10 s) before --cmd-timeout (30 s).
    assert_eq!(
        f(outcome(None, Some(9), true)).as_deref(),
        Some("timed out: the session's 10 s ran out first")
    );
    // Killed at --cmd-timeout: a timeout is a failure whatever the accepted statuses.
    let o = outcome(Some(0), None, true);
    assert_eq!(
        exec_failure(&o, &ok, 2, 10_000).as_deref(),
        Some("timed out after 2 s")
    );
    let ok3: OkExit = "0,3".parse().unwrap();
    assert_eq!(
        exec_failure(&outcome(Some(3), None, false), &ok3, 30, 10_000),
        None
    );
}

fn exec_query(timeout_s: u32) -> Query {
    Query::exec(vec!["true".into()], false, timeout_s, None).unwrap()
}

#[test]
fn failing_exec_groups_are_listed_as_failed_with_their_reason() {
    let groups = vec![
        ExecGroup {
            outcome: outcome(Some(1), None, false),
            nodes: vec!["n1".into(), "n3".into()],
        },
        ExecGroup {
            outcome: outcome(Some(0), None, false),
            nodes: vec!["n2".into()],
        },
    ];
    let answer = Answer::Exec(groups);
    let mut c = Coverage {
        answered: 4,
        ..Coverage::default()
    };
    c.failed.push("n4", "cannot start ls: No such file");
    add_exec_failures(&exec_query(5), &answer, &OkExit::default(), 10_000, &mut c);
    let listed: Vec<(&str, &str)> = c
        .failed
        .entries()
        .iter()
        .map(|e| (e.node.as_str(), e.reason.as_str()))
        .collect();
    assert_eq!(
        listed,
        [
            ("n1", "exit status 1"),
            ("n3", "exit status 1"),
            ("n4", "cannot start ls: No such file")
        ]
    );
    assert_eq!(c.failed.total(), 3);
    assert_eq!(failing(&c, &["*".into()], true), 3);

    // Accepting 1 leaves the node that could not start.
    let mut c = Coverage::default();
    add_exec_failures(
        &exec_query(5),
        &answer,
        &"0-1".parse().unwrap(),
        10_000,
        &mut c,
    );
    assert_eq!(failing(&c, &["*".into()], true), 0);
    // Another query's answer adds nothing.
    add_exec_failures(&Query::Count, &answer, &OkExit::default(), 10_000, &mut c);
    assert_eq!(c.failed.total(), 0);
}

#[test]
fn more_failed_exec_nodes_than_a_list_names_are_all_counted() {
    let nodes: Vec<String> = (0..1000).map(|i| format!("n{i:04}")).collect();
    let answer = Answer::Exec(vec![ExecGroup {
        outcome: outcome(Some(2), None, false),
        nodes,
    }]);
    let mut c = Coverage::default();
    add_exec_failures(&exec_query(5), &answer, &OkExit::default(), 10_000, &mut c);
    assert_eq!(c.failed.entries().len(), crate::agg::NODE_LIST_CAP);
    assert_eq!(c.failed.total(), 1000);
    assert_eq!(failing(&c, &["*".into()], true), 1000);
}

fn list(nodes: &[&str], unlisted: u64) -> NodeList {
    let mut l = NodeList::default();
    for n in nodes {
        l.push(n, "not reached");
    }
    // A list as received: more nodes counted than named.
    let mut json = serde_json::to_value(&l).unwrap();
    json["total"] = serde_json::json!(l.total() + unlisted);
    serde_json::from_value(json).unwrap()
}

#[test]
fn relay_only_nodes_outside_the_targets_do_not_count_when_the_roster_is_known() {
    let targets = vec!["web*".to_string()];
    let c = Coverage {
        missing: list(&["db1", "web2"], 0),
        denied: list(&["db2"], 0),
        ..Coverage::default()
    };
    assert_eq!(failing(&c, &targets, true), 1, "web2 only");
    assert_eq!(
        failing(&c, &targets, false),
        3,
        "nothing says who was behind db1, db2"
    );
    let c = Coverage {
        missing: list(&["db1"], 0),
        ..Coverage::default()
    };
    assert_eq!(failing(&c, &targets, true), 0);
}

#[test]
fn the_decision_comes_from_totals_not_from_the_names_listed() {
    let c = Coverage {
        missing: list(&["db1"], 5),
        failed: list(&[], 2),
        ..Coverage::default()
    };
    assert_eq!(c.failed.entries().len(), 0);
    assert_eq!(failing(&c, &["web*".to_string()], true), 5 + 2);
    assert_eq!(failing(&Coverage::default(), &["*".to_string()], true), 0);
}
