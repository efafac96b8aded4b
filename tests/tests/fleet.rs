//! End-to-end: docs/quickstart.md, step by step, on three hosts qs1, qs2, qs3 (network, mount
//! and UTS namespaces: each its own address, host name, /etc/mon and /var/lib/mon) and an
//! admin's workstation, using host names wherever MON takes them. `mon server` is started
//! directly (no systemd here); the unit file is checked by the package's own check.
//!
//! Needs root, iproute2, util-linux and ssh-keygen; fails (never skips) without them. Each host
//! has its own network namespace, so the servers listen on the default port 7460 without
//! meeting any other test's servers.
//!
//! Host names everywhere, no ports (the default, 7460): `listen qsN`, `join qs1`,
//! `known-nodes add qsN qsN`, `--server qsN`. The .deb's part (installing the binary, creating /etc/mon and /var/lib/mon,
//! the unit) is checked by mon/pkg/check.sh; here the binary comes from the build.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "fleet/hosts.rs"]
mod hosts;

use std::time::{Duration, Instant};

use hosts::{Hosts, ADMIN, HOSTS};
use serde_json::Value;

/// How long the three servers may take to find each other.
const SETTLE: Duration = Duration::from_secs(90);

/// `mon --json ARGS` on the admin's workstation: (exit code, JSON, stderr).
fn admin_json(h: &Hosts, args: &str) -> (i32, Value, String) {
    let out = h.run(ADMIN, &format!("mon --json {args}"));
    let v = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (
        out.status.code().unwrap_or(-1),
        v,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Waits (bounded) until a count through `qs1` reaches the three hosts, none missing, three
/// times in a row.
fn settle(h: &Hosts) {
    let t = Instant::now();
    let mut in_a_row = 0;
    let mut last = Value::Null;
    while t.elapsed() < SETTLE && in_a_row < 3 {
        let (_, v, _) = admin_json(h, "--timeout 3 --server qs1 count");
        let complete = v["result"] == 3 && v["missing"] == 0;
        in_a_row = if complete { in_a_row + 1 } else { 0 };
        last = v;
        std::thread::sleep(Duration::from_millis(500));
    }
    assert_eq!(in_a_row, 3, "the hosts did not find each other: {last}");
}

#[test]
fn the_quickstart_brings_three_hosts_to_answer_count_by_name() {
    let mut h = Hosts::up();

    // 1. Install MON on every host.
    // The .deb installs mon and creates /etc/mon and /var/lib/mon (0700); here the
    // binary comes from the build (on PATH) and the test makes the directories.
    for host in HOSTS {
        h.ok(
            host.name,
            "install -d -m 0755 /etc/mon && install -d -m 0700 /var/lib/mon",
        );
    }

    // 2. On every host: the node key; the admin collects the printed line (ssh HOST … > FILE).
    for host in HOSTS {
        let line = h.ok(host.name, "mon server init");
        assert!(
            line.starts_with(&format!("{} ssh-ed25519 ", host.name)),
            "the node is named after its host name: {line}"
        );
        std::fs::write(h.home().join(format!("{}.line", host.name)), line).unwrap();
        // Each host has its own /etc/mon.
        assert!(h.etc_mon(host.name).join("node_ed25519_key").is_file());
    }

    // 3. On the admin's workstation: the user's key, known_nodes, the slice's policy.
    h.ok(
        ADMIN,
        "mkdir -p -m 0700 ~/.ssh && ssh-keygen -q -t ed25519 -N '' -C alice@lab -f ~/.ssh/id_ed25519",
    );
    for host in HOSTS {
        let n = host.name;
        let out = h.ok(
            ADMIN,
            &format!("mon known-nodes add --config-dir fleet {n} {n} {n}.line"),
        );
        assert!(out.starts_with("added fleet/known_nodes:"), "{out}");
    }
    h.ok(
        ADMIN,
        "mon policy add-user --config-dir fleet lab alice@lab ~/.ssh/id_ed25519.pub --ops query",
    );
    let check = h.ok(ADMIN, "mon policy check fleet/slices");
    assert!(check.contains("0 errors, 0 warnings"), "{check}");
    h.ok(
        ADMIN,
        "install -d -m 0700 ~/.mon && install -m 0644 fleet/known_nodes ~/.mon/known_nodes",
    );
    let known = std::fs::read_to_string(h.home().join("fleet/known_nodes")).unwrap();
    assert_eq!(known.lines().count(), 3, "{known}");
    for (line, host) in known.lines().zip(HOSTS) {
        assert!(
            line.starts_with(&format!("{0},{0} ssh-ed25519 ", host.name)),
            "{known}"
        );
    }

    // 4. Copy the fleet's files to every host (scp -r fleet/known_nodes fleet/slices
    // HOST:/etc/mon/) and give each its server.conf: listen on its own address (a server
    // on 0.0.0.0 gossips that as its address, which its peers cannot reach), join via qs1.
    let fleet = h.home().join("fleet");
    for host in HOSTS {
        let conf = format!("listen {}\\njoin {}\\n", host.name, HOSTS[0].name);
        h.ok(
            host.name,
            &format!(
                "cp -r {f}/known_nodes {f}/slices /etc/mon/ && printf '{conf}' > /etc/mon/server.conf",
                f = fleet.display()
            ),
        );
    }

    // 5. Start the servers.
    for host in HOSTS {
        // `systemctl enable --now mon` on a real host (CI has no systemd): the unit runs
        // `mon server`, whose --config-dir and --state-dir default to /etc/mon and /var/lib/mon.
        h.start(host.name, "exec mon server");
    }

    // 6. Query from the workstation, through each host by name.
    settle(&h);
    for host in HOSTS {
        let (code, v, err) = admin_json(&h, &format!("--server {} count", host.name));
        assert_eq!(code, 0, "{err}\n{v}");
        assert_eq!(v["result"], 3, "{v}");
        assert_eq!(v["entry"], host.name, "{v}");
    }
    // The answer on stdout, the coverage line on stderr.
    let out = h.run(ADMIN, "mon --server qs2 count");
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "3\n");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("answered 3 / missing 0 / denied 0"), "{err}");

    // 7. Read the audit log on a host: every session that reached qs3 (at least the last
    // three counts of `settle` and the four above) was accepted there for alice@lab.
    let shown = h.ok("qs3", "mon audit show /var/lib/mon --principal alice@lab");
    let accepted = shown
        .lines()
        .filter(|l| {
            let cells: Vec<&str> = l.split_whitespace().collect();
            cells.get(1..6) == Some(&["qs3", "session.accept", "allow", "alice@lab", "lab"][..])
        })
        .count();
    assert!(accepted >= 7, "{shown}");
    let verified = h.run("qs3", "mon audit verify /var/lib/mon/audit.jsonl");
    assert!(
        verified.status.success(),
        "{}",
        String::from_utf8_lossy(&verified.stderr)
    );
}
