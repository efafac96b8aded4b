//! The console's push page, live (issue 14): while a push runs, each node's end travels up
//! the tree in per-node reports, and the console turns that node's row done as it comes.
//! Against real servers, through the API the page polls (no browser): node rows turned done
//! from the push's progress (they carry `at`, when the console heard of it) before the
//! result settled the job.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "web/http.rs"]
#[allow(dead_code)]
mod http;
#[path = "web/push.rs"]
#[allow(dead_code)]
mod push;

use std::time::Duration;

use mon_tests::Cluster;
use serde_json::json;

use http::{login, start_console};
use push::{make_push_dirs, push_dest, push_dir, wait_push};

/// Nodes in the test's cluster.
const N: u32 = 6;
/// This test's ports (26000–26099): the servers, the console.
const SERVERS: u16 = 26000;
const WEB: u16 = 26001;

#[test]
fn every_nodes_row_turns_done_from_the_push_progress_before_the_result() {
    use base64::Engine as _;
    let c = Cluster::start(N, SERVERS, |_| Vec::new());
    let live = c.settle(u64::from(N), Duration::from_secs(90));
    assert_eq!(live, u64::from(N), "membership did not settle");
    make_push_dirs(&c);
    let (_web, url) = start_console(&c, WEB, &["push"]);
    let me = login(WEB, &url);

    let data: Vec<u8> = (0..300_000u32).map(|i| (i * 13 % 251) as u8).collect();
    let b64 = base64::engine::general_purpose::STANDARD.encode(&data);
    let (status, v) = me.post(
        "/api/push",
        json!({"dest": push_dest(&c, "live.bin"), "upload": {"name": "live.bin", "base64": b64}}),
    );
    assert_eq!(status, 202, "{v}");
    let j = wait_push(&me, &v["job"]);
    assert_eq!(j["state"], "finished", "{j}");
    assert_eq!(j["done"], N, "{j}");
    let secs = j["seconds"].as_f64().expect("seconds");
    let nodes = j["nodes"].as_array().expect("nodes");
    assert_eq!(nodes.len(), N as usize, "{j}");
    assert!(nodes.iter().all(|n| n["state"] == "done"), "{j}");
    // Ends that came through the entry node's per-node reports, ahead of the result (the
    // result alone leaves no `at`): the entry's own and its result children's at least (a
    // child's report precedes its `Finished`, which the entry waits for).
    let live: Vec<&str> = nodes
        .iter()
        .filter(|n| n["at"].as_f64().is_some_and(|a| a <= secs))
        .filter_map(|n| n["node"].as_str())
        .collect();
    assert!(live.contains(&"n1"), "the entry's end was not live: {j}");
    assert!(
        live.len() >= 2,
        "only {live:?} reported while the push ran: {j}"
    );
    for i in 1..=N {
        let got = std::fs::read(push_dir(&c, i).join("live.bin")).expect("the pushed file");
        assert!(got == data, "n{i}: content differs");
    }
}
