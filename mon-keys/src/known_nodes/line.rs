//! One line of known_nodes: `[@marker] HOSTS ssh-ed25519 KEY [comment]`, parsed into a
//! [`KnownNode`] (syntax in the parent module's docs). Errors carry the byte offset in the line;
//! the caller turns it into `file:line:col`.

use std::net::IpAddr;

use base64::Engine as _;

use super::pattern::HostPattern;
use super::{KnownNode, MAX_PATTERNS};
use crate::addr::{Host as AddrHost, HostPort};
use crate::crypto::link::ed25519_public;
use crate::key_type::{is_openssh_key_type, ED25519};

/// 1-based character column of byte offset `at` within `line`.
pub(super) fn column(line: &str, at: usize) -> usize {
    line.get(..at).map_or(at, |s| s.chars().count()) + 1
}

/// Whitespace-separated fields of a line with their byte offsets.
fn fields(line: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in line.char_indices() {
        let ws = c == ' ' || c == '\t';
        match (ws, start) {
            (true, Some(s)) => {
                out.push((s, &line[s..i]));
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push((s, &line[s..]));
    }
    out
}

/// A parse error at byte offset `at` of `line`, before the path is attached.
pub(super) struct LineError {
    pub(super) at: usize,
    pub(super) message: String,
}

fn line_err<T>(at: usize, message: impl Into<String>) -> Result<T, LineError> {
    Err(LineError {
        at,
        message: message.into(),
    })
}

/// Decodes the base64 field into an Ed25519 public key.
fn parse_key(b64: &str) -> Result<[u8; 32], String> {
    let blob = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|e| format!("key is not valid base64 ({e})"))?;
    let ty_len = blob
        .get(..4)
        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize);
    let ty = ty_len.and_then(|n| blob.get(4..4usize.saturating_add(n)));
    if ty != Some(ED25519.as_bytes()) {
        return Err("key blob is not an ssh-ed25519 key (was it copied from another line?)".into());
    }
    if blob.len() != 51 || blob[15..19] != 32u32.to_be_bytes() {
        return Err(format!(
            "key blob has {} bytes, an ssh-ed25519 key has 51 (truncated when copied?)",
            blob.len()
        ));
    }
    let mut key = [0u8; 32];
    key.copy_from_slice(&blob[19..]);
    ed25519_public(&key).map_err(|e| e.to_string())?;
    Ok(key)
}

/// Parses one non-empty, non-comment line.
pub(super) fn parse_line(line: &str, number: usize) -> Result<KnownNode, LineError> {
    let f = fields(line);
    let (revoked, i) = parse_marker(&f)?;
    let Some(&(hosts_at, hosts)) = f.get(i) else {
        return line_err(line.len(), "missing host names after the marker");
    };
    if hosts == ED25519 {
        return line_err(
            hosts_at,
            "the line starts with the key type; put the node name first: `NAME[,IP…] ssh-ed25519 KEY`",
        );
    }
    let hf = parse_hosts(hosts, hosts_at)?;
    let (key, key_end) = parse_key_fields(line, &f[i + 1..])?;
    let comment = line[key_end..].trim().to_string();
    Ok(KnownNode {
        patterns: hf.patterns,
        hosts: hf.hosts,
        addrs: hf.addrs,
        host_names: hf.host_names,
        key,
        revoked,
        comment,
        line: number,
    })
}

/// The `ssh-ed25519 KEY` fields after the host names (`f`: the fields from the key type on):
/// the key, and the byte offset after it.
fn parse_key_fields(line: &str, f: &[(usize, &str)]) -> Result<([u8; 32], usize), LineError> {
    let Some(&(ty_at, ty)) = f.first() else {
        return line_err(
            line.len(),
            "missing key type after the host names (expected `ssh-ed25519 KEY`)",
        );
    };
    if ty != ED25519 {
        let msg = if is_openssh_key_type(ty) {
            format!("MON node keys are Ed25519, found {ty}; make one with `mon server init`")
        } else {
            format!("expected key type `ssh-ed25519`, found {ty:?}")
        };
        return line_err(ty_at, msg);
    }
    let Some(&(key_at, b64)) = f.get(1) else {
        return line_err(line.len(), "missing base64 key after `ssh-ed25519`");
    };
    let key = parse_key(b64).map_err(|message| LineError {
        at: key_at,
        message,
    })?;
    Ok((key, key_at + b64.len()))
}

