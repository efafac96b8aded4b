#![allow(clippy::unwrap_used, clippy::expect_used)]

//! Unequal links (issue 13, "Push under unequal links"): 20 receivers at 10 Mbit/s up and
//! down, one of them at 2 Mbit/s both ways where it is a relay, 32 MiB, the server's
//! scheduler tuning. All times are virtual.

use super::dag::{build, Shape};
use super::*;
use mon_proto::push::geometry::default_block_size;
use mon_proto::push::sched::{Config, Policy};
use mon_proto::push::serve::PRIMARY_WEIGHT;

/// 10 Mbit/s in bytes per ms.
const FAST: f64 = 1250.0;
/// 2 Mbit/s in bytes per ms.
const SLOW: f64 = 250.0;
const RECEIVERS: u32 = 20;
/// The slow receiver: in the staircase its three children (6, 7, 8) take blocks from it,
/// node 6 as its first parent.
const SLOW_NODE: usize = 5;

/// Which of the two rules for unequal links are on.
#[derive(Clone, Copy, Debug)]
struct Rules {
    /// Serve queues learn when a block left ([`SimConfig::report_sent`]).
    sent: bool,
    /// Downloads pass over a slow primary ([`Config::pass_over_slow_primary`]).
    pass_over: bool,
}

/// What the server runs: slots reported, no pass-over.
const SERVER: Rules = Rules {
    sent: true,
    pass_over: false,
};

/// The server's configuration for a file of `file` bytes (`mon push` defaults).
fn server_cfg(file: u64, rules: Rules) -> SimConfig {
    let block_size = default_block_size(file);
    SimConfig {
        file_size: file,
        block_size,
        policy: Policy::RarestFirst,
        sched: Config {
            primary_first: true,
            pass_over_slow_primary: rules.pass_over,
            ..Config::for_block_size(block_size)
        },
        primary_weight: PRIMARY_WEIGHT,
        latency_ms: 5.0,
        detect_ms: 1000.0,
        seed: 1,
        max_time_ms: 1e7,
        report_sent: rules.sent,
    }
}

/// The push DAG of `shape` with every host at 10 Mbit/s both ways but `slow` at 2 Mbit/s.
fn hosts(shape: Shape, slow: Option<usize>) -> Vec<SimNode> {
    build(shape, RECEIVERS, 1)
        .into_iter()
        .enumerate()
        .map(|(i, parents)| {
            let rate = if Some(i) == slow { SLOW } else { FAST };
            SimNode {
                upload: rate,
                download: rate,
                parents,
                fail_at_ms: None,
                corrupt: false,
            }
        })
        .collect()
}

/// The DAG the servers build (`--max-parents 3`: the staircase) and the tree
/// (`--max-parents 1`: the chain).
fn dag() -> Shape {
    Shape::Staircase { parents: 3 }
}
fn tree() -> Shape {
    Shape::Tree { fanout: 1 }
}

/// Each fast receiver's finish time with the slow host over its time without it.
fn slowdowns(with: &SimResult, without: &SimResult) -> Vec<(usize, f64)> {
    (1..=RECEIVERS as usize)
        .filter(|&i| i != SLOW_NODE)
        .map(|i| {
            let w = with.finish_ms[i].unwrap_or(f64::INFINITY);
            let base = without.finish_ms[i].unwrap_or(f64::NAN);
            (i, w / base)
        })
        .collect()
}

/// The slow host's own bound: the file at its rate.
fn slow_bound(file: u64) -> f64 {
    file as f64 / SLOW
}

fn run(shape: Shape, slow: Option<usize>, file: u64, rules: Rules) -> SimResult {
    simulate(&hosts(shape, slow), &server_cfg(file, rules)).unwrap()
}

/// The table in docs/benchmarks.md ("Software push on rate-limited hosts", unequal links):
/// `cargo test -p mon-sim push::tests_rates::report -- --ignored --nocapture`
#[test]
#[ignore = "prints the benchmark table"]
fn report() {
    let file = 32 << 20;
    let variants = [
        (
            "slots not reported",
            Rules {
                sent: false,
                pass_over: false,
            },
        ),
        ("server (slots reported)", SERVER),
        (
            "server + pass over",
            Rules {
                sent: true,
                pass_over: true,
            },
        ),
    ];
    for (rules_label, rules) in variants {
        for (label, shape) in [("DAG (3 parents)", dag()), ("tree (chain)", tree())] {
            let without = run(shape, None, file, rules);
            let with = run(shape, Some(SLOW_NODE), file, rules);
            let sd = slowdowns(&with, &without);
            let worst = sd.iter().map(|&(_, r)| r).fold(0.0, f64::max);
            let over = sd.iter().filter(|&&(_, r)| r > 1.15).count();
            let slow_t = with.finish_ms[SLOW_NODE].unwrap_or(f64::INFINITY);
            println!(
                "| {rules_label} | {label} | {:.1} | {worst:.2} | {over} | {:.1} ({:.2}x) | {:.1} ({:.2}x) | {} |",
                without.makespan_ms / 1000.0,
                slow_t / 1000.0,
                slow_t / slow_bound(file),
                with.makespan_ms / 1000.0,
                with.makespan_ms / slow_bound(file),
                with.rebalanced,
            );
            if std::env::var_os("PUSH_RATES_DETAIL").is_some() {
                let t: Vec<String> = with
                    .finish_ms
                    .iter()
                    .map(|f| format!("{:.0}", f.unwrap_or(f64::NAN) / 1000.0))
                    .collect();
                println!("  finish s: {}", t.join(" "));
            }
        }
        let eq = run(dag(), None, 64 << 20, rules);
        println!(
            "| {rules_label} | equal links, 64 MiB, DAG | T {:.1} s, bound {:.1} s: {:.2}x |",
            eq.makespan_ms / 1000.0,
            eq.bound_ms / 1000.0,
            eq.ratio
        );
    }
}

/// What a user sees on the hosts: with the slow host a relay, the fast hosts below
/// it finished with it (main: about 5× late, 2× once a slow child held only one slot) and
/// the slow host itself at 1.42× its own bound (its link full of hedged copies). Now the
/// slow host's parent serves the fast host below it with the slots the slow one cannot use
/// (`ServeQueue`: download-limited children), that host asks its other parents for blocks
/// while its primary is slow (and nobody else does), and a deep queue at a delivering parent
/// is not hedged. (The target, 1.15×, is not met yet: see docs/benchmarks.md.)
#[test]
fn a_slow_relay_holds_neither_the_fast_hosts_below_it_nor_itself() {
    let file = 32 << 20;
    let result = |rules| {
        let without = run(dag(), None, file, rules);
        let with = run(dag(), Some(SLOW_NODE), file, rules);
        assert!(with.failed.is_empty(), "{:?}", with.failed);
        let slow = with.finish_ms[SLOW_NODE].unwrap();
        assert!(slow >= slow_bound(file), "never faster than its own link");
        let worst = slowdowns(&with, &without)
            .into_iter()
            .map(|(_, r)| r)
            .fold(0.0, f64::max);
        (worst, slow / slow_bound(file))
    };
    let (worst, slow) = result(SERVER);
    assert!(worst < 1.5, "fast hosts below the slow one: {worst:.2}x");
    assert!(slow < 1.05, "the slow host: {slow:.2}x its own bound");
    let unreported = Rules {
        sent: false,
        pass_over: false,
    };
    let (worst, _) = result(unreported);
    assert!(worst > 1.9, "without the serving rule: {worst:.2}x");
}
