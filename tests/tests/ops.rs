//! End-to-end: what an operator sees of the binary and of a running server (issue 12): the
//! commit in `mon --version`, log lines without terminal colours when stderr is a file, JSON
//! log lines, an unreadable `slices/` reported once (not every second), and the warning of a
//! server whose own name known_nodes does not list. Ports 21300+.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;
use std::time::{Duration, Instant};

use mon_tests::{mon_bin, Cluster};

/// Waits (at most 30 s) until node `i`'s log holds `what`; returns the log.
fn wait_for_log(c: &Cluster, i: u32, what: &str) -> String {
    let t = Instant::now();
    loop {
        let log = c.log(i);
        if log.contains(what) || t.elapsed() > Duration::from_secs(30) {
            return log;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn the_version_names_the_commit() {
    let out = Command::new(mon_bin()).arg("--version").output().unwrap();
    let v = String::from_utf8(out.stdout).unwrap();
    assert!(out.status.success(), "{v}");
    let git = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    let want = format!("commit {}", git.as_deref().unwrap_or("unknown"));
    assert!(v.contains(&want), "{v:?} does not name {want}");
}

#[test]
fn a_server_logging_to_a_file_writes_no_terminal_escapes() {
    let c = Cluster::start(1, 21300, |_| vec![]);
    let log = wait_for_log(&c, 1, "mon server started");
    assert!(log.contains("mon server started"), "{log}");
    assert!(!log.contains('\x1b'), "ANSI escapes in a log file: {log:?}");
}

#[test]
fn json_log_lines_parse() {
    let c = Cluster::start(1, 21301, |_| vec!["--log-format".into(), "json".into()]);
    let log = wait_for_log(&c, 1, "mon server started");
    let lines: Vec<&str> = log.lines().collect();
    assert!(!lines.is_empty(), "no log");
    for line in &lines {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(
            v["level"].is_string() && v["timestamp"].is_string(),
            "{line}"
        );
    }
    let started = lines
        .iter()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["message"] == "mon server started")
        .expect("a start line");
    assert_eq!(started["name"], "n1", "{started}");
}

#[test]
fn a_missing_slices_directory_is_reported_once_not_every_second() {
    let c = Cluster::start(1, 21302, |_| vec![]);
    wait_for_log(&c, 1, "mon server started");
    let slices = c.node_dir(1).join("config/slices");
    std::fs::remove_dir_all(&slices).unwrap();
    let what = "cannot read the slices directory";
    wait_for_log(&c, 1, what);
    // The server re-reads the directory every second: five more seconds of it.
    std::thread::sleep(Duration::from_secs(5));
    let log = c.log(1);
    assert_eq!(log.matches(what).count(), 1, "{log}");
    let errors = c
        .audit(1)
        .iter()
        .filter(|r| r["event"] == "policy.error")
        .count();
    assert_eq!(errors, 1, "one policy.error record");
}

#[test]
fn a_server_missing_from_known_nodes_warns_at_start() {
    let c = Cluster::start(2, 21303, |i| {
        if i == 1 {
            vec!["--name".into(), "stranger".into()]
        } else {
            vec![]
        }
    });
    let log = wait_for_log(&c, 1, "mon server started");
    assert!(
        log.contains("this node's name stranger is not in") && log.contains("known_nodes"),
        "{log}"
    );
    let listed = wait_for_log(&c, 2, "mon server started");
    assert!(listed.contains("mon server started"), "{listed}");
    assert!(
        !listed.contains("this node's name"),
        "n2 is listed: {listed}"
    );
}
