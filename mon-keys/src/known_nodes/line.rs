//! One line of known_nodes: `[@marker] HOSTS ssh-ed25519 KEY [comment]`, parsed into a
//! [`KnownNode`] (syntax in the parent module's docs). Errors carry the byte offset in the line;
//! the caller turns it into `file:line:col`.

use base64::Engine as _;

use super::pattern::HostPattern;
use super::{KnownNode, MAX_PATTERNS};
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
    let (patterns, parsed) = parse_hosts(hosts, hosts_at)?;
    let (key, key_end) = parse_key_fields(line, &f[i + 1..])?;
    let comment = line[key_end..].trim().to_string();
    Ok(KnownNode {
        patterns,
        hosts: parsed,
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

/// The host field at byte `hosts_at`: the patterns as written and parsed (with negation).
fn parse_hosts(hosts: &str, hosts_at: usize) -> Result<(Vec<String>, Vec<Host>), LineError> {
    let mut patterns = Vec::new();
    let mut parsed = Vec::new();
    let mut offset = hosts_at;
    for p in hosts.split(',') {
        if parsed.len() >= MAX_PATTERNS {
            return line_err(
                offset,
                format!("more than {MAX_PATTERNS} host patterns on one line"),
            );
        }
        let (neg, body, body_at) = match p.strip_prefix('!') {
            Some(b) => (true, b, offset + 1),
            None => (false, p, offset),
        };
        let h = HostPattern::parse(body).map_err(|e| LineError {
            at: body_at + e.offset,
            message: e.message,
        })?;
        patterns.push(p.to_string());
        parsed.push((neg, h));
        offset += p.len() + 1;
    }
    if parsed.iter().all(|(neg, _)| *neg) {
        return line_err(
            hosts_at,
            "the host field has only negated patterns and can never match",
        );
    }
    Ok((patterns, parsed))
}
