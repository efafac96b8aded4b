//! Issue 10, smaller holes, through real `mon` processes: the modes of a server's state,
//! a policy file others can write, and what `mon --version` says about insecure features.

use std::os::unix::fs::PermissionsExt;
use std::process::Command;
use std::time::{Duration, Instant};

use mon_tests::{mon_bin, Cluster};

use super::{client_with_key, cluster, events, keygen, policy_events, pub_line, run, signers_path};

fn mode(p: &std::path::Path) -> u32 {
    std::fs::metadata(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .permissions()
        .mode()
        & 0o7777
}

fn chmod(p: &std::path::Path, m: u32) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(m))
        .unwrap_or_else(|e| panic!("chmod {}: {e}", p.display()));
}

/// Waits (bounded) until node i's audit log has a `server.start` record number `n`.
fn wait_started(c: &Cluster, i: u32, n: usize) {
    let t = Instant::now();
    while events(c, i, "server.start").len() < n {
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "n{i} did not start:\n{}",
            c.log(i)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_servers_state_dir_is_0700_and_its_journal_and_audit_log_0600() {
    let mut c = cluster(1, 18770);
    let state = c.node_dir(1).join("state");
    let audit = state.join("audit.jsonl");
    let journal = state.join("replay.journal");
    assert_eq!(mode(&state), 0o700, "state dir {}", state.display());
    assert_eq!(mode(&audit), 0o600, "{}", audit.display());
    assert_eq!(mode(&journal), 0o600, "{}", journal.display());

    // Loosened while it was down: tightened at the next start, with a warning.
    c.kill(1);
    chmod(&state, 0o755);
    chmod(&audit, 0o644);
    chmod(&journal, 0o666);
    c.restart(1, &[]);
    wait_started(&c, 1, 2);
    assert_eq!(mode(&state), 0o700);
    assert_eq!(mode(&audit), 0o600);
    assert_eq!(mode(&journal), 0o600);
    let log = c.log(1);
    assert!(
        log.contains(&format!(
            "state directory {} had mode 0755",
            state.display()
        )),
        "{log}"
    );
    assert!(log.contains("had mode 0644: set it to 0600"), "{log}");
}

#[test]
fn a_world_writable_allowed_signers_is_refused_and_sessions_are_denied() {
    let mut c = cluster(1, 18771);
    let signers = signers_path(&c, 1);
    // Writable by others from the start: the slice never loads, everything is denied.
    c.kill(1);
    chmod(&signers, 0o666);
    c.restart(1, &[]);
    wait_started(&c, 1, 2);
    let t = Instant::now();
    let r = loop {
        let r = run(c.client().arg("--json").arg("count"));
        if r.code != 2 || t.elapsed() > Duration::from_secs(20) {
            break r;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(r.code, 3, "denied at the entry node: {r:?}");
    assert!(
        r.stderr.contains("no-policy") || r.stdout.contains("no-policy"),
        "{r:?}"
    );
    // The error names the file, its mode and the fix, in the log and the audit record.
    let log = c.log(1);
    let want = format!(
        "policy file {} is writable by group or others (mode 0666)",
        signers.display()
    );
    assert!(log.contains(&want), "{log}");
    assert!(
        log.contains(&format!("chmod go-w {}", signers.display())),
        "{log}"
    );
    let errors = events(&c, 1, "policy.error");
    assert!(
        errors.iter().any(|e| e.to_string().contains(&want)),
        "{errors:?}"
    );

    // Fixed: the slice loads and the count runs.
    chmod(&signers, 0o644);
    let t = Instant::now();
    let r = loop {
        let r = run(c.client().arg("--json").arg("count"));
        if r.code == 0 || t.elapsed() > Duration::from_secs(20) {
            break r;
        }
        std::thread::sleep(Duration::from_millis(300));
    };
    assert_eq!(r.code, 0, "{r:?}");

    // On a running server: someone who can write the file (mode 0666) adds their key. The
    // edit is refused (a new policy.error), the intruder is denied, the user keeps working
    // under the last good policy.
    let home = tempfile::tempdir().expect("tempdir");
    let intruder = keygen(home.path(), "intruder", "ed25519", "");
    let original = std::fs::read_to_string(&signers).expect("read allowed_signers");
    let before = policy_events(&c, 1);
    chmod(&signers, 0o666);
    std::fs::write(
        &signers,
        format!(
            "{original}intruder@lab namespaces=\"mon-*@mon\" {}\n",
            pub_line(&intruder)
        ),
    )
    .expect("write allowed_signers");
    let t = Instant::now();
    while policy_events(&c, 1) <= before {
        assert!(
            t.elapsed() < Duration::from_secs(15),
            "no reload:\n{}",
            c.log(1)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let last = events(&c, 1, "policy.error");
    assert!(
        last.last().is_some_and(|e| e.to_string().contains(&want)),
        "{last:?}"
    );
    let r = run(client_with_key(&c, &intruder, home.path()).args(["--json", "count"]));
    assert_eq!(r.code, 3, "the intruder's key was not added: {r:?}");
    assert!(r.stderr.contains("key-not-listed"), "{r:?}");
    let r = run(c.client().arg("--json").arg("count"));
    assert_eq!(r.code, 0, "the last good policy stays: {r:?}");
}

#[test]
fn a_normal_build_says_it_has_no_insecure_features() {
    for args in [&["--version"][..], &["server", "--version"][..]] {
        let r = run(Command::new(mon_bin()).args(args));
        assert_eq!(r.code, 0, "{r:?}");
        assert!(
            r.stdout.contains("insecure features: none)") && !r.stdout.contains("INSECURE"),
            "mon {args:?}: {r:?}"
        );
    }
}

#[test]
fn a_fault_injection_server_refuses_to_start_without_the_explicit_variable() {
    let bin = mon_tests::fault_bin();
    let v = run(Command::new(&bin).arg("--version"));
    assert!(
        v.stdout.contains("INSECURE") && v.stdout.contains("fault-injection"),
        "{v:?}"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let r = run(Command::new(&bin)
        .arg("server")
        .arg("--config-dir")
        .arg(dir.path().join("config"))
        .arg("--state-dir")
        .arg(dir.path().join("state"))
        .arg("--listen")
        .arg("127.0.0.1:18772")
        .env_remove("MON_ALLOW_FAULT_INJECTION"));
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr.contains("fault-injection") && r.stderr.contains("MON_ALLOW_FAULT_INJECTION=1"),
        "{r:?}"
    );
    assert!(
        !dir.path().join("state").exists(),
        "refused before touching any state"
    );
}
