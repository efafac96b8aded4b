//! Size-limited reading of policy files and splitting them into checked lines.

use std::io::Read;
use std::path::Path;

use crate::diag::Diagnostic;
use crate::{MAX_FILE_BYTES, MAX_LINE_BYTES};

/// One line of a policy file: valid UTF-8, within [`MAX_LINE_BYTES`], without its line end.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Line<'a> {
    /// 1-based line number.
    pub no: usize,
    /// The text, without `\n` or a trailing `\r`.
    pub text: &'a str,
}

impl Line<'_> {
    /// 1-based character column of a byte offset into the line.
    pub fn col(&self, byte_off: usize) -> usize {
        col_of(self.text, byte_off)
    }
}

/// 1-based character column of `byte_off` in `text` (clamped to the end of the text).
pub(crate) fn col_of(text: &str, byte_off: usize) -> usize {
    let off = byte_off.min(text.len());
    text.char_indices().take_while(|(i, _)| *i < off).count() + 1
}

/// Parses every line of a policy file that is neither blank nor a comment with `parse`, in
/// file order: the results of the lines that parse, and every error — first those of
/// [`split_lines`], then each failing line's `(byte offset, message)` at its column.
pub(crate) fn parse_lines<'a, T>(
    file: &Path,
    bytes: &'a [u8],
    mut parse: impl FnMut(Line<'a>) -> Result<T, (usize, String)>,
) -> (Vec<T>, Vec<Diagnostic>) {
    let mut errors = Vec::new();
    let mut out = Vec::new();
    for line in split_lines(file, bytes, &mut errors) {
        if is_blank_or_comment(line.text) {
            continue;
        }
        match parse(line) {
            Ok(v) => out.push(v),
            Err((off, msg)) => errors.push(Diagnostic::error(file, line.no, line.col(off), msg)),
        }
    }
    (out, errors)
}

/// Splits a file into lines. Pushes an error (and returns no lines) when the file is larger
/// than [`MAX_FILE_BYTES`]; pushes an error per line that is too long, not UTF-8 or contains a
/// NUL byte, and leaves that line out.
pub(crate) fn split_lines<'a>(
    file: &Path,
    bytes: &'a [u8],
    errors: &mut Vec<Diagnostic>,
) -> Vec<Line<'a>> {
    if bytes.len() > MAX_FILE_BYTES {
        errors.push(Diagnostic::error(
            file,
            0,
            0,
            format!(
                "file is larger than {} bytes; policy files are limited to 1 MiB",
                MAX_FILE_BYTES
            ),
        ));
        return Vec::new();
    }
    let mut out = Vec::new();
    for (idx, raw) in bytes.split(|b| *b == b'\n').enumerate() {
        let no = idx + 1;
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        match line_text(file, no, raw) {
            Ok(text) => out.push(Line { no, text }),
            Err(e) => errors.push(e),
        }
    }
    out
}

/// The text of line `no` (`raw`, without its line end), or the error when it is too long,
/// not UTF-8 or contains a NUL byte.
fn line_text<'a>(file: &Path, no: usize, raw: &'a [u8]) -> Result<&'a str, Diagnostic> {
    if raw.len() > MAX_LINE_BYTES {
        return Err(Diagnostic::error(
            file,
            no,
            0,
            format!("line is longer than {MAX_LINE_BYTES} bytes"),
        ));
    }
    let text = match std::str::from_utf8(raw) {
        Ok(t) => t,
        Err(e) => {
            let good = raw.get(..e.valid_up_to()).unwrap_or_default();
            let col = std::str::from_utf8(good)
                .map(|s| s.chars().count() + 1)
                .unwrap_or(1);
            return Err(Diagnostic::error(file, no, col, "line is not valid UTF-8"));
        }
    };
    if let Some(pos) = text.find('\0') {
        return Err(Diagnostic::error(
            file,
            no,
            col_of(text, pos),
            "line contains a NUL byte",
        ));
    }
    Ok(text)
}

/// Why a policy file could not be read.
#[derive(Debug)]
pub(crate) enum ReadError {
    /// The file does not exist.
    NotFound,
    /// Anything else: permission, a directory, too large, I/O error. Already a user message.
    Other(String),
}

/// Reads at most [`MAX_FILE_BYTES`] + 1 bytes of a regular file (never blocks on a FIFO).
pub(crate) fn read_limited(path: &Path) -> Result<Vec<u8>, ReadError> {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(ReadError::NotFound),
        Err(e) => return Err(ReadError::Other(format!("cannot read: {e}"))),
    };
    if !meta.is_file() {
        return Err(ReadError::Other(
            "not a regular file; expected a policy file".to_string(),
        ));
    }
    let f = std::fs::File::open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => ReadError::NotFound,
        _ => ReadError::Other(format!("cannot read: {e}")),
    })?;
    // The mode of the file actually opened (not of whatever the path named before).
    let opened = f
        .metadata()
        .map_err(|e| ReadError::Other(format!("cannot read: {e}")))?;
    refuse_writable(path, &opened)?;
    let mut buf = Vec::new();
    f.take(MAX_FILE_BYTES as u64 + 1)
        .read_to_end(&mut buf)
        .map_err(|e| ReadError::Other(format!("cannot read: {e}")))?;
    Ok(buf)
}

/// A policy file that group or others may write, or that anyone but root or this process's
/// user owns, is refused (the rules and their messages: [`mon_keys::file_mode`]); the slice
/// keeps its last good policy.
fn refuse_writable(path: &Path, meta: &std::fs::Metadata) -> Result<(), ReadError> {
    let consequence = "can change who may do what in this slice, so the slice keeps its last good policy (or, without one, denies everything) until you fix it";
    mon_keys::file_mode::refuse_writable("policy file", path, meta, consequence)
        .map_err(|e| ReadError::Other(e.to_string()))?;
    mon_keys::file_mode::refuse_foreign_owner("policy file", path, meta, consequence)
        .map_err(|e| ReadError::Other(e.to_string()))
}

/// Skips spaces and tabs from byte offset `i`; returns the new offset.
pub(crate) fn skip_ws(text: &str, mut i: usize) -> usize {
    let b = text.as_bytes();
    while i < b.len() && (b[i] == b' ' || b[i] == b'\t') {
        i += 1;
    }
    i
}

/// The end (byte offset) of the whitespace-delimited token starting at `i`.
pub(crate) fn token_end(text: &str, mut i: usize) -> usize {
    let b = text.as_bytes();
    while i < b.len() && b[i] != b' ' && b[i] != b'\t' {
        i += 1;
    }
    i
}

/// True for a blank line or a `#` comment line.
pub(crate) fn is_blank_or_comment(text: &str) -> bool {
    let t = text.trim_start_matches([' ', '\t']);
    t.is_empty() || t.starts_with('#')
}
