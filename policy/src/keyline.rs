//! The `keytype base64 [comment]` part of a line, shared by `allowed_signers` and
//! `revoked_keys`. MON accepts plain `ssh-ed25519` keys only.

use ssh_key::public::KeyData;
use ssh_key::PublicKey;

use crate::input::{skip_ws, token_end};

pub(crate) use mon_keys::key_type::ED25519;

/// Why a key could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum KeyError {
    /// A recognised OpenSSH key type other than plain Ed25519 (RSA, ECDSA, DSA, security keys,
    /// certificates).
    Unsupported { off: usize, key_type: String },
    /// Anything else: missing, unknown type, bad base64, type mismatch.
    Invalid { off: usize, message: String },
}

/// A key read from a line.
#[derive(Debug, Clone)]
pub(crate) struct ParsedKey {
    pub key: PublicKey,
    /// The raw 32 Ed25519 bytes (the lookup key).
    pub raw: [u8; 32],
    /// Byte offset of the key type in the line.
    pub off: usize,
    /// The comment after the key (may be empty).
    pub comment: String,
}

// True for a token that names an OpenSSH key or certificate type (the one list is
// `mon_keys::key_type`).
pub(crate) use mon_keys::key_type::is_openssh_key_type as is_key_type;

/// The raw Ed25519 public key bytes, if `key` is a plain Ed25519 key.
pub(crate) fn ed25519_raw(key: &PublicKey) -> Option<[u8; 32]> {
    match key.key_data() {
        KeyData::Ed25519(k) => Some(k.0),
        _ => None,
    }
}

/// Parses `keytype base64 [comment]` starting at byte `start` of `text`.
pub(crate) fn parse_key(text: &str, start: usize) -> Result<ParsedKey, KeyError> {
    let i = skip_ws(text, start);
    let ty_end = ed25519_type_at(text, i)?;
    let (key, raw, b64_end) = ed25519_data_after(text, ty_end)?;
    let c = skip_ws(text, b64_end);
    let comment = text.get(c..).unwrap_or_default().trim_end().to_string();
    Ok(ParsedKey {
        key,
        raw,
        off: i,
        comment,
    })
}

/// Checks that the key type token at byte `i` is `ssh-ed25519`; returns the offset after it.
fn ed25519_type_at(text: &str, i: usize) -> Result<usize, KeyError> {
    let ty_end = token_end(text, i);
    let ty = text.get(i..ty_end).unwrap_or_default();
    if ty.is_empty() {
        return Err(KeyError::Invalid {
            off: i,
            message: "missing key (expected: ssh-ed25519 AAAA…)".to_string(),
        });
    }
    if ty != ED25519 {
        if is_key_type(ty) {
            return Err(KeyError::Unsupported {
                off: i,
                key_type: ty.to_string(),
            });
        }
        return Err(KeyError::Invalid {
            off: i,
            message: format!(
                "unknown key type \"{}\" (expected ssh-ed25519)",
                shorten(ty)
            ),
        });
    }
    Ok(ty_end)
}

/// Decodes the base64 key data after the key type (which ends at byte `ty_end`); returns the
/// key, its raw bytes and the offset after the data.
fn ed25519_data_after(text: &str, ty_end: usize) -> Result<(PublicKey, [u8; 32], usize), KeyError> {
    let b64_start = skip_ws(text, ty_end);
    let b64_end = token_end(text, b64_start);
    let b64 = text.get(b64_start..b64_end).unwrap_or_default();
    if b64.is_empty() {
        return Err(KeyError::Invalid {
            off: b64_start,
            message: "missing base64 key data after ssh-ed25519".to_string(),
        });
    }
    let key =
        PublicKey::from_openssh(&format!("{ED25519} {b64}")).map_err(|e| KeyError::Invalid {
            off: b64_start,
            message: format!("invalid ssh-ed25519 key data: {e}"),
        })?;
    let raw = ed25519_raw(&key).ok_or_else(|| KeyError::Invalid {
        off: b64_start,
        message: "key data is not an Ed25519 key".to_string(),
    })?;
    Ok((key, raw, b64_end))
}

/// Cuts a token for an error message.
pub(crate) fn shorten(s: &str) -> String {
    const MAX: usize = 40;
    if s.chars().count() <= MAX {
        s.to_string()
    } else {
        let head: String = s.chars().take(MAX).collect();
        format!("{head}…")
    }
}
