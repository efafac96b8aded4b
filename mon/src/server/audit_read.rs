//! `audit fleet` on this node: the server reads its own audit log, with its own rights (the
//! stated exception to acting as the user: the log stays 0600 and no part of the user's
//! request chooses the path), verifies the whole chain across the rotated files with
//! `mon_proto`'s [`Verifier`] (as `mon audit verify` does), and feeds every record to the
//! query's [`AuditScan`].
//!
//! The live file is being appended to while it is read: a last line without its `\n` there
//! is a write in progress, not a break (the server sets a torn tail aside at its start).

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use mon_proto::agg::audit::{AuditFilter, AuditScan};
use mon_proto::agg::Local;
use mon_proto::audit::{AuditRecord, BreakKind, Verifier};

use crate::auditlog::{files, LineReader};

/// Reads and verifies the log at `log` (with its rotated files) for `filter`, on a blocking
/// thread.
pub async fn read(log: PathBuf, filter: AuditFilter) -> Local {
    match tokio::task::spawn_blocking(move || scan(&log, filter)).await {
        Ok(Ok(scan)) => Local::Audit(Box::new(scan)),
        Ok(Err(e)) => Local::Failed(e),
        Err(e) => Local::Failed(format!("audit read task failed: {e}")),
    }
}

/// The scan of the whole log set; `Err` when the log cannot be listed or read at all.
pub fn scan(log: &Path, filter: AuditFilter) -> Result<AuditScan, String> {
    let set = files::log_set(log)
        .map_err(|e| format!("cannot list the audit log files {}: {e}", log.display()))?;
    let mut scan = AuditScan::new(filter);
    let mut verifier = Some(Verifier::new());
    let last = set.len().saturating_sub(1);
    for (i, file) in set.iter().enumerate() {
        if let Some(v) = verifier.as_mut() {
            v.start_file();
        }
        let broke = scan_file(file, i == last, &mut verifier, &mut scan)?;
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
) -> Result<Option<String>, String> {
    let f = File::open(file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let mut reader = LineReader::new(BufReader::new(f));
    let mut broke = None;
    while let Some(line) = reader
        .next_line()
        .map_err(|e| format!("cannot read {}: {e}", file.display()))?
    {
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
