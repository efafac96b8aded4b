#![allow(clippy::unwrap_used)]

use super::*;
use crate::agg::{Local, Partial, Query};

/// A push result over the roster web1, web2, db1: `reached` took part; `with` edits the
/// count partial; `known`: the result names the client's roster.
fn result(reached: &[&str], known: bool, with: impl Fn(&mut Partial)) -> (SubtreeResult, Roster) {
    let roster = Roster::from_names(vec!["db1".into(), "web1".into(), "web2".into()]);
    let mut bitmap = roster.empty_bitmap();
    let mut p = Partial::empty(&Query::Count);
    for n in reached {
        roster.mark(&mut bitmap, n);
        if n.starts_with("web") {
            p.merge(Partial::from_local(&Query::Count, n, Local::Present))
                .unwrap();
        }
    }
    with(&mut p);
    let r = SubtreeResult {
        relayed: 1,
        partials: vec![p],
        roster: known.then(|| roster.digest().into()),
        reached: bitmap,
        members: vec![],
        seq: 0,
    };
    (r, roster)
}

fn web() -> Vec<String> {
    vec!["web*".to_string()]
}

#[test]
fn a_push_to_every_targeted_node_is_complete_whatever_the_relays_outside_did() {
    let (r, roster) = result(&["web1", "web2"], true, |p| {
        p.add_denied("db1", "key-not-listed")
    });
    let sum = PushSummary::from_result(r, &roster, &web()).unwrap();
    assert_eq!(sum.denied.len(), 1, "still listed: {sum:?}");
    assert!(sum.complete(), "{sum:?}");

    // Another roster: nothing says who was behind db1, it counts.
    let (r, roster) = result(&["web1", "web2"], false, |p| {
        p.add_denied("db1", "key-not-listed")
    });
    let sum = PushSummary::from_result(r, &roster, &web()).unwrap();
    assert!(!sum.complete(), "{sum:?}");
}

#[test]
fn a_targeted_node_no_result_names_makes_the_push_incomplete() {
    let (r, roster) = result(&["web1", "db1"], true, |_| {});
    let sum = PushSummary::from_result(r, &roster, &web()).unwrap();
    assert_eq!(sum.missing, vec![("web2".into(), PUSH_UNREACHED.into())]);
    assert_eq!(sum.failing, 1);
    assert!(!sum.complete());
}

#[test]
fn a_push_is_judged_on_its_counts_not_on_the_names_listed() {
    // A result whose failed list counts more nodes than it names (cut at 256).
    let (r, roster) = result(&["web1", "web2"], true, |_| {});
    let mut v = serde_json::to_value(&r.partials[0]).unwrap();
    v["failed"]["total"] = serde_json::json!(300);
    let p: Partial = serde_json::from_value(v).unwrap();
    let r = SubtreeResult {
        partials: vec![p],
        ..r
    };
    let sum = PushSummary::from_result(r, &roster, &web()).unwrap();
    assert!(sum.failed.is_empty());
    assert_eq!(sum.failing, 300);
    assert!(!sum.complete());
}
