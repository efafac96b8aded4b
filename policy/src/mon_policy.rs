//! `mon_policy`: MON-only narrowing, one `PRINCIPAL-PATTERNS OPTIONS` per line.
//!
//! Options use the `authorized_keys` grammar (comma-separated, no spaces, string values in
//! double quotes): `from="CIDR,…"`, `command="pattern"`, `grep-paths="/glob,…"`,
//! `push-dirs="/dir,…"`, `nodes="pattern,…"`, `max-fanout=N`, `max-lifetime=SECONDS`,
//! `run-as="user"`, and the flag `allow-setid` (a push may land setuid, setgid or sticky
//! bits). Every line whose principal patterns match a principal applies to it, and
//! options only narrow. An unknown option, or any other error, rejects the whole file.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use ipnet::IpNet;

use crate::allowed_signers::principals_at;
use crate::diag::Diagnostic;
use crate::input::{parse_lines, skip_ws, Line};
use crate::keyline::shorten;
use crate::options::{parse_options, OptValue, RawOption};
use crate::paths::normalize_abs_path;
use crate::pattern::PatternList;

/// One entry of `from="…"`: an address or network, possibly negated with `!`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FromEntry {
    /// `!CIDR`: a client in this network is refused.
    pub negated: bool,
    /// The network (a single address is a /32 or /128).
    pub net: IpNet,
}

/// The option names `mon_policy` knows, in the order they are checked.
pub const OPTION_NAMES: [&str; 9] = [
    "from",
    "nodes",
    "command",
    "grep-paths",
    "push-dirs",
    "max-fanout",
    "max-lifetime",
    "run-as",
    "allow-setid",
];

/// The options of [`OPTION_NAMES`] that are flags, written without a value.
pub const FLAG_OPTIONS: [&str; 1] = ["allow-setid"];

/// One line of `mon_policy`.
#[derive(Debug, Clone, Default)]
pub struct PolicyLine {
    /// 1-based line number.
    pub line: usize,
    /// The principals it applies to.
    pub principals: Option<PatternList>,
    /// Column of the principals.
    pub principals_col: usize,
    /// `from="…"`: client addresses allowed at the entry node.
    pub from: Option<Vec<FromEntry>>,
    /// `command="…"`: glob over the exec command line joined by spaces.
    pub command: Option<String>,
    /// `grep-paths="…"`: globs (or directories, for entries without wildcards) grep may read.
    pub grep_paths: Option<Vec<String>>,
    /// `push-dirs="…"`: normalised directories a push may write below.
    pub push_dirs: Option<Vec<String>>,
    /// `nodes="…"`: node name patterns where operations may run.
    pub nodes: Option<PatternList>,
    /// `max-fanout=N`.
    pub max_fanout: Option<u32>,
    /// `max-lifetime=SECONDS`.
    pub max_lifetime: Option<u64>,
    /// `run-as="user"`.
    pub run_as: Option<String>,
    /// `allow-setid`: a push may land a file with setuid, setgid or sticky bits (refused
    /// otherwise).
    pub allow_setid: bool,
    /// Column of each option present, by name.
    cols: Vec<(&'static str, usize)>,
}

impl PolicyLine {
    /// True when the line applies to `principal`.
    pub fn applies_to(&self, principal: &str) -> bool {
        self.principals
            .as_ref()
            .is_some_and(|p| p.matches(principal))
    }

    /// Column of option `name` on this line (or of the principals when absent).
    pub fn col_of(&self, name: &str) -> usize {
        self.cols
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, c)| *c)
            .unwrap_or(self.principals_col)
    }

    /// True when the line narrows exec (from, nodes, command, max-fanout or max-lifetime).
    pub fn narrows_exec(&self) -> bool {
        self.from.is_some()
            || self.nodes.is_some()
            || self.command.is_some()
            || self.max_fanout.is_some()
            || self.max_lifetime.is_some()
    }

    /// True when `addr` passes this line's `from=` (true when the line has none).
    pub fn from_allows(&self, addr: IpAddr) -> bool {
        let Some(entries) = &self.from else {
            return true;
        };
        let addr = addr.to_canonical();
        let mut positive = false;
        for e in entries {
            if e.net.contains(&addr) {
                if e.negated {
                    return false;
                }
                positive = true;
            }
        }
        positive
    }
}

/// A parsed `mon_policy` file.
#[derive(Debug, Clone, Default)]
pub struct MonPolicy {
    /// The file it was read from.
    pub path: PathBuf,
    /// The lines, in file order.
    pub lines: Vec<PolicyLine>,
}

