//! Host patterns of known_nodes: names, IP addresses and `*` / `?` wildcards, as in
//! ssh's known_hosts, matched ASCII-case-insensitively (patterns and names are lower-cased,
//! then matched with the one glob matcher, [`crate::glob`]).

use std::net::IpAddr;

use crate::glob::glob_match as glob;

/// One host pattern of a known_nodes line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum HostPattern {
    /// A literal node name (lower-cased).
    Name(String),
    /// A literal IP address (canonical form).
    Ip(IpAddr),
    /// A pattern with `*` or `?`, matched against the name and the IP's text (lower-cased).
    Glob(String),
}

/// Characters allowed in a host pattern besides ASCII letters and digits.
const EXTRA_CHARS: &[u8] = b".-_:*?";

/// Why a host pattern is malformed; `offset` is the byte offset within the pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct PatternError {
    pub(super) offset: usize,
    pub(super) message: String,
}

impl HostPattern {
    /// Parses one pattern (without its `!` prefix).
    pub(super) fn parse(text: &str) -> Result<Self, PatternError> {
        check_text(text)?;
        if text.contains(['*', '?']) {
            return Ok(HostPattern::Glob(text.to_ascii_lowercase()));
        }
        if let Ok(ip) = text.parse::<IpAddr>() {
            return Ok(HostPattern::Ip(ip.to_canonical()));
        }
        if text.contains(':') {
            return Err(PatternError {
                offset: 0,
                message: format!(
                    "{text:?} is neither an IP address nor a name (write a port as `[HOST]:PORT`)"
                ),
            });
        }
        Ok(HostPattern::Name(text.to_ascii_lowercase()))
    }

    /// Whether the pattern matches the (lower-cased) node `name`; `name_ip` is the name parsed
    /// as an IP address, if it is one.
    pub(super) fn matches_name(&self, name: &str, name_ip: Option<IpAddr>) -> bool {
        match self {
            HostPattern::Name(n) => n == name,
            HostPattern::Ip(a) => name_ip == Some(*a),
            HostPattern::Glob(g) => glob(g.as_bytes(), name.as_bytes()),
        }
    }

    /// Whether the pattern matches the node's (canonical) IP address.
    pub(super) fn matches_ip(&self, ip: IpAddr) -> bool {
        match self {
            HostPattern::Name(_) => false,
            HostPattern::Ip(a) => *a == ip,
            HostPattern::Glob(g) => glob(g.as_bytes(), ip.to_string().as_bytes()),
        }
    }
}

/// Refuses what a host pattern may not be: empty, hashed, `[host]:port` (an address, parsed by
/// the line), too long, or with
/// characters outside names, addresses and globs.
fn check_text(text: &str) -> Result<(), PatternError> {
    let err = |offset: usize, message: String| Err(PatternError { offset, message });
    if text.is_empty() {
        return err(
            0,
            "empty host pattern (two commas in a row, or a trailing comma?)".into(),
        );
    }
    if text.starts_with('|') {
        return err(
            0,
            "hashed host names (|1|…) are not supported in known_nodes; write the name in clear"
                .into(),
        );
    }
    if text.starts_with('[') {
        return err(0, "`[HOST]:PORT` is an address, not a pattern".into());
    }
    if text.len() > super::MAX_PATTERN_LEN {
        return err(
            0,
            format!("host pattern longer than {} bytes", super::MAX_PATTERN_LEN),
        );
    }
    for (i, c) in text.char_indices() {
        if !(c.is_ascii_alphanumeric() || (c.is_ascii() && EXTRA_CHARS.contains(&(c as u8)))) {
            return err(
                i,
                format!("invalid character {c:?} in host pattern {text:?}"),
            );
        }
    }
    Ok(())
}
