//! Rotation and retention of the audit log. When the log reaches its size (or age) it is
//! renamed `audit.jsonl.<first seq>` and a new `audit.jsonl` begins with a `log.rotate` record
//! that names the previous file and its last record (its `prev` is that record's hash: one
//! chain across the files). Beyond `keep` rotated files the oldest is removed, after a
//! `log.retention` record naming it and its last record is on disk, so that a verifier can
//! tell a file retention removed from one deleted by hand.
//!
//! A rotation runs on the caller's thread and syncs (the old file's last records, the new
//! file's first ones, the directory) before it returns: the server calls it only when no sync
//! is in flight, once per rotation.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use mon_keys::file_mode::STATE_FILE_MODE;
use mon_proto::audit::{AuditEvent, EventKind, Outcome};

use super::files::{first_record, next_path, rotated_path};
use super::{io_error, sync_parent, AuditError, AuditLog};

/// Size at which the log is rotated by default, as `--audit-rotate-size` takes it: 64 MiB
/// (about 50,000 sessions).
pub const DEFAULT_ROTATE_SIZE: &str = "64M";
/// Rotated files kept by default (with the current one, at most about 700 MiB).
pub const DEFAULT_KEEP: usize = 10;
/// After a rotation failed (a rename refused), how long before it is tried again.
const RETRY_AFTER: Duration = Duration::from_secs(60);

/// When the log is rotated and how many rotated files are kept.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rotation {
    /// Rotate once the file holds this many bytes (`None`: never by size).
    pub max_bytes: Option<u64>,
    /// Rotate once the file's first record is this old (`None`: never by age).
    pub max_age: Option<Duration>,
    /// Rotated files kept; older ones are removed (`None`: all are kept).
    pub keep: Option<usize>,
}

impl AuditLog {
    /// Whether the file is due for rotation: past its size or its age, and holding records
    /// beyond the `log.rotate` it began with; never while a failed rotation waits to be
    /// retried.
    pub fn rotation_due(&self) -> bool {
        let header = u64::from(self.file_first_seq > 0);
        if self.file_records <= header
            || self.retry_at.is_some_and(|t| t > std::time::Instant::now())
        {
            return false;
        }
        let by_size = self.rotation.max_bytes.is_some_and(|max| self.len >= max);
        let by_age = self.rotation.max_age.is_some_and(|max| {
            self.file_records > 1 && self.file_started.elapsed().unwrap_or_default() >= max
        });
        by_size || by_age
    }

    /// Rotates now: syncs the file, renames it `audit.jsonl.<first seq>`, starts a new file
    /// with a `log.rotate` record, removes rotated files beyond `keep` (each after its
    /// `log.retention` record is on disk), and syncs before returning. The new file's handle
    /// is [`AuditLog::sync_handle`]. A rename that fails leaves the log as it was (appending
    /// goes on to the same file; tried again after a minute); a failed sync is an error.
    pub fn rotate(&mut self) -> Result<(), AuditError> {
        if self.poisoned {
            return Err(AuditError::Poisoned {
                path: self.path.clone(),
            });
        }
        let io = |op| io_error(&self.path, op);
        self.file.sync_data().map_err(io("sync"))?;
        let target = rotated_path(&self.path, self.file_first_seq);
        if let Err(e) = self.switch_files(&target) {
            self.retry_at = Some(std::time::Instant::now() + RETRY_AFTER);
            tracing::warn!(
                "cannot rotate the audit log {}: {e}; appending to it as it is (trying again in {} s)",
                self.path.display(),
                RETRY_AFTER.as_secs()
            );
            return Ok(());
        }
        self.rotated.push(target);
        self.apply_retention()
    }