impl MonPolicy {
    /// The lines applying to `principal`, in file order.
    pub fn applicable<'a>(
        &'a self,
        principal: &'a str,
    ) -> impl Iterator<Item = &'a PolicyLine> + 'a {
        self.lines.iter().filter(move |l| l.applies_to(principal))
    }
}

/// Parses `mon_policy` bytes. `Ok` carries the file and warnings; `Err` every error.
pub fn parse_mon_policy(
    path: &Path,
    bytes: &[u8],
) -> Result<(MonPolicy, Vec<Diagnostic>), Vec<Diagnostic>> {
    let mut warnings = Vec::new();
    let (lines, errors) = parse_lines(path, bytes, |line| {
        let l = parse_line(line)?;
        if l.cols.is_empty() {
            warnings.push(Diagnostic::warning(
                path,
                line.no,
                l.principals_col,
                "line has no options and narrows nothing",
            ));
        }
        Ok(l)
    });
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok((
        MonPolicy {
            path: path.to_path_buf(),
            lines,
        },
        warnings,
    ))
}

type LineError = (usize, String);

fn parse_line(line: Line<'_>) -> Result<PolicyLine, LineError> {
    let t = line.text;
    let i = skip_ws(t, 0);
    let (principals, p_off, after) = principals_at(t, i)?;
    let mut out = PolicyLine {
        line: line.no,
        principals: Some(principals),
        principals_col: line.col(p_off),
        ..PolicyLine::default()
    };
    let j = skip_ws(t, after);
    if j == after && after < t.len() {
        return Err((after, "expected a space after the principals".to_string()));
    }
    if j >= t.len() || t.as_bytes().get(j) == Some(&b'#') {
        return Ok(out);
    }
    let (opts, end) = parse_options(t, j)?;
    let rest = skip_ws(t, end);
    if rest < t.len() && t.as_bytes().get(rest) != Some(&b'#') {
        return Err((
            rest,
            "unexpected text after the options (options are separated by commas, without spaces)"
                .to_string(),
        ));
    }
    for opt in opts {
        apply_option(&mut out, &opt, line)?;
    }
    Ok(out)
}

fn apply_option(out: &mut PolicyLine, opt: &RawOption, line: Line<'_>) -> Result<(), LineError> {
    let name = known_option(opt)?;
    if out.cols.iter().any(|(n, _)| *n == name) {
        return Err((
            opt.off,
            format!("option \"{name}\" given twice on this line"),
        ));
    }
    out.cols.push((name, line.col(opt.off)));
    if FLAG_OPTIONS.contains(&name) {
        if opt.value.is_some() {
            return Err((
                opt.off,
                format!("option \"{name}\" is a flag and takes no value"),
            ));
        }
        out.allow_setid = true;
        return Ok(());
    }
    let value = match &opt.value {
        Some(v) => v,
        None => {
            return Err((
                opt.off,
                format!("option \"{name}\" needs a value ({name}=…)"),
            ))
        }
    };
    match name {
        "max-fanout" | "max-lifetime" => apply_number(out, name, value),
        _ => apply_quoted(out, opt, name, value),
    }
}

/// Applies a numeric option (`max-fanout`, `max-lifetime`).
fn apply_number(out: &mut PolicyLine, name: &str, value: &OptValue) -> Result<(), LineError> {
    let n = number(value, name)?;
    if name == "max-fanout" {
        out.max_fanout = Some(u32::try_from(n).map_err(|_| {
            (
                value.line_off(0),
                format!("{name} is too large (at most {})", u32::MAX),
            )
        })?);
    } else {
        out.max_lifetime = Some(n);
    }
    Ok(())
}

