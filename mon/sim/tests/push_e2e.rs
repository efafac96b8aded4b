//! The simulator runs a push end to end (issue 11, item 4): a simulated client drives
//! mon-proto's `ClientSession` and `PushSource` against an entry node of a 30-node deployment,
//! the nodes carry the file over their push streams and land it in memory, and every live
//! node ends with the identical bytes committed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use mon_sim::cluster::{self as sim, PushRun, SimConfig};
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// ~1 MiB of seeded random bytes.
fn file(seed: u64) -> Vec<u8> {
    let mut data = vec![0u8; (1 << 20) + 12_345];
    ChaCha8Rng::seed_from_u64(seed).fill_bytes(&mut data);
    data
}

/// A 30-node deployment with `dead` of its nodes dead, settled for 30 s of gossip, pushing
/// with a 30 s timeout.
fn config(dead: f64, seed: u64) -> SimConfig {
    SimConfig {
        nodes: 30,
        dead,
        stragglers: 0.0,
        seed,
        settle_ms: 30_000,
        timeout_ms: 30_000,
        ..SimConfig::default()
    }
}

/// Every live node committed exactly `data`; dead nodes committed nothing.
fn assert_all_live_landed(run: &PushRun, data: &[u8]) {
    for (i, (live, landed)) in run.live.iter().zip(&run.landed).enumerate() {
        if *live {
            let got = landed.as_deref();
            assert!(
                got == Some(data),
                "node n{} landed {:?} bytes",
                i + 1,
                got.map(<[u8]>::len)
            );
        } else {
            assert!(landed.is_none(), "dead node n{} landed the file", i + 1);
        }
    }
}

#[test]
fn every_node_lands_the_pushed_file() {
    let data = file(11);
    let run = sim::run_push(&config(0.0, 5), &data, &mut |_| {}).expect("simulation runs");
    assert_eq!(run.error, None, "{run:?}");
    let sum = run.summary.as_ref().expect("a push summary");
    assert!(sum.complete(), "{sum:?}");
    assert_eq!(sum.done, 30);
    assert_all_live_landed(&run, &data);
    assert!(
        run.served >= data.len() as u64,
        "the client served {}",
        run.served
    );
    assert_ends_before_the_result(&run);
}

/// Nodes' ends reached the client through the entry node's per-node reports before the
/// result did (each node once, done): the entry's own, its result children's (sent before
/// their `Finished`, which the entry waits for), and more that came up while the push ran.
/// Not every node: a relay's last report may be overtaken by its result (a datagram).
fn assert_ends_before_the_result(run: &PushRun) {
    use mon_proto::push::ends::End;
    let names: std::collections::BTreeSet<&str> =
        run.ended.iter().map(|e| e.node.as_str()).collect();
    assert_eq!(names.len(), run.ended.len(), "a node reported twice");
    assert!(
        run.ended.iter().all(|e| e.end == End::Done),
        "{:?}",
        run.ended
    );
    assert!(names.contains(run.entry.as_str()), "{names:?}");
    assert!(
        names.len() >= 2,
        "only {names:?} reported before the result"
    );
}

#[test]
fn every_live_node_lands_it_with_dead_nodes() {
    let data = file(12);
    let run = sim::run_push(&config(0.1, 6), &data, &mut |_| {}).expect("simulation runs");
    let live = run.live.iter().filter(|l| **l).count();
    assert_eq!(live, 27);
    let sum = run.summary.as_ref().expect("a push summary");
    assert_eq!(sum.done, live as u64, "{sum:?}");
    assert!(sum.failed.is_empty() && sum.denied.is_empty(), "{sum:?}");
    assert_eq!(sum.missing.len(), 3, "the dead nodes are missing: {sum:?}");
    assert_all_live_landed(&run, &data);
}
