//! Durable records before actions, without stalling the event loop on the disk.
//!
//! Every batch of the node's output is handled in this order:
//! 1. its audit records and replay-journal lines are *written* (one `write` each, before
//!    anything of the batch happens: a crash of the server process loses none of them);
//! 2. a background thread syncs both files (`fdatasync`, batches that arrive meanwhile are
//!    group-committed into the next sync);
//! 3. packets go out at once (an answer, an offer to children, a result: none of them acts on
//!    this node), while every *action* — running an operation, and push file I/O (writing,
//!    landing, reading a block to serve) — is held back until the sync that covers every
//!    record written before it has completed, in the order the node asked for them.
//!
//! So an operation never runs before the `session.accept` record and the replay-journal line
//! that guard its exactly-once execution are on disk, as before; but a node forwards a session
//! to its children and answers its parent while its own disk syncs, instead of once per hop
//! after it (two syncs per hop sat on the critical path of every query).

use std::collections::VecDeque;
use std::fs::File;
use std::sync::mpsc as std_mpsc;

use anyhow::Context as _;
use mon_proto::audit::AuditEvent;
use mon_proto::node::Output;
use tokio::sync::mpsc;

use super::driver::Event;
use super::state::Journal;
use crate::auditlog::AuditLog;

/// What the sync thread reports: the generation now on disk, or why syncing failed.
pub(super) type SyncReport = Result<u64, String>;

/// The audit log and replay journal, with the actions waiting for them.
pub(super) struct Durable {
    journal: Journal,
    audit: AuditLog,
    /// Generation of the newest write (0: nothing written yet).
    written: u64,
    /// Newest generation known to be on disk.
    synced: u64,
    /// Generation asked of the sync thread and not yet reported.
    requested: u64,
    /// Which files the next sync request must cover.
    dirty: Dirty,
    held: VecDeque<(u64, Output)>,
    requests: std_mpsc::Sender<(u64, Dirty)>,
}

#[derive(Clone, Copy, Default)]
struct Dirty {
    audit: bool,
    journal: bool,
}

impl Durable {
    /// Takes the two files and starts the sync thread, which reports on `tx`.
    pub(super) fn new(
        journal: Journal,
        audit: AuditLog,
        tx: mpsc::Sender<Event>,
    ) -> anyhow::Result<Durable> {
        let audit_file = audit
            .sync_handle()
            .with_context(|| format!("opening {} for syncing", audit.path().display()))?;
        let journal_file = journal
            .sync_handle()
            .with_context(|| format!("opening {} for syncing", journal.path().display()))?;
        let (requests, rx) = std_mpsc::channel();
        let files = SyncFiles {
            audit: audit_file,
            audit_path: audit.path().display().to_string(),
            journal: journal_file,
            journal_path: journal.path().display().to_string(),
        };
        std::thread::Builder::new()
            .name("mon-sync".into())
            .spawn(move || sync_thread(rx, files, tx))
            .context("starting the sync thread")?;
        Ok(Durable {
            journal,
            audit,
            written: 0,
            synced: 0,
            requested: 0,
            dirty: Dirty::default(),
            held: VecDeque::new(),
            requests,
        })
    }

    /// Writes the records of one batch of output (step 1) and asks for a sync.
    pub(super) fn write(&mut self, recs: &[AuditEvent], lines: &[String]) -> anyhow::Result<()> {
        if recs.is_empty() && lines.is_empty() {
            return Ok(());
        }
        if !lines.is_empty() {
            self.journal.write(lines)?;
            self.dirty.journal = true;
        }
        if !recs.is_empty() {
            self.audit
                .write_batch(recs, false)
                .context("writing the audit log")?;
            self.dirty.audit = true;
        }
        self.written += 1;
        self.request();
        Ok(())
    }

    /// One sync at a time; what is written meanwhile goes into the next one.
    fn request(&mut self) {
        if self.requested == self.synced && self.written > self.synced {
            self.requested = self.written;
            let d = std::mem::take(&mut self.dirty);
            // A closed channel means the thread died; its report says why.
            let _ = self.requests.send((self.written, d));
        }
    }

    /// An action: returned to run now when nothing written before it waits for the disk,
    /// else held (in order) until the sync covering it completes.
    pub(super) fn admit(&mut self, o: Output) -> Option<Output> {
        if self.held.is_empty() && self.synced >= self.written {
            Some(o)
        } else {
            self.held.push_back((self.written, o));
            None
        }
    }

    /// The sync thread's report.
    pub(super) fn synced(&mut self, r: SyncReport) -> anyhow::Result<()> {
        let g = r.map_err(|e| anyhow::anyhow!("{e}"))?;
        self.synced = self.synced.max(g);
        self.request();
        Ok(())
    }

    /// Held actions whose records are now on disk, oldest first.
    pub(super) fn release(&mut self) -> Vec<Output> {
        let mut out = Vec::new();
        while self.held.front().is_some_and(|(g, _)| *g <= self.synced) {
            if let Some((_, o)) = self.held.pop_front() {
                out.push(o);
            }
        }
        out
    }

