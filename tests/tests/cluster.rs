//! End-to-end: real `mon server` processes on 127.0.0.x answering every command; answers
//! are compared with a ground truth computed here, independently of MON.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use mon_tests::Cluster;
use serde_json::Value;

const N: u32 = 50;

/// Per-node value of the operator-defined resource `val`: known, distinct per node.
fn val(i: u32) -> f64 {
    f64::from(i) * 1.5
}

/// Nodes whose app log contains ERROR.
fn has_error(i: u32) -> bool {
    i % 7 == 0
}

fn names(it: impl IntoIterator<Item = u32>) -> Vec<String> {
    let mut v: Vec<String> = it.into_iter().map(|i| format!("n{i}")).collect();
    v.sort();
    v
}

fn start(n: u32, port: u16) -> Cluster {
    let c = Cluster::start(n, port, |i| {
        vec!["--resource".into(), format!("val=echo {}", val(i))]
    });
    for i in 1..=n {
        let log = c.node_dir(i).join("app.log");
        let text = if has_error(i) {
            "boot ok\nERROR disk on fire\n"
        } else {
            "boot ok\nall quiet\n"
        };
        std::fs::write(log, text).expect("write app.log");
    }
    let settled = c.settle(u64::from(n), Duration::from_secs(90));
    assert_eq!(settled, u64::from(n), "membership did not settle");
    c
}

fn ok(c: &Cluster, args: &[&str]) -> Value {
    let (code, v, err) = c.json(args);
    assert_eq!(code, 0, "mon {args:?} exit {code}: {err}\n{v}");
    assert_eq!(v["missing"], 0, "{v}");
    assert_eq!(v["denied"], 0, "{v}");
    v
}

