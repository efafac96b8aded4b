//! Issue 10, acting as the run-as user (SECURITY.md, "Issue 10: acting as the run-as user"):
//! `filter grep` reads as the policy's `run-as` user, only regular files, never through a
//! symlink that user could not follow; a root server refuses exec and grep without a `run-as`
//! (`run-as-missing`) and with one its server.conf does not list (`run-as-not-allowed`); and
//! `mon testbed` keeps working. These tests need root (they run `nobody` and make device
//! nodes); as another user they return at once.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use mon_tests::{mon_bin, Cluster};

use super::{client_with_key, cluster, events, keygen, pub_line, run, set_mon_policy, set_signers};

fn is_root() -> bool {
    run(Command::new("id").arg("-u")).stdout.trim() == "0"
}

fn mon_policy_path(c: &Cluster, i: u32) -> PathBuf {
    c.node_dir(i).join("config/slices/testbed/mon_policy")
}

fn chmod(p: &Path, mode: u32) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

/// A directory `nobody` may enter, outside the cluster's.
fn open_dir() -> tempfile::TempDir {
    let d = tempfile::Builder::new()
        .prefix("mon-runas-")
        .tempdir()
        .expect("tempdir");
    chmod(d.path(), 0o755);
    d
}

/// What a grep of `word` in `file` through node 1 answers: exit code, the nodes that
/// matched, and all the text (a node that could not search is listed in `failed_nodes`
/// with its reason, and the exit code is 1).
fn grep(
    c: &Cluster,
    key: &Path,
    home: &Path,
    word: &str,
    file: &Path,
) -> (i32, serde_json::Value, String) {
    let r = run(client_with_key(c, key, home)
        .args(["--json", "filter", "grep", word])
        .arg(file));
    (
        r.code,
        r.json()["result"].clone(),
        format!("{}\n{}", r.stdout, r.stderr),
    )
}

#[test]
fn grep_reads_only_what_the_run_as_user_may_read() {
    if !is_root() {
        return;
    }
    let c = cluster(2, 18610);
    let home = tempfile::tempdir().unwrap();
    let reader = keygen(home.path(), "reader", "ed25519", "");
    let original = std::fs::read_to_string(super::signers_path(&c, 1)).unwrap();
    set_signers(
        &c,
        &format!(
            "{original}reader@lab namespaces=\"mon-read@mon\" {}\n",
            pub_line(&reader)
        ),
    );
    let policy = std::fs::read_to_string(mon_policy_path(&c, 1)).unwrap();
    set_mon_policy(&c, &format!("{policy}reader@lab run-as=\"nobody\"\n"));

    let d = open_dir();
    let public = d.path().join("public.log");
    std::fs::write(&public, "all quiet\nTOPSECRET\n").unwrap();
    chmod(&public, 0o644);
    let secret = d.path().join("secret");
    std::fs::write(&secret, "TOPSECRET\n").unwrap();
    chmod(&secret, 0o600);
    let closed = d.path().join("closed");
    std::fs::create_dir(&closed).unwrap();
    std::fs::write(closed.join("inner.log"), "TOPSECRET\n").unwrap();
    chmod(&closed.join("inner.log"), 0o644);
    chmod(&closed, 0o700);
    let link = d.path().join("link.log");
    std::os::unix::fs::symlink(closed.join("inner.log"), &link).unwrap();
    let fifo = d.path().join("fifo");
    assert!(run(Command::new("mkfifo").arg(&fifo)).code == 0);
    // A character device with no driver (major 240, "local/experimental"): any real open
    // fails with ENXIO, so "not a regular file" shows it was never opened.
    let dev = d.path().join("dev");
    assert!(run(Command::new("mknod").arg(&dev).args(["c", "240", "0"])).code == 0);

    // Control: nobody reads a public file, both answers.
    let (code, matched, out) = grep(&c, &reader, home.path(), "TOPSECRET", &public);
    assert_eq!(code, 0, "{out}");
    assert_eq!(matched, serde_json::json!(["n1", "n2"]), "{out}");
    let (code, matched, out) = grep(&c, &reader, home.path(), "NOTTHERE", &public);
    assert_eq!(code, 0, "{out}");
    assert_eq!(matched, serde_json::json!([]), "{out}");

    // A root-only file, the node's own private key among them: a permission failure, the
    // same whether the word is in it or not (no yes/no about its contents).
    let node_key = c.node_dir(1).join("config/node_ed25519_key");
    for (file, word) in [
        (&secret, "TOPSECRET"),
        (&secret, "NOTTHERE"),
        (&node_key, "OPENSSH"),
    ] {
        let (code, matched, out) = grep(&c, &reader, home.path(), word, file);
        assert_eq!(code, 1, "{file:?} {word}: {out}");
        assert!(out.contains("\"failed\":2"), "{file:?} {word}: {out}");
        assert_eq!(matched, serde_json::json!([]), "{file:?} {word}: {out}");
        assert!(out.contains("Permission denied"), "{file:?} {word}: {out}");
    }
    // Through a symlink into a directory nobody cannot search: refused.
    let (code, matched, out) = grep(&c, &reader, home.path(), "TOPSECRET", &link);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("\"failed\":2"), "{out}");
    assert_eq!(matched, serde_json::json!([]), "{out}");
    assert!(out.contains("Permission denied"), "{out}");
    // The server's own /proc entries (its memory map): refused.
    let (_, matched, out) = grep(
        &c,
        &reader,
        home.path(),
        "[stack]",
        Path::new("/proc/self/maps"),
    );
    assert_eq!(matched, serde_json::json!([]), "{out}");
    assert!(out.contains("is on /proc"), "{out}");
    // A FIFO and a device: refused as not regular files, never opened.
    for f in [&fifo, &dev] {
        let (code, _, out) = grep(&c, &reader, home.path(), "x", f);
        assert_eq!(code, 1, "{f:?}: {out}");
        assert!(out.contains("\"failed\":2"), "{f:?}: {out}");
        assert!(out.contains("is not a regular file"), "{f:?}: {out}");
        assert!(!out.contains("No such device"), "{f:?} was opened: {out}");
    }
}

