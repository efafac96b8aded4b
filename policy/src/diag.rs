//! Diagnostics: errors and warnings that name a file, a line and a column.

use std::fmt;
use std::path::{Path, PathBuf};

/// How bad a [`Diagnostic`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// The file is rejected whole; the last good policy (or none) stays in force.
    Error,
    /// The file is accepted, but an admin should look at it.
    Warning,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        })
    }
}

/// One error or warning about a policy file.
///
/// Displays as `file:line:col: error: message` (or `warning:`), the format compilers use, so
/// editors can jump to it. `line` and `col` are 1-based; a diagnostic about the whole file
/// (unreadable, too large, missing) has `line == 0` and displays as `file: error: message`.
/// Columns count characters, not bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The file the diagnostic is about.
    pub file: PathBuf,
    /// 1-based line number, 0 for the whole file.
    pub line: usize,
    /// 1-based column (characters), 0 for the whole file or line.
    pub col: usize,
    /// Error or warning.
    pub severity: Severity,
    /// What is wrong and, where possible, what to do.
    pub message: String,
}

impl Diagnostic {
    /// An error at `file:line:col`.
    pub fn error(file: &Path, line: usize, col: usize, message: impl Into<String>) -> Self {
        Diagnostic {
            file: file.to_path_buf(),
            line,
            col,
            severity: Severity::Error,
            message: message.into(),
        }
    }

    /// A warning at `file:line:col`.
    pub fn warning(file: &Path, line: usize, col: usize, message: impl Into<String>) -> Self {
        Diagnostic {
            file: file.to_path_buf(),
            line,
            col,
            severity: Severity::Warning,
            message: message.into(),
        }
    }

    /// True for [`Severity::Error`].
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let file = self.file.display();
        match (self.line, self.col) {
            (0, _) => write!(f, "{file}: {}: {}", self.severity, self.message),
            (line, 0) => write!(f, "{file}:{line}: {}: {}", self.severity, self.message),
            (line, col) => write!(
                f,
                "{file}:{line}:{col}: {}: {}",
                self.severity, self.message
            ),
        }
    }
}

/// A slice policy could not be loaded: every error found, in file and line order.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", summarize(.diagnostics))]
pub struct PolicyLoadError {
    /// All error diagnostics (at least one).
    pub diagnostics: Vec<Diagnostic>,
}

fn summarize(diags: &[Diagnostic]) -> String {
    match diags.split_first() {
        None => "policy rejected".to_string(),
        Some((first, [])) => first.to_string(),
        Some((first, rest)) => format!("{first} (and {} more errors)", rest.len()),
    }
}
