//! The audit log file `STATE_DIR/audit.jsonl`: open (create or resume), append with fdatasync
//! before returning, group commit; rotation and retention (`rotate.rs`) and the names of the
//! rotated files (`files.rs`). The record format and the hash chain are in `mon_proto::audit`;
//! this module adds the files, the clock and the randomness.
//!
//! One process appends to a log at a time (the server owns its state dir).
// The server does not read back the log id, seq or torn tail (the tests do).
#![allow(dead_code)]

pub mod files;
mod lines;
mod rotate;
#[cfg(test)]
mod tests;

use std::fs::{File, OpenOptions};
use std::io::{BufReader, Write};
use std::ops::Range;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use mon_keys::file_mode::STATE_FILE_MODE;
use mon_proto::audit::{AuditEvent, BreakKind, Chain, ChainBreak, Verifier, VerifySummary};
use rand::RngCore;

pub use lines::{LineReader, RawLine};
pub use rotate::{Rotation, DEFAULT_KEEP, DEFAULT_ROTATE_SIZE};

/// The log's file name inside a state dir.
pub const FILE_NAME: &str = "audit.jsonl";

/// `PATH` itself, or `PATH/audit.jsonl` if `PATH` is a directory.
pub fn resolve(path: &Path) -> PathBuf {
    if path.is_dir() {
        path.join(FILE_NAME)
    } else {
        path.to_path_buf()
    }
}

/// Errors opening or appending to the audit log.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// A file operation failed.
    #[error("audit log {}: cannot {op}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What was being done.
        op: &'static str,
        /// The OS error.
        source: std::io::Error,
    },
    /// The existing log does not verify; the server must not chain onto it.
    #[error(
        "audit log {} is broken at {brk}. Keep it for investigation (`mon audit verify {}`), \
         move it aside (e.g. `mv {} {}.broken`) and restart to begin a new log",
        path.display(), path.display(), path.display(), path.display()
    )]
    Broken {
        /// The file.
        path: PathBuf,
        /// The first bad record.
        brk: ChainBreak,
    },
    /// The path exists but is not a regular file.
    #[error("audit log {} is not a regular file", path.display())]
    NotAFile {
        /// The path.
        path: PathBuf,
    },
    /// An earlier failed write could not be rolled back; nothing more is appended.
    #[error("audit log {} is unusable after a failed write that could not be rolled back; restart the server", path.display())]
    Poisoned {
        /// The file.
        path: PathBuf,
    },
    /// The OS random generator failed while creating a log id.
    #[error("cannot create a log id for {}: {reason}", path.display())]
    Rng {
        /// The log file.
        path: PathBuf,
        /// The generator's error.
        reason: String,
    },
}

/// A torn last line found (and removed) when the log was opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TornTail {
    /// Its line number.
    pub line_no: usize,
    /// How many bytes were removed from the end of the log.
    pub bytes: u64,
    /// Where those bytes were saved (appended) for inspection.
    pub saved_to: PathBuf,
}

/// An open, verified audit log, ready to append.
#[derive(Debug)]
pub struct AuditLog {
    path: PathBuf,
    file: File,
    node: String,
    chain: Chain,
    /// Length of the file up to the last complete, synced record.
    len: u64,
    poisoned: bool,
    torn: Option<TornTail>,
    rotation: Rotation,
    /// Rotated files still on disk, oldest first.
    rotated: Vec<PathBuf>,
    /// Records in the current file.
    file_records: u64,
    /// `seq` of the current file's first record (its name once rotated).
    file_first_seq: u64,
    /// When the current file's first record was written.
    file_started: std::time::SystemTime,
    /// A failed rotation is tried again from then on.
    retry_at: Option<std::time::Instant>,
}

/// What reading a whole file found.
struct Scanned {
    summary: VerifySummary,
    /// Length of its complete records.
    len: u64,
    torn: Option<TornTail>,
    /// The first record's `ts`.
    first_ts: Option<String>,
}

