#![allow(clippy::unwrap_used)]

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::Command;

use mon_policy::{check_paths_report, Operation, Request, OPTION_NAMES};

use super::*;

/// A real key made by ssh-keygen; returns the .pub path and its line.
fn user_key(dir: &Path, name: &str) -> (PathBuf, String) {
    let path = dir.join(name);
    let st = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C"])
        .arg(format!("{name}@laptop"))
        .arg("-f")
        .arg(&path)
        .status()
        .expect("ssh-keygen (needed by this test)");
    assert!(st.success());
    let pub_path = path.with_extension("pub");
    let line = std::fs::read_to_string(&pub_path)
        .unwrap()
        .trim()
        .to_string();
    (pub_path, line)
}

fn args(config_dir: &Path, principal: &str, key: &Path, ops: &[Class]) -> AddUserArgs {
    AddUserArgs {
        slice: "lab".into(),
        principal: principal.into(),
        key: key.to_path_buf(),
        ops: ops.to_vec(),
        config_dir: config_dir.to_path_buf(),
        valid_after: None,
        valid_before: None,
        narrow: Narrowing::default(),
    }
}

fn slice_file(config_dir: &Path, name: &str) -> String {
    std::fs::read_to_string(config_dir.join("slices/lab").join(name)).unwrap_or_default()
}

fn decide(
    config_dir: &Path,
    key: &Path,
    op: Operation,
    node: &str,
) -> (bool, String, Option<String>) {
    let (policy, _) = SlicePolicy::load(&config_dir.join("slices/lab")).unwrap();
    let key = read_public_key(key).unwrap();
    let ns = mon_policy::required_namespace(&op);
    let req = Request {
        principal: None,
        key: &key,
        namespace: ns,
        op: &op,
        client_addr: None,
        node,
        now_unix_s: now_unix_s(),
        fanout: None,
        lifetime_s: None,
    };
    let sd = policy.evaluate_session(&req, std::slice::from_ref(&op));
    let code = sd
        .deciding()
        .map(|d| d.reason.code().to_string())
        .unwrap_or_default();
    (sd.allowed, code, sd.run_as.clone())
}

#[test]
fn writes_the_lines_policy_check_accepts_and_a_server_decides_by() {
    let tmp = tempfile::tempdir().unwrap();
    let etc = tmp.path().join("etc/mon");
    let (alice, alice_line) = user_key(tmp.path(), "alice");
    let mut a = args(&etc, "alice@lab", &alice, &[Class::Query, Class::Exec]);
    a.narrow.nodes = Some("web*,!web13".into());
    a.narrow.run_as = Some("deploy".into());
    a.narrow.command = Some("systemctl restart \"nginx\"".into());
    assert_eq!(run(&a).unwrap(), exit::OK);

    assert_eq!(
        slice_file(&etc, ALLOWED_SIGNERS),
        format!("alice@lab namespaces=\"mon-query@mon,mon-exec@mon\" {alice_line}\n")
    );
    assert_eq!(
        slice_file(&etc, MON_POLICY),
        "alice@lab nodes=\"web*,!web13\",command=\"systemctl restart \\\"nginx\\\"\",run-as=\"deploy\"\n"
    );
    for f in [ALLOWED_SIGNERS, MON_POLICY] {
        let mode = std::fs::metadata(etc.join("slices/lab").join(f))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o644, "{f}");
    }
    let report = check_paths_report(&[etc.join("slices")], now_unix_s());
    assert_eq!(report.errors(), 0, "{:?}", report.diagnostics);
    assert_eq!(report.warnings(), 0, "{:?}", report.diagnostics);

    let exec = |argv: &str| Operation::Exec {
        argv: argv.split(' ').map(String::from).collect(),
    };
    let count = Operation::Query {
        name: "count".into(),
    };
    assert!(decide(&etc, &alice, count.clone(), "web1").0);
    // nodes= narrows every operation, queries included.
    assert_eq!(decide(&etc, &alice, count.clone(), "db1").1, "node-denied");
    let ok = decide(&etc, &alice, exec("systemctl restart \"nginx\""), "web1");
    assert_eq!(ok, (true, "allowed".into(), Some("deploy".into())));
    assert_eq!(
        decide(&etc, &alice, exec("systemctl restart \"nginx\""), "web13").1,
        "node-denied"
    );
    assert_eq!(decide(&etc, &alice, exec("id"), "web1").1, "command-denied");
    assert_eq!(
        decide(
            &etc,
            &alice,
            Operation::Grep {
                path: "/etc/passwd".into()
            },
            "web1"
        )
        .1,
        "namespace-not-granted"
    );

    // A second user, queries only, no narrowing: allowed_signers grows, mon_policy stays.
    let (bob, bob_line) = user_key(tmp.path(), "bob");
    let mut b = args(&etc, "bob@lab", &bob, &[Class::Query]);
    b.valid_before = Some("20991231Z".into());
    run(&b).unwrap();
    assert_eq!(
        slice_file(&etc, ALLOWED_SIGNERS),
        format!(
            "alice@lab namespaces=\"mon-query@mon,mon-exec@mon\" {alice_line}\n\
             bob@lab namespaces=\"mon-query@mon\",valid-before=\"20991231Z\" {bob_line}\n"
        )
    );
    assert_eq!(slice_file(&etc, MON_POLICY).lines().count(), 1);
    assert!(decide(&etc, &bob, count, "db1").0);
    assert_eq!(
        decide(&etc, &bob, exec("id"), "web1").1,
        "namespace-not-granted"
    );
}

