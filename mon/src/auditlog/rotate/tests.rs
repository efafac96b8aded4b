#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use mon_proto::audit::{AuditEvent, AuditRecord, EventKind, Outcome, Verifier, VerifySummary};

use crate::auditlog::files::{list_rotated, log_set, next_path, rotated_path};
use crate::auditlog::{AuditLog, Rotation, FILE_NAME};

fn ev(i: u64) -> AuditEvent {
    AuditEvent::new(EventKind::OpEnd)
        .result(Outcome::Ok)
        .op("exec")
        .duration_ms(i)
}

fn records(path: &Path) -> Vec<AuditRecord> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| AuditRecord::parse(l).unwrap())
        .collect()
}

/// Verifies the files in order as one chain: the summary, or (file index, why).
fn verify(files: &[PathBuf]) -> Result<VerifySummary, (usize, String)> {
    let mut v = Verifier::new();
    for (i, f) in files.iter().enumerate() {
        v.start_file();
        for l in std::fs::read_to_string(f).unwrap().lines() {
            v.push(l).map_err(|b| (i, b.to_string()))?;
        }
    }
    let s = v.finish().map_err(|b| (files.len(), b.to_string()))?;
    match s.unaccounted() {
        Some(what) => Err((0, what.to_string())),
        None => Ok(s),
    }
}

/// A log after `n` appends, checked for rotation after each append as the server does.
fn filled(dir: &Path, rotation: Rotation, n: u64) -> AuditLog {
    let mut log = AuditLog::open_with(&dir.join(FILE_NAME), "n1", rotation).unwrap();
    for i in 0..n {
        log.append(&ev(i)).unwrap();
        if log.rotation_due() {
            log.rotate().unwrap();
        }
    }
    log
}

/// Rotation at 600 bytes: a few records a file.
fn by_size() -> Rotation {
    Rotation {
        max_bytes: Some(600),
        max_age: None,
        keep: None,
    }
}

#[test]
fn rotation_by_size_keeps_one_chain_across_the_files() {
    let dir = tempfile::tempdir().unwrap();
    let log = filled(dir.path(), by_size(), 20);
    let path = dir.path().join(FILE_NAME);
    let set = log_set(&path).unwrap();
    assert!(set.len() >= 4, "{set:?}");
    let s = verify(&set).expect("the set verifies");
    assert_eq!(s.last_seq, Some(log.next_seq() - 1));
    // Each later file begins with a log.rotate naming the previous file and its last record.
    for pair in set.windows(2) {
        let prev = records(&pair[0]);
        let next = records(&pair[1]);
        let (last, first) = (prev.last().unwrap(), &next[0]);
        assert_eq!(first.event, "log.rotate");
        assert_eq!(first.file.as_deref(), pair[0].file_name().unwrap().to_str());
        assert_eq!(first.last_hash.as_deref(), Some(last.hash.as_str()));
        assert_eq!(first.prev, last.hash);
        assert_eq!(first.last_seq, Some(last.seq));
    }
    // Each rotated file is named by its first seq, and is mode 0600 like the log.
    for (seq, p) in list_rotated(&path).unwrap() {
        assert_eq!(records(&p)[0].seq, seq, "{}", p.display());
    }
    use std::os::unix::fs::PermissionsExt;
    for f in &set {
        let mode = std::fs::metadata(f).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", f.display());
    }
}