impl AuditLog {
    /// Creates the log (mode 0600, new random `log_id`) or resumes it: verifies every record,
    /// recovers `log_id`, `seq` and `prev` from the newest. A last line without `\n` (a write
    /// torn by a crash: it was never synced, so its action never ran) is saved to
    /// `PATH.torn`, truncated away and reported by [`AuditLog::torn_tail`] and a warning. Any
    /// other damage is [`AuditError::Broken`], naming the line: nothing is chained onto it.
    /// Never rotates; see [`AuditLog::open_with`].
    pub fn open(path: &Path, node: &str) -> Result<AuditLog, AuditError> {
        AuditLog::open_with(path, node, Rotation::default())
    }

    /// [`AuditLog::open`] for a log rotated as `rotation` says. A log without records (none
    /// yet, or a rotation cut short by a crash) beside rotated files continues the newest of
    /// them (verified whole) with a `log.rotate` record. Rotated files beyond `keep` are
    /// removed now.
    pub fn open_with(path: &Path, node: &str, rotation: Rotation) -> Result<AuditLog, AuditError> {
        // A new file a crash left before it replaced the log: the log's files are found by name.
        let _ = std::fs::remove_file(files::next_path(path));
        let rotated: Vec<PathBuf> = files::list_rotated(path)
            .map_err(io_error(path, "list the rotated files of"))?
            .into_iter()
            .map(|(_, p)| p)
            .collect();
        let file = open_file(path)?;
        let scan = verify_file(path, &file, true)?;
        let resumed = scan.summary.chain();
        let mut log = AuditLog {
            path: path.to_path_buf(),
            file,
            node: node.to_owned(),
            chain: Chain::new([0; 16]),
            len: scan.len,
            poisoned: false,
            torn: scan.torn,
            rotation,
            file_records: scan.summary.records,
            file_first_seq: scan.summary.first.as_ref().map_or(0, |f| f.seq),
            file_started: scan
                .first_ts
                .as_deref()
                .and_then(parse_ts)
                .unwrap_or_else(std::time::SystemTime::now),
            rotated,
            retry_at: None,
        };
        match resumed {
            Some(c) => log.chain = c,
            None => log.start_chain()?,
        }
        log.apply_retention()?;
        Ok(log)
    }

    /// The chain of a log whose file holds no records: continued from the newest rotated file
    /// (with a `log.rotate` record first), or a new log with a random `log_id`.
    fn start_chain(&mut self) -> Result<(), AuditError> {
        let newest = self.rotated.last().cloned();
        let continued = match &newest {
            Some(prev) => {
                let f = rotate::open_rotated(prev)?;
                verify_file(prev, &f, false)?.summary.chain()
            }
            None => None,
        };
        match (continued, newest) {
            (Some(c), Some(prev)) => {
                let ev = rotate::rotate_event(&prev, c.next_seq(), c.prev());
                self.chain = c;
                self.file_first_seq = self.chain.next_seq();
                self.append(&ev)?;
            }
            _ => {
                let mut id = [0u8; 16];
                rand::rngs::OsRng
                    .try_fill_bytes(&mut id)
                    .map_err(|e| AuditError::Rng {
                        path: self.path.clone(),
                        reason: e.to_string(),
                    })?;
                self.chain = Chain::new(id);
            }
        }
        Ok(())
    }

    /// Appends one record and syncs it to disk before returning its `seq` (the recorded action
    /// may run once this returns).
    pub fn append(&mut self, ev: &AuditEvent) -> Result<u64, AuditError> {
        let seqs = self.append_batch(std::slice::from_ref(ev))?;
        Ok(seqs.start)
    }

    /// Appends several records with a single write and a single fdatasync (group commit);
    /// returns the range of `seq`s they got (empty for an empty batch). On failure nothing of
    /// the batch remains in the file and the chain state is unchanged.
    pub fn append_batch(&mut self, evs: &[AuditEvent]) -> Result<Range<u64>, AuditError> {
        self.write_batch(evs, true)
    }

