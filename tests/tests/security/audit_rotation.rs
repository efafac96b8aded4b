//! Audit logs that never fill a disk (issue 12): real servers with a small rotation size
//! rotate their audit log into several files that `mon audit verify` checks as one chain;
//! an edit in an old file is found by file and line, retention removes the oldest files (and
//! only a removal it recorded passes), and the replay journal drops expired entries.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mon_tests::mon_bin;

use super::{cluster_with, run, Ran};

/// Rotated files kept in this test.
const KEEP: usize = 3;

fn verify(paths: &[&Path]) -> Ran {
    run(Command::new(mon_bin())
        .args(["audit", "verify"])
        .args(paths))
}

/// The rotated files in `dir`, oldest first.
fn rotated(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_prefix("audit.jsonl."))
                .is_some_and(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
        })
        .collect();
    v.sort();
    v
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The retention times (unix ms) of every entry in the journal's files.
fn journal_entries(state: &Path) -> (Vec<u64>, Vec<u64>) {
    let read = |name: &str| -> Vec<u64> {
        std::fs::read_to_string(state.join(name))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split(' ').nth(1)?.parse().ok())
            .collect()
    };
    let base = read("replay.journal.base");
    let mut all = base.clone();
    all.extend(read("replay.journal.prev"));
    all.extend(read("replay.journal"));
    (base, all)
}

fn count(c: &mon_tests::Cluster) {
    let r = run(c.client().args(["--timeout", "2", "count"]));
    assert!(r.code == 0 || r.code == 1, "{r:?}");
}

#[test]
fn rotated_audit_logs_verify_as_one_chain_retention_is_recorded_and_the_journal_stays_bounded() {
    let mut c = cluster_with(3, 21400, |_| {
        [
            "--audit-rotate-size",
            "4K",
            "--audit-keep",
            "3",
            "--skew",
            "1",
            "--journal-compact-lines",
            "10",
        ]
        .map(String::from)
        .to_vec()
    });
    let state = c.node_dir(1).join("state");
    for _ in 0..40 {
        count(&c);
    }

    // Several files, the oldest removed by retention: KEEP rotated files and the current one.
    let files = rotated(&state);
    assert_eq!(files.len(), KEEP, "{files:?}");
    let first = std::fs::read_to_string(&files[0]).unwrap();
    assert!(
        first.starts_with("{\"v\":1")
            && first
                .lines()
                .next()
                .unwrap()
                .contains("\"event\":\"log.rotate\""),
        "{first}"
    );
    let live = std::fs::read_to_string(state.join("audit.jsonl")).unwrap();
    assert!(
        live.contains("\"event\":\"log.retention\"")
            || files.iter().any(|f| std::fs::read_to_string(f)
                .unwrap()
                .contains("\"event\":\"log.retention\"")),
        "no log.retention record"
    );
    let r = verify(&[&state]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout.contains("intact in 4 files") && r.stdout.contains("removed by retention"),
        "{r:?}"
    );

    // The journal: once the first sessions' replay window has passed (join window + 1 s of
    // skew), new sessions make it compact, and their entries are gone.
    std::thread::sleep(Duration::from_secs(10));
    let mark = now_ms();
    let t = Instant::now();
    let mut sessions = 0;
    let compacted = loop {
        count(&c);
        sessions += 1;
        let (base, all) = journal_entries(&state);
        let no_prev = !state.join("replay.journal.prev").exists();
        if no_prev && !base.is_empty() && base.iter().all(|u| *u >= mark) && all.len() <= sessions {
            break true;
        }
        if sessions >= 80 || t.elapsed() > Duration::from_secs(60) {
            break false;
        }
    };
    let (_, all) = journal_entries(&state);
    assert!(
        compacted,
        "the journal kept expired entries after {sessions} sessions: {} lines\n{}",
        all.len(),
        c.log(1)
    );

    // Tampering, on a copy of the stopped node's files.
    c.kill(1);
    let copy = tempfile::tempdir().unwrap();
    for f in rotated(&state).iter().chain([&state.join("audit.jsonl")]) {
        std::fs::copy(f, copy.path().join(f.file_name().unwrap())).unwrap();
    }
    let r = verify(&[copy.path()]);
    assert_eq!(r.code, 0, "the copy verifies: {r:?}");
    // An edit in an old file: exit 1 naming the file and the line.
    let old = rotated(copy.path())[1].clone();
    let text = std::fs::read_to_string(&old).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let edited: Vec<String> = lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            if i == 2 {
                l.replacen("\"node\":\"n1\"", "\"node\":\"n9\"", 1)
            } else {
                l.to_string()
            }
        })
        .collect();
    assert_ne!(edited[2], lines[2]);
    std::fs::write(&old, edited.join("\n") + "\n").unwrap();
    let r = verify(&[copy.path()]);
    assert_eq!(r.code, 1, "{r:?}");
    let name = old.file_name().unwrap().to_str().unwrap();
    assert!(
        r.stdout.contains(name)
            && r.stdout.contains("line 3")
            && r.stdout.contains("hash mismatch"),
        "{r:?}"
    );
    std::fs::write(&old, &text).unwrap();
    // The oldest file removed by hand (not by retention): exit 1.
    std::fs::remove_file(&rotated(copy.path())[0]).unwrap();
    let r = verify(&[copy.path()]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stdout.contains("no log.retention record"), "{r:?}");
    // A middle file removed: exit 1 at the next file's first line.
    let copy2 = tempfile::tempdir().unwrap();
    for f in rotated(&state).iter().chain([&state.join("audit.jsonl")]) {
        std::fs::copy(f, copy2.path().join(f.file_name().unwrap())).unwrap();
    }
    let set = rotated(copy2.path());
    std::fs::remove_file(&set[1]).unwrap();
    let r = verify(&[copy2.path()]);
    assert_eq!(r.code, 1, "{r:?}");
    let next = set[2].file_name().unwrap().to_str().unwrap();
    assert!(
        r.stdout.contains(next) && r.stdout.contains("line 1") && r.stdout.contains("missing"),
        "{r:?}"
    );

    // The node starts again on its rotated log and goes on with the same chain.
    let starts = |c: &mon_tests::Cluster| c.log(1).matches("mon server started").count();
    let before = starts(&c);
    c.restart(1, &[]);
    let t = Instant::now();
    while starts(&c) == before {
        assert!(t.elapsed() < Duration::from_secs(15), "{}", c.log(1));
        std::thread::sleep(Duration::from_millis(100));
    }
    let r = verify(&[&state]);
    assert_eq!(r.code, 0, "{r:?}");
}
