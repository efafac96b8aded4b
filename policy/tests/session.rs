//! One principal per session (issue 10, part 3): a key listed under several principals has a
//! whole session decided under one of them, never each operation under another.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use mon_policy::{Reason, SlicePolicy, NS_EXEC};

/// A key listed as `ops@lab,alice@lab`; ops may grep /etc but run only uptime (as nobody),
/// alice may run `id` (as daemon) but grep only /home.
fn fixture() -> (tempfile::TempDir, SlicePolicy, Key) {
    let tmp = tempfile::tempdir().unwrap();
    let k = keygen(tmp.path(), "shared");
    let allowed = format!("ops@lab,alice@lab namespaces=\"mon-*@mon\" {}\n", k.line);
    let mon_policy = "ops@lab grep-paths=\"/etc\",command=\"uptime\",run-as=\"nobody\"\n\
                      alice@lab grep-paths=\"/home\",command=\"id\",run-as=\"daemon\"\n";
    let dir = slice_dir(tmp.path(), "lab", Some(&allowed), Some(mon_policy), None);
    let (policy, _) = SlicePolicy::load(&dir).expect("policy loads");
    (tmp, policy, k)
}

#[test]
fn a_session_needing_two_principals_is_denied() {
    let (_tmp, policy, k) = fixture();
    let ops = [grep("/etc/shadow"), exec("id")];
    // Each operation alone is allowed, under a different principal.
    let g = policy.evaluate(&req(&k.public, None, &ops[0]));
    let e = policy.evaluate(&req(&k.public, None, &ops[1]));
    assert!(g.allowed && e.allowed, "{g:?} {e:?}");
    assert_eq!(g.principal.as_deref(), Some("ops@lab"));
    assert_eq!(e.principal.as_deref(), Some("alice@lab"));

    // Together, no single principal allows both.
    let mut r = req(&k.public, None, &ops[0]);
    r.namespace = NS_EXEC;
    let sd = policy.evaluate_session(&r, &ops);
    assert!(!sd.allowed, "{sd:?}");
    assert_eq!(sd.principal.as_deref(), Some("ops@lab"));
    assert_eq!(sd.deciding().unwrap().reason, Reason::CommandDenied);
    assert_eq!(sd.run_as, None);
    assert_eq!(sd.tried, ["ops@lab", "alice@lab"]);
    assert!(
        sd.message().contains("no single principal"),
        "{}",
        sd.message()
    );

    // Naming a principal decides under that one only.
    let r = mon_policy::Request {
        principal: Some("alice@lab"),
        ..r
    };
    let sd = policy.evaluate_session(&r, &ops);
    assert!(!sd.allowed);
    assert_eq!(sd.principal.as_deref(), Some("alice@lab"));
    assert_eq!(sd.deciding().unwrap().reason, Reason::GrepPathDenied);
}

#[test]
fn the_first_principal_allowing_every_operation_decides_and_its_run_as_is_used() {
    let (_tmp, policy, k) = fixture();
    let ops = [grep("/home/a"), exec("id")];
    let mut r = req(&k.public, None, &ops[0]);
    r.namespace = NS_EXEC;
    let sd = policy.evaluate_session(&r, &ops);
    assert!(sd.allowed, "{sd:?}");
    assert_eq!(sd.principal.as_deref(), Some("alice@lab"));
    assert_eq!(sd.run_as.as_deref(), Some("daemon"));
    assert_eq!(sd.decisions.len(), 2);
    assert!(sd
        .decisions
        .iter()
        .all(|d| d.principal.as_deref() == Some("alice@lab")));

    // A query-only session: the first listed principal.
    let q = [query()];
    let sd = policy.evaluate_session(&req(&k.public, None, &q[0]), &q);
    assert!(sd.allowed);
    assert_eq!(sd.principal.as_deref(), Some("ops@lab"));
}

#[test]
fn a_session_without_operations_still_needs_a_listed_key() {
    let (tmp, policy, _k) = fixture();
    let other = keygen(tmp.path(), "other");
    let q = query();
    let sd = policy.evaluate_session(&req(&other.public, None, &q), &[]);
    assert!(!sd.allowed);
    assert_eq!(sd.deciding().unwrap().reason, Reason::KeyNotListed);
}