    /// Writes several records with a single write, without syncing them: they are in the
    /// kernel (a crash of this process loses nothing) and reach the disk with the next
    /// sync, of this log or of the handle from [`AuditLog::sync_handle`]. The server syncs
    /// in the background and holds every action back until the records before it are on
    /// disk. On failure nothing of the batch remains in the file.
    pub fn write_batch(
        &mut self,
        evs: &[AuditEvent],
        sync: bool,
    ) -> Result<Range<u64>, AuditError> {
        if self.poisoned {
            return Err(AuditError::Poisoned {
                path: self.path.clone(),
            });
        }
        let first = self.chain.next_seq();
        if evs.is_empty() {
            return Ok(first..first);
        }
        let saved = self.chain.clone();
        let buf = self.seal_all(evs);
        if let Err(source) = self.write_out(buf.as_bytes(), sync) {
            self.roll_back(saved);
            return Err(AuditError::Io {
                path: self.path.clone(),
                op: "append to",
                source,
            });
        }
        self.len += buf.len() as u64;
        if self.file_records == 0 {
            self.file_first_seq = first;
            self.file_started = std::time::SystemTime::now();
        }
        self.file_records += evs.len() as u64;
        Ok(first..self.chain.next_seq())
    }

    /// One write of the batch's lines, synced when `sync`.
    fn write_out(&mut self, bytes: &[u8], sync: bool) -> std::io::Result<()> {
        self.file.write_all(bytes)?;
        if sync {
            self.file.sync_data()?;
        }
        Ok(())
    }

    /// The records sealed into the chain (one line each, one timestamp for the batch).
    fn seal_all(&mut self, evs: &[AuditEvent]) -> String {
        let ts = now_rfc3339();
        let mut buf = String::new();
        for ev in evs {
            buf.push_str(&self.chain.seal(&self.node, &ts, ev));
            buf.push('\n');
        }
        buf
    }

    /// Undoes a failed batch: the chain as it was, the file cut back to its length before
    /// (synced); if that fails the log is poisoned.
    fn roll_back(&mut self, saved: Chain) {
        self.chain = saved;
        let rolled_back = self
            .file
            .set_len(self.len)
            .and_then(|()| self.file.sync_data());
        if rolled_back.is_err() {
            self.poisoned = true;
        }
    }

    /// A second handle on the log file, for syncing it from another thread (`fdatasync` on
    /// any handle syncs the file).
    pub fn sync_handle(&self) -> std::io::Result<File> {
        self.file.try_clone()
    }

    /// The log id (32 hex digits).
    pub fn log_id(&self) -> &str {
        self.chain.log_id()
    }