    /// Renames the file to `target` and puts a new one, holding its `log.rotate` record
    /// (synced, with the directory), in its place.
    fn switch_files(&mut self, target: &Path) -> std::io::Result<()> {
        if target.exists() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                format!("{} exists", target.display()),
            ));
        }
        let next = next_path(&self.path);
        let mut new = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .truncate(false)
            .mode(STATE_FILE_MODE)
            .open(&next)?;
        new.set_len(0)?;
        let saved = self.chain.clone();
        let rotate = rotate_event(target, self.chain.next_seq(), self.chain.prev());
        let line = self.seal_all(std::slice::from_ref(&rotate));
        let done = new
            .write_all(line.as_bytes())
            .and_then(|()| new.sync_data())
            .and_then(|()| std::fs::rename(&self.path, target));
        if let Err(e) = done {
            self.chain = saved;
            let _ = std::fs::remove_file(&next);
            return Err(e);
        }
        let placed = std::fs::rename(&next, &self.path).and_then(|()| {
            sync_parent(&self.path).inspect_err(|_| {
                let _ = std::fs::rename(&self.path, &next);
            })
        });
        if let Err(e) = placed {
            // Put the old file back; if even that fails, the server resumes from the rotated
            // file at its next start (the log's files are found by name) and appends nothing
            // more now.
            self.chain = saved;
            let _ = std::fs::remove_file(&next);
            if std::fs::rename(target, &self.path).is_err() {
                self.poisoned = true;
            }
            return Err(e);
        }
        self.file = new;
        self.len = line.len() as u64;
        self.file_records = 1;
        self.file_first_seq = self.chain.next_seq().saturating_sub(1);
        self.file_started = std::time::SystemTime::now();
        Ok(())
    }

    /// Removes the oldest rotated files beyond `keep`: for each, a `log.retention` record
    /// naming it and its last record (read from the `log.rotate` that begins the next file) is
    /// written and synced, then the file is removed. A file whose last record cannot be told
    /// is kept (with a warning).
    pub(super) fn apply_retention(&mut self) -> Result<(), AuditError> {
        let Some(keep) = self.rotation.keep else {
            return Ok(());
        };
        let mut gone: Vec<PathBuf> = Vec::new();
        let mut evs = Vec::new();
        while self.rotated.len().saturating_sub(gone.len()) > keep {
            let oldest = &self.rotated[gone.len()];
            let next = self.rotated.get(gone.len() + 1).unwrap_or(&self.path);
            match last_record_before(next) {
                Some((seq, hash)) => {
                    evs.push(
                        AuditEvent::new(EventKind::LogRetention)
                            .result(Outcome::Ok)
                            .file_end(file_name(oldest), seq, &hash),
                    );
                    gone.push(oldest.clone());
                }
                None => {
                    tracing::warn!(
                        "audit log retention: keeping {}: the first record of {} does not name its last record",
                        oldest.display(),
                        next.display()
                    );
                    break;
                }
            }
        }
        if evs.is_empty() {
            return Ok(());
        }
        self.append_batch(&evs)?;
        for f in &gone {
            match std::fs::remove_file(f) {
                Ok(()) => tracing::info!("audit log retention: removed {}", f.display()),
                Err(e) => tracing::warn!("audit log retention: cannot remove {}: {e}", f.display()),
            }
        }
        self.rotated.drain(..gone.len());
        Ok(())
    }
}

/// The `log.rotate` record that begins a new file after `previous`, whose last record has
/// `seq` `next_seq - 1` and hash `prev`.
pub(super) fn rotate_event(previous: &Path, next_seq: u64, prev: &str) -> AuditEvent {
    AuditEvent::new(EventKind::LogRotate)
        .result(Outcome::Ok)
        .file_end(file_name(previous), next_seq.saturating_sub(1), prev)
}

/// The last record of the file before `next`: what `next`'s `log.rotate` names.
fn last_record_before(next: &Path) -> Option<(u64, String)> {
    let r = first_record(next).ok()??;
    (r.event == EventKind::LogRotate.as_str())
        .then(|| Some((r.last_seq?, r.last_hash?)))
        .flatten()
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Opens the newest rotated file to read its chain (it is never appended to again).
pub(super) fn open_rotated(path: &Path) -> Result<File, AuditError> {
    File::open(path).map_err(io_error(path, "open"))
}

#[cfg(test)]
mod tests;
