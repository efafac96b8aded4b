//! `audit fleet` on this node: the server reads its own audit log, with its own rights (the
//! stated exception to acting as the user: the log stays 0600 and no part of the user's
//! request chooses the path), verifies the whole chain across the rotated files with
//! `mon_proto`'s [`Verifier`] (as `mon audit verify` does), and feeds every record to the
//! query's [`AuditScan`].
//!
//! The live file is being appended to while it is read: a last line without its `\n` there
//! is a write in progress, not a break (the server sets a torn tail aside at its start).
//!
//! A cancelled read (a new Command of its session, Ctrl-C) stops at the next line: aborting
//! the task does not stop a blocking thread, and the node's run bound (`max_runs`) frees the
//! slot at once, so a read left running would let a session start any number of whole-log
//! scans one Command after another.

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use mon_proto::agg::audit::{AuditFilter, AuditScan};
use mon_proto::agg::Local;
use mon_proto::audit::{AuditRecord, BreakKind, Verifier};

use super::eval::StopOnDrop;
use crate::auditlog::{files, LineReader};

/// Reads and verifies the log at `log` (with its rotated files) for `filter`, on a blocking
/// thread that stops at the next line once this future is dropped.
pub async fn read(log: PathBuf, filter: AuditFilter) -> Local {
    let (_stop_on_drop, stop) = StopOnDrop::new();
    match tokio::task::spawn_blocking(move || scan_until(&log, filter, &stop)).await {
        Ok(Ok(scan)) => Local::Audit(Box::new(scan)),
        Ok(Err(e)) => Local::Failed(e),
        Err(e) => Local::Failed(format!("audit read task failed: {e}")),
    }
}

/// The scan of the whole log set; `Err` when the log cannot be listed or read at all, or
/// at the first line read after `stop` is set.
fn scan_until(log: &Path, filter: AuditFilter, stop: &AtomicBool) -> Result<AuditScan, String> {
    let set = files::log_set(log)
        .map_err(|e| format!("cannot list the audit log files {}: {e}", log.display()))?;
    let mut scan = AuditScan::new(filter);
    let mut verifier = Some(Verifier::new());
    let last = set.len().saturating_sub(1);
    for (i, file) in set.iter().enumerate() {
        if let Some(v) = verifier.as_mut() {
            v.start_file();
        }
        let broke = scan_file(file, i == last, &mut verifier, &mut scan, stop)?;
        if let Some(why) = broke {
            scan.chain_broken(format!("{}: {why}", file.display()));
        }
    }
    if let Some(v) = verifier {
        match v.finish() {
            Err(b) => scan.chain_broken(b.to_string()),
            Ok(s) => {
                if let Some(what) = s.unaccounted() {
                    scan.chain_broken(what.to_string());
                }
            }
        }
    }
    Ok(scan)
}

/// One file: every complete record offered to the scan, every line to the verifier until the
/// first break (then `verifier` becomes `None` and the break is returned).
fn scan_file(
    file: &Path,
    live: bool,
    verifier: &mut Option<Verifier>,
    scan: &mut AuditScan,
    stop: &AtomicBool,
) -> Result<Option<String>, String> {
    let f = File::open(file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let mut reader = LineReader::new(BufReader::new(f));
    let mut broke = None;
    while let Some(line) = reader
        .next_line()
        .map_err(|e| format!("cannot read {}: {e}", file.display()))?
    {
        if stop.load(Ordering::Relaxed) {
            return Err("audit read cancelled".into());
        }
        if !line.complete && live {
            break; // a write in progress
        }
        if let Some(v) = verifier.as_mut() {
            let res = if line.too_long {
                Err(v.push_unreadable(BreakKind::TooLong))
            } else if !line.complete {
                Err(v.push_unreadable(BreakKind::Incomplete))
            } else {
                v.push_bytes(&line.bytes)
            };
            if let Err(b) = res {
                broke = Some(b.to_string());
                *verifier = None;
            }
        }
        if let Some(r) = std::str::from_utf8(&line.bytes)
            .ok()
            .and_then(|s| AuditRecord::parse(s).ok())
        {
            scan.offer(&r);
        }
    }
    Ok(broke)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::auditlog::AuditLog;
    use mon_proto::audit::{AuditEvent, EventKind, Outcome};

    fn filter() -> AuditFilter {
        AuditFilter {
            denied: true,
            limit: 10,
            ..AuditFilter::default()
        }
    }

    fn scan(log: &Path, filter: AuditFilter) -> Result<AuditScan, String> {
        scan_until(log, filter, &AtomicBool::new(false))
    }

    fn write_log(dir: &Path) -> PathBuf {
        let path = dir.join("audit.jsonl");
        let mut log = AuditLog::open(&path, "n1").unwrap();
        log.append(&AuditEvent::new(EventKind::SessionAccept).result(Outcome::Allow))
            .unwrap();
        for p in ["alice", "bob", "alice"] {
            log.append(
                &AuditEvent::new(EventKind::SessionDeny)
                    .result(Outcome::Deny)
                    .principal(p),
            )
            .unwrap();
        }
        path
    }

    #[test]
    fn an_intact_log_is_counted_and_verified() {
        let tmp = tempfile::tempdir().unwrap();
        let path = write_log(tmp.path());
        let s = scan(&path, filter()).unwrap();
        assert!(s.chain_verified(), "{:?}", s.broken_reason());
        assert_eq!(s.matched(), 3);
    }

    #[test]
    fn an_edited_record_breaks_the_chain_but_is_still_counted() {
        let tmp = tempfile::tempdir().unwrap();
        let path = write_log(tmp.path());
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, text.replacen("\"bob\"", "\"eve\"", 1)).unwrap();
        let s = scan(&path, filter()).unwrap();
        assert!(!s.chain_verified());
        assert!(
            s.broken_reason().unwrap().contains("hash mismatch"),
            "{:?}",
            s.broken_reason()
        );
        assert_eq!(s.matched(), 3);
    }

    /// A read whose run is cancelled (its task aborted) stops reading: the live log here is
    /// a FIFO the test keeps writing lines into; once the aborted read gives up, its read end
    /// closes and a write fails (without the stop, the scan drains every line).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_cancelled_read_stops_reading() {
        use std::io::Write as _;
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("audit.jsonl");
        let made = std::process::Command::new("mkfifo")
            .arg(&path)
            .status()
            .unwrap();
        assert!(made.success());
        let task = tokio::spawn(read(path.clone(), filter()));
        // Opening the write end waits for the scan to open the read end.
        let p = path.clone();
        let mut w = tokio::task::spawn_blocking(move || {
            std::fs::OpenOptions::new().write(true).open(p).unwrap()
        })
        .await
        .unwrap();
        w.write_all(b"not a record\n").unwrap();
        task.abort();
        assert!(task.await.unwrap_err().is_cancelled());
        let line = [b'x'; 99];
        let refused = tokio::task::spawn_blocking(move || {
            for _ in 0..200_000 {
                if w.write_all(&line)
                    .and_then(|()| w.write_all(b"\n"))
                    .is_err()
                {
                    return true;
                }
            }
            false
        })
        .await
        .unwrap();
        assert!(refused, "the cancelled read went on reading 20 MB of log");
    }

    #[test]
    fn a_write_in_progress_is_not_a_break() {
        let tmp = tempfile::tempdir().unwrap();
        let path = write_log(tmp.path());
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        std::io::Write::write_all(&mut f, b"{\"v\":1,\"log_id").unwrap();
        let s = scan(&path, filter()).unwrap();
        assert!(s.chain_verified(), "{:?}", s.broken_reason());
    }
}
