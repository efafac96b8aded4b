//! Issue 10: a server running as root acts for a user (exec, grep, push) only as a `run-as`
//! user the policy names and the node's operator lists for the slice; queries need none, and
//! a node outside `targets` (a relay) does not check exec or grep.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{allowed_signers, policy, request, SeedSigner, NOW_MS, SLICE};
use mon_proto::agg::Query;
use mon_proto::client::ClientSession;
use mon_proto::verify::{
    verify_session, Context, Limits, RunAsRules, RUN_AS_MISSING, RUN_AS_NOT_ALLOWED,
};
use rand::SeedableRng;

fn grep() -> Query {
    Query::Grep {
        word: "x".into(),
        file: "/var/log/syslog".into(),
    }
}

fn exec() -> Query {
    Query::Exec {
        argv: vec!["uptime".into()],
        shell: false,
        timeout_s: 5,
        where_: None,
    }
}

/// The code `verify_session` gives on node `node` for `ops` of a session targeting `n1`
/// (None: accepted).
fn code(mon_policy: &str, rules: &RunAsRules, ops: Vec<Query>, node: &str) -> Option<String> {
    let user = SeedSigner::new([7; 32]);
    let p = policy(
        &allowed_signers(&user, "mon-*@mon", "", 0),
        Some(mon_policy),
    );
    let limits = Limits {
        run_as: rules.clone(),
        ..Limits::default()
    };
    let ctx = Context {
        now_ms: NOW_MS,
        node,
        client_addr: None,
        policy: Some(&p),
        limits: &limits,
    };
    let mut req = request(ops);
    req.targets = vec!["n1".into()];
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(1);
    let cs = ClientSession::new(&mut rng, &user, req, NOW_MS).expect("sign session");
    verify_session(&ctx, &cs.signed)
        .err()
        .map(|d| d.refusal.code().to_string())
}

#[test]
fn a_root_server_needs_a_listed_run_as_for_exec_and_grep() {
    let not_root = RunAsRules::default();
    let mut root = RunAsRules {
        root: true,
        ..RunAsRules::default()
    };
    let none = "alice@lab nodes=\"*\"\n";
    let nobody = "alice@lab run-as=\"nobody\"\n";
    // Not root: acts as itself, nothing to check.
    assert_eq!(code(none, &not_root, vec![exec()], "n1"), None);
    // Root: queries pass; exec and grep need a run-as, then one the operator lists.
    assert_eq!(code(none, &root, vec![Query::Count], "n1"), None);
    for op in [exec(), grep()] {
        assert_eq!(
            code(none, &root, vec![op.clone()], "n1").as_deref(),
            Some(RUN_AS_MISSING)
        );
        assert_eq!(
            code(nobody, &root, vec![op.clone()], "n1").as_deref(),
            Some(RUN_AS_NOT_ALLOWED)
        );
    }
    // A relay (outside targets) runs no exec or grep: nothing to check.
    assert_eq!(code(none, &root, vec![exec(), grep()], "n2"), None);
    root.users.insert(SLICE.into(), vec!["nobody".into()]);
    assert_eq!(code(nobody, &root, vec![exec(), grep()], "n1"), None);
    let as_root = "alice@lab run-as=\"root\"\n";
    assert_eq!(
        code(as_root, &root, vec![exec()], "n1").as_deref(),
        Some(RUN_AS_NOT_ALLOWED)
    );
    root.users.insert(SLICE.into(), vec!["root".into()]);
    assert_eq!(code(as_root, &root, vec![exec()], "n1"), None);
}

/// The grep grant travels with the verified session: the `grep-paths=` entries of every
/// applying line (the node checks the real path of the file it opens against them); none
/// for a session without grep or a principal without grep-paths.
#[test]
fn the_grep_paths_grant_is_carried() {
    let user = SeedSigner::new([7; 32]);
    let grant = |mon_policy: &str, ops: Vec<Query>| {
        let p = policy(
            &allowed_signers(&user, "mon-*@mon", "", 0),
            Some(mon_policy),
        );
        let limits = Limits::default();
        let ctx = Context {
            now_ms: NOW_MS,
            node: "n1",
            client_addr: None,
            policy: Some(&p),
            limits: &limits,
        };
        let mut req = request(ops);
        req.targets = vec!["n1".into()];
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(1);
        let cs = ClientSession::new(&mut rng, &user, req, NOW_MS).expect("sign session");
        verify_session(&ctx, &cs.signed)
            .expect("verified")
            .grep_paths
    };
    let two = "alice@lab grep-paths=\"/var/log,/srv/*.log\"\nalice@lab grep-paths=\"/var\"\n";
    assert_eq!(
        grant(two, vec![Query::Count, grep()]),
        vec![
            vec!["/var/log".to_string(), "/srv/*.log".to_string()],
            vec!["/var".to_string()]
        ]
    );
    assert!(grant(two, vec![Query::Count]).is_empty());
    assert!(grant("alice@lab nodes=\"*\"\n", vec![grep()]).is_empty());
}
