//! The verification of a log's rotated files, kept between audit reads.
//!
//! Rotated files are never written again, so a read need not hash them again: once every
//! rotated file verified, the verifier's state after them is kept with each file's identity
//! ([`FileId`]: path, device, inode, size, mtime and ctime) and its newest `ts`. A later read
//! whose rotated files all have the same identities starts from that state, verifies the
//! live file only, and scans a rotated file only when it may hold a record the filter wants
//! (`--since`). Fail closed: any change of a rotated file (a write changes its ctime, which
//! no user can set back; renaming, replacing or removing one changes the list) verifies the
//! whole set again; a set with a break is never kept. A read that reuses the kept
//! verification takes each file's identity again after reading it: one written in between
//! (after the identities were taken) throws that read away and verifies the set again.

use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use mon_proto::audit::Verifier;

/// Logs whose verification is kept (a server has one; tests have several).
const KEPT_LOGS: usize = 4;

/// What a rotated file is, as far as its content goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileId {
    path: PathBuf,
    dev: u64,
    ino: u64,
    size: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl FileId {
    /// The identity of the file at `path` now.
    pub fn of(path: &Path) -> std::io::Result<FileId> {
        let m = std::fs::metadata(path)?;
        Ok(FileId {
            path: path.to_path_buf(),
            dev: m.dev(),
            ino: m.ino(),
            size: m.size(),
            mtime: (m.mtime(), m.mtime_nsec()),
            ctime: (m.ctime(), m.ctime_nsec()),
        })
    }
}

/// The rotated files of a log, all verified, and where the verification stood after them.
#[derive(Clone, Debug)]
pub struct Verified {
    /// The files, oldest first, as they were before they were read.
    pub files: Vec<FileId>,
    /// Each file's newest `ts` (`None`: no record in it).
    pub newest_ts: Vec<Option<String>>,
    /// The verifier after the last of them.
    pub verifier: Verifier,
}

static KEPT: Mutex<Vec<(PathBuf, Verified)>> = Mutex::new(Vec::new());

/// The kept verification of `log`'s rotated files, if they are still exactly `files`.
pub fn get(log: &Path, files: &[FileId]) -> Option<Verified> {
    let kept = KEPT.lock().unwrap_or_else(PoisonError::into_inner);
    kept.iter()
        .find(|(l, v)| l == log && v.files == files)
        .map(|(_, v)| v.clone())
}

/// Keeps `v` for `log` (replacing what was kept for it).
pub fn put(log: &Path, v: Verified) {
    let mut kept = KEPT.lock().unwrap_or_else(PoisonError::into_inner);
    kept.retain(|(l, _)| l != log);
    if kept.len() >= KEPT_LOGS {
        kept.remove(0);
    }
    kept.push((log.to_path_buf(), v));
}

/// Forgets what was kept for `log`.
pub fn forget(log: &Path) {
    let mut kept = KEPT.lock().unwrap_or_else(PoisonError::into_inner);
    kept.retain(|(l, _)| l != log);
}
