//! One cache entry (digests of the key, of key and session id, of the slice; its retention)
//! and its journal line: `<session_hash hex> <retain_until unix ms> <key digest hex>
//! <key+session id digest hex> <slice digest hex>`. Older lines are read too: the same
//! without the slice digest, and `<session_hash hex> <session_id hex> <retain_until> <key
//! fingerprint>`.

use sha2::{Digest as _, Sha256};

use crate::wire::session::SessionHash;

/// 16 bytes of a SHA-256 digest.
pub(super) type Digest16 = [u8; 16];

#[derive(Clone, Debug)]
pub(super) struct Entry {
    /// Digest of (key, session id): the equivocation index.
    pub(super) id: Digest16,
    /// Digest of the key: the per-key count.
    pub(super) owner: Digest16,
    /// Digest of the slice: the per-slice count (`None`: read from a journal line written
    /// before slices were recorded; counts against no slice).
    pub(super) slice: Option<Digest16>,
    pub(super) retain_until: u64,
}

pub(super) fn digest16(parts: &[&[u8]]) -> Digest16 {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_be_bytes());
        h.update(p);
    }
    let d = h.finalize();
    let mut out = [0u8; 16];
    out.copy_from_slice(&d[..16]);
    out
}

pub(super) fn owner_digest(key_fp: &str) -> Digest16 {
    digest16(&[b"mon-replay-key", key_fp.as_bytes()])
}

pub(super) fn slice_digest(slice: &str) -> Digest16 {
    digest16(&[b"mon-replay-slice", slice.as_bytes()])
}

pub(super) fn id_digest(key_fp: &str, session_id: &[u8; 16]) -> Digest16 {
    digest16(&[b"mon-replay-id", key_fp.as_bytes(), session_id])
}

pub(super) fn line(hash: &SessionHash, e: &Entry) -> String {
    let mut l = format!(
        "{} {} {} {}",
        hex(hash),
        e.retain_until,
        hex(&e.owner),
        hex(&e.id)
    );
    if let Some(s) = e.slice {
        l.push(' ');
        l.push_str(&hex(&s));
    }
    l
}

/// Parses a journal line in any of its formats: the current one (with the slice digest),
/// the previous one (without), or the older one (session id and key fingerprint in the
/// clear).
pub(super) fn parse_line(text: &str) -> Option<(SessionHash, Entry)> {
    let f: Vec<&str> = text.split(' ').collect();
    match f.as_slice() {
        [a, b, c, d, s] => Some((
            unhex::<32>(a)?,
            Entry {
                retain_until: b.parse().ok()?,
                owner: unhex::<16>(c)?,
                id: unhex::<16>(d)?,
                slice: Some(unhex::<16>(s)?),
            },
        )),
        [a, b, c, d] => {
            let h = unhex::<32>(a)?;
            match b.parse::<u64>() {
                Ok(until) => parse_previous(h, until, c, d),
                Err(_) => parse_older(h, b, c, d),
            }
        }
        _ => None,
    }
}

/// The previous format: `hash until owner id`, no slice digest.
fn parse_previous(
    h: SessionHash,
    until: u64,
    owner: &str,
    id: &str,
) -> Option<(SessionHash, Entry)> {
    Some((
        h,
        Entry {
            retain_until: until,
            owner: unhex::<16>(owner)?,
            id: unhex::<16>(id)?,
            slice: None,
        },
    ))
}

/// The older format: `hash session-id until key-fingerprint`.
fn parse_older(
    h: SessionHash,
    sid: &str,
    until: &str,
    key_fp: &str,
) -> Option<(SessionHash, Entry)> {
    let sid = unhex::<16>(sid)?;
    let until: u64 = until.parse().ok()?;
    if key_fp.is_empty() || key_fp.len() > 128 {
        return None;
    }
    Some((
        h,
        Entry {
            retain_until: until,
            owner: owner_digest(key_fp),
            id: id_digest(key_fp, &sid),
            slice: None,
        },
    ))
}

pub(super) fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex<const N: usize>(s: &str) -> Option<[u8; N]> {
    if s.len() != 2 * N {
        return None;
    }
    let mut out = [0u8; N];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}
