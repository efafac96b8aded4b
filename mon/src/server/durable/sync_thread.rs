//! The sync thread: syncs the audit log and the replay journal when asked (group commit)
//! and reports the generation on disk; takes new handles when a file was rotated or
//! compacted.

use std::fs::File;
use std::sync::mpsc as std_mpsc;

use tokio::sync::mpsc;

use super::Dirty;
use crate::server::event::Event;

/// What the event loop asks of the sync thread.
pub(super) enum SyncReq {
    /// Sync what `Dirty` names and report the generation.
    Sync(u64, Dirty),
    /// From now on sync these handles (the old files were synced by the event loop).
    Swap {
        audit: Option<File>,
        journal: Option<File>,
    },
}

/// The sync thread's handles on the two files, with their paths for messages.
pub(super) struct SyncFiles {
    pub(super) audit: File,
    pub(super) audit_path: String,
    pub(super) journal: File,
    pub(super) journal_path: String,
}

impl SyncFiles {
    /// Takes the new handles of a swap.
    fn swap(&mut self, audit: Option<File>, journal: Option<File>) {
        if let Some(a) = audit {
            self.audit = a;
        }
        if let Some(j) = journal {
            self.journal = j;
        }
    }

    /// Syncs the files `dirty` names (both at once); the error names the file.
    fn sync(&self, dirty: Dirty) -> Result<(), String> {
        let (a, j) = std::thread::scope(|sc| {
            let j = dirty.journal.then(|| sc.spawn(|| self.journal.sync_data()));
            let a = if dirty.audit {
                self.audit.sync_data()
            } else {
                Ok(())
            };
            (a, j.map(|h| h.join()))
        });
        match (a, j) {
            (Err(e), _) => Err(format!("syncing the audit log {}: {e}", self.audit_path)),
            (_, Some(Ok(Err(e)))) => Err(format!(
                "syncing the replay journal {}: {e}",
                self.journal_path
            )),
            (_, Some(Err(_))) => Err(format!("syncing {} panicked", self.journal_path)),
            _ => Ok(()),
        }
    }
}

/// The thread's loop: one sync at a time, everything asked for meanwhile grouped into it.
pub(super) fn sync_thread(
    rx: std_mpsc::Receiver<SyncReq>,
    mut f: SyncFiles,
    tx: mpsc::Sender<Event>,
) {
    while let Ok(first) = rx.recv() {
        let mut asked: Option<(u64, Dirty)> = None;
        let mut next = Some(first);
        // Group commit: everything asked for meanwhile goes into this sync.
        while let Some(req) = next.take().or_else(|| rx.try_recv().ok()) {
            match req {
                SyncReq::Swap { audit, journal } => f.swap(audit, journal),
                SyncReq::Sync(g, d) => {
                    let (gen, mut dirty) = asked.unwrap_or((g, Dirty::default()));
                    dirty.audit |= d.audit;
                    dirty.journal |= d.journal;
                    asked = Some((gen.max(g), dirty));
                }
            }
        }
        let Some((gen, dirty)) = asked else {
            continue;
        };
        let report = f.sync(dirty).map(|()| gen);
        // A failed sync is reported and the thread stays: the server keeps running and
        // syncs again once its probe has written to the files (`Durable::probe`).
        if tx.blocking_send(Event::Synced(report)).is_err() {
            return;
        }
    }
}
