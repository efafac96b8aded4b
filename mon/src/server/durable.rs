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
//! A landing's commit (`fsync`, rename, directory `fsync`) is such an action: once admitted it
//! is queued on the landing's own thread and reports back as an event, so the event loop never
//! waits for it; later file I/O of the same push queues behind it on that thread.
//!
//! So an operation never runs before the `session.accept` record and the replay-journal line
//! that guard its exactly-once execution are on disk, as before; but a node forwards a session
//! to its children and answers its parent while its own disk syncs, instead of once per hop
//! after it (two syncs per hop sat on the critical path of every query).
//!
//! Keeping the files bounded ([`Durable::maintain`]) happens only while no sync is in flight:
//! a rotation of the audit log (`auditlog/rotate.rs`) or the start of a journal compaction
//! (`journal/compact.rs`) syncs the old file itself, on the event loop, before the sync thread
//! is handed the new one; records before actions holds across the switch. That costs the
//! loop a few fsyncs once per rotation (64 MiB of records by default) or compaction; the
//! compaction's reading and writing run on a thread of their own.

mod sync_thread;

use std::collections::VecDeque;
use std::sync::mpsc as std_mpsc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use mon_proto::audit::{AuditEvent, EventKind, Outcome};
use mon_proto::node::Output;
use tokio::sync::mpsc;

use super::event::{Event, SyncReport};
use super::journal::Journal;
use crate::auditlog::AuditLog;
use sync_thread::{sync_thread, SyncFiles, SyncReq};

/// While the files fail, how often a write is tried again (space may have returned).
pub(super) const PROBE_INTERVAL: Duration = Duration::from_secs(2);
/// While the files fail, how often the failure is logged again.
const FAILURE_LOG_INTERVAL: Duration = Duration::from_secs(60);

/// The audit log or journal failed a write or sync (a full disk, an I/O error): the server
/// keeps running but fails closed (issue 10, part 4). No record is written and no action runs
/// until a probe record is on disk again; the node refuses new sessions meanwhile.
struct Failure {
    /// The first error, for messages and the `storage.resume` record.
    reason: String,
    /// Short form for the refusal clients see (the OS error, no paths).
    short: String,
    /// Records that could not be written since.
    lost: u64,
    next_probe: Instant,
    logged: Instant,
}

/// What becomes of an action (see [`Durable::admit`]).
pub(super) enum Admit {
    /// Its records are on disk: run it now.
    Now(Output),
    /// Held until the sync covering its records completes.
    Held,
    /// Its records may never reach the disk: it must not run.
    Refused(Output),
}

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
    requests: std_mpsc::Sender<SyncReq>,
    failed: Option<Failure>,
    /// Where the journal's compaction reports.
    tx: mpsc::Sender<Event>,
}

