//! The files of a rotated audit log: `audit.jsonl` (the one appended to) and the rotated ones,
//! `audit.jsonl.<seq>`, each named by the `seq` of its first record (zero-padded to
//! [`SEQ_DIGITS`] digits so that `ls` lists them oldest first). A rotated file is never
//! renamed again; retention removes the oldest.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use mon_proto::audit::AuditRecord;

use super::LineReader;

/// Digits of the `seq` in a rotated file's name.
pub const SEQ_DIGITS: usize = 10;

/// The name of the rotated file whose first record has `first_seq`, beside the log `path`.
pub fn rotated_path(path: &Path, first_seq: u64) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".{first_seq:0SEQ_DIGITS$}"));
    path.with_file_name(name)
}

/// The temporary name a new file gets before it replaces the log at `path`.
pub fn next_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".next");
    path.with_file_name(name)
}

/// The rotated files beside the log `path`, oldest first: (first `seq`, path).
pub fn list_rotated(path: &Path) -> std::io::Result<Vec<(u64, PathBuf)>> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let base = path.file_name().unwrap_or_default().to_string_lossy();
    let mut out = Vec::new();
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let Some(digits) = name
            .strip_prefix(base.as_ref())
            .and_then(|r| r.strip_prefix('.'))
        else {
            continue;
        };
        if digits.len() < SEQ_DIGITS || !digits.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        if let Ok(seq) = digits.parse::<u64>() {
            out.push((seq, entry.path()));
        }
    }
    out.sort();
    Ok(out)
}

/// The log at `path` with its rotated files, oldest first (the log itself last, if it exists).
pub fn log_set(path: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut set: Vec<PathBuf> = list_rotated(path)?.into_iter().map(|(_, p)| p).collect();
    if path.exists() {
        set.push(path.to_path_buf());
    }
    Ok(set)
}

/// Whether a log (or any rotated file of it) exists at `path`.
pub fn any_exists(path: &Path) -> bool {
    path.exists() || list_rotated(path).is_ok_and(|r| !r.is_empty())
}

/// The first record of the file at `path`, if its first line is a complete record.
pub fn first_record(path: &Path) -> std::io::Result<Option<AuditRecord>> {
    let file = std::fs::File::open(path)?;
    let mut reader = LineReader::new(BufReader::new(file));
    Ok(first_of(&mut reader)?.and_then(|l| {
        std::str::from_utf8(&l)
            .ok()
            .and_then(|s| AuditRecord::parse(s).ok())
    }))
}

fn first_of<R: BufRead>(reader: &mut LineReader<R>) -> std::io::Result<Option<Vec<u8>>> {
    Ok(reader
        .next_line()?
        .filter(|l| l.complete && !l.too_long)
        .map(|l| l.bytes))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn names_sort_oldest_first_and_other_files_are_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("audit.jsonl");
        for seq in [120, 7, 0] {
            std::fs::write(rotated_path(&log, seq), "").unwrap();
        }
        for other in [
            "audit.jsonl.torn",
            "audit.jsonl.next",
            "audit.jsonl.12",
            "x.0000000001",
        ] {
            std::fs::write(dir.path().join(other), "").unwrap();
        }
        assert_eq!(
            rotated_path(&log, 7).file_name().unwrap(),
            "audit.jsonl.0000000007"
        );
        let got: Vec<u64> = list_rotated(&log).unwrap().iter().map(|r| r.0).collect();
        assert_eq!(got, vec![0, 7, 120]);
        assert!(any_exists(&log));
        std::fs::write(&log, "").unwrap();
        assert_eq!(log_set(&log).unwrap().last(), Some(&log));
        assert_eq!(log_set(&log).unwrap().len(), 4);
    }
}