/// The optional leading marker: whether the line is `@revoked`, and the index of the host
/// field.
fn parse_marker(f: &[(usize, &str)]) -> Result<(bool, usize), LineError> {
    let Some((at, marker)) = f.first().filter(|(_, s)| s.starts_with('@')) else {
        return Ok((false, 0));
    };
    match *marker {
        "@revoked" => Ok((true, 1)),
        "@cert-authority" => line_err(
            *at,
            "@cert-authority is not supported yet; pin each node key",
        ),
        other => line_err(*at, format!("unknown marker {other:?} (only @revoked)")),
    }
}

/// One parsed host pattern and whether it is negated (`!`).
type Host = (bool, HostPattern);

/// The host field of a line, parsed.
pub(super) struct HostField {
    /// The patterns as written (negated ones with their `!`).
    pub(super) patterns: Vec<String>,
    /// The patterns, parsed.
    pub(super) hosts: Vec<Host>,
    /// The address part's IP literals and their ports.
    pub(super) addrs: Vec<(IpAddr, Option<u16>)>,
    /// The address part's host names (resolved when the file is loaded) and their ports.
    pub(super) host_names: Vec<(String, Option<u16>)>,
}

/// The host field at byte `hosts_at`. The first literal name is the node's name; every other
/// literal entry is the address part: an IP or a host name (both also match as patterns), each
/// optionally with a port as `[HOST]:PORT`.
fn parse_hosts(hosts: &str, hosts_at: usize) -> Result<HostField, LineError> {
    let mut f = HostField {
        patterns: Vec::new(),
        hosts: Vec::new(),
        addrs: Vec::new(),
        host_names: Vec::new(),
    };
    let mut offset = hosts_at;
    for (i, p) in hosts.split(',').enumerate() {
        if f.hosts.len() >= MAX_PATTERNS {
            return line_err(
                offset,
                format!("more than {MAX_PATTERNS} host patterns on one line"),
            );
        }
        let (neg, body, body_at) = match p.strip_prefix('!') {
            Some(b) => (true, b, offset + 1),
            None => (false, p, offset),
        };
        let h = if body.starts_with('[') {
            if neg {
                return line_err(offset, "an address `[HOST]:PORT` cannot be negated");
            }
            bracketed(body, body_at, &mut f)?
        } else {
            let h = HostPattern::parse(body).map_err(|e| LineError {
                at: body_at + e.offset,
                message: e.message,
            })?;
            match &h {
                HostPattern::Ip(a) if !neg => f.addrs.push((*a, None)),
                HostPattern::Name(n) if !neg && i > 0 => f.host_names.push((n.clone(), None)),
                _ => {}
            }
            h
        };
        f.patterns.push(p.to_string());
        f.hosts.push((neg, h));
        offset += p.len() + 1;
    }
    if f.hosts.iter().all(|(neg, _)| *neg) {
        return line_err(
            hosts_at,
            "the host field has only negated patterns and can never match",
        );
    }
    Ok(f)
}

/// `[HOST]` or `[HOST]:PORT` at byte `at`: the pattern it matches as, its address noted in `f`.
fn bracketed(body: &str, at: usize, f: &mut HostField) -> Result<HostPattern, LineError> {
    let hp: HostPort = body
        .parse()
        .map_err(|e: crate::addr::AddrError| LineError {
            at,
            message: e.message,
        })?;
    Ok(match hp.host() {
        AddrHost::Ip(a) => {
            let a = a.to_canonical();
            f.addrs.push((a, hp.port()));
            HostPattern::Ip(a)
        }
        AddrHost::Name(n) => {
            let n = n.to_ascii_lowercase();
            f.host_names.push((n.clone(), hp.port()));
            HostPattern::Name(n)
        }
    })
}
