#![allow(clippy::unwrap_used, clippy::expect_used)]

//! Simulation tests. All times are virtual: the assertions are about the algorithm, not about
//! the speed of the machine running the tests.

use super::dag::{build, uploaders, Shape};
use super::*;
use mon_proto::push::sched::{Config, Policy};
use mon_proto::push::serve::PRIMARY_WEIGHT;

/// 10 Mbit/s in bytes per ms.
const U: f64 = 1250.0;

fn cfg(policy: Policy, file_size: u64, block_size: u32) -> SimConfig {
    SimConfig {
        file_size,
        block_size,
        policy,
        sched: Config::default(),
        primary_weight: PRIMARY_WEIGHT,
        latency_ms: 5.0,
        detect_ms: 1000.0,
        seed: 1,
        max_time_ms: 1e7,
        report_sent: true,
    }
}

fn nodes(parents: &[Vec<u32>]) -> Vec<SimNode> {
    parents
        .iter()
        .map(|p| SimNode {
            upload: U,
            download: f64::INFINITY,
            parents: p.clone(),
            fail_at_ms: None,
            corrupt: false,
        })
        .collect()
}

fn every_receiver_done(r: &SimResult) -> bool {
    r.failed.is_empty() && r.finish_ms.iter().all(|f| f.is_some())
}

#[test]
fn bound_is_kumar_ross() {
    // source-limited
    assert_eq!(
        kumar_ross_bound(1000.0, 10.0, &[100.0; 4], f64::INFINITY),
        100.0
    );
    // aggregate-limited: 4 receivers, total upload 10 + 4*5 = 30
    assert!((kumar_ross_bound(1500.0, 10.0, &[5.0; 4], f64::INFINITY) - 200.0).abs() < 1e-9);
    // download-limited
    assert_eq!(kumar_ross_bound(1000.0, 100.0, &[100.0; 2], 1.0), 1000.0);
}

#[test]
fn default_staircase_is_near_the_bound_and_a_tree_is_not() {
    let file = 8 << 20;
    let bs = 32 * 1024;
    let stair = build(Shape::Staircase { parents: 3 }, 20, 1);
    assert_eq!(uploaders(&stair), 20);
    let r = simulate(&nodes(&stair), &cfg(Policy::default(), file, bs)).unwrap();
    assert!(every_receiver_done(&r), "{:?}", r.failed);
    assert!(r.ratio < 1.4, "staircase ratio {}", r.ratio);
    assert!(
        r.aggregate_rate > 10.0 * U,
        "aggregate {} x the source",
        r.aggregate_rate / U
    );
    // a fanout-3 tree: the source's three children share its upload, so ~3x the bound
    let tree = build(Shape::Tree { fanout: 3 }, 20, 1);
    let t = simulate(&nodes(&tree), &cfg(Policy::default(), file, bs)).unwrap();
    assert!(every_receiver_done(&t));
    assert!(t.ratio > 2.5, "tree ratio {}", t.ratio);
    // without serving priority the staircase degrades the same way
    let mut fair = cfg(Policy::default(), file, bs);
    fair.primary_weight = 1;
    let f = simulate(&nodes(&stair), &fair).unwrap();
    assert!(f.ratio > 1.8, "fair-share staircase ratio {}", f.ratio);
}

#[test]
fn both_policies_complete_every_node() {
    let stair = build(Shape::Staircase { parents: 3 }, 12, 1);
    for policy in [Policy::FirstFit, Policy::RarestFirst] {
        let r = simulate(&nodes(&stair), &cfg(policy, 2 << 20, 32 * 1024)).unwrap();
        assert!(every_receiver_done(&r), "{policy:?}: {:?}", r.failed);
        assert!(r.makespan_ms >= r.bound_ms, "never below the lower bound");
        assert_eq!(r.corrupt_rejected, 0);
    }
}

#[test]
fn a_dead_relay_stops_a_chain_but_not_a_dag() {
    let file = 4 << 20;
    let fail_at = file as f64 / U / 3.0;
    let kill = |mut ns: Vec<SimNode>| {
        ns[5].fail_at_ms = Some(fail_at);
        ns
    };
    let stair = build(Shape::Staircase { parents: 3 }, 15, 1);
    let r = simulate(
        &kill(nodes(&stair)),
        &cfg(Policy::default(), file, 32 * 1024),
    )
    .unwrap();
    assert_eq!(
        r.failed,
        vec![(5, "dead")],
        "every surviving node completes"
    );
    let chain = build(Shape::Tree { fanout: 1 }, 15, 1);
    let c = simulate(
        &kill(nodes(&chain)),
        &cfg(Policy::default(), file, 32 * 1024),
    )
    .unwrap();
    assert_eq!(c.failed.first(), Some(&(5, "dead")));
    assert_eq!(c.failed.get(1), Some(&(6, "lost-all-parents")));
    assert_eq!(c.failed.len(), 11, "everything below the dead node fails");
}

