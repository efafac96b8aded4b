//! End-to-end: `mon audit fleet` (issue 14, part 2) on real servers. Denials made on every
//! node are counted per node, records carry their node names, a key without the
//! `mon-audit@mon` grant is denied and that denial is audited, the read itself is audited,
//! and a tampered log on one node shows that node's chain not verified (exit 1).
//!
//! Ports 23200–23299.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use mon_tests::Cluster;
use serde_json::Value;

const N: u32 = 4;

/// A key made by ssh-keygen in `dir`; its private key path.
fn keygen(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    let st = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", name, "-f"])
        .arg(&path)
        .stdin(Stdio::null())
        .status()
        .expect("ssh-keygen");
    assert!(st.success());
    path
}

/// Runs `cmd`; (exit code, stdout JSON or Null, stdout, stderr).
fn run(cmd: &mut Command) -> (i32, Value, String, String) {
    let out = cmd.output().expect("run mon");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    (
        out.status.code().unwrap_or(-1),
        serde_json::from_str(&stdout).unwrap_or(Value::Null),
        stdout,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A count map of the answer (`by_node`, `by_principal`, `by_event`) as key → count.
fn counts(v: &Value, which: &str) -> BTreeMap<String, u64> {
    v["result"][which]
        .as_array()
        .unwrap_or_else(|| panic!("{which} in {v}"))
        .iter()
        .map(|e| {
            (
                e["key"].as_str().unwrap().to_string(),
                e["count"].as_u64().unwrap(),
            )
        })
        .collect()
}

fn records(v: &Value) -> Vec<Value> {
    v["result"]["records"].as_array().expect("records").clone()
}

/// Changes one byte of the first record of node `i`'s live log in place (its `node` field:
/// `n3` → `n9`), so that its hash no longer matches.
fn tamper(c: &Cluster, i: u32) {
    let log = c.node_dir(i).join("state/audit.jsonl");
    let text = std::fs::read_to_string(&log).unwrap();
    let needle = format!("\"node\":\"n{i}\"");
    let at = text.find(&needle).expect("a record naming its node") + needle.len() - 2;
    let mut f = std::fs::OpenOptions::new().write(true).open(&log).unwrap();
    f.seek(SeekFrom::Start(at as u64)).unwrap();
    f.write_all(b"9").unwrap();
}

#[test]
fn audit_fleet_counts_denials_per_node_and_finds_a_tampered_log() {
    let c = Cluster::start(N, 23200, |_| Vec::new());
    assert_eq!(
        c.settle(u64::from(N), Duration::from_secs(60)),
        u64::from(N)
    );

    // A second user, granted queries only (no exec, no audit), on every node.
    let viewer = keygen(c.dir.path(), "viewer_ed25519");
    let line = std::fs::read_to_string(viewer.with_extension("pub")).unwrap();
    let line: Vec<&str> = line.split_whitespace().take(2).collect();
    for i in 1..=N {
        let p = c.node_dir(i).join("config/slices/testbed/allowed_signers");
        let mut f = std::fs::OpenOptions::new().append(true).open(p).unwrap();
        writeln!(f, "viewer namespaces=\"mon-query@mon\" {}", line.join(" ")).unwrap();
    }
    let as_viewer = |entry: u32| {
        let mut cmd = c.client_via(entry);
        cmd.arg("--key").arg(&viewer).arg("--json");
        cmd
    };
    // Every node has reloaded its policy once the viewer's count runs through each entry.
    let t = Instant::now();
    for i in 1..=N {
        while run(as_viewer(i).arg("count")).0 != 0 {
            assert!(t.elapsed() < Duration::from_secs(60), "policy not reloaded");
            std::thread::sleep(Duration::from_millis(300));
        }
    }

    // A few queries, and an exec the viewer may not run, refused by each node as the entry.
    assert_eq!(run(c.client().args(["--json", "count"])).0, 0);
    for i in 1..=N {
        let (code, v, _, err) = run(as_viewer(i).args(["exec", "true"]));
        assert_eq!(code, 3, "{v} {err}");
    }

    // The viewer has no audit grant: denied at the entry.
    let (code, v, out, err) = run(as_viewer(1).args(["audit", "fleet"]));
    assert_eq!(code, 3, "{out} {err}");
    assert!(format!("{v}{err}").contains("namespace"), "{v} {err}");

    // The testbed user (namespaces="mon-*@mon": the wildcard grants the audit class).
    let (code, v, _, err) = run(c.client().args(["--json", "audit", "fleet", "--denied"]));
    assert_eq!(code, 0, "{v} {err}");
    assert_eq!(v["command"], "audit fleet", "{v}");
    assert_eq!(v["answered"], N, "{v}");
    assert_eq!(v["result"]["chain_verified_nodes"], N, "{v}");
    assert_eq!(v["result"]["chain_failed_nodes"], 0, "{v}");
    let by_node = counts(&v, "by_node");
    for i in 1..=N {
        assert!(
            by_node.get(&format!("n{i}")).copied().unwrap_or(0) >= 1,
            "n{i}: {v}"
        );
    }
    // Four exec denials and the audit denial, all the viewer's.
    assert!(counts(&v, "by_principal")["viewer"] > u64::from(N), "{v}");
    assert!(counts(&v, "by_event")["session.deny"] > u64::from(N), "{v}");
    let recs = records(&v);
    assert!(!recs.is_empty());
    for r in &recs {
        let node = r["node"].as_str().unwrap();
        assert!((1..=N).any(|i| node == format!("n{i}")), "{r}");
        assert_eq!(r["chain_verified"], true, "{r}");
        assert_eq!(r["slice"], "testbed", "{r}");
    }
    // The viewer's audit attempt is among the audited denials, on the entry node.
    assert!(
        recs.iter().any(|r| r["node"] == "n1"
            && r["principal"] == "viewer"
            && r["reason"] == "namespace-not-granted"),
        "{v}"
    );

    // Only the session's slice's records leave a node: server.start records have no slice.
    let (code, v, _, err) = run(c
        .client()
        .args(["--json", "audit", "fleet", "--event", "server"]));
    assert_eq!(code, 0, "{v} {err}");
    assert_eq!(v["result"]["matched"], 0, "{v}");

    // The read itself is audited on every node (op.start/op.end of op "audit").
    let (code, v, _, err) = run(c.client().args([
        "--json", "audit", "fleet", "--event", "op", "--limit", "100",
    ]));
    assert_eq!(code, 0, "{v} {err}");
    let reads: Vec<Value> = records(&v)
        .into_iter()
        .filter(|r| r["op"] == "audit" && r["event"] == "op.start")
        .collect();
    for i in 1..=N {
        assert!(
            reads.iter().any(|r| r["node"] == format!("n{i}")),
            "n{i}: {v}"
        );
    }
    assert!(
        reads
            .iter()
            .any(|r| r["argv"].as_array().unwrap().contains(&"--denied".into())),
        "{v}"
    );

    // A tampered log on n3: its chain does not verify, its records say so, exit 1.
    tamper(&c, 3);
    let (code, v, _, err) = run(c.client().args(["--json", "audit", "fleet", "--denied"]));
    assert_eq!(code, 1, "{v} {err}");
    assert_eq!(v["result"]["chain_failed_nodes"], 1, "{v}");
    assert_eq!(v["result"]["chain_verified_nodes"], N - 1, "{v}");
    assert_eq!(v["result"]["chain_failed"][0]["node"], "n3", "{v}");
    assert!(
        v["result"]["chain_failed"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("hash mismatch"),
        "{v}"
    );
    for r in records(&v) {
        assert_eq!(r["chain_verified"], r["node"] != "n3", "{r}");
    }
    assert!(
        v["failed_nodes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["node"] == "n3"),
        "{v}"
    );

    // The same in human output: tables on stdout, the node named.
    let (code, _, out, err) = run(c.client().args(["audit", "fleet", "--denied"]));
    assert_eq!(code, 1, "{out} {err}");
    assert!(out.contains("NOT VERIFIED on 1"), "{out}");
    assert!(out.contains("chain not verified: n3"), "{out}");
    assert!(out.contains("PRINCIPAL"), "{out}");
    assert!(out.contains("viewer"), "{out}");
}