    /// The last records at shutdown, written and synced before returning.
    pub(super) fn finish(mut self, last: &[AuditEvent]) -> anyhow::Result<()> {
        self.audit
            .write_batch(last, true)
            .context("writing the audit log")?;
        // The journal may hold lines written since the last background sync.
        self.journal
            .sync_handle()
            .and_then(|f| f.sync_data())
            .with_context(|| format!("syncing {}", self.journal.path().display()))?;
        Ok(())
    }
}

/// The sync thread's handles on the two files, with their paths for messages.
struct SyncFiles {
    audit: File,
    audit_path: String,
    journal: File,
    journal_path: String,
}

fn sync_thread(rx: std_mpsc::Receiver<(u64, Dirty)>, f: SyncFiles, tx: mpsc::Sender<Event>) {
    while let Ok((mut gen, mut dirty)) = rx.recv() {
        // Group commit: everything asked for meanwhile goes into this sync.
        while let Ok((g, d)) = rx.try_recv() {
            gen = gen.max(g);
            dirty.audit |= d.audit;
            dirty.journal |= d.journal;
        }
        // The two files sync at once.
        let (a, j) = std::thread::scope(|sc| {
            let j = dirty.journal.then(|| sc.spawn(|| f.journal.sync_data()));
            let a = if dirty.audit {
                f.audit.sync_data()
            } else {
                Ok(())
            };
            (a, j.map(|h| h.join()))
        });
        let report = match (a, j) {
            (Err(e), _) => Err(format!("syncing the audit log {}: {e}", f.audit_path)),
            (_, Some(Ok(Err(e)))) => Err(format!(
                "syncing the replay journal {}: {e}",
                f.journal_path
            )),
            (_, Some(Err(_))) => Err(format!("syncing {} panicked", f.journal_path)),
            _ => Ok(gen),
        };
        let failed = report.is_err();
        if tx.blocking_send(Event::Synced(report)).is_err() || failed {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
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
        assert_eq!(d.admit(Output::CloseClient(1)).as_ref().map(token), Some(1));

        let accept = AuditEvent::new(EventKind::SessionAccept).result(Outcome::Allow);
        d.write(std::slice::from_ref(&accept), &["journal-line".into()])
            .unwrap();
        // Written (a crashed process loses nothing) before anything of the batch happens.
        let log = std::fs::read_to_string(dir.path().join("audit.jsonl")).unwrap();
        assert!(log.contains("session.accept"), "{log}");
        let j = std::fs::read_to_string(dir.path().join("replay.journal")).unwrap();
        assert!(j.contains("journal-line"));
        // Actions are held until the sync covering that record reports, in order.
        assert!(d.admit(Output::CloseClient(2)).is_none());
        assert!(d.admit(Output::CloseClient(3)).is_none());
        assert!(d.release().is_empty());
        let r = next_sync(&mut rx).await;
        assert_eq!(r, Ok(1));
        d.synced(r).unwrap();
        let got: Vec<u64> = d.release().iter().map(token).collect();
        assert_eq!(got, vec![2, 3]);
        assert_eq!(d.admit(Output::CloseClient(4)).as_ref().map(token), Some(4));
    }

    #[tokio::test]
    async fn records_written_during_a_sync_are_covered_by_the_next_one() {
        let dir = tempfile::tempdir().unwrap();
        let (mut d, mut rx) = open(dir.path());
        let ev = AuditEvent::new(EventKind::OpEnd).result(Outcome::Ok);
        d.write(std::slice::from_ref(&ev), &[]).unwrap();
        assert!(d.admit(Output::CloseClient(1)).is_none());
        d.write(std::slice::from_ref(&ev), &[]).unwrap();
        assert!(d.admit(Output::CloseClient(2)).is_none());
        // The first sync covers generation 1 only: action 2 waits for generation 2.
        let r = next_sync(&mut rx).await;
        assert_eq!(r, Ok(1));
        d.synced(r).unwrap();
        let got: Vec<u64> = d.release().iter().map(token).collect();
        assert_eq!(got, vec![1]);
        let r = next_sync(&mut rx).await;
        assert_eq!(r, Ok(2));
        d.synced(r).unwrap();
        let got: Vec<u64> = d.release().iter().map(token).collect();
        assert_eq!(got, vec![2]);
    }

    #[test]
    fn a_failed_sync_stops_the_server() {
        let dir = tempfile::tempdir().unwrap();
        let (journal, _) = Journal::open(dir.path(), ReplayConfig::default(), 1).unwrap();
        let audit = AuditLog::open(&dir.path().join("audit.jsonl"), "n1").unwrap();
        let (tx, _rx) = mpsc::channel(1);
        let mut d = Durable::new(journal, audit, tx).unwrap();
        let e = d
            .synced(Err("syncing the audit log: EIO".into()))
            .unwrap_err();
        assert!(e.to_string().contains("EIO"));
    }
}