#[test]
fn a_root_server_without_run_as_refuses_exec_grep_and_push() {
    if !is_root() {
        return;
    }
    let c = cluster(2, 18611);
    let home = tempfile::tempdir().unwrap();
    let policy = std::fs::read_to_string(mon_policy_path(&c, 1)).unwrap();
    let without: String = policy.replace(",run-as=\"nobody\"", "");
    assert_ne!(without, policy, "the testbed policy names run-as: {policy}");
    set_mon_policy(&c, &without);
    let d = open_dir();
    let public = d.path().join("public.log");
    std::fs::write(&public, "hello\n").unwrap();
    chmod(&public, 0o644);

    let key = c.user_key();
    let cases: [Vec<String>; 3] = [
        vec!["exec".into(), "--".into(), "id".into(), "-u".into()],
        vec![
            "filter".into(),
            "grep".into(),
            "hello".into(),
            public.display().to_string(),
        ],
        vec![
            "push".into(),
            public.display().to_string(),
            c.dir.path().join("push/{node}.log").display().to_string(),
        ],
    ];
    for args in &cases {
        let r = run(client_with_key(&c, &key, home.path()).args(args));
        assert_eq!(r.code, 3, "{args:?}: {r:?}");
        assert!(r.stderr.contains("[run-as-missing]"), "{args:?}: {r:?}");
        assert!(r.stderr.contains("run-as"), "{args:?}: {r:?}");
    }
    let denies = events(&c, 1, "session.deny");
    let missing = denies
        .iter()
        .filter(|e| e["reason"]["code"] == "run-as-missing")
        .count();
    assert_eq!(missing, 3, "{denies:?}");
    for i in 1..=2 {
        assert!(!c.dir.path().join(format!("push/n{i}.log")).exists());
    }
    // Queries need no run-as.
    let r = run(client_with_key(&c, &key, home.path()).args(["--json", "count"]));
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.json()["result"], 2, "{r:?}");
}

#[test]
fn a_run_as_the_operator_does_not_list_is_refused() {
    if !is_root() {
        return;
    }
    let c = cluster(2, 18612);
    let home = tempfile::tempdir().unwrap();
    let key = c.user_key();
    let policy = std::fs::read_to_string(mon_policy_path(&c, 1)).unwrap();
    // Control: the testbed's run-as (nobody, listed in server.conf) runs.
    let r = run(client_with_key(&c, &key, home.path()).args(["--json", "exec", "--", "id", "-un"]));
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("nobody"), "{r:?}");
    for user in ["root", "daemon"] {
        set_mon_policy(
            &c,
            &policy.replace("run-as=\"nobody\"", &format!("run-as=\"{user}\"")),
        );
        let r = run(client_with_key(&c, &key, home.path()).args(["exec", "--", "id", "-un"]));
        assert_eq!(r.code, 3, "{user}: {r:?}");
        assert!(r.stderr.contains("[run-as-not-allowed]"), "{user}: {r:?}");
        assert!(r.stderr.contains(&format!("\"{user}\"")), "{user}: {r:?}");
        let denied = events(&c, 1, "session.deny")
            .into_iter()
            .filter(|e| e["reason"]["code"] == "run-as-not-allowed")
            .count();
        assert!(denied >= 1, "{user}: no audit record");
    }
    let n = events(&c, 1, "session.deny")
        .into_iter()
        .filter(|e| e["reason"]["code"] == "run-as-not-allowed")
        .count();
    assert_eq!(n, 2);
}

/// `mon testbed DIR -- ARGS…` through the real command; its exit code and output.
fn testbed(dir: &Path, port: u16, args: &[&str]) -> super::Ran {
    run(Command::new(mon_bin())
        .args(["testbed", "--nodes", "2", "--port", &port.to_string()])
        .args(["--settle-timeout", "60", "--dir"])
        .arg(dir)
        .arg("--")
        .args(args)
        .env_remove("SSH_AUTH_SOCK"))
}

#[test]
fn mon_testbed_exec_and_push_work() {
    let dir = tempfile::Builder::new()
        .prefix("mon-testbed-e2e-")
        .tempdir()
        .unwrap();
    let r = testbed(dir.path(), 18613, &["--json", "exec", "--", "uname", "-r"]);
    assert_eq!(r.code, 0, "{r:?}");
    let want = run(Command::new("uname").arg("-r")).stdout;
    assert!(r.stdout.contains(want.trim()), "{r:?}");

    let src = dir.path().join("app.bin");
    std::fs::write(&src, b"pushed by the testbed\n").unwrap();
    chmod(&src, 0o644);
    let dest = dir.path().join("push/{node}.bin");
    let r = testbed(
        dir.path(),
        18613,
        &[
            "push",
            &src.display().to_string(),
            &dest.display().to_string(),
        ],
    );
    assert_eq!(r.code, 0, "{r:?}");
    for i in 1..=2 {
        let got = std::fs::read(dir.path().join(format!("push/n{i}.bin"))).unwrap();
        assert_eq!(got, b"pushed by the testbed\n", "n{i}");
    }
}