#[test]
fn a_removed_middle_file_an_edit_and_a_cut_file_are_found() {
    let dir = tempfile::tempdir().unwrap();
    drop(filled(dir.path(), by_size(), 20));
    let set = log_set(&dir.path().join(FILE_NAME)).unwrap();
    verify(&set).expect("intact to begin with");
    // A middle file removed: found at the next file's first line.
    let mut gapped = set.clone();
    gapped.remove(1);
    let (at, why) = verify(&gapped).unwrap_err();
    assert_eq!(at, 1, "{why}");
    assert!(
        why.contains("line 1") && why.contains("are missing"),
        "{why}"
    );
    // An edited record in an old file: found at its line.
    let text = std::fs::read_to_string(&set[1]).unwrap();
    let edited = text.replacen("\"duration_ms\":", "\"duration_ms\":1", 1);
    assert_ne!(edited, text);
    std::fs::write(&set[1], edited).unwrap();
    let (at, why) = verify(&set).unwrap_err();
    assert_eq!(at, 1, "{why}");
    assert!(why.contains("hash mismatch"), "{why}");
    std::fs::write(&set[1], &text).unwrap();
    // A file cut short: found at the next file's first line.
    let mut lines: Vec<&str> = text.lines().collect();
    lines.pop();
    std::fs::write(&set[1], lines.join("\n") + "\n").unwrap();
    let (at, why) = verify(&set).unwrap_err();
    assert_eq!(at, 2, "{why}");
    assert!(why.contains("line 1") && why.contains("missing"), "{why}");
}

#[test]
fn retention_removes_the_oldest_files_after_recording_them() {
    let dir = tempfile::tempdir().unwrap();
    let rotation = Rotation {
        keep: Some(2),
        ..by_size()
    };
    let log = filled(dir.path(), rotation, 30);
    let path = dir.path().join(FILE_NAME);
    let rotated = list_rotated(&path).unwrap();
    assert_eq!(rotated.len(), 2, "{rotated:?}");
    let s = verify(&log_set(&path).unwrap())
        .expect("the kept files verify, their missing start accounted for");
    let first = s.first.clone().unwrap();
    assert!(first.seq > 0);
    assert_eq!(s.removed_through.as_ref().unwrap().0 + 1, first.seq);
    assert_eq!(s.last_seq, Some(log.next_seq() - 1));
    // Removing the oldest kept file by hand is not retention: found.
    std::fs::remove_file(&rotated[0].1).unwrap();
    let (_, why) = verify(&log_set(&path).unwrap()).unwrap_err();
    assert!(why.contains("no log.retention record"), "{why}");
}

#[test]
fn reopening_resumes_after_a_rotation_and_after_one_cut_short() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(FILE_NAME);
    let next = filled(dir.path(), by_size(), 10).next_seq();
    // The current file begins with log.rotate: it opens and continues.
    let mut log = AuditLog::open_with(&path, "n1", by_size()).unwrap();
    assert_eq!(log.next_seq(), next);
    log.append(&ev(99)).unwrap();
    drop(log);
    // A crash after the rename, before the new file took its place: the log is missing
    // beside its rotated files (and a new file is left under its temporary name). Opening
    // continues the newest rotated file with a log.rotate record.
    let renamed = rotated_path(&path, records(&path)[0].seq);
    std::fs::rename(&path, &renamed).unwrap();
    std::fs::write(next_path(&path), "{\"torn").unwrap();
    let log = AuditLog::open_with(&path, "n1", by_size()).unwrap();
    assert_eq!(log.next_seq(), next + 2);
    assert!(!next_path(&path).exists());
    let first = &records(&path)[0];
    assert_eq!(first.event, "log.rotate");
    assert_eq!(first.file.as_deref(), renamed.file_name().unwrap().to_str());
    verify(&log_set(&path).unwrap()).expect("one chain");
}

#[test]
fn rotation_by_age_needs_records_beyond_the_first() {
    let dir = tempfile::tempdir().unwrap();
    let rotation = Rotation {
        max_bytes: None,
        max_age: Some(Duration::ZERO),
        keep: None,
    };
    let mut log = AuditLog::open_with(&dir.path().join(FILE_NAME), "n1", rotation).unwrap();
    assert!(!log.rotation_due(), "an empty file is not rotated");
    log.append(&ev(1)).unwrap();
    assert!(!log.rotation_due(), "nor one holding a single record");
    log.append(&ev(2)).unwrap();
    assert!(log.rotation_due());
    log.rotate().unwrap();
    assert!(
        !log.rotation_due(),
        "the new file holds only its log.rotate"
    );
    assert_eq!(list_rotated(&dir.path().join(FILE_NAME)).unwrap().len(), 1);
}
