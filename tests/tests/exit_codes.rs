//! End-to-end: exit codes a script can trust (issue 12, part 1). Real servers whose
//! operations fail for real (a command exiting non-zero, a resource no node has, a file that
//! does not exist, a stopped server): 0 only when every targeted node answered and its
//! operation succeeded, 1 otherwise, with each failed node named in `--json`.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::time::Duration;

use mon_tests::Cluster;
use serde_json::Value;

const N: u32 = 4;

fn start(port: u16) -> Cluster {
    let c = Cluster::start(N, port, |i| {
        vec!["--resource".into(), format!("val=echo {i}")]
    });
    let settled = c.settle(u64::from(N), Duration::from_secs(60));
    assert_eq!(settled, u64::from(N), "membership did not settle");
    c
}

/// `failed_nodes` as node → reason.
fn failed(v: &Value) -> BTreeMap<String, String> {
    v["failed_nodes"]
        .as_array()
        .expect("failed_nodes")
        .iter()
        .map(|e| {
            (
                e["node"].as_str().unwrap().to_string(),
                e["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn all_nodes() -> Vec<String> {
    (1..=N).map(|i| format!("n{i}")).collect()
}

/// Runs `mon --json ARGS`; asserts the exit code; returns the JSON.
fn json(c: &Cluster, code: i32, args: &[&str]) -> Value {
    let (got, v, err) = c.json(args);
    assert_eq!(got, code, "mon {args:?}: {err}\n{v}");
    v
}

#[test]
fn exit_codes_follow_what_every_targeted_node_did() {
    let mut c = start(21000);

    // All healthy: 0.
    let v = json(&c, 0, &["count"]);
    assert_eq!(v["result"], N, "{v}");
    assert_eq!(v["failed"], 0, "{v}");

    // A command that fails everywhere: 1, every node named with its status.
    let v = json(&c, 1, &["exec", "--", "false"]);
    assert_eq!(v["failed"], N, "{v}");
    assert_eq!(v["answered"], N, "{v}");
    let f = failed(&v);
    assert_eq!(f.keys().cloned().collect::<Vec<_>>(), all_nodes(), "{v}");
    assert!(f.values().all(|r| r == "exit status 1"), "{v}");
    // The groups are the same as before.
    assert_eq!(v["result"][0]["exit"], 1, "{v}");

    // The same in human output: exit 1, the reason shown.
    // The groups on stdout, the failed nodes (folded, one line per reason) on stderr.
    let out = c.client().args(["exec", "--", "false"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let diag = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{text}{diag}");
    assert!(text.contains("== exit 1 on 4 nodes: n[1-4]"), "{text}");
    assert!(diag.contains("failed: n[1-4] (4): exit status 1"), "{diag}");

    // A status the script accepts: 0.
    let v = json(
        &c,
        0,
        &["exec", "--ok-exit", "0,3", "--", "sh", "-c", "exit 3"],
    );
    assert_eq!(v["failed"], 0, "{v}");
    assert_eq!(v["result"][0]["exit"], 3, "{v}");
    let v = json(
        &c,
        1,
        &["exec", "--ok-exit", "0-2", "--", "sh", "-c", "exit 3"],
    );
    assert!(failed(&v).values().all(|r| r == "exit status 3"), "{v}");

    // Some nodes fail: still 1, and only those are named.
    let v = json(&c, 1, &["exec", "--where", "val", "GE", "3", "--", "false"]);
    let f = failed(&v);
    assert_eq!(f.keys().cloned().collect::<Vec<_>>(), ["n3", "n4"], "{v}");
    assert_eq!(
        (v["failed"].clone(), v["skipped"].clone()),
        (2.into(), 2.into()),
        "{v}"
    );

    // A command killed by a signal: 1.
    let v = json(&c, 1, &["exec", "--", "sh", "-c", "kill -9 $$"]);
    let f = failed(&v);
    assert_eq!(f.len(), N as usize, "{v}");
    assert!(f.values().all(|r| r == "killed by signal 9"), "{v}");

    // A command that runs past --cmd-timeout: 1, "timed out".
    let v = json(&c, 1, &["exec", "--cmd-timeout", "1", "--", "sleep", "30"]);
    let f = failed(&v);
    assert_eq!(f.len(), N as usize, "{v}");
    assert!(f.values().all(|r| r == "timed out after 1 s"), "{v}");

    // A command that cannot start: 1.
    let v = json(&c, 1, &["exec", "--", "/nonexistent/program"]);
    assert_eq!(failed(&v).len(), N as usize, "{v}");

    // exec --where: nodes where it does not hold are skipped, not failed.
    let v = json(&c, 0, &["exec", "--where", "val", "LE", "2", "--", "true"]);
    assert_eq!(v["skipped"], 2, "{v}");
    assert_eq!(v["failed"], 0, "{v}");

    // A resource no node has: 1, every node named with the reason.
    let v = json(&c, 1, &["avg", "nosuch"]);
    assert_eq!(v["failed"], N, "{v}");
    let f = failed(&v);
    assert_eq!(f.keys().cloned().collect::<Vec<_>>(), all_nodes(), "{v}");
    assert!(f.values().all(|r| r.contains("nosuch")), "{v}");
    json(&c, 1, &["top", "2", "nosuch"]);
    json(&c, 1, &["histo", "nosuch"]);
    json(&c, 1, &["filter", "nosuch", "G", "1"]);
    // The resource every node has: 0.
    json(&c, 0, &["avg", "val"]);

    // A grep of a file that does not exist: 1, each node named.
    let v = json(&c, 1, &["filter", "grep", "WORD", "/nonexistent/app.log"]);
    assert_eq!(
        failed(&v).keys().cloned().collect::<Vec<_>>(),
        all_nodes(),
        "{v}"
    );
    // A grep that reads its file and finds nothing has succeeded.
    let log = c.dir.path().join("app.log");
    std::fs::write(&log, "all quiet\n").unwrap();
    let v = json(&c, 0, &["filter", "grep", "WORD", log.to_str().unwrap()]);
    assert_eq!(v["result"], serde_json::json!([]), "{v}");

    // A stopped server: missing, 1 (count, depth, topology alike).
    c.kill(N);
    let v = json(&c, 1, &["--timeout", "4", "count"]);
    assert_eq!(v["missing"], 1, "{v}");
    assert_eq!(v["missing_nodes"][0]["node"], format!("n{N}"), "{v}");
    json(&c, 1, &["--timeout", "4", "depth"]);
    json(&c, 1, &["--timeout", "4", "topology"]);
    // ... unless it is outside --targets: it was never asked.
    let v = json(&c, 0, &["--timeout", "4", "--targets", "n1,n2", "count"]);
    assert_eq!(v["result"], 2, "{v}");
}

#[test]
fn bad_ok_exit_lists_are_a_local_error() {
    // No server needed: the list is refused before anything is sent.
    for bad in ["", "256", "3-1", "0,,1", "x"] {
        let out = std::process::Command::new(mon_tests::mon_bin())
            .args([
                "--server",
                "127.0.0.1:21099",
                "exec",
                "--ok-exit",
                bad,
                "--",
                "true",
            ])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{bad:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("--ok-exit"), "{bad:?}: {err}");
    }
}
