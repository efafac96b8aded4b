#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::fs::PermissionsExt;

use mon_proto::audit::{verify_lines, AuditEvent, AuditRecord, BreakKind, EventKind, Outcome};

use super::*;

fn ev(i: u64) -> AuditEvent {
    AuditEvent::new(EventKind::OpEnd)
        .result(Outcome::Ok)
        .op("exec")
        .exit_code(0)
        .duration_ms(i)
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

fn verify_file(path: &Path) -> mon_proto::audit::VerifySummary {
    verify_lines(read(path).lines()).expect("file verifies")
}

#[test]
fn creates_0600_and_appends_synced_lines() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(FILE_NAME);
    let mut log = AuditLog::open(&path, "node-a").unwrap();
    assert_eq!(log.next_seq(), 0);
    assert_eq!(log.log_id().len(), 32);
    assert_eq!(log.append(&ev(1)).unwrap(), 0);
    assert_eq!(log.append(&ev(2)).unwrap(), 1);
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let text = read(&path);
    assert!(text.ends_with('\n'));
    let s = verify_file(&path);
    assert_eq!(s.records, 2);
    assert_eq!(s.log_id.as_deref(), Some(log.log_id()));
    let r = AuditRecord::parse(text.lines().next().unwrap()).unwrap();
    assert_eq!(r.node, "node-a");
    // RFC 3339 UTC with milliseconds
    assert_eq!(r.ts.len(), "2025-03-01T12:00:00.123Z".len(), "{}", r.ts);
    assert!(r.ts.ends_with('Z') && r.ts.as_bytes()[19] == b'.');
    assert!(
        time::OffsetDateTime::parse(&r.ts, &time::format_description::well_known::Rfc3339).is_ok()
    );
}

#[test]
fn two_logs_get_different_ids() {
    let dir = tempfile::tempdir().unwrap();
    let a = AuditLog::open(&dir.path().join("a"), "n").unwrap();
    let b = AuditLog::open(&dir.path().join("b"), "n").unwrap();
    assert_ne!(a.log_id(), b.log_id());
}

#[test]
fn reopen_resumes_seq_prev_and_log_id() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(FILE_NAME);
    let id = {
        let mut log = AuditLog::open(&path, "node-a").unwrap();
        log.append_batch(&[ev(1), ev(2), ev(3)]).unwrap();
        log.log_id().to_owned()
    };
    let mut log = AuditLog::open(&path, "node-a").unwrap();
    assert_eq!(log.log_id(), id);
    assert_eq!(log.next_seq(), 3);
    assert!(log.torn_tail().is_none());
    assert_eq!(log.append(&ev(4)).unwrap(), 3);
    let s = verify_file(&path);
    assert_eq!(s.records, 4);
    assert_eq!(s.last_seq, Some(3));
}

#[test]
fn append_batch_returns_the_seq_range() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(FILE_NAME);
    let mut log = AuditLog::open(&path, "n").unwrap();
    assert_eq!(log.append_batch(&[]).unwrap(), 0..0);
    assert_eq!(log.append_batch(&[ev(1), ev(2)]).unwrap(), 0..2);
    assert_eq!(log.append_batch(&[ev(3)]).unwrap(), 2..3);
    assert_eq!(read(&path).lines().count(), 3);
    verify_file(&path);
}

#[test]
fn torn_last_line_is_saved_truncated_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(FILE_NAME);
    {
        let mut log = AuditLog::open(&path, "n").unwrap();
        log.append_batch(&[ev(1), ev(2)]).unwrap();
    }
    let intact = read(&path);
    let fragment = "{\"v\":1,\"log_id\":\"00";
    std::fs::write(&path, format!("{intact}{fragment}")).unwrap();

    let mut log = AuditLog::open(&path, "n").unwrap();
    let torn = log.torn_tail().expect("torn tail reported").clone();
    assert_eq!(torn.line_no, 3);
    assert_eq!(torn.bytes, fragment.len() as u64);
    assert_eq!(read(&torn.saved_to), format!("{fragment}\n"));
    assert_eq!(
        read(&path),
        intact,
        "fragment removed, nothing chained over it"
    );
    assert_eq!(log.append(&ev(3)).unwrap(), 2);
    assert_eq!(verify_file(&path).records, 3);
}

#[test]
fn torn_only_line_starts_a_new_log() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(FILE_NAME);
    std::fs::write(&path, "{\"v\":1,").unwrap();
    let mut log = AuditLog::open(&path, "n").unwrap();
    assert_eq!(log.torn_tail().unwrap().line_no, 1);
    assert_eq!(log.append(&ev(1)).unwrap(), 0);
    assert_eq!(verify_file(&path).records, 1);
}

#[test]
fn broken_chain_on_open_is_an_error_naming_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(FILE_NAME);
    {
        let mut log = AuditLog::open(&path, "n").unwrap();
        log.append_batch(&[ev(1), ev(2), ev(3)]).unwrap();
    }
    let edited = read(&path).replacen("\"duration_ms\":2", "\"duration_ms\":9", 1);
    std::fs::write(&path, &edited).unwrap();
    let err = AuditLog::open(&path, "n").unwrap_err();
    match &err {
        AuditError::Broken { brk, .. } => {
            assert_eq!(brk.line_no, 2);
            assert_eq!(brk.what, BreakKind::HashMismatch);
        }
        other => panic!("{other:?}"),
    }
    let msg = err.to_string();
    assert!(
        msg.contains("line 2") && msg.contains("move it aside"),
        "{msg}"
    );
    assert_eq!(read(&path), edited, "a broken log is left untouched");
}

#[test]
fn not_a_regular_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    assert!(AuditLog::open(dir.path(), "n").is_err());
}

#[test]
fn resolve_maps_a_directory_to_its_log() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(resolve(dir.path()), dir.path().join("audit.jsonl"));
    let f = dir.path().join("x.jsonl");
    assert_eq!(resolve(&f), f);
}

#[test]
fn format_ts_is_utc_with_millis() {
    let t = time::macros::datetime!(2025-03-01 13:04:05.678 +01:00);
    assert_eq!(format_ts(t), "2025-03-01T12:04:05.678Z");
}
