//! The replay journal (the replay cache's records on disk, replayed at start) and the state
//! directory it and the audit log live in.
//!
//! The journal is up to three files: `replay.journal` (appended to, one line per accepted
//! session), and while or after a background compaction `replay.journal.prev` (the appended
//! file being compacted) and `replay.journal.base` (the live entries of the last compaction).
//! Loading reads base, prev and journal in that order; a line in two of them counts once, and
//! expired entries are dropped. Compaction (`journal/compact.rs`) keeps the files bounded: at
//! start, and in the background once enough lines were appended.

mod compact;

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

/// Lines appended before a background compaction, at least (and at least as many as the last
/// compaction kept): the journal holds at most about twice the live entries, or twice this.
pub const DEFAULT_COMPACT_LINES: usize = 4096;

/// The journal's files in a state dir.
#[derive(Debug, Clone)]
pub(super) struct Paths {
    /// Appended to.
    pub(super) journal: PathBuf,
    /// The appended file being compacted.
    pub(super) prev: PathBuf,
    /// The live entries of the last compaction.
    pub(super) base: PathBuf,
}

impl Paths {
    fn new(state_dir: &Path) -> Paths {
        let journal = state_dir.join("replay.journal");
        Paths {
            prev: journal.with_extension("journal.prev"),
            base: journal.with_extension("journal.base"),
            journal,
        }
    }

    /// The files in loading order.
    fn in_order(&self) -> [&Path; 3] {
        [&self.base, &self.prev, &self.journal]
    }
}

/// The text of the journal's files in loading order; `None` when none exists.
fn read_all(paths: &Paths) -> anyhow::Result<Option<String>> {
    let mut text = String::new();
    let mut any = false;
    for p in paths.in_order() {
        match std::fs::read_to_string(p) {
            Ok(t) => {
                any = true;
                text.push_str(&t);
                if !t.is_empty() && !t.ends_with('\n') {
                    text.push('\n');
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("reading {}", p.display())),
        }
    }
    Ok(any.then_some(text))
}

/// Rebuilds the replay cache from the journal's files; returns it and its entry count. A
/// missing journal on a node that ran before (an audit log exists) sets the cache's floor
/// to now + skew.
fn load_cache(
    state_dir: &Path,
    paths: &Paths,
    cfg: ReplayConfig,
    now_ms: u64,
) -> anyhow::Result<(ReplayCache, usize)> {
    match read_all(paths)? {
        Some(text) => {
            let (cache, bad) = ReplayCache::load(cfg, &text, now_ms);
            for l in bad {
                tracing::warn!(
                    "{}: line {l} of the replay journal (base, prev, journal in turn) is unreadable and ignored (torn write?)",
                    paths.journal.display()
                );
            }
            let n = cache.len();
            Ok((cache, n))
        }
        None => Ok((
            cache_without_journal(state_dir, &paths.journal, cfg, now_ms),
            0,
        )),
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
    if crate::auditlog::files::any_exists(&state_dir.join(crate::auditlog::FILE_NAME)) {
        tracing::warn!(
            "{} is missing but this node ran before: refusing sessions issued before now + {} s",
            path.display(),
            skew / 1000
        );
        cache.set_floor(now_ms + skew);
    }
    cache
}

/// The replay journal: one line per accepted session, fsynced before the session runs.
pub struct Journal {
    paths: Paths,
    file: std::fs::File,
    cfg: ReplayConfig,
    /// Lines appended since the last compaction began.
    appended: usize,
    /// Lines the last compaction kept.
    kept: usize,
    /// Appended lines that make a compaction due (at least `kept`).
    compact_lines: usize,
    /// A background compaction runs.
    compacting: bool,
    /// A failed compaction left the appended file under prev's name: no more compactions
    /// until the next start (which reads every file).
    stuck: bool,
}

impl Journal {
    /// Opens (or creates) the journal and rebuilds the cache from it, compacted into
    /// `replay.journal` alone. A node whose state dir shows it ran before (an audit log
    /// exists) but has no journal refuses sessions issued before start + skew.
    pub fn open(
        state_dir: &Path,
        cfg: ReplayConfig,
        now_ms: u64,
    ) -> anyhow::Result<(Journal, ReplayCache)> {
        let paths = Paths::new(state_dir);
        let (cache, _) = load_cache(state_dir, &paths, cfg.clone(), now_ms)?;
        // On a full disk the old files stay as they are: the server starts and fails closed
        // (durable.rs) instead of exiting.
        if let Err(e) = compact::at_start(&paths, &cache) {
            tracing::warn!(
                "cannot compact {}: {e}; appending to it as it is",
                paths.journal.display()
            );
        }
        let file = open_append(&paths.journal)?;
        let kept = cache.len();
        Ok((
            Journal {
                paths,
                file,
                cfg,
                appended: 0,
                kept,
                compact_lines: DEFAULT_COMPACT_LINES,
                compacting: false,
                stuck: false,
            },
            cache,
        ))
    }

    /// Sets the appended lines that make a compaction due (at least 1).
    pub fn set_compact_lines(&mut self, n: usize) {
        self.compact_lines = n.max(1);
    }

    /// A second handle on the journal, for syncing it from another thread.
    pub fn sync_handle(&self) -> std::io::Result<std::fs::File> {
        self.file.try_clone()
    }

    /// The journal's path (for messages).
    pub fn path(&self) -> &Path {
        &self.paths.journal
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
            .with_context(|| format!("appending to {}", self.path().display()))?
            .len();
        if let Err(e) = self.file.write_all(buf.as_bytes()) {
            let _ = self.file.set_len(before);
            return Err(e).with_context(|| format!("appending to {}", self.path().display()));
        }
        self.appended += lines.len();
        Ok(())
    }
}

/// Opens (or creates, mode 0600) a journal file for appending.
fn open_append(path: &Path) -> anyhow::Result<std::fs::File> {
    OpenOptions::new()
        .append(true)
        .create(true)
        .mode(STATE_FILE_MODE)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))
}
