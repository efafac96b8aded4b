//! `mon policy check` and `mon policy explain`: output and exit codes (0 clean/allow, 1
//! errors/deny, 2 could not run).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

fn mon(args: &[&str]) -> Out {
    let o = Command::new(env!("CARGO_BIN_EXE_mon"))
        .args(args)
        .output()
        .expect("run mon");
    Out {
        code: o.status.code().expect("exit code"),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

fn keygen(dir: &Path, name: &str, ty: &str) -> (PathBuf, String) {
    let st = Command::new("ssh-keygen")
        .args(["-q", "-t", ty, "-N", "", "-C", name, "-f"])
        .arg(dir.join(name))
        .status()
        .expect("ssh-keygen");
    assert!(st.success());
    let pub_path = dir.join(format!("{name}.pub"));
    let text = std::fs::read_to_string(&pub_path).unwrap();
    let line = text
        .split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ");
    (pub_path, line)
}

struct Slice {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    alice: PathBuf,
    eve: PathBuf,
    rsa: PathBuf,
}

fn slice() -> Slice {
    let tmp = tempfile::tempdir().unwrap();
    let (alice, alice_line) = keygen(tmp.path(), "alice", "ed25519");
    let (eve, _) = keygen(tmp.path(), "eve", "ed25519");
    let (rsa, _) = keygen(tmp.path(), "rsa", "rsa");
    let dir = tmp.path().join("lab");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(
        dir.join("allowed_signers"),
        format!("# lab\nalice@lab namespaces=\"mon-query@mon,mon-exec@mon\" {alice_line}\n"),
    )
    .unwrap();
    std::fs::write(
        dir.join("mon_policy"),
        "alice@lab command=\"uptime*\",nodes=\"web*\",from=\"192.0.2.0/24\",run-as=\"mon\"\n",
    )
    .unwrap();
    Slice {
        _tmp: tmp,
        dir,
        alice,
        eve,
        rsa,
    }
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn check_clean_warnings_errors_unreadable() {
    let sl = slice();
    let o = mon(&["policy", "check", s(&sl.dir)]);
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    assert_eq!(o.stdout.trim(), "0 errors, 0 warnings");

    // Warnings only (an expired key): still exit 0.
    let line = std::fs::read_to_string(sl.dir.join("allowed_signers")).unwrap();
    std::fs::write(
        sl.dir.join("allowed_signers"),
        line.replace("namespaces=", "valid-before=\"20200101Z\",namespaces="),
    )
    .unwrap();
    let o = mon(&["policy", "check", s(&sl.dir)]);
    assert_eq!(o.code, 0, "{}", o.stdout);
    assert!(
        o.stdout
            .contains("allowed_signers:2:11: warning: key expired"),
        "{}",
        o.stdout
    );
    assert!(o.stdout.ends_with("0 errors, 1 warning\n"), "{}", o.stdout);

    // An error: exit 1, file:line:col.
    std::fs::write(
        sl.dir.join("mon_policy"),
        "alice@lab from=\"192.0.2.0/24\" nodes=\"x\"\n",
    )
    .unwrap();
    let o = mon(&["policy", "check", s(&sl.dir)]);
    assert_eq!(o.code, 1, "{}", o.stdout);
    assert!(
        o.stdout.contains(&format!(
            "{}:1:31: error: unexpected text after the options",
            s(&sl.dir.join("mon_policy"))
        )),
        "{}",
        o.stdout
    );
    assert!(o.stdout.contains("1 error, "), "{}", o.stdout);

    // A single file by name; a path that cannot be read: exit 2.
    let o = mon(&["policy", "check", s(&sl.dir.join("allowed_signers"))]);
    assert_eq!(o.code, 0, "{}", o.stdout);
    let o = mon(&["policy", "check", s(&sl.dir), "/nonexistent/slices"]);
    assert_eq!(o.code, 2, "{}", o.stdout);
    assert!(
        o.stdout.contains("/nonexistent/slices: error: cannot read"),
        "{}",
        o.stdout
    );
    let o = mon(&["policy", "check"]);
    assert_eq!(o.code, 2, "usage error: {}", o.stderr);
}

#[test]
fn explain_allow_and_deny() {
    let sl = slice();
    let base = ["policy", "explain", "--slice-dir", s(&sl.dir)];
    let run = |extra: &[&str]| {
        let mut args: Vec<&str> = base.to_vec();
        args.extend_from_slice(extra);
        mon(&args)
    };
    let o = run(&[
        "--key",
        s(&sl.alice),
        "--node",
        "web3",
        "--from",
        "192.0.2.9",
        "exec",
        "uptime",
        "-p",
    ]);
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    assert!(o.stdout.starts_with("allow\n"), "{}", o.stdout);
    assert!(o.stdout.contains("reason:     allowed: "), "{}", o.stdout);
    assert!(
        o.stdout.contains("class:      mon-exec@mon"),
        "{}",
        o.stdout
    );
    assert!(o.stdout.contains("principal:  alice@lab"), "{}", o.stdout);
    assert!(
        o.stdout.contains(&format!(
            "line:       {}:2",
            s(&sl.dir.join("allowed_signers"))
        )),
        "{}",
        o.stdout
    );
    assert!(
        o.stdout
            .contains(&format!("mon_policy: {}:1", s(&sl.dir.join("mon_policy")))),
        "{}",
        o.stdout
    );
    assert!(o.stdout.contains("run-as:     mon"), "{}", o.stdout);

    // Deny: wrong command, wrong node, wrong address, unknown key, expired.
    for (extra, code) in [
        (
            vec![
                "--key",
                s(&sl.alice),
                "--node",
                "web3",
                "exec",
                "rm",
                "-rf",
                "/",
            ],
            "command-denied",
        ),
        (
            vec!["--key", s(&sl.alice), "--node", "db1", "exec", "uptime"],
            "node-denied",
        ),
        (
            vec![
                "--key",
                s(&sl.alice),
                "--node",
                "web1",
                "--from",
                "198.51.100.1",
                "avg",
                "load",
            ],
            "from-denied",
        ),
        (vec!["--key", s(&sl.eve), "count"], "key-not-listed"),
        (
            vec!["--key", s(&sl.alice), "--principal", "bob", "count"],
            "principal-mismatch",
        ),
        (
            vec!["--key", s(&sl.alice), "grep", "error", "/var/log/syslog"],
            "namespace-not-granted",
        ),
        (
            vec![
                "--key",
                s(&sl.alice),
                "--namespace",
                "mon-query@mon",
                "exec",
                "uptime",
            ],
            "op-not-in-class",
        ),
        (
            vec!["--key", s(&sl.alice), "push", "./app", "/srv/app"],
            "namespace-not-granted",
        ),
    ] {
        let o = run(&extra);
        assert_eq!(o.code, 1, "{extra:?}: {}{}", o.stdout, o.stderr);
        assert!(o.stdout.starts_with("deny\n"), "{}", o.stdout);
        assert!(
            o.stdout.contains(&format!("reason:     {code}: ")),
            "{extra:?}: {}",
            o.stdout
        );
    }
    // --at decides at another time (alice's line has no window); a bad time is a usage error.
    let o = run(&[
        "--key",
        s(&sl.alice),
        "--node",
        "web1",
        "--at",
        "20990101Z",
        "count",
    ]);
    assert_eq!(o.code, 0, "{}", o.stdout);
    let o = run(&["--key", s(&sl.alice), "--at", "tomorrow", "count"]);
    assert_eq!(o.code, 2, "{}", o.stderr);
}

#[test]
fn explain_cannot_run() {
    let sl = slice();
    let dir = s(&sl.dir);
    // Unknown operation, RSA key, missing key file: exit 2.
    let o = mon(&[
        "policy",
        "explain",
        "--slice-dir",
        dir,
        "--key",
        s(&sl.alice),
        "frobnicate",
    ]);
    assert_eq!(o.code, 2, "{}", o.stderr);
    assert!(o.stderr.contains("unknown operation"), "{}", o.stderr);
    let o = mon(&[
        "policy",
        "explain",
        "--slice-dir",
        dir,
        "--key",
        s(&sl.rsa),
        "count",
    ]);
    assert_eq!(o.code, 2, "{}", o.stderr);
    assert!(
        o.stderr.contains("MON needs an Ed25519 key"),
        "{}",
        o.stderr
    );
    let o = mon(&[
        "policy",
        "explain",
        "--slice-dir",
        dir,
        "--key",
        "/nonexistent.pub",
        "count",
    ]);
    assert_eq!(o.code, 2, "{}", o.stderr);
    // A slice whose policy does not load.
    std::fs::write(sl.dir.join("mon_policy"), "alice@lab nope=\"1\"\n").unwrap();
    let o = mon(&[
        "policy",
        "explain",
        "--slice-dir",
        dir,
        "--key",
        s(&sl.alice),
        "count",
    ]);
    assert_eq!(o.code, 2, "{}", o.stderr);
    assert!(
        o.stderr.contains("mon_policy:1:11: error: unknown option"),
        "{}",
        o.stderr
    );
    assert!(o.stderr.contains("does not load"), "{}", o.stderr);
}