#[test]
fn a_corrupting_relay_is_dropped_and_every_node_completes() {
    let stair = build(Shape::Staircase { parents: 3 }, 12, 1);
    for policy in [Policy::FirstFit, Policy::RarestFirst] {
        let mut ns = nodes(&stair);
        ns[4].corrupt = true;
        let r = simulate(&ns, &cfg(policy, 2 << 20, 32 * 1024)).unwrap();
        assert!(every_receiver_done(&r), "{policy:?}: {:?}", r.failed);
        // each of the corrupt node's three children rejects one block, then drops it
        assert_eq!(r.corrupt_rejected, 3, "{policy:?}");
        assert_eq!(r.dropped_parents, 3, "{policy:?}");
    }
}

#[test]
fn losing_every_parent_is_reported() {
    // node 2 hangs only off node 1, which dies at once
    let parents = vec![vec![], vec![0], vec![1]];
    let mut ns = nodes(&parents);
    ns[1].fail_at_ms = Some(1.0);
    let r = simulate(&ns, &cfg(Policy::default(), 1 << 20, 32 * 1024)).unwrap();
    assert_eq!(r.failed, vec![(1, "dead"), (2, "lost-all-parents")]);
}

#[test]
fn deterministic_for_a_given_input() {
    let stair = build(
        Shape::RandomDag {
            parents: 3,
            max_out: 3,
        },
        10,
        7,
    );
    let a = simulate(
        &nodes(&stair),
        &cfg(Policy::RarestFirst, 1 << 20, 32 * 1024),
    )
    .unwrap();
    let b = simulate(
        &nodes(&stair),
        &cfg(Policy::RarestFirst, 1 << 20, 32 * 1024),
    )
    .unwrap();
    assert_eq!(a, b);
}

#[test]
fn bad_inputs_are_errors() {
    let c = cfg(Policy::default(), 1 << 20, 32 * 1024);
    assert_eq!(simulate(&[], &c), Err(SimError::NoSource));
    let loop_ = nodes(&[vec![], vec![1]]);
    assert_eq!(
        simulate(&loop_, &c),
        Err(SimError::BadParent { node: 1, parent: 1 })
    );
    let mut slow = nodes(&[vec![], vec![0]]);
    slow[1].upload = 0.0;
    assert_eq!(simulate(&slow, &c), Err(SimError::Capacity(1)));
    let mut slow = nodes(&[vec![], vec![0]]);
    slow[1].download = f64::NAN;
    assert_eq!(simulate(&slow, &c), Err(SimError::Capacity(1)));
    let huge = cfg(Policy::default(), 1 << 40, 4096);
    assert!(matches!(
        simulate(&nodes(&[vec![], vec![0]]), &huge),
        Err(SimError::Geometry { .. })
    ));
}

/// The comparison table in docs/push-design.md:
/// `cargo test -p mon-proto push::sim::tests::report -- --ignored --nocapture`
#[test]
#[ignore = "prints the design table; slow in debug builds"]
fn report() {
    let n = 20;
    let variants: Vec<(&str, Shape, Policy, u32)> = vec![
        (
            "tree fanout 3",
            Shape::Tree { fanout: 3 },
            Policy::FirstFit,
            1,
        ),
        (
            "layered w3 p3",
            Shape::Layered {
                width: 3,
                parents: 3,
            },
            Policy::RarestFirst,
            PRIMARY_WEIGHT,
        ),
        (
            "random p3 out3",
            Shape::RandomDag {
                parents: 3,
                max_out: 3,
            },
            Policy::RarestFirst,
            PRIMARY_WEIGHT,
        ),
        (
            "staircase p3, fair",
            Shape::Staircase { parents: 3 },
            Policy::FirstFit,
            1,
        ),
        (
            "chain (tree, 1 parent)",
            Shape::Tree { fanout: 1 },
            Policy::FirstFit,
            PRIMARY_WEIGHT,
        ),
        (
            "staircase p3 first-fit",
            Shape::Staircase { parents: 3 },
            Policy::FirstFit,
            PRIMARY_WEIGHT,
        ),
        (
            "staircase p3 rarest",
            Shape::Staircase { parents: 3 },
            Policy::RarestFirst,
            PRIMARY_WEIGHT,
        ),
    ];
    for (mib, bs) in [(8u64, 32u32), (64, 64)] {
        println!("-- {n} receivers, {mib} MiB, {bs} KiB blocks, 10 Mbit/s up each, 5 ms latency");
        for (label, shape, policy, w) in &variants {
            let ps = build(*shape, n, 1);
            let mut c = cfg(*policy, mib << 20, bs * 1024);
            c.primary_weight = *w;
            let r = simulate(&nodes(&ps), &c).unwrap();
            println!(
                "{label:24} T {:7.1} s  bound {:5.1} s  ratio {:4.2}  aggregate {:5.1} x u_s  uploaders {}",
                r.makespan_ms / 1000.0,
                r.bound_ms / 1000.0,
                r.ratio,
                r.aggregate_rate / U,
                uploaders(&ps)
            );
        }
    }
}
