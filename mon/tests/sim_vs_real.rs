//! The simulator and real servers agree on a small deployment: the same seed-independent
//! properties hold for 12 real `mon server` processes on loopback and for `mon sim --nodes 12`
//! (several seeds): every node counted, nothing missing, a depth between 2 and 12 levels (and,
//! with the simulator's loopback latencies, the shallowest real tree within a level of the
//! simulated ones), the `avg` aggregate equal to its ground truth, and the same adaptive
//! fanout rule.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;
use std::time::Duration;

use mon_tests::Cluster;
use serde_json::Value;

const N: u32 = 12;

fn sim(seed: u32, latency: &str) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_mon"))
        .args(["sim", "--nodes", "12", "--sessions", "8", "--settle", "40"])
        .args(["--seed", &seed.to_string(), "--latency", latency])
        .args(["--json", "--per-session", "--quiet"])
        .output()
        .expect("run mon sim");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("one JSON object")
}

#[test]
fn simulator_and_real_servers_agree_on_12_nodes() {
    // Real servers, each with a resource whose value is its number: avg = 6.5.
    let c = Cluster::start(N, 7751, |i| {
        vec!["--resource".into(), format!("simval=echo {i}")]
    });
    assert_eq!(
        c.settle(u64::from(N), Duration::from_secs(60)),
        u64::from(N),
        "{}",
        c.log(1)
    );
    let mut real_depths = Vec::new();
    for entry in [1, 6, 12] {
        let run = |args: &[&str]| {
            let out = c
                .client_via(entry)
                .arg("--json")
                .args(args)
                .output()
                .unwrap();
            let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
            (out.status.code(), v)
        };
        let (code, v) = run(&["count"]);
        assert_eq!(code, Some(0), "{v}");
        assert_eq!(v["result"], 12, "{v}");
        assert_eq!(v["missing"], 0, "{v}");
        // A real tree keeps the first offer each node receives, so on a loaded machine (the
        // processes scheduled one after another) a session's tree can come out as a chain:
        // three trees per entry, and the shallowest is compared below.
        for _ in 0..3 {
            let (_, v) = run(&["depth"]);
            let d = v["result"].as_u64().unwrap();
            assert!((2..=12).contains(&d), "real depth {d}");
            real_depths.push(d);
        }
        let (_, v) = run(&["avg", "simval"]);
        assert_eq!(v["result"].as_f64(), Some(6.5), "{v}");
    }

    // The simulator, several seeds, the PlanetLab-like and the loopback latency models.
    let mut lan_depths = Vec::new();
    for (seed, latency) in [(1, "planetlab"), (2, "planetlab"), (3, "lan"), (4, "lan")] {
        let v = sim(seed, latency);
        assert_eq!(
            (v["nodes"].as_u64(), v["live"].as_u64()),
            (Some(12), Some(12))
        );
        assert_eq!(v["coverage_min"].as_f64(), Some(1.0), "{v}");
        assert_eq!(v["failed_sessions"], 0, "{v}");
        assert_eq!(v["avg_ok"], true, "{v}");
        // Both sides size their fanout with the same rule from their estimate of 12 nodes.
        let k = mon_proto::membership::default_fanout_with_ring(12) as f64;
        assert_eq!(v["adaptive_fanout"]["p50"].as_f64(), Some(k), "{v}");
        for s in v["per_session"].as_array().unwrap() {
            assert_eq!(s["answered"], 12, "{s}");
            assert_eq!(s["missing"], 0, "{s}");
            let d = s["depth"].as_u64().unwrap();
            assert!((2..=12).contains(&d), "simulated depth {d}");
            if latency == "lan" {
                lan_depths.push(d);
            }
        }
    }
    // On loopback latencies the trees have the same shape: the shallowest real tree lies
    // within one level of the simulated ones (a forwarding rule that differed, say one child
    // per node, would put every real tree far outside).
    let (lo, hi) = (
        lan_depths.iter().min().unwrap(),
        lan_depths.iter().max().unwrap(),
    );
    let best = real_depths.iter().min().unwrap();
    assert!(
        (lo - 1..=hi + 1).contains(best),
        "real depths {real_depths:?}, simulated {lan_depths:?}"
    );
}