/// The option's name as listed in [`OPTION_NAMES`] (matched case-insensitively).
fn known_option(opt: &RawOption) -> Result<&'static str, LineError> {
    let lower = opt.name.to_ascii_lowercase();
    OPTION_NAMES
        .iter()
        .copied()
        .find(|n| *n == lower)
        .ok_or_else(|| {
            (
                opt.off,
                format!(
                    "unknown option \"{}\" (mon_policy options: {})",
                    shorten(&opt.name),
                    OPTION_NAMES
                        .iter()
                        .map(|n| if FLAG_OPTIONS.contains(n) {
                            n.to_string()
                        } else {
                            format!("{n}=")
                        })
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
        })
}

/// Applies an option whose value must be quoted (`from`, `command`, `grep-paths`,
/// `push-dirs`, `nodes`, `run-as`).
fn apply_quoted(
    out: &mut PolicyLine,
    opt: &RawOption,
    name: &str,
    value: &OptValue,
) -> Result<(), LineError> {
    if !value.quoted {
        return Err((
            value.line_off(0),
            format!(
                "option \"{name}\" needs a quoted value: {name}=\"{}\"",
                value.text
            ),
        ));
    }
    match name {
        "from" => out.from = Some(parse_from(value)?),
        "command" => out.command = Some(non_empty(value, "empty command pattern")?),
        "grep-paths" => out.grep_paths = Some(abs_path_list(value, name, true)?),
        "push-dirs" => out.push_dirs = Some(abs_path_list(value, name, false)?),
        "nodes" => {
            let text = non_empty(value, "empty nodes pattern list")?;
            let list = PatternList::parse(&text).map_err(|(o, m)| (value.line_off(o), m))?;
            out.nodes = Some(list);
        }
        "run-as" => {
            check_user(&value.text).map_err(|m| (value.line_off(0), m))?;
            out.run_as = Some(value.text.clone());
        }
        _ => return Err((opt.off, format!("unknown option \"{name}\""))),
    }
    Ok(())
}

/// The value's text; an empty one is refused with `empty`.
fn non_empty(value: &OptValue, empty: &str) -> Result<String, LineError> {
    if value.text.is_empty() {
        return Err((value.line_off(0), empty.to_string()));
    }
    Ok(value.text.clone())
}

/// A comma-separated list of absolute paths, each normalized (`grep-paths`, `push-dirs`);
/// `*` and `?` only where `patterns` allows them.
fn abs_path_list(value: &OptValue, name: &str, patterns: bool) -> Result<Vec<String>, LineError> {
    let mut out = Vec::new();
    for (off, item) in split_list(value, name)? {
        if !patterns && item.contains(['*', '?']) {
            return Err((
                value.line_off(off),
                format!("{name} takes directories, not patterns"),
            ));
        }
        let norm = normalize_abs_path(item).map_err(|m| {
            (
                value.line_off(off),
                format!("{name} entry \"{}\": {m}", shorten(item)),
            )
        })?;
        out.push(norm);
    }
    Ok(out)
}

/// A positive integer, quoted or not.
fn number(value: &OptValue, name: &str) -> Result<u64, LineError> {
    let t = value.text.as_str();
    if t.is_empty() || !t.bytes().all(|c| c.is_ascii_digit()) {
        return Err((
            value.line_off(0),
            format!("{name} must be a positive integer, not \"{}\"", shorten(t)),
        ));
    }
    let n: u64 = t
        .parse()
        .map_err(|_| (value.line_off(0), format!("{name} is too large")))?;
    if n == 0 {
        return Err((value.line_off(0), format!("{name} must be at least 1")));
    }
    Ok(n)
}

/// Splits a comma-separated value into (byte offset in the value, item); no empty items.
fn split_list<'v>(value: &'v OptValue, name: &str) -> Result<Vec<(usize, &'v str)>, LineError> {
    let mut out = Vec::new();
    let mut off = 0usize;
    for item in value.text.split(',') {
        if item.is_empty() {
            return Err((value.line_off(off), format!("empty entry in {name}")));
        }
        out.push((off, item));
        off += item.len() + 1;
    }
    Ok(out)
}

fn parse_from(value: &OptValue) -> Result<Vec<FromEntry>, LineError> {
    let mut out = Vec::new();
    for (off, item) in split_list(value, "from")? {
        let lead = item.len() - item.trim_start().len();
        let trimmed = item.trim();
        let (negated, addr) = match trimmed.strip_prefix('!') {
            Some(a) => (true, a),
            None => (false, trimmed),
        };
        let net = addr
            .parse::<IpNet>()
            .map(|n| n.trunc())
            .or_else(|_| addr.parse::<IpAddr>().map(IpNet::from))
            .map_err(|_| {
                (
                    value.line_off(off + lead),
                    format!(
                        "from entry \"{}\" is not an IP address or CIDR network (host names are not supported)",
                        shorten(trimmed)
                    ),
                )
            })?;
        out.push(FromEntry { negated, net });
    }
    Ok(out)
}

/// Checks a `run-as` user name (letters, digits, '_', '.', '-'; at most 32; not starting with
/// '-'); the error says what is wrong. Also used for the node operator's `run-as-users` list.
pub fn check_user(user: &str) -> Result<(), String> {
    let ok = !user.is_empty()
        && user.len() <= 32
        && !user.starts_with('-')
        && user
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'.' || c == b'-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "run-as \"{}\" is not a valid user name (letters, digits, '_', '.', '-'; at most 32)",
            shorten(user)
        ))
    }
}
