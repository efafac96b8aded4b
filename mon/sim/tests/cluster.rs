//! The simulator ([`mon_sim::cluster`]): determinism, a 1,000-node deployment (the CI case),
//! dead and slow nodes, every overlay.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use mon_proto::wire::session::OverlayKind;
use mon_sim::cluster::{self as sim, Column, SimConfig, SimReport};

fn run(cfg: &SimConfig) -> Vec<SimReport> {
    sim::run(cfg, &mut |_| {}).expect("simulation runs")
}

fn col(kind: OverlayKind, fanout: Option<u16>) -> Column {
    Column { kind, fanout }
}

#[test]
fn same_seed_same_report_other_seed_other_sessions() {
    let cfg = SimConfig {
        nodes: 40,
        columns: vec![
            col(OverlayKind::Random, Some(4)),
            col(OverlayKind::Twostage, None),
        ],
        dead: 0.05,
        stragglers: 0.05,
        sessions: 4,
        seed: 7,
        settle_ms: 30_000,
        ..SimConfig::default()
    };
    let a = run(&cfg);
    let b = run(&cfg);
    assert_eq!(a, b);
    assert_eq!(
        serde_json::to_string(&a).unwrap(),
        serde_json::to_string(&b).unwrap()
    );
    assert_eq!(a.len(), 2);
    assert_eq!(a[0].per_session.len(), 4);
    let c = run(&SimConfig { seed: 8, ..cfg });
    assert_ne!(a[0].per_session, c[0].per_session);
}

/// The CI case: 1,000 servers, the adaptive default fanout, no failures.
#[test]
fn thousand_nodes_are_all_counted() {
    let cfg = SimConfig {
        nodes: 1000,
        sessions: 4,
        dead: 0.0,
        // 60 gossip rounds at the servers' 2.5 s interval (NodeConfig::server; this was
        // 60 s when the simulator ran a 1 s test profile).
        settle_ms: 150_000,
        seed: 3,
        ..SimConfig::default()
    };
    let r = run(&cfg).remove(0);
    assert_eq!((r.nodes, r.live, r.sessions), (1000, 1000, 4));
    assert_eq!(r.failed_sessions, 0, "{r:#?}");
    assert!(r.coverage_min >= 0.99, "coverage {}", r.coverage_min);
    assert!(r.avg_ok, "avg answers differ from the ground truth");
    // The servers' estimate of the size, and so their fanout, adapted to 1,000 nodes.
    assert!(r.size_estimate.p50 >= 500.0, "{:?}", r.size_estimate);
    assert!(r.adaptive_fanout.p50 >= 5.0, "{:?}", r.adaptive_fanout);
    // 1,000 nodes with at most ~10 children each need at least 4 levels.
    assert!(
        r.depth_max >= 4 && r.depth_max < 100,
        "depth {}",
        r.depth_max
    );
    for s in &r.per_session {
        assert!(s.count_ms > 0.0 && s.count_ms < 10_000.0, "{s:?}");
        assert!(s.create_ms > 0.0 && s.joined as u64 >= s.answered, "{s:?}");
        assert_eq!(s.answered + s.unreached, 1000, "{s:?}");
    }
}

#[test]
fn dead_and_slow_nodes_cost_time_not_results() {
    let cfg = SimConfig {
        nodes: 150,
        dead: 0.1,
        stragglers: 0.1,
        sessions: 4,
        settle_ms: 45_000,
        timeout_ms: 5_000,
        seed: 11,
        ..SimConfig::default()
    };
    let r = run(&cfg).remove(0);
    assert_eq!((r.live, r.dead, r.stragglers), (135, 15, 15));
    assert_eq!(r.failed_sessions, 0, "{r:#?}");
    for s in &r.per_session {
        // Dead nodes are never counted; the rest answer before the client gives up.
        assert!(s.answered <= 135 && s.answered >= 100, "{s:?}");
        assert!(s.count_ms < 5_000.0, "{s:?}");
        assert!(s.avg_ok, "{s:?}");
    }
    // The first session meets nodes that just died: their parents wait out the
    // retransmissions before reporting them.
    assert!(r.count_ms_max >= 1_000.0, "{}", r.count_ms_max);
}

/// Lost datagrams (offers, answers, gos, results, acknowledgements) are sent again: every
/// live node is counted in every session, and none is listed missing as well. Before a lost go was recovered, about one tree link
/// in 30 lost its subtree here.
#[test]
fn packet_loss_costs_time_not_results() {
    let cfg = SimConfig {
        nodes: 80,
        dead: 0.05,
        loss: 0.03,
        sessions: 4,
        settle_ms: 45_000,
        timeout_ms: 5_000,
        seed: 13,
        ..SimConfig::default()
    };
    let r = run(&cfg).remove(0);
    assert_eq!((r.live, r.dead), (76, 4));
    assert_eq!(r.failed_sessions, 0, "{r:#?}");
    for s in &r.per_session {
        assert_eq!(s.answered, 76, "{s:?}");
        // Only the dead are listed missing: a live node one parent gave up on (its answer
        // or Prune lost) answered through another parent and is not listed as well.
        assert_eq!(s.missing, 4, "{s:?}");
        assert!(s.avg_ok, "{s:?}");
    }
}

/// Under heavy loss parents give up on children whose answers (or Prunes) were lost although
/// they answered through another parent: such a node is counted, and must not be listed
/// missing as well (no node is both).
#[test]
fn a_node_counted_is_never_also_listed_missing() {
    let cfg = SimConfig {
        nodes: 80,
        dead: 0.05,
        loss: 0.15,
        sessions: 6,
        settle_ms: 45_000,
        timeout_ms: 5_000,
        seed: 7,
        ..SimConfig::default()
    };
    let r = run(&cfg).remove(0);
    for s in &r.per_session {
        assert!(s.answered + s.missing <= 80, "{s:?}");
    }
}

#[test]
fn every_overlay_builds_and_answers() {
    let cfg = SimConfig {
        nodes: 120,
        columns: vec![
            col(OverlayKind::Random, Some(5)),
            col(OverlayKind::Twostage, Some(5)),
            col(OverlayKind::Dag, Some(5)),
        ],
        dead: 0.0,
        sessions: 3,
        settle_ms: 45_000,
        seed: 5,
        ..SimConfig::default()
    };
    let rs = run(&cfg);
    let names: Vec<&str> = rs.iter().map(|r| r.overlay.as_str()).collect();
    assert_eq!(names, ["random", "twostage", "dag"]);
    for r in &rs {
        assert_eq!((r.fanout, r.fanout_mode.as_str()), (5, "fixed"));
        assert_eq!(r.failed_sessions, 0, "{r:#?}");
        assert!(r.coverage_mean > 0.95, "{} {}", r.overlay, r.coverage_mean);
        assert!(r.avg_ok && r.depth_max >= 2, "{r:#?}");
        assert!(r.packets_per_node > 2.0, "{}", r.packets_per_node);
    }
}

#[test]
fn bad_parameters_are_refused() {
    for cfg in [
        SimConfig {
            nodes: 1,
            ..SimConfig::default()
        },
        SimConfig {
            dead: 0.95,
            ..SimConfig::default()
        },
        SimConfig {
            columns: vec![col(OverlayKind::Random, Some(0))],
            ..SimConfig::default()
        },
        SimConfig {
            sessions: 0,
            ..SimConfig::default()
        },
    ] {
        let e = sim::run(&cfg, &mut |_| {}).expect_err("refused");
        assert!(!e.to_string().is_empty());
    }
}