#[test]
fn fifty_servers_answer_every_command_with_the_ground_truth() {
    let c = start(N, 17600);
    let all: Vec<u32> = (1..=N).collect();

    // count = N in every run
    for _ in 0..5 {
        let v = ok(&c, &["count"]);
        assert_eq!(v["result"], u64::from(N), "{v}");
        assert_eq!(v["answered"], u64::from(N));
        assert_eq!(v["command"], "count");
    }

    // topology: a tree spanning every node once, rooted at the client
    let v = ok(&c, &["topology"]);
    let edges: Vec<(String, String)> = v["result"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| {
            (
                e[0].as_str().unwrap_or("").to_string(),
                e[1].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    assert_eq!(edges.len(), N as usize, "{v}");
    let children: BTreeSet<&str> = edges.iter().map(|(_, c)| c.as_str()).collect();
    assert_eq!(
        children.len(),
        N as usize,
        "every node is a child exactly once"
    );
    let roots: Vec<&(String, String)> = edges.iter().filter(|(p, _)| p == "@client").collect();
    assert_eq!(roots.len(), 1);
    let mut kids: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (p, ch) in &edges {
        kids.entry(p.as_str()).or_default().push(ch.as_str());
    }
    // depth by BFS from the entry node: every node reachable
    let mut depth_of: BTreeMap<&str, u64> = BTreeMap::new();
    let mut frontier = vec![(roots[0].1.as_str(), 1u64)];
    while let Some((n, d)) = frontier.pop() {
        assert!(depth_of.insert(n, d).is_none(), "cycle at {n}");
        for k in kids.get(n).cloned().unwrap_or_default() {
            frontier.push((k, d + 1));
        }
    }
    assert_eq!(depth_of.len(), N as usize, "tree reaches every node");
    let tree_depth = depth_of.values().copied().max().unwrap_or(0);
    assert!(tree_depth >= 2);

    // depth of a (new) session's tree is plausible: at least 2 levels for 50 nodes
    let v = ok(&c, &["depth"]);
    let d = v["result"].as_u64().expect("depth");
    assert!((2..=u64::from(N)).contains(&d), "{v}");

    // avg
    let v = ok(&c, &["avg", "val"]);
    let want = all.iter().map(|&i| val(i)).sum::<f64>() / f64::from(N);
    let got = v["result"].as_f64().expect("avg number");
    assert!((got - want).abs() < 1e-9, "avg {got} want {want}");

    // top 5: descending, ties by name
    let v = ok(&c, &["top", "5", "val"]);
    let got: Vec<(String, f64)> = v["result"]
        .as_array()
        .expect("top list")
        .iter()
        .map(|e| {
            (
                e["node"].as_str().unwrap_or("").to_string(),
                e["value"].as_f64().unwrap_or(f64::NAN),
            )
        })
        .collect();
    let want: Vec<(String, f64)> = (N - 4..=N)
        .rev()
        .map(|i| (format!("n{i}"), val(i)))
        .collect();
    assert_eq!(got, want);

    // histo: 5 equal-width buckets over [min, max]
    let v = ok(&c, &["histo", "val", "--buckets", "5"]);
    let b = v["result"].as_array().expect("buckets");
    assert_eq!(b.len(), 5, "{v}");
    let (lo, hi) = (val(1), val(N));
    let width = (hi - lo) / 5.0;
    let mut want = [0u64; 5];
    for i in 1..=N {
        let k = (((val(i) - lo) / width) as usize).min(4);
        want[k] += 1;
    }
    let got: Vec<u64> = b.iter().map(|x| x["count"].as_u64().unwrap_or(0)).collect();
    assert_eq!(got, want.to_vec(), "{v}");
    assert!((b[0]["lo"].as_f64().unwrap_or(0.0) - lo).abs() < 1e-9);
    assert!((b[4]["hi"].as_f64().unwrap_or(0.0) - hi).abs() < 1e-9);

    // filter on a resource, both spellings
    let want = names(all.iter().copied().filter(|&i| val(i) > 60.0));
    for op in ["G", ">"] {
        let v = ok(&c, &["filter", "val", op, "60"]);
        let got: Vec<String> = serde_json::from_value(v["result"].clone()).expect("names");
        assert_eq!(got, want);
    }
    // a filter that matches nothing has succeeded (exit 0)
    let v = ok(&c, &["filter", "val", "L", "0"]);
    assert_eq!(v["result"], serde_json::json!([]));

    // filter grep over per-node files
    let file = format!("{}/{{node}}/app.log", c.dir.path().display());
    let v = ok(&c, &["filter", "grep", "ERROR", &file]);
    let got: Vec<String> = serde_json::from_value(v["result"].clone()).expect("names");
    assert_eq!(got, names(all.iter().copied().filter(|&i| has_error(i))));

    // exec: identical outcomes merged into one group (status 3 accepted, else exit 1)
    let v = ok(
        &c,
        &[
            "exec",
            "--ok-exit",
            "0,3",
            "--",
            "sh",
            "-c",
            "echo same; exit 3",
        ],
    );
    let groups = v["result"].as_array().expect("groups");
    assert_eq!(groups.len(), 1, "{v}");
    assert_eq!(groups[0]["exit"], 3);
    assert_eq!(groups[0]["stdout"], "same\n");
    assert_eq!(
        groups[0]["nodes"].as_array().map(Vec::len),
        Some(N as usize)
    );

    // exec --where: only matching nodes run
    let v = ok(
        &c,
        &["exec", "--where", "val", "LE", "15", "--", "echo", "hi"],
    );
    let groups = v["result"].as_array().expect("groups");
    assert_eq!(groups.len(), 1, "{v}");
    let ran: Vec<String> = serde_json::from_value(groups[0]["nodes"].clone()).expect("names");
    assert_eq!(ran, names(all.iter().copied().filter(|&i| val(i) <= 15.0)));

    // --targets: only matching nodes execute, the others relay
    let v = ok(&c, &["--targets", "n1*,!n13", "count"]);
    let want = (1..=N)
        .filter(|i| format!("n{i}").starts_with("n1") && *i != 13)
        .count();
    assert_eq!(v["result"], want as u64, "{v}");
}

#[test]
fn other_overlays_reach_every_node() {
    let c = start(20, 17610);
    for overlay in ["twostage", "dag"] {
        for _ in 0..3 {
            let v = ok(&c, &["--overlay", overlay, "count"]);
            assert_eq!(v["result"], 20, "{overlay}: {v}");
        }
    }
    let v = ok(&c, &["--fanout", "2", "count"]);
    assert_eq!(v["result"], 20, "{v}");
}

#[test]
fn killed_servers_are_reported_missing_within_the_timeout() {
    let mut c = start(20, 17620);
    c.kill(7);
    c.kill(15);
    let t = Instant::now();
    let (code, v, err) = c.json(&["--timeout", "4", "count"]);
    let took = t.elapsed();
    assert_eq!(code, 1, "partial coverage exits 1: {err} {v}");
    assert_eq!(v["result"], 18, "{v}");
    assert_eq!(v["missing"], 2, "{v}");
    let missing: BTreeSet<String> = v["missing_nodes"]
        .as_array()
        .expect("missing list")
        .iter()
        .filter_map(|e| e["node"].as_str().map(str::to_string))
        .collect();
    assert_eq!(
        missing,
        ["n15".to_string(), "n7".to_string()].into_iter().collect()
    );
    assert!(took < Duration::from_secs(4 + 5), "returned after {took:?}");
    // human output names them too
    let out = c
        .client()
        .args(["--timeout", "4", "count"])
        .output()
        .expect("run");
    // the answer alone on stdout; the missing nodes (folded, one line per reason) and the
    // coverage line on stderr
    assert_eq!(String::from_utf8_lossy(&out.stdout), "18\n");
    let text = String::from_utf8_lossy(&out.stderr);
    let folded = text.contains("missing: n[7,15] (2): ");
    let apart = text.contains("missing: n7 (1): ") && text.contains("missing: n15 (1): ");
    assert!(folded || apart, "{text}");
    assert!(text.contains("answered 18 / missing 2"), "{text}");
}

#[test]
fn the_papers_example_works_as_written_against_a_one_slice_server() {
    let c = start(3, 17630);
    // A user whose key is ~/.ssh/id_ed25519 and whose known_nodes is ~/.mon/known_nodes,
    // with MON_SERVER naming the local server: no --slice, no --known-nodes.
    let home = tempfile::tempdir().expect("home");
    std::fs::create_dir_all(home.path().join(".ssh")).expect("mkdir");
    std::fs::create_dir_all(home.path().join(".mon")).expect("mkdir");
    let key = home.path().join(".ssh/id_ed25519");
    std::fs::copy(c.user_key(), &key).expect("copy key");
    std::fs::copy(
        c.dir.path().join("known_nodes"),
        home.path().join(".mon/known_nodes"),
    )
    .expect("copy known_nodes");
    let out = std::process::Command::new(mon_tests::mon_bin())
        .arg("--key")
        .arg(&key)
        .args(["filter", "load", "G", "20.0"])
        .env("HOME", home.path())
        .env(
            "MON_SERVER",
            format!("{}:{}", mon_tests::node_ip(1), c.port),
        )
        .env_remove("MON_SLICE")
        .env_remove("MON_KNOWN_NODES")
        .env_remove("SSH_AUTH_SOCK")
        .output()
        .expect("run mon");
    let text = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{text}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(text.contains("answered 3 / missing 0 / denied 0"), "{text}");

    // mon members: the entry's partial view, by name. Sessions reach every node through the
    // roster even before gossip has filled the view, so give gossip a few Ping rounds
    // (bounded: 40 × 0.5 s).
    let want: BTreeSet<String> = ["n2".to_string(), "n3".to_string()].into_iter().collect();
    let mut last = serde_json::Value::Null;
    for _ in 0..40 {
        let (code, v, err) = c.json(&["members"]);
        assert_eq!(code, 0, "{err}");
        let names: BTreeSet<String> = v["result"]
            .as_array()
            .expect("members")
            .iter()
            .filter_map(|m| m["name"].as_str().map(str::to_string))
            .collect();
        last = v;
        if names == want {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    let names: BTreeSet<String> = last["result"]
        .as_array()
        .expect("members")
        .iter()
        .filter_map(|m| m["name"].as_str().map(str::to_string))
        .collect();
    assert_eq!(names, want, "{last}");
}
