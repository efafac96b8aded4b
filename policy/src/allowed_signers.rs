//! `allowed_signers`: OpenSSH's `ssh-keygen -Y` format, verbatim.
//!
//! `principals [options] keytype base64 [comment]` per line; `#` comments and blank lines are
//! skipped. `principals` is a comma-separated pattern list (it may be double-quoted). Options
//! are `namespaces="…"` (a pattern list of namespaces, i.e. MON capability classes),
//! `valid-after="…"` and `valid-before="…"` (values must be quoted, as ssh-keygen requires);
//! option names are case-insensitive. `cert-authority` is recognised but rejected: MON does not
//! support certificates yet. Only `ssh-ed25519` keys are accepted.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use ssh_key::PublicKey;

use crate::diag::Diagnostic;
use crate::input::{parse_lines, skip_ws, token_end, Line};
use crate::keyline::{ed25519_raw, is_key_type, parse_key, shorten, KeyError, ParsedKey};
use crate::options::{parse_options, OptValue, RawOption};
use crate::pattern::PatternList;
use crate::validity::{parse_time, ParsedTime, Validity};

/// One key line of `allowed_signers`.
#[derive(Debug, Clone)]
pub struct SignerLine {
    /// 1-based line number.
    pub line: usize,
    /// The principal pattern list.
    pub principals: PatternList,
    /// Column of the principals.
    pub principals_col: usize,
    /// `namespaces="…"`; `None` grants every namespace (as in ssh-keygen).
    pub namespaces: Option<PatternList>,
    /// Column of the `namespaces` option, 0 when absent.
    pub namespaces_col: usize,
    /// `valid-after` / `valid-before`.
    pub validity: Validity,
    /// Column of `valid-after`, 0 when absent.
    pub valid_after_col: usize,
    /// Column of `valid-before`, 0 when absent.
    pub valid_before_col: usize,
    /// The Ed25519 public key.
    pub key: PublicKey,
    pub(crate) key_raw: [u8; 32],
    /// Column of the key type.
    pub key_col: usize,
    /// The comment after the key.
    pub comment: String,
}

impl SignerLine {
    /// True when the line's namespaces grant `ns` (no `namespaces=` grants all).
    pub fn grants_namespace(&self, ns: &str) -> bool {
        self.namespaces.as_ref().is_none_or(|l| l.matches(ns))
    }
}

/// A parsed `allowed_signers` file.
#[derive(Debug, Clone)]
pub struct AllowedSigners {
    /// The file it was read from.
    pub path: PathBuf,
    /// The key lines, in file order.
    pub lines: Vec<SignerLine>,
    by_key: HashMap<[u8; 32], Vec<usize>>,
}

impl AllowedSigners {
    /// The lines listing `key`, in file order (none for a non-Ed25519 key).
    pub fn lines_for_key<'a>(
        &'a self,
        key: &PublicKey,
    ) -> impl Iterator<Item = &'a SignerLine> + 'a {
        let idx: &[usize] = ed25519_raw(key)
            .and_then(|raw| self.by_key.get(&raw))
            .map(|v| v.as_slice())
            .unwrap_or(&[]);
        idx.iter().filter_map(|&i| self.lines.get(i))
    }
}

/// Parses `allowed_signers` bytes. `Ok` carries the file and its warnings; `Err` carries every
/// error (the file is rejected whole).
pub fn parse_allowed_signers(
    path: &Path,
    bytes: &[u8],
) -> Result<(AllowedSigners, Vec<Diagnostic>), Vec<Diagnostic>> {
    let mut warnings = Vec::new();
    let (lines, errors) = parse_lines(path, bytes, |line| parse_line(path, line, &mut warnings));
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut by_key: HashMap<[u8; 32], Vec<usize>> = HashMap::new();
    for (i, l) in lines.iter().enumerate() {
        by_key.entry(l.key_raw).or_default().push(i);
    }
    Ok((
        AllowedSigners {
            path: path.to_path_buf(),
            lines,
            by_key,
        },
        warnings,
    ))
}

type LineError = (usize, String);

