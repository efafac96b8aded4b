#![allow(clippy::unwrap_used, clippy::expect_used)]
use super::*;
use mon_proto::audit::{EventKind, Outcome};
use mon_proto::replay::ReplayConfig;
use std::time::Duration;

fn open(dir: &std::path::Path) -> (Durable, mpsc::Receiver<Event>) {
    let (journal, _) = Journal::open(dir, ReplayConfig::default(), 1).unwrap();
    let audit = AuditLog::open(&dir.join("audit.jsonl"), "n1").unwrap();
    let (tx, rx) = mpsc::channel(16);
    (Durable::new(journal, audit, tx).unwrap(), rx)
}

fn token(o: &Output) -> u64 {
    match o {
        Output::CloseClient(n) => *n,
        _ => u64::MAX,
    }
}

fn ran(a: Admit) -> Option<u64> {
    match a {
        Admit::Now(o) => Some(token(&o)),
        _ => None,
    }
}

async fn next_sync(rx: &mut mpsc::Receiver<Event>) -> SyncReport {
    match tokio::time::timeout(Duration::from_secs(10), rx.recv()).await {
        Ok(Some(Event::Synced(r))) => r,
        _ => panic!("no sync report within 10 s"),
    }
}

#[tokio::test]
async fn actions_wait_for_the_records_written_before_them_and_keep_their_order() {
    let dir = tempfile::tempdir().unwrap();
    let (mut d, mut rx) = open(dir.path());
    // Nothing written: an action runs at once.
    assert_eq!(ran(d.admit(Output::CloseClient(1))), Some(1));

    let accept = AuditEvent::new(EventKind::SessionAccept).result(Outcome::Allow);
    assert!(d.write(std::slice::from_ref(&accept), &["journal-line".into()]));
    // Written (a crashed process loses nothing) before anything of the batch happens.
    let log = std::fs::read_to_string(dir.path().join("audit.jsonl")).unwrap();
    assert!(log.contains("session.accept"), "{log}");
    let j = std::fs::read_to_string(dir.path().join("replay.journal")).unwrap();
    assert!(j.contains("journal-line"));
    // Actions are held until the sync covering that record reports, in order.
    assert!(matches!(d.admit(Output::CloseClient(2)), Admit::Held));
    assert!(matches!(d.admit(Output::CloseClient(3)), Admit::Held));
    assert!(d.release().is_empty());
    let r = next_sync(&mut rx).await;
    assert_eq!(r, Ok(1));
    assert!(d.synced(r).is_empty());
    let got: Vec<u64> = d.release().iter().map(token).collect();
    assert_eq!(got, vec![2, 3]);
    assert_eq!(ran(d.admit(Output::CloseClient(4))), Some(4));
}

#[tokio::test]
async fn records_written_during_a_sync_are_covered_by_the_next_one() {
    let dir = tempfile::tempdir().unwrap();
    let (mut d, mut rx) = open(dir.path());
    let ev = AuditEvent::new(EventKind::OpEnd).result(Outcome::Ok);
    assert!(d.write(std::slice::from_ref(&ev), &[]));
    assert!(matches!(d.admit(Output::CloseClient(1)), Admit::Held));
    assert!(d.write(std::slice::from_ref(&ev), &[]));
    assert!(matches!(d.admit(Output::CloseClient(2)), Admit::Held));
    // The first sync covers generation 1 only: action 2 waits for generation 2.
    let r = next_sync(&mut rx).await;
    assert_eq!(r, Ok(1));
    assert!(d.synced(r).is_empty());
    let got: Vec<u64> = d.release().iter().map(token).collect();
    assert_eq!(got, vec![1]);
    let r = next_sync(&mut rx).await;
    assert_eq!(r, Ok(2));
    assert!(d.synced(r).is_empty());
    let got: Vec<u64> = d.release().iter().map(token).collect();
    assert_eq!(got, vec![2]);
}