#[test]
fn duplicates_and_revoked_keys_are_refused_and_nothing_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let etc = tmp.path();
    let (alice, _) = user_key(tmp.path(), "alice");
    let mut a = args(etc, "alice@lab", &alice, &[Class::Exec]);
    a.narrow.run_as = Some("deploy".into());
    run(&a).unwrap();
    let before = (
        slice_file(etc, ALLOWED_SIGNERS),
        slice_file(etc, MON_POLICY),
    );

    // The same key again, even for another principal.
    let err = run(&args(etc, "al@lab", &alice, &[Class::Query]))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("is already listed at") && err.contains("allowed_signers:1 (for alice@lab)"),
        "{err}"
    );
    // A second key of alice's with narrowing of its own: her mon_policy line exists.
    let (laptop2, _) = user_key(tmp.path(), "alice2");
    let mut a2 = args(etc, "alice@lab", &laptop2, &[Class::Exec]);
    a2.narrow.run_as = Some("other".into());
    let err = run(&a2).unwrap_err().to_string();
    assert!(
        err.contains("mon_policy:1 already narrows alice@lab"),
        "{err}"
    );
    assert_eq!(
        (
            slice_file(etc, ALLOWED_SIGNERS),
            slice_file(etc, MON_POLICY)
        ),
        before
    );

    // A revoked key.
    let (mallory, mallory_line) = user_key(tmp.path(), "mallory");
    std::fs::write(
        etc.join("slices/lab/revoked_keys"),
        format!("{mallory_line}\n"),
    )
    .unwrap();
    let err = run(&args(etc, "mallory@lab", &mallory, &[Class::Query]))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("is revoked (") && err.contains("revoked_keys:1)"),
        "{err}"
    );
    assert_eq!(
        (
            slice_file(etc, ALLOWED_SIGNERS),
            slice_file(etc, MON_POLICY)
        ),
        before
    );
}

#[test]
fn what_would_not_load_is_refused_before_anything_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let etc = tmp.path();
    let (alice, _) = user_key(tmp.path(), "alice");
    let with = |f: &dyn Fn(&mut AddUserArgs)| {
        let mut a = args(etc, "alice@lab", &alice, &[Class::Exec]);
        f(&mut a);
        run(&a).unwrap_err().to_string()
    };
    let cases: Vec<(String, &str)> = vec![
        (with(&|a| a.principal = "ops-*".into()), "give one name"),
        (with(&|a| a.principal = "a b".into()), "contains ' '"),
        (with(&|a| a.slice = "a/b".into()), "contains '/'"),
        (
            with(&|a| a.narrow.command = Some("id\nalice@lab".into())),
            "control characters",
        ),
        (
            with(&|a| a.narrow.from = Some("10.0.0.0/33".into())),
            "the new lines do not load",
        ),
        (
            with(&|a| a.narrow.push_dirs = Some("relative".into())),
            "the new lines do not load",
        ),
        (
            with(&|a| a.valid_before = Some("20240231Z".into())),
            "the new lines do not load",
        ),
    ];
    for (err, want) in cases {
        assert!(err.contains(want), "want {want:?}: {err}");
    }
    assert_eq!(slice_file(etc, ALLOWED_SIGNERS), "");
    assert_eq!(slice_file(etc, MON_POLICY), "");
    assert!(!etc.join("slices").exists(), "no directory made either");

    // A slice that does not load now is not edited.
    std::fs::create_dir_all(etc.join("slices/lab")).unwrap();
    std::fs::write(
        etc.join("slices/lab/allowed_signers"),
        "bob@lab frob ssh-ed25519 AAAA\n",
    )
    .unwrap();
    let err = with(&|_| {});
    assert!(err.contains("does not load now: fix it first"), "{err}");
    assert_eq!(
        slice_file(etc, ALLOWED_SIGNERS),
        "bob@lab frob ssh-ed25519 AAAA\n"
    );
}

#[test]
fn every_mon_policy_option_has_a_flag() {
    let all = Narrowing {
        from: Some("10.0.0.0/8".into()),
        nodes: Some("web*".into()),
        command: Some("id".into()),
        grep_paths: Some("/var/log".into()),
        push_dirs: Some("/srv".into()),
        max_fanout: Some(8),
        max_lifetime: Some(60),
        run_as: Some("deploy".into()),
        allow_setid: true,
    };
    let written = all.options().unwrap();
    assert_eq!(written.len(), OPTION_NAMES.len(), "{written:?}");
    for (w, name) in written.iter().zip(OPTION_NAMES) {
        assert!(w.starts_with(name), "{w} {name}");
    }
}
