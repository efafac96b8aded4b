//! The replay journal (the replay cache's records on disk, replayed at start) and the state
//! directory it and the audit log live in.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use mon_keys::file_mode::{STATE_DIR_MODE, STATE_FILE_MODE};
use mon_proto::replay::{ReplayCache, ReplayConfig};

/// Creates the state directory with mode 0700, or tightens an existing one to 0700 (with a
/// warning): the audit log and replay journal in it are the server's alone. A state
/// directory whose mode cannot be set refuses the start.
pub fn prepare_state_dir(state_dir: &Path) -> anyhow::Result<()> {
    if !state_dir.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(STATE_DIR_MODE)
            .create(state_dir)
            .with_context(|| format!("creating {}", state_dir.display()))?;
    }
    let meta =
        std::fs::metadata(state_dir).with_context(|| format!("reading {}", state_dir.display()))?;
    anyhow::ensure!(
        meta.is_dir(),
        "state directory {} is not a directory",
        state_dir.display()
    );
    let mode = meta.permissions().mode() & 0o7777;
    if mode != STATE_DIR_MODE {
        tighten_state_dir(state_dir, mode)?;
    }
    Ok(())
}

/// Sets the state directory's mode (`mode` now) to 0700, with a warning.
fn tighten_state_dir(state_dir: &Path, mode: u32) -> anyhow::Result<()> {
    std::fs::set_permissions(state_dir, std::fs::Permissions::from_mode(STATE_DIR_MODE))
        .with_context(|| {
            format!(
                "state directory {} has mode {mode:04o} and cannot be set to {STATE_DIR_MODE:04o}; fix it with `chmod 700 {}`",
                state_dir.display(),
                state_dir.display()
            )
        })?;
    tracing::warn!(
        "state directory {} had mode {mode:04o}: set it to {STATE_DIR_MODE:04o}",
        state_dir.display()
    );
    Ok(())
}

/// Rebuilds the replay cache from the journal at `path`; returns it and its entry count. A
/// missing journal on a node that ran before (an audit log exists) sets the cache's floor
/// to now + skew.
fn load_cache(
    state_dir: &Path,
    path: &Path,
    cfg: ReplayConfig,
    now_ms: u64,
) -> anyhow::Result<(ReplayCache, usize)> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let (cache, bad) = ReplayCache::load(cfg, &text, now_ms);
            for l in bad {
                tracing::warn!(
                    "{}:{l}: unreadable replay journal line ignored (torn write?)",
                    path.display()
                );
            }
            let n = cache.len();
            Ok((cache, n))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Ok((cache_without_journal(state_dir, path, cfg, now_ms), 0))
        }
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// The cache of a node without a journal: empty, but a node that ran before (an audit log
/// exists) refuses sessions issued before now + skew (their replays could not be told).
fn cache_without_journal(
    state_dir: &Path,
    path: &Path,
    cfg: ReplayConfig,
    now_ms: u64,
) -> ReplayCache {
    let skew = cfg.skew_ms;
    let mut cache = ReplayCache::new(cfg);
    if state_dir.join("audit.jsonl").exists() {
        tracing::warn!(
            "{} is missing but this node ran before: refusing sessions issued before now + {} s",
            path.display(),
            skew / 1000
        );
        cache.set_floor(now_ms + skew);
    }
    cache
}

/// Compacts the journal: writes the cache's live entries to `tmp`, syncs it and renames it
/// over `path` (atomic: a failure leaves the old journal whole).
fn compact(path: &Path, tmp: &Path, cache: &ReplayCache) -> std::io::Result<()> {
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(STATE_FILE_MODE)
        .open(tmp)?;
    // A leftover temp file keeps its old mode through `open`: set it.
    f.set_permissions(std::fs::Permissions::from_mode(STATE_FILE_MODE))?;
    for l in cache.snapshot_lines() {
        writeln!(f, "{l}")?;
    }
    f.sync_all()?;
    std::fs::rename(tmp, path)
}

/// The replay journal: one line per accepted session, fsynced before the session runs.
pub struct Journal {
    path: PathBuf,
    file: std::fs::File,
    lines: usize,
}

impl Journal {
    /// Opens (or creates) the journal and rebuilds the cache from it. A node whose state
    /// dir shows it ran before (an audit log exists) but has no journal refuses sessions
    /// issued before start + skew.
    pub fn open(
        state_dir: &Path,
        cfg: ReplayConfig,
        now_ms: u64,
    ) -> anyhow::Result<(Journal, ReplayCache)> {
        let path = state_dir.join("replay.journal");
        let (cache, lines) = load_cache(state_dir, &path, cfg, now_ms)?;
        // On a full disk the old journal stays as it is: the server starts and fails closed
        // (durable.rs) instead of exiting.
        let tmp = state_dir.join("replay.journal.tmp");
        if let Err(e) = compact(&path, &tmp, &cache) {
            let _ = std::fs::remove_file(&tmp);
            tracing::warn!(
                "cannot compact {}: {e}; appending to it as it is",
                path.display()
            );
        }
        let file = OpenOptions::new()
            .append(true)
            .create(true)
            .mode(STATE_FILE_MODE)
            .open(&path)
            .with_context(|| format!("opening {}", path.display()))?;
        Ok((Journal { path, file, lines }, cache))
    }

    /// A second handle on the journal, for syncing it from another thread.
    pub fn sync_handle(&self) -> std::io::Result<std::fs::File> {
        self.file.try_clone()
    }

    /// The journal's path (for messages).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends lines without syncing them (see [`Journal::sync_handle`]). On failure (a full
    /// disk) the file is cut back to its length before the call, so that no torn line is left
    /// for the next write to run into.
    pub fn write(&mut self, lines: &[String]) -> anyhow::Result<()> {
        let mut buf = String::new();
        for l in lines {
            buf.push_str(l);
            buf.push('\n');
        }
        let before = self
            .file
            .metadata()
            .with_context(|| format!("appending to {}", self.path.display()))?
            .len();
        if let Err(e) = self.file.write_all(buf.as_bytes()) {
            let _ = self.file.set_len(before);
            return Err(e).with_context(|| format!("appending to {}", self.path.display()));
        }
        self.lines += lines.len();
        Ok(())
    }
}