/// Reads the principals field at `i`: returns (text, byte offset of its text, end offset).
pub(crate) fn parse_principals(text: &str, i: usize) -> Result<(&str, usize, usize), LineError> {
    if text.as_bytes().get(i) == Some(&b'"') {
        let body = i + 1;
        let close = text
            .get(body..)
            .and_then(|r| r.find('"'))
            .map(|q| body + q)
            .ok_or((i, "missing end quote in principals".to_string()))?;
        let p = text.get(body..close).unwrap_or_default();
        Ok((p, body, close + 1))
    } else {
        let end = token_end(text, i);
        let p = text.get(i..end).unwrap_or_default();
        if let Some(q) = p.find('"') {
            return Err((
                i + q,
                "unexpected '\"' in principals (quote the whole list)".to_string(),
            ));
        }
        Ok((p, i, end))
    }
}

/// Parses a principals pattern list at `i`; returns the list, its offset and the end offset.
pub(crate) fn principals_at(
    text: &str,
    i: usize,
) -> Result<(PatternList, usize, usize), LineError> {
    let (p, p_off, end) = parse_principals(text, i)?;
    if p.is_empty() {
        return Err((i, "empty principals".to_string()));
    }
    let list = PatternList::parse(p).map_err(|(o, m)| (p_off + o, m))?;
    Ok((list, p_off, end))
}

fn parse_line(
    path: &Path,
    line: Line<'_>,
    warnings: &mut Vec<Diagnostic>,
) -> Result<SignerLine, LineError> {
    let t = line.text;
    let i = skip_ws(t, 0);
    let (principals, p_off, after) = principals_at(t, i)?;
    let j = skip_ws(t, after);
    if j == after && after < t.len() {
        return Err((after, "expected a space after the principals".to_string()));
    }
    if j >= t.len() {
        return Err((j, "missing key after the principals".to_string()));
    }
    let first = t.get(j..token_end(t, j)).unwrap_or_default();
    let mut opts = SignerOptions {
        key_start: j,
        ..SignerOptions::default()
    };
    if !is_key_type(first) {
        opts = parse_signer_options(path, line, j, warnings)?;
    }
    let key = parse_key(t, opts.key_start).map_err(key_error)?;
    Ok(assemble(line, principals, p_off, opts, key))
}

/// Builds the parsed line from its three parts: principals (at byte `p_off`), options, key.
fn assemble(
    line: Line<'_>,
    principals: PatternList,
    p_off: usize,
    opts: SignerOptions,
    key: ParsedKey,
) -> SignerLine {
    SignerLine {
        line: line.no,
        principals,
        principals_col: line.col(p_off),
        namespaces: opts.namespaces,
        namespaces_col: opts.namespaces_col,
        validity: opts.validity,
        valid_after_col: opts.valid_after_col,
        valid_before_col: opts.valid_before_col,
        key_col: line.col(key.off),
        key: key.key,
        key_raw: key.raw,
        comment: key.comment,
    }
}

/// The options of a signer line (before its key), with their columns (0: absent).
#[derive(Default)]
struct SignerOptions {
    namespaces: Option<PatternList>,
    namespaces_col: usize,
    validity: Validity,
    valid_after_col: usize,
    valid_before_col: usize,
    /// Byte offset where the key starts, after the options.
    key_start: usize,
}

/// Parses the options at byte `j` of `line` (`namespaces=`, `valid-after=`, `valid-before=`).
fn parse_signer_options(
    path: &Path,
    line: Line<'_>,
    j: usize,
    warnings: &mut Vec<Diagnostic>,
) -> Result<SignerOptions, LineError> {
    let (opts, end) = parse_options(line.text, j)?;
    let mut out = SignerOptions {
        key_start: end,
        ..SignerOptions::default()
    };
    for opt in opts {
        let name = opt.name.to_ascii_lowercase();
        match name.as_str() {
            "cert-authority" => return Err(cert_authority_refused(&opt)),
            "namespaces" => apply_namespaces(line, &opt, &mut out)?,
            "valid-after" | "valid-before" => {
                apply_validity(path, line, &name, &opt, &mut out, warnings)?;
            }
            _ => return Err(unknown_option(&opt)),
        }
    }
    check_validity_order(&out.validity, j)?;
    Ok(out)
}

/// The refusal of `cert-authority` (not supported yet).
fn cert_authority_refused(opt: &RawOption) -> LineError {
    (
        opt.off,
        "cert-authority is not supported yet in MON: list each user's plain ssh-ed25519 key instead"
            .to_string(),
    )
}

/// The refusal of an option allowed_signers does not know.
fn unknown_option(opt: &RawOption) -> LineError {
    (
        opt.off,
        format!(
            "unknown option \"{}\" (allowed_signers options: namespaces=, valid-after=, valid-before=)",
            shorten(&opt.name)
        ),
    )
}