#[derive(Clone, Copy, Default)]
pub(super) struct Dirty {
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
        let thread_tx = tx.clone();
        std::thread::Builder::new()
            .name("mon-sync".into())
            .spawn(move || sync_thread(rx, files, thread_tx))
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
            failed: None,
            tx,
        })
    }

    /// Writes the records of one batch of output (step 1) and asks for a sync. False when
    /// they could not be written (now or since an earlier failure): nothing of the batch may
    /// happen then, its packets included.
    pub(super) fn write(&mut self, recs: &[AuditEvent], lines: &[String]) -> bool {
        if recs.is_empty() && lines.is_empty() {
            return true;
        }
        if let Some(f) = &mut self.failed {
            f.lost += recs.len() as u64;
            return false;
        }
        match self.try_write(recs, lines) {
            Ok(()) => true,
            Err(e) => {
                self.fail(&e, recs.len() as u64);
                false
            }
        }
    }

    fn try_write(&mut self, recs: &[AuditEvent], lines: &[String]) -> anyhow::Result<()> {
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
            let _ = self.requests.send(SyncReq::Sync(self.written, d));
        }
    }

    /// An action: to run now when nothing written before it waits for the disk, else held
    /// (in order) until the sync covering it completes; refused while the files fail.
    pub(super) fn admit(&mut self, o: Output) -> Admit {
        if self.failed.is_some() {
            Admit::Refused(o)
        } else if self.held.is_empty() && self.synced >= self.written {
            Admit::Now(o)
        } else {
            self.held.push_back((self.written, o));
            Admit::Held
        }
    }

    /// The sync thread's report. A failed sync refuses every held action (returned: none may
    /// run) and fails the files until a probe succeeds.
    pub(super) fn synced(&mut self, r: SyncReport) -> Vec<Output> {
        match r {
            Ok(g) => {
                self.synced = self.synced.max(g);
                self.maintain();
                self.request();
                Vec::new()
            }
            Err(e) => {
                // The outstanding request is answered; what it covered is not durable.
                self.synced = self.requested;
                self.dirty = Dirty::default();
                self.fail(&anyhow::anyhow!("{e}"), 0);
                self.held.drain(..).map(|(_, o)| o).collect()
            }
        }
    }

    /// The records written at start (`lost` of them) failed: start failing closed.
    pub(super) fn fail_at_start(&mut self, e: &anyhow::Error, lost: u64) {
        self.fail(e, lost);
    }

    fn fail(&mut self, e: &anyhow::Error, lost: u64) {
        if let Some(f) = &mut self.failed {
            f.lost += lost;
            return;
        }
        let reason = format!("{e:#}");
        let short = e.root_cause().to_string();
        tracing::error!(
            "{reason}: refusing new sessions until the audit log and replay journal can be \
             written again (retrying every {} s)",
            PROBE_INTERVAL.as_secs()
        );
        let now = Instant::now();
        self.failed = Some(Failure {
            reason,
            short,
            lost,
            next_probe: now + PROBE_INTERVAL,
            logged: now,
        });
    }

    /// Why the files cannot take records now (the OS error), if they cannot.
    pub(super) fn failure(&self) -> Option<&str> {
        self.failed.as_ref().map(|f| f.short.as_str())
    }

    /// While the files fail: at most every [`PROBE_INTERVAL`], writes and syncs a
    /// `storage.resume` record (how many records were lost, and why) and syncs the journal;
    /// when both succeed the files take records again. Logs a lasting failure once a minute.
    pub(super) fn probe(&mut self) {
        let now = Instant::now();
        let (lost, reason) = match &mut self.failed {
            Some(f) if now >= f.next_probe => {
                f.next_probe = now + PROBE_INTERVAL;
                (f.lost, f.reason.clone())
            }
            _ => return,
        };
        let ev = AuditEvent::new(EventKind::StorageResume)
            .result(Outcome::Ok)
            .count(lost)
            .reason("storage-failed", reason.clone());
        let res = self
            .audit
            .write_batch(std::slice::from_ref(&ev), true)
            .context("writing the audit log")
            .and_then(|_| {
                self.journal
                    .sync_handle()
                    .and_then(|h| h.sync_data())
                    .with_context(|| format!("syncing {}", self.journal.path().display()))
            });
        match (res, &mut self.failed) {
            (Ok(()), _) => {
                // That sync covered everything written before the failure, too.
                self.synced = self.written;
                self.requested = self.written;
                tracing::warn!(
                    lost,
                    "the audit log and replay journal take records again; serving sessions"
                );
                self.failed = None;
            }
            (Err(e), Some(f)) if now.duration_since(f.logged) >= FAILURE_LOG_INTERVAL => {
                f.logged = now;
                tracing::error!(lost, "{e:#}: still refusing new sessions (since: {reason})");
            }
            (Err(_), _) => {}
        }
    }

    /// Keeps the files bounded, while no sync is in flight (the sync thread is idle, so the
    /// new handles reach it before its next sync): rotates the audit log when due, and starts
    /// a background compaction of the journal when due. A failed sync there fails the files
    /// closed; a refused rename is a warning (appending goes on to the same file).
    pub(super) fn maintain(&mut self) {
        if self.failed.is_some() || self.requested != self.synced {
            return;
        }
        if self.audit.rotation_due() {
            match self.audit.rotate().map(|()| self.audit.sync_handle()) {
                Ok(Ok(h)) => self.swap(Some(h), None),
                Ok(Err(e)) => {
                    self.fail(&anyhow::Error::from(e).context("rotating the audit log"), 0)
                }
                Err(e) => self.fail(&anyhow::Error::from(e).context("rotating the audit log"), 0),
            }
        }
        if self.failed.is_none() && self.journal.compaction_due() {
            match self.journal.start_compaction(self.tx.clone()) {
                Ok(true) => match self.journal.sync_handle() {
                    Ok(h) => self.swap(None, Some(h)),
                    Err(e) => self.fail(
                        &anyhow::Error::from(e).context("compacting the replay journal"),
                        0,
                    ),
                },
                Ok(false) => {}
                Err(e) => tracing::warn!("cannot compact the replay journal: {e:#}"),
            }
        }
    }

    /// Hands the sync thread new handles.
    fn swap(&mut self, audit: Option<std::fs::File>, journal: Option<std::fs::File>) {
        let _ = self.requests.send(SyncReq::Swap { audit, journal });
    }

    /// The journal's background compaction finished.
    pub(super) fn journal_compacted(&mut self, r: Result<usize, String>) {
        self.journal.compacted(r);
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

#[cfg(test)]
mod tests;