#[tokio::test]
async fn a_failed_sync_refuses_actions_until_a_probe_writes_again() {
    let dir = tempfile::tempdir().unwrap();
    let (mut d, mut rx) = open(dir.path());
    let ev = AuditEvent::new(EventKind::OpEnd).result(Outcome::Ok);
    assert!(d.write(std::slice::from_ref(&ev), &[]));
    assert!(matches!(d.admit(Output::CloseClient(1)), Admit::Held));
    // The sync thread's report is replaced by a failure: the held action is refused.
    let _ = next_sync(&mut rx).await;
    let refused = d.synced(Err("syncing the audit log: EIO".into()));
    assert_eq!(refused.iter().map(token).collect::<Vec<_>>(), vec![1]);
    assert!(d.failure().is_some_and(|w| w.contains("EIO")));
    // Meanwhile nothing is written and no action runs; the server goes on.
    assert!(!d.write(std::slice::from_ref(&ev), &[]));
    assert!(matches!(d.admit(Output::CloseClient(2)), Admit::Refused(_)));
    // The probe writes a storage.resume record counting the lost one, then serves.
    d.failed.as_mut().unwrap().next_probe = Instant::now();
    d.probe();
    assert!(d.failure().is_none());
    let log = std::fs::read_to_string(dir.path().join("audit.jsonl")).unwrap();
    let last = log.lines().last().unwrap();
    assert!(last.contains("storage.resume"), "{last}");
    assert!(last.contains("\"count\":1"), "{last}");
    assert!(d.write(std::slice::from_ref(&ev), &[]));
}

#[tokio::test]
async fn rotation_and_compaction_switch_files_between_syncs_and_keep_records_before_actions() {
    let dir = tempfile::tempdir().unwrap();
    let (mut journal, _) = Journal::open(dir.path(), ReplayConfig::default(), 1).unwrap();
    journal.set_compact_lines(1);
    let rotation = crate::auditlog::Rotation {
        max_bytes: Some(1),
        max_age: None,
        keep: None,
    };
    let audit = AuditLog::open_with(&dir.path().join("audit.jsonl"), "n1", rotation).unwrap();
    let (tx, mut rx) = mpsc::channel(16);
    let mut d = Durable::new(journal, audit, tx).unwrap();
    let ev = AuditEvent::new(EventKind::OpEnd).result(Outcome::Ok);

    assert!(d.write(std::slice::from_ref(&ev), &["line-1".into()]));
    assert!(matches!(d.admit(Output::CloseClient(1)), Admit::Held));
    // The sync's report finds both files due: the log rotates, the journal's compaction starts.
    let r = next_sync(&mut rx).await;
    assert!(d.synced(r).is_empty());
    assert_eq!(d.release().iter().map(token).collect::<Vec<_>>(), vec![1]);
    let rotated = dir.path().join("audit.jsonl.0000000000");
    assert!(rotated.exists());
    let first = std::fs::read_to_string(dir.path().join("audit.jsonl")).unwrap();
    assert!(
        first.starts_with("{") && first.contains("\"event\":\"log.rotate\""),
        "{first}"
    );

    // Records written now go to the new files, and actions still wait for their sync, which
    // the sync thread makes on the new handles.
    assert!(d.write(std::slice::from_ref(&ev), &["line-2".into()]));
    assert!(matches!(d.admit(Output::CloseClient(2)), Admit::Held));
    let mut compacted = None;
    let mut synced = None;
    while compacted.is_none() || synced.is_none() {
        match tokio::time::timeout(Duration::from_secs(10), rx.recv()).await {
            Ok(Some(Event::Synced(r))) => synced = Some(r),
            Ok(Some(Event::JournalCompacted(r))) => compacted = Some(r),
            _ => panic!("no sync or compaction report within 10 s"),
        }
    }
    assert_eq!(synced, Some(Ok(2)));
    let log = std::fs::read_to_string(dir.path().join("audit.jsonl")).unwrap();
    assert_eq!(log.lines().count(), 2, "{log}");
    assert_eq!(
        std::fs::read_to_string(&rotated).unwrap().lines().count(),
        1
    );
    assert!(d.synced(Ok(2)).is_empty());
    assert_eq!(d.release().iter().map(token).collect::<Vec<_>>(), vec![2]);
    // That file is past its size too, with a record beyond its log.rotate: rotated again.
    assert!(dir.path().join("audit.jsonl.0000000001").exists());
    // The compaction kept nothing ("line-1" is not an entry) and removed prev; the journal
    // holds what was appended since.
    let kept = compacted.unwrap();
    d.journal_compacted(kept);
    assert!(!dir.path().join("replay.journal.prev").exists());
    let j = std::fs::read_to_string(dir.path().join("replay.journal")).unwrap();
    assert_eq!(j, "line-2\n");
}
