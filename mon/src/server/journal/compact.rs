//! Compacting the replay journal: its entries whose replay window has expired are dropped,
//! and what is left is written atomically (a temp file, fsync, rename, directory fsync).
//!
//! At start the whole journal is compacted into `replay.journal`. While the server runs, once
//! enough lines were appended ([`Journal::compaction_due`]), the event loop renames the
//! appended file to `replay.journal.prev` and opens a new one (after syncing the old: one
//! fsync, with the directory's), and a thread of its own merges base and prev into a new
//! `replay.journal.base`, then removes prev. The thread's reading and writing (bounded by
//! the replay cache's caps) never runs on the event loop. Loading reads base, prev and
//! journal, so a crash at any step loses no live entry.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use anyhow::Context as _;
use mon_keys::file_mode::STATE_FILE_MODE;
use mon_proto::replay::{ReplayCache, ReplayConfig};
use tokio::sync::mpsc;

use super::{open_append, Journal, Paths};
use crate::clock::now_ms;
use crate::server::event::Event;

/// Writes `lines` to `tmp`, syncs it and renames it over `dst` (atomic: a failure leaves
/// `dst` whole), then syncs the directory.
fn replace_with(dst: &Path, tmp: &Path, lines: &[String]) -> std::io::Result<()> {
    let res = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(STATE_FILE_MODE)
            .open(tmp)?;
        // A leftover temp file keeps its old mode through `open`: set it.
        f.set_permissions(std::fs::Permissions::from_mode(STATE_FILE_MODE))?;
        let mut buf = String::new();
        for l in lines {
            buf.push_str(l);
            buf.push('\n');
        }
        f.write_all(buf.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(tmp, dst)?;
        sync_dir(dst)
    })();
    if res.is_err() {
        let _ = std::fs::remove_file(tmp);
    }
    res
}

fn sync_dir(path: &Path) -> std::io::Result<()> {
    match path.parent() {
        Some(d) => std::fs::File::open(d)?.sync_all(),
        None => Ok(()),
    }
}

