//! Byte layouts of the hop handshake: transcript hash, signed messages, HKDF info strings.
//! The layouts are documented in [`crate::hop`]; this file is their one implementation.

use crate::crypto::link::sha256;

use super::HopError;

/// Domain of the transcript hash.
pub(super) const TRANSCRIPT_DOMAIN: &[u8] = b"MON-hop-v1\0";
/// Domain of the parent's node signature.
pub(super) const PARENT_SIG_DOMAIN: &[u8] = b"MON-hop-parent-sig-v1\0";
/// Domain of the child's node signature.
pub(super) const CHILD_SIG_DOMAIN: &[u8] = b"MON-hop-child-sig-v1\0";
/// AAD prefix of the key confirmation.
pub(super) const CONFIRM_DOMAIN: &[u8] = b"MON-hop-confirm-v1\0";
/// HKDF info prefix.
pub(super) const HKDF_INFO: &[u8] = b"MON hop v1";

/// Direction byte: frames from parent to child.
pub(super) const DIR_PARENT_TO_CHILD: u8 = 0x01;
/// Direction byte: frames from child to parent.
pub(super) const DIR_CHILD_TO_PARENT: u8 = 0x02;
/// Direction byte: the child's key confirmation.
pub(super) const DIR_CONFIRM: u8 = 0x03;

/// Longest node name in a handshake, in bytes.
pub const MAX_NAME_LEN: usize = 255;

/// A name as it enters a transcript: 2-byte big-endian length, then the UTF-8 bytes.
/// Refuses empty names and names longer than [`MAX_NAME_LEN`].
pub(super) fn name_field(name: &str) -> Result<([u8; 2], &[u8]), HopError> {
    if name.is_empty() || name.len() > MAX_NAME_LEN {
        return Err(HopError::InvalidName { len: name.len() });
    }
    // name.len() <= 255 fits in u16.
    let len = (name.len() as u16).to_be_bytes();
    Ok((len, name.as_bytes()))
}

/// `th = SHA-256("MON-hop-v1\0" || session_hash || e_p || e_c || name(parent) || name(child))`.
pub(super) fn transcript_hash(
    session_hash: &[u8; 32],
    e_p: &[u8; 32],
    e_c: &[u8; 32],
    parent_name: &str,
    child_name: &str,
) -> Result<[u8; 32], HopError> {
    let (pl, p) = name_field(parent_name)?;
    let (cl, c) = name_field(child_name)?;
    Ok(sha256(&[
        TRANSCRIPT_DOMAIN,
        session_hash,
        e_p,
        e_c,
        &pl,
        p,
        &cl,
        c,
    ]))
}

/// The message the child signs: `"MON-hop-child-sig-v1\0" || th`.
pub(super) fn child_sig_message(th: &[u8; 32]) -> Vec<u8> {
    [CHILD_SIG_DOMAIN, th.as_slice()].concat()
}

/// The message the parent signs:
/// `"MON-hop-parent-sig-v1\0" || session_hash || e_p || name(child)`.
pub(super) fn parent_sig_message(
    session_hash: &[u8; 32],
    e_p: &[u8; 32],
    child_name: &str,
) -> Result<Vec<u8>, HopError> {
    let (cl, c) = name_field(child_name)?;
    Ok([PARENT_SIG_DOMAIN, session_hash, e_p, &cl, c].concat())
}

/// The AAD of the key confirmation: `"MON-hop-confirm-v1\0" || th`.
pub(super) fn confirm_aad(th: &[u8; 32]) -> Vec<u8> {
    [CONFIRM_DOMAIN, th.as_slice()].concat()
}