    /// The `seq` the next record gets.
    pub fn next_seq(&self) -> u64 {
        self.chain.next_seq()
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The torn last line removed by [`AuditLog::open`], if any (the server audits it).
    pub fn torn_tail(&self) -> Option<&TornTail> {
        self.torn.as_ref()
    }
}

/// The error of a failed file operation `op` on the log at `path`.
fn io_error(path: &Path, op: &'static str) -> impl FnOnce(std::io::Error) -> AuditError {
    let path = path.to_path_buf();
    move |source| AuditError::Io { path, op, source }
}

/// Opens (or creates, mode 0600, its directory synced) the log file for reading and
/// appending; a wider mode is narrowed with a warning.
fn open_file(path: &Path) -> Result<File, AuditError> {
    let io = |op| io_error(path, op);
    let existed = path.exists();
    let file = OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .mode(STATE_FILE_MODE)
        .open(path)
        .map_err(io("open"))?;
    let meta = file.metadata().map_err(io("stat"))?;
    if !meta.is_file() {
        return Err(AuditError::NotAFile {
            path: path.to_path_buf(),
        });
    }
    let mode = meta.permissions().mode() & 0o7777;
    if mode & !STATE_FILE_MODE != 0 {
        file.set_permissions(std::fs::Permissions::from_mode(STATE_FILE_MODE))
            .map_err(io("set the mode of"))?;
        tracing::warn!(
            "audit log {} had mode {mode:04o}: set it to {STATE_FILE_MODE:04o}",
            path.display()
        );
    }
    if !existed {
        sync_parent(path).map_err(io("sync the directory of"))?;
    }
    Ok(file)
}

/// Verifies every record of a file of the log: its summary, the length of its complete
/// records, its torn last line if there was one (saved aside and cut away when `cut_torn`, else
/// a break) and its first record's time.
fn verify_file(path: &Path, file: &File, cut_torn: bool) -> Result<Scanned, AuditError> {
    let io = |op| io_error(path, op);
    let broken = |brk| AuditError::Broken {
        path: path.to_path_buf(),
        brk,
    };
    let mut verifier = Verifier::new();
    let mut len = 0u64;
    let mut torn = None;
    let mut first_ts = None;
    let mut reader = LineReader::new(BufReader::new(file));
    while let Some(line) = reader.next_line().map_err(io("read"))? {
        if !line.complete && cut_torn {
            torn = Some(line);
            break;
        }
        let res = if line.too_long {
            Err(verifier.push_unreadable(BreakKind::TooLong))
        } else if !line.complete {
            Err(verifier.push_unreadable(BreakKind::Incomplete))
        } else {
            verifier.push_bytes(&line.bytes)
        };
        res.map_err(broken)?;
        if line.no == 1 {
            first_ts = std::str::from_utf8(&line.bytes)
                .ok()
                .and_then(|l| mon_proto::audit::AuditRecord::parse(l).ok())
                .map(|r| r.ts);
        }
        len = line.start + line.bytes.len() as u64 + 1;
    }
    let torn = match torn {
        Some(line) => Some(cut_torn_tail(path, file, &line).map_err(io("truncate"))?),
        None => None,
    };
    let summary = verifier.finish().map_err(broken)?;
    Ok(Scanned {
        summary,
        len,
        torn,
        first_ts,
    })
}

/// An audit `ts` as a time.
fn parse_ts(ts: &str) -> Option<std::time::SystemTime> {
    let t = time::OffsetDateTime::parse(ts, &time::format_description::well_known::Rfc3339).ok()?;
    Some(std::time::SystemTime::from(t))
}

/// Saves a torn last line to `PATH.torn`, then truncates the log before it.
fn cut_torn_tail(path: &Path, file: &File, line: &RawLine) -> std::io::Result<TornTail> {
    let saved_to = PathBuf::from(format!("{}.torn", path.display()));
    let bytes = file.metadata()?.len().saturating_sub(line.start);
    let mut side = OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .open(&saved_to)?;
    side.write_all(&line.bytes)?;
    side.write_all(b"\n")?;
    side.sync_data()?;
    file.set_len(line.start)?;
    file.sync_data()?;
    tracing::warn!(
        "audit log {}: line {} was torn by a crash ({bytes} bytes without a newline); \
         saved to {} and removed",
        path.display(),
        line.no,
        saved_to.display()
    );
    Ok(TornTail {
        line_no: line.no,
        bytes,
        saved_to,
    })
}

fn sync_parent(path: &Path) -> std::io::Result<()> {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => File::open(dir)?.sync_all(),
        _ => File::open(".")?.sync_all(),
    }
}

/// The current time as RFC 3339 UTC with milliseconds, e.g. `2025-03-01T12:00:00.123Z`.
pub fn now_rfc3339() -> String {
    format_ts(time::OffsetDateTime::now_utc())
}

/// Formats a time as the audit `ts` (UTC, milliseconds, `Z`).
pub fn format_ts(t: time::OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}