fn remove_if_there(path: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// The start's compaction: the cache's live entries become `replay.journal`; base and prev
/// are removed once it is on disk.
pub(super) fn at_start(paths: &Paths, cache: &ReplayCache) -> std::io::Result<()> {
    let tmp = paths.journal.with_extension("journal.tmp");
    replace_with(&paths.journal, &tmp, &cache.snapshot_lines())?;
    remove_if_there(&paths.prev)?;
    remove_if_there(&paths.base)
}

/// The background compaction: base and prev merged, expired entries dropped, into a new
/// base; then prev is removed. Returns the lines kept.
fn merge(paths: &Paths, cfg: ReplayConfig) -> anyhow::Result<usize> {
    let mut text = String::new();
    for p in [&paths.base, &paths.prev] {
        match std::fs::read_to_string(p) {
            Ok(t) => {
                text.push_str(&t);
                text.push('\n');
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("reading {}", p.display())),
        }
    }
    let (cache, _) = ReplayCache::load(cfg, &text, now_ms());
    let lines = cache.snapshot_lines();
    let tmp = paths.base.with_extension("base.tmp");
    replace_with(&paths.base, &tmp, &lines)
        .with_context(|| format!("writing {}", paths.base.display()))?;
    remove_if_there(&paths.prev).with_context(|| format!("removing {}", paths.prev.display()))?;
    Ok(lines.len())
}

impl Journal {
    /// Whether enough lines were appended since the last compaction (and none runs).
    pub fn compaction_due(&self) -> bool {
        !self.compacting && self.appended >= self.compact_lines.max(self.kept)
    }

    /// Starts a background compaction: the appended file (synced first) becomes prev and a
    /// new one is appended to — unless a prev is left from a compaction that failed, which is
    /// merged first. Returns whether the appended file changed (its new handle is
    /// [`Journal::sync_handle`]). An error syncing the old file is a storage failure; one
    /// renaming it leaves the journal as it was.
    pub fn start_compaction(&mut self, tx: mpsc::Sender<Event>) -> anyhow::Result<bool> {
        if self.stuck {
            return Ok(false);
        }
        let swap = !self.paths.prev.exists();
        if swap {
            // Whatever happens, the next try waits for as many lines again.
            self.appended = 0;
            self.file
                .sync_data()
                .with_context(|| format!("syncing {}", self.path().display()))?;
            std::fs::rename(&self.paths.journal, &self.paths.prev).with_context(|| {
                format!(
                    "renaming {} to {}",
                    self.path().display(),
                    self.paths.prev.display()
                )
            })?;
            let opened = open_append(&self.paths.journal).and_then(|f| {
                sync_dir(&self.paths.journal)
                    .with_context(|| format!("syncing the directory of {}", self.path().display()))
                    .map(|()| f)
            });
            match opened {
                Ok(f) => self.file = f,
                Err(e) => {
                    // Appending goes on to the old file, under its old name (if that fails,
                    // loading still reads prev, but prev must not be compacted away).
                    let _ = std::fs::remove_file(&self.paths.journal);
                    if std::fs::rename(&self.paths.prev, &self.paths.journal).is_err() {
                        self.stuck = true;
                    }
                    return Err(e);
                }
            }
        }
        self.appended = 0;
        self.compacting = true;
        let (paths, cfg) = (self.paths.clone(), self.cfg.clone());
        let spawned = std::thread::Builder::new()
            .name("mon-journal".into())
            .spawn(move || {
                let r = merge(&paths, cfg).map_err(|e| format!("{e:#}"));
                let _ = tx.blocking_send(Event::JournalCompacted(r));
            });
        if let Err(e) = spawned {
            self.compacting = false;
            tracing::warn!("cannot start the replay journal's compaction: {e}");
        }
        Ok(swap)
    }

    /// The background compaction's report: the lines it kept, or why it failed (prev stays,
    /// and is merged at the next compaction or start).
    pub fn compacted(&mut self, r: Result<usize, String>) {
        self.compacting = false;
        match r {
            Ok(kept) => {
                tracing::debug!(kept, "replay journal compacted");
                self.kept = kept;
            }
            Err(e) => tracing::warn!("cannot compact the replay journal: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use mon_proto::replay::ReplayConfig;

    fn cfg() -> ReplayConfig {
        ReplayConfig {
            skew_ms: 0,
            ..ReplayConfig::default()
        }
    }

    /// One journal line for session `n`, kept until `until` (unix ms).
    fn line(n: u8, until: u64) -> String {
        let mut c = ReplayCache::new(cfg());
        c.check_and_insert(0, &[n; 32], &[n; 16], "SHA256:k", "s", 0, until)
            .unwrap();
        c.drain_journal().remove(0)
    }

    fn lines_in(dir: &Path) -> usize {
        [
            "replay.journal",
            "replay.journal.prev",
            "replay.journal.base",
        ]
        .iter()
        .filter_map(|f| std::fs::read_to_string(dir.join(f)).ok())
        .map(|t| t.lines().count())
        .sum()
    }

    #[tokio::test]
    async fn background_compaction_drops_expired_entries_and_keeps_live_ones() {
        let dir = tempfile::tempdir().unwrap();
        let now = now_ms();
        let (mut j, _) = Journal::open(dir.path(), cfg(), now).unwrap();
        j.set_compact_lines(4);
        // Four entries that expired a second ago, two live for an hour.
        let expired: Vec<String> = (1..=4).map(|n| line(n, now - 1000)).collect();
        j.write(&expired).unwrap();
        let live = vec![line(5, now + 3_600_000), line(6, now + 3_600_000)];
        j.write(&live).unwrap();
        assert!(j.compaction_due());
        let (tx, mut rx) = mpsc::channel(4);
        assert!(j.start_compaction(tx).unwrap());
        // Appending goes on to a new file meanwhile.
        let later = vec![line(7, now + 3_600_000)];
        j.write(&later).unwrap();
        let r = match tokio::time::timeout(std::time::Duration::from_secs(10), rx.recv()).await {
            Ok(Some(Event::JournalCompacted(r))) => r,
            _ => panic!("no compaction report"),
        };
        assert_eq!(r, Ok(2));
        j.compacted(r);
        assert!(!dir.path().join("replay.journal.prev").exists());
        assert_eq!(
            lines_in(dir.path()),
            3,
            "two live entries in base, one appended"
        );
        // What a restart loads: the three live entries, none of the expired ones.
        drop(j);
        let (_, cache) = Journal::open(dir.path(), cfg(), now).unwrap();
        assert_eq!(cache.len(), 3);
        assert!(cache.contains(&[5; 32]) && cache.contains(&[7; 32]));
        assert!(!cache.contains(&[1; 32]));
        assert_eq!(
            lines_in(dir.path()),
            3,
            "start compacts into replay.journal alone"
        );
        assert!(!dir.path().join("replay.journal.base").exists());
    }

    #[test]
    fn a_crash_between_the_steps_loses_no_live_entry() {
        // prev and base both present, with an entry in each and one appended: all load.
        let dir = tempfile::tempdir().unwrap();
        let now = now_ms();
        let until = now + 3_600_000;
        std::fs::write(
            dir.path().join("replay.journal.base"),
            line(1, until) + "\n",
        )
        .unwrap();
        let prev = format!("{}\n{}\n", line(2, until), line(1, until));
        std::fs::write(dir.path().join("replay.journal.prev"), prev).unwrap();
        std::fs::write(dir.path().join("replay.journal"), line(3, until) + "\n").unwrap();
        let (_, cache) = Journal::open(dir.path(), cfg(), now).unwrap();
        assert_eq!(cache.len(), 3);
    }
}
