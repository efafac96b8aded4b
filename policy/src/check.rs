//! `mon policy check`: lint slice directories and single policy files.

use std::path::{Path, PathBuf};

use crate::allowed_signers::parse_allowed_signers;
use crate::diag::{Diagnostic, Severity};
use crate::input::{read_limited, ReadError};
use crate::lint::lint_allowed_signers;
use crate::mon_policy::parse_mon_policy;
use crate::revoked::parse_revoked_keys;
use crate::slice::{load_dir, now_unix_s};
use crate::{ALLOWED_SIGNERS, MON_POLICY, REVOKED_KEYS};

/// Which policy file a path is, judged by its file name: a name starting with
/// `allowed_signers`, `mon_policy` or `revoked_keys` (so `allowed_signers.new` can be checked
/// before it is moved into place).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// `allowed_signers*`
    AllowedSigners,
    /// `mon_policy*`
    MonPolicy,
    /// `revoked_keys*`
    RevokedKeys,
}

impl FileKind {
    /// The kind of a path by its file name, if it names a policy file.
    pub fn of(path: &Path) -> Option<FileKind> {
        let name = path.file_name()?.to_str()?;
        if name.starts_with(ALLOWED_SIGNERS) {
            Some(FileKind::AllowedSigners)
        } else if name.starts_with(MON_POLICY) {
            Some(FileKind::MonPolicy)
        } else if name.starts_with(REVOKED_KEYS) {
            Some(FileKind::RevokedKeys)
        } else {
            None
        }
    }
}

/// The result of checking paths.
#[derive(Debug, Clone, Default)]
pub struct CheckReport {
    /// Errors and warnings, sorted by file, line and column.
    pub diagnostics: Vec<Diagnostic>,
    /// Paths (or files inside slice directories) that could not be read at all.
    pub unreadable: Vec<PathBuf>,
}

impl CheckReport {
    /// Number of errors.
    pub fn errors(&self) -> usize {
        self.diagnostics.iter().filter(|d| d.is_error()).count()
    }

    /// Number of warnings.
    pub fn warnings(&self) -> usize {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Warning)
            .count()
    }
}

/// Checks each path: a directory is a slice directory (it holds a policy file) or a directory
/// of slice directories (`slices/`); a file is checked as the policy file its name says.
/// Returns all errors and warnings, including "cannot read" errors.
pub fn check_paths(paths: &[PathBuf]) -> Vec<Diagnostic> {
    check_paths_report(paths, now_unix_s()).diagnostics
}

/// Like [`check_paths`], at time `now_unix_s`, also telling which paths could not be read.
pub fn check_paths_report(paths: &[PathBuf], now_unix_s: u64) -> CheckReport {
    let mut report = CheckReport::default();
    for path in paths {
        check_one(path, now_unix_s, &mut report);
    }
    report
        .diagnostics
        .sort_by(|a, b| (&a.file, a.line, a.col).cmp(&(&b.file, b.line, b.col)));
    report
}

fn is_slice_dir(dir: &Path) -> bool {
    [ALLOWED_SIGNERS, MON_POLICY, REVOKED_KEYS]
        .iter()
        .any(|n| dir.join(n).exists())
}

/// Records that `path` could not be read.
fn unreadable(report: &mut CheckReport, path: &Path, e: &std::io::Error) {
    report.unreadable.push(path.to_path_buf());
    report
        .diagnostics
        .push(Diagnostic::error(path, 0, 0, format!("cannot read: {e}")));
}

fn check_one(path: &Path, now: u64, report: &mut CheckReport) {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) => return unreadable(report, path, &e),
    };
    if meta.is_dir() {
        if is_slice_dir(path) {
            check_slice_dir(path, now, report);
        } else {
            check_slice_dirs_in(path, now, report);
        }
        return;
    }
    check_file(path, now, report);
}

/// Checks every slice directory inside `path` (not hidden ones), in name order; a directory
/// with none is an error.
fn check_slice_dirs_in(path: &Path, now: u64, report: &mut CheckReport) {
    let entries = match std::fs::read_dir(path) {
        Ok(rd) => rd,
        Err(e) => return unreadable(report, path, &e),
    };
    let mut subdirs: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .filter(|p| {
            !p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with('.'))
        })
        .collect();
    subdirs.sort();
    if subdirs.is_empty() {
        report.diagnostics.push(Diagnostic::error(
            path,
            0,
            0,
            "not a slice directory (no allowed_signers) and no slice directories inside",
        ));
    }
    for d in subdirs {
        check_slice_dir(&d, now, report);
    }
}

fn check_slice_dir(dir: &Path, now: u64, report: &mut CheckReport) {
    let outcome = load_dir(dir, now);
    if outcome.unreadable {
        report.unreadable.push(dir.to_path_buf());
    }
    match outcome.result {
        Ok((_, warnings)) => report.diagnostics.extend(warnings),
        Err(errors) => {
            report.diagnostics.extend(errors);
            // Still show the per-file warnings of the files that parse.
            for name in [ALLOWED_SIGNERS, MON_POLICY, REVOKED_KEYS] {
                let p = dir.join(name);
                if let Ok(bytes) = read_limited(&p) {
                    report.diagnostics.extend(file_warnings(&p, &bytes, now));
                }
            }
        }
    }
}

/// Warnings of a file that parses on its own (nothing for a file with errors).
fn file_warnings(path: &Path, bytes: &[u8], now: u64) -> Vec<Diagnostic> {
    match FileKind::of(path) {
        Some(FileKind::AllowedSigners) => match parse_allowed_signers(path, bytes) {
            Ok((a, mut w)) => {
                w.extend(lint_allowed_signers(&a, now));
                w
            }
            Err(_) => Vec::new(),
        },
        Some(FileKind::MonPolicy) => parse_mon_policy(path, bytes)
            .map(|(_, w)| w)
            .unwrap_or_default(),
        Some(FileKind::RevokedKeys) => parse_revoked_keys(path, bytes)
            .map(|(_, w)| w)
            .unwrap_or_default(),
        None => Vec::new(),
    }
}

/// Records a policy file that could not be read, with why.
fn unreadable_file(report: &mut CheckReport, path: &Path, e: ReadError) {
    report.unreadable.push(path.to_path_buf());
    let message = match e {
        ReadError::NotFound => "cannot read: no such file".to_string(),
        ReadError::Other(m) => m,
    };
    report
        .diagnostics
        .push(Diagnostic::error(path, 0, 0, message));
}

fn check_file(path: &Path, now: u64, report: &mut CheckReport) {
    let Some(kind) = FileKind::of(path) else {
        report.diagnostics.push(Diagnostic::error(
            path,
            0,
            0,
            "unknown policy file name: expected allowed_signers, mon_policy or revoked_keys (or a name starting with one of them)",
        ));
        return;
    };
    let bytes = match read_limited(path) {
        Ok(b) => b,
        Err(e) => return unreadable_file(report, path, e),
    };
    let errors = match kind {
        FileKind::AllowedSigners => parse_allowed_signers(path, &bytes).err(),
        FileKind::MonPolicy => parse_mon_policy(path, &bytes).err(),
        FileKind::RevokedKeys => parse_revoked_keys(path, &bytes).err(),
    };
    match errors {
        Some(e) => report.diagnostics.extend(e),
        None => report.diagnostics.extend(file_warnings(path, &bytes, now)),
    }
}
