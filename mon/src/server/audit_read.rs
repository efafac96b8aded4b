//! `audit fleet` on this node: the server reads its own audit log, with its own rights (the
//! stated exception to acting as the user: the log stays 0600 and no part of the user's
//! request chooses the path), verifies the whole chain across the rotated files with
//! `mon_proto`'s [`Verifier`] (as `mon audit verify` does), and feeds every record to the
//! query's [`AuditScan`]. The verification of the rotated files is kept between reads while
//! they stay unchanged ([`cache`]): a repeated read verifies the live file only.
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

mod cache;

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
    let mut set = files::log_set(log)
        .map_err(|e| format!("cannot list the audit log files {}: {e}", log.display()))?;
    let live = if set.last().is_some_and(|p| p == log) {
        set.pop()
    } else {
        None
    };
    let (mut scan, mut verifier) = rotated(log, &set, &filter, stop)?;
    if let Some(file) = live {
        if let Some(v) = verifier.as_mut() {
            v.start_file();
        }
        let f = scan_file(&file, true, &mut verifier, &mut scan, stop)?;
        if let Some(why) = f.broke {
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

/// The rotated files `set` (oldest first): the scan their records were offered to, and the
/// verifier after them (`None` after a break, which is reported to the scan). Unchanged since
/// a read that verified them all, they are not verified again, and only those that may hold a
/// record at or after `since` are read; one that changed while it was read ([`reuse`]) makes
/// the whole set verified again, in a fresh scan.
fn rotated(
    log: &Path,
    set: &[PathBuf],
    filter: &AuditFilter,
    stop: &AtomicBool,
) -> Result<(AuditScan, Option<Verifier>), String> {
    // Identities taken before reading: a file changed while it is read differs next time.
    let ids: Option<Vec<cache::FileId>> = set.iter().map(|p| cache::FileId::of(p).ok()).collect();
    if let Some(kept) = ids.as_deref().and_then(|ids| cache::get(log, ids)) {
        let mut scan = AuditScan::new(filter.clone());
        if reuse(&kept, set, filter.since.as_deref(), &mut scan, stop)? {
            return Ok((scan, Some(kept.verifier)));
        }
        cache::forget(log);
    }
    let mut scan = AuditScan::new(filter.clone());
    let verifier = verify_all(log, set, &mut scan, stop)?;
    Ok((scan, verifier))
}

/// Offers the records of the rotated files `set`, verified before as `kept` says, to the
/// scan without verifying them again; false when a file read is no longer the one verified
/// (what was read may not be what was verified: the scan must be thrown away). Its identity
/// is taken again after the read: a write during the read changes its ctime.
fn reuse(
    kept: &cache::Verified,
    set: &[PathBuf],
    since: Option<&str>,
    scan: &mut AuditScan,
    stop: &AtomicBool,
) -> Result<bool, String> {
    for ((file, newest), id) in set.iter().zip(&kept.newest_ts).zip(&kept.files) {
        let older = since.is_some_and(|s| newest.as_deref().is_none_or(|n| n < s));
        if older {
            continue;
        }
        scan_file(file, false, &mut None, scan, stop)?;
        if cache::FileId::of(file).ok().as_ref() != Some(id) {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Verifies the rotated files `set` from the start, offering their records to the scan;
/// the verifier after them, kept for the next read when no file broke the chain.
fn verify_all(
    log: &Path,
    set: &[PathBuf],
    scan: &mut AuditScan,
    stop: &AtomicBool,
) -> Result<Option<Verifier>, String> {
    let ids: Option<Vec<cache::FileId>> = set.iter().map(|p| cache::FileId::of(p).ok()).collect();
    let mut verifier = Some(Verifier::new());
    let mut newest_ts = Vec::with_capacity(set.len());
    for file in set {
        if let Some(v) = verifier.as_mut() {
            v.start_file();
        }
        let f = scan_file(file, false, &mut verifier, scan, stop)?;
        if let Some(why) = f.broke {
            scan.chain_broken(format!("{}: {why}", file.display()));
        }
        newest_ts.push(f.newest_ts);
    }
    if let (Some(v), Some(files)) = (&verifier, ids) {
        cache::put(
            log,
            cache::Verified {
                files,
                newest_ts,
                verifier: v.clone(),
            },
        );
    }
    Ok(verifier)
}

/// What reading one file found.
struct FileScan {
    /// The chain's first break in it.
    broke: Option<String>,
    /// Its newest record's `ts`.
    newest_ts: Option<String>,
}

/// One file: every complete record offered to the scan, every line to the verifier until the
/// first break (then `verifier` becomes `None` and the break is returned).
fn scan_file(
    file: &Path,
    live: bool,
    verifier: &mut Option<Verifier>,
    scan: &mut AuditScan,
    stop: &AtomicBool,
) -> Result<FileScan, String> {
    let f = File::open(file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let mut reader = LineReader::new(BufReader::new(f));
    let mut found = FileScan {
        broke: None,
        newest_ts: None,
    };
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
                found.broke = Some(b.to_string());
                *verifier = None;
            }
        }
        if let Some(r) = std::str::from_utf8(&line.bytes)
            .ok()
            .and_then(|s| AuditRecord::parse(s).ok())
        {
            if found.newest_ts.as_deref().is_none_or(|t| t < r.ts.as_str()) {
                found.newest_ts = Some(r.ts.clone());
            }
            scan.offer(&r);
        }
    }
    Ok(found)
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

    /// A log rotated every ~600 bytes: several rotated files and the live one. The principals
    /// are `p0`, `p1`, … so that an edit can keep a file's size.
    fn rotated_log(dir: &Path) -> PathBuf {
        let path = dir.join("audit.jsonl");
        let rotation = crate::auditlog::Rotation {
            max_bytes: Some(600),
            max_age: None,
            keep: None,
        };
        let mut log = AuditLog::open_with(&path, "n1", rotation).unwrap();
        for i in 0..12 {
            log.append(
                &AuditEvent::new(EventKind::SessionDeny)
                    .result(Outcome::Deny)
                    .principal(format!("p{i}")),
            )
            .unwrap();
            if log.rotation_due() {
                log.rotate().unwrap();
            }
        }
        assert!(files::list_rotated(&path).unwrap().len() >= 3);
        path
    }

    fn rotated_ids(log: &Path) -> Vec<cache::FileId> {
        files::list_rotated(log)
            .unwrap()
            .iter()
            .map(|(_, p)| cache::FileId::of(p).unwrap())
            .collect()
    }

    /// A repeated read starts from the kept verification of the rotated files and finds what
    /// a full read finds; `--since` past a rotated file's newest record skips it.
    #[test]
    fn a_repeated_read_reuses_the_rotated_files_verification() {
        let tmp = tempfile::tempdir().unwrap();
        let path = rotated_log(tmp.path());
        let all = AuditFilter {
            limit: 100,
            ..filter()
        };
        let first = scan(&path, all.clone()).unwrap();
        assert!(first.chain_verified(), "{:?}", first.broken_reason());
        assert_eq!(first.matched(), 12);
        assert!(
            cache::get(&path, &rotated_ids(&path)).is_some(),
            "the rotated files' verification is kept"
        );
        let again = scan(&path, all.clone()).unwrap();
        assert!(again.chain_verified(), "{:?}", again.broken_reason());
        assert_eq!(again.matched(), 12);
        let future = AuditFilter {
            since: Some("2999-01-01T00:00:00.000Z".into()),
            ..all
        };
        let none = scan(&path, future).unwrap();
        assert!(none.chain_verified(), "{:?}", none.broken_reason());
        assert_eq!(none.matched(), 0);
    }

    /// Fail closed: a rotated file edited after a read that kept its verification (same size,
    /// its mtime set back) is verified again, and the break shows.
    #[test]
    fn a_tampered_rotated_file_is_caught_after_a_kept_verification() {
        let tmp = tempfile::tempdir().unwrap();
        let path = rotated_log(tmp.path());
        let first = scan(&path, filter()).unwrap();
        assert!(first.chain_verified(), "{:?}", first.broken_reason());
        let (_, victim) = files::list_rotated(&path).unwrap().remove(1);
        let text = std::fs::read_to_string(&victim).unwrap();
        let mtime = std::fs::metadata(&victim).unwrap().modified().unwrap();
        assert!(text.contains("\"principal\":\"p"), "{text}");
        let edited = text.replacen("\"principal\":\"p", "\"principal\":\"x", 1);
        assert_eq!(edited.len(), text.len());
        std::fs::write(&victim, edited).unwrap();
        std::fs::File::options()
            .write(true)
            .open(&victim)
            .unwrap()
            .set_modified(mtime)
            .unwrap();
        let s = scan(&path, filter()).unwrap();
        assert!(!s.chain_verified(), "the edit went unnoticed");
        assert!(
            s.broken_reason().unwrap().contains("hash mismatch"),
            "{:?}",
            s.broken_reason()
        );
        // And again: a set with a break is never kept.
        let s = scan(&path, filter()).unwrap();
        assert!(!s.chain_verified());
    }

    /// Fail closed, in the window between a read's identities and its reads: a rotated file
    /// whose kept verification the read starts from, edited before its records are read
    /// (same size, mtime set back), is not offered as verified: the read throws that scan
    /// away, and the whole set is verified again.
    #[test]
    fn a_rotated_file_edited_while_a_read_reuses_its_verification_is_not_trusted() {
        let tmp = tempfile::tempdir().unwrap();
        let path = rotated_log(tmp.path());
        let set: Vec<PathBuf> = files::list_rotated(&path)
            .unwrap()
            .into_iter()
            .map(|(_, p)| p)
            .collect();
        // What a read finds kept, after taking the identities (read again if the tests
        // running beside this one pushed it out) …
        let kept = loop {
            assert!(scan(&path, filter()).unwrap().chain_verified());
            if let Some(k) = cache::get(&path, &rotated_ids(&path)) {
                break k;
            }
        };
        let stop = AtomicBool::new(false);
        let mut fresh = AuditScan::new(filter());
        assert!(reuse(&kept, &set, None, &mut fresh, &stop).unwrap());
        // … and a file edited before it is read.
        let victim = &set[1];
        let text = std::fs::read_to_string(victim).unwrap();
        let mtime = std::fs::metadata(victim).unwrap().modified().unwrap();
        let edited = text.replacen("\"principal\":\"p", "\"principal\":\"x", 1);
        assert_eq!(edited.len(), text.len());
        std::fs::write(victim, edited).unwrap();
        std::fs::File::options()
            .write(true)
            .open(victim)
            .unwrap()
            .set_modified(mtime)
            .unwrap();
        let mut raced = AuditScan::new(filter());
        assert!(
            !reuse(&kept, &set, None, &mut raced, &stop).unwrap(),
            "records read from an edited file passed as verified"
        );
        // The read as a whole verifies again, and finds the edit.
        let s = scan(&path, filter()).unwrap();
        assert!(!s.chain_verified(), "the edit went unnoticed");
    }
}