/// Applies the `namespaces="…"` option (at most one per line).
fn apply_namespaces(
    line: Line<'_>,
    opt: &RawOption,
    out: &mut SignerOptions,
) -> Result<(), LineError> {
    if out.namespaces.is_some() {
        return Err((opt.off, "multiple \"namespaces\" clauses".to_string()));
    }
    let v = quoted_value(
        &opt.name,
        opt.off,
        opt.value.as_ref(),
        "mon-query@mon,mon-read@mon",
    )?;
    let list = PatternList::parse(&v.text).map_err(|(o, m)| (v.line_off(o), m))?;
    out.namespaces = Some(list);
    out.namespaces_col = line.col(opt.off);
    Ok(())
}

/// Refuses a window whose `valid-before` is not after its `valid-after` (reported at byte `j`,
/// where the options start).
fn check_validity_order(validity: &Validity, j: usize) -> Result<(), LineError> {
    if let (Some(a), Some(b)) = (validity.after, validity.before) {
        if b <= a {
            return Err((
                j,
                "\"valid-before\" time is not after \"valid-after\"".to_string(),
            ));
        }
    }
    Ok(())
}

/// Applies one `valid-after=` / `valid-before=` option (`name` lower-cased); warns when the
/// time has no zone.
fn apply_validity(
    path: &Path,
    line: Line<'_>,
    name: &str,
    opt: &RawOption,
    out: &mut SignerOptions,
    warnings: &mut Vec<Diagnostic>,
) -> Result<(), LineError> {
    let after = name == "valid-after";
    let slot = if after {
        &mut out.validity.after
    } else {
        &mut out.validity.before
    };
    if slot.is_some() {
        return Err((opt.off, format!("multiple \"{name}\" clauses")));
    }
    let v = quoted_value(&opt.name, opt.off, opt.value.as_ref(), "20250101Z")?;
    let parsed = parse_validity_time(name, v)?;
    if !parsed.explicit_utc {
        warnings.push(no_zone_warning(path, line, name, v));
    }
    *slot = Some(parsed.unix_s);
    if after {
        out.valid_after_col = line.col(opt.off);
    } else {
        out.valid_before_col = line.col(opt.off);
    }
    Ok(())
}

/// Parses the time of a `valid-after` / `valid-before` option; the epoch itself is refused.
fn parse_validity_time(name: &str, v: &OptValue) -> Result<ParsedTime, LineError> {
    let parsed = parse_time(&v.text)
        .map_err(|m| (v.line_off(0), format!("invalid \"{name}\" time: {m}")))?;
    if parsed.unix_s == 0 {
        return Err((
            v.line_off(0),
            format!("invalid \"{name}\" time: the epoch itself is not allowed"),
        ));
    }
    Ok(parsed)
}

/// The warning for a time without a zone (MON and ssh-keygen read it differently).
fn no_zone_warning(path: &Path, line: Line<'_>, name: &str, v: &OptValue) -> Diagnostic {
    Diagnostic::warning(
        path,
        line.no,
        line.col(v.line_off(0)),
        format!(
            "{name} time \"{}\" has no zone: MON reads it as UTC, ssh-keygen as local time; append Z so both agree",
            v.text
        ),
    )
}

/// The message for a key MON cannot use.
fn key_error(e: KeyError) -> LineError {
    match e {
        KeyError::Unsupported { off, key_type } if key_type.ends_with("-cert-v01@openssh.com") => (
            off,
            format!("{key_type}: certificates are not supported yet in MON; list the plain ssh-ed25519 key"),
        ),
        KeyError::Unsupported { off, key_type } => (
            off,
            format!("MON needs Ed25519 keys: this line has a {key_type} key (make one with ssh-keygen -t ed25519)"),
        ),
        KeyError::Invalid { off, message } => (off, message),
    }
}

/// The value of an option that must be written in double quotes (as ssh-keygen requires).
pub(crate) fn quoted_value<'v>(
    name: &str,
    off: usize,
    value: Option<&'v OptValue>,
    example: &str,
) -> Result<&'v OptValue, LineError> {
    match value {
        Some(v) if v.quoted => Ok(v),
        Some(v) => Err((
            v.line_off(0),
            format!("missing start quote: write {name}=\"{}\"", v.text),
        )),
        None => Err((
            off,
            format!("option \"{name}\" needs a value: {name}=\"{example}\""),
        )),
    }
}
