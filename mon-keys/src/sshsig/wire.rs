//! The SSHSIG binary blob (PROTOCOL.sshsig), restricted to what MON accepts: version 1,
//! `ssh-ed25519` keys and signatures, hash `sha512`, an empty reserved field and no trailing
//! bytes anywhere. Decoding checks the cheapest things first and never panics.

use super::{SigError, MAX_NAMESPACE_LEN, MAX_SSHSIG_LEN};
use crate::crypto::ed25519::{PUBLIC_KEY_LEN, SIGNATURE_LEN};

/// The six magic bytes that start every SSHSIG blob.
pub(crate) const MAGIC: &[u8; 6] = b"SSHSIG";
/// The only SSHSIG version.
pub(crate) const VERSION: u32 = 1;
// The only key and signature algorithm MON accepts.
pub(crate) use crate::key_type::ED25519;
/// The only hash algorithm MON accepts.
pub(crate) const SHA512: &str = "sha512";

/// The fields of a structurally valid MON SSHSIG blob (not yet cryptographically verified).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Parsed<'a> {
    pub(crate) public_key: [u8; PUBLIC_KEY_LEN],
    pub(crate) namespace: &'a str,
    pub(crate) signature: [u8; SIGNATURE_LEN],
}

/// A cursor over untrusted bytes; every read is bounds-checked.
struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], SigError> {
        if self.buf.len() < n {
            return Err(SigError::Truncated { field });
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    fn u32(&mut self, field: &'static str) -> Result<u32, SigError> {
        let b = self.take(4, field)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// An SSH `string`: a big-endian u32 length and that many bytes.
    fn string(&mut self, field: &'static str) -> Result<&'a [u8], SigError> {
        let len = self.u32(field)?;
        let len = usize::try_from(len).map_err(|_| SigError::Truncated { field })?;
        self.take(len, field)
    }

    fn finish(&self, field: &'static str) -> Result<(), SigError> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(SigError::TrailingBytes {
                field,
                count: self.buf.len(),
            })
        }
    }
}

/// A short, printable rendering of an untrusted name for error messages.
fn printable(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut out: String = text.chars().take(40).flat_map(char::escape_debug).collect();
    if text.chars().count() > 40 {
        out.push('…');
    }
    out
}

/// Decodes `blob` strictly. Checks, in order: size, magic, version, key type and length,
/// namespace, reserved field, hash algorithm, signature algorithm and length, trailing bytes.
pub(crate) fn decode(blob: &[u8]) -> Result<Parsed<'_>, SigError> {
    if blob.len() > MAX_SSHSIG_LEN {
        return Err(SigError::TooLong {
            len: blob.len(),
            max: MAX_SSHSIG_LEN,
        });
    }
    let mut r = Reader { buf: blob };
    magic_and_version(&mut r)?;
    let public_key = public_key(&mut r)?;
    let namespace = namespace(&mut r)?;
    reserved_and_hash(&mut r)?;
    let signature = signature(&mut r)?;
    r.finish("signature blob")?;

    Ok(Parsed {
        public_key,
        namespace,
        signature,
    })
}

/// The preamble: the `SSHSIG` magic and version 1.
fn magic_and_version(r: &mut Reader<'_>) -> Result<(), SigError> {
    if r.take(MAGIC.len(), "magic")? != MAGIC {
        return Err(SigError::BadMagic);
    }
    let version = r.u32("version")?;
    if version != VERSION {
        return Err(SigError::UnsupportedVersion(version));
    }
    Ok(())
}

/// The fields between namespace and signature: an empty reserved string, then `sha512`.
fn reserved_and_hash(r: &mut Reader<'_>) -> Result<(), SigError> {
    let reserved = r.string("reserved")?;
    if !reserved.is_empty() {
        return Err(SigError::ReservedNotEmpty(reserved.len()));
    }
    let hash = r.string("hash algorithm")?;
    if hash != SHA512.as_bytes() {
        return Err(SigError::UnsupportedHash(printable(hash)));
    }
    Ok(())
}

/// The public key field: an `ssh-ed25519` key blob of 32 bytes, nothing after it.
fn public_key(r: &mut Reader<'_>) -> Result<[u8; PUBLIC_KEY_LEN], SigError> {
    ed25519_blob(
        r,
        ["public key", "public key type"],
        SigError::UnsupportedKeyType,
        SigError::BadPublicKeyLength,
    )
}

/// The namespace field: 1 to [`MAX_NAMESPACE_LEN`] bytes of UTF-8.
fn namespace<'a>(r: &mut Reader<'a>) -> Result<&'a str, SigError> {
    let namespace = r.string("namespace")?;
    if namespace.is_empty() {
        return Err(SigError::EmptyNamespace);
    }
    if namespace.len() > MAX_NAMESPACE_LEN {
        return Err(SigError::NamespaceTooLong {
            len: namespace.len(),
            max: MAX_NAMESPACE_LEN,
        });
    }
    std::str::from_utf8(namespace).map_err(|_| SigError::NamespaceNotUtf8)
}

/// The signature field: an `ssh-ed25519` signature of 64 bytes, nothing after it.
fn signature(r: &mut Reader<'_>) -> Result<[u8; SIGNATURE_LEN], SigError> {
    ed25519_blob(
        r,
        ["signature", "signature algorithm"],
        SigError::UnsupportedSignatureAlgorithm,
        SigError::BadSignatureLength,
    )
}

/// A nested `string(type) string(bytes)` blob whose type must be `ssh-ed25519` and whose bytes
/// must be `N` long, with nothing after them; `what` names the blob and its type field in
/// errors.
fn ed25519_blob<const N: usize>(
    r: &mut Reader<'_>,
    what: [&'static str; 2],
    bad_type: fn(String) -> SigError,
    bad_len: fn(usize) -> SigError,
) -> Result<[u8; N], SigError> {
    let mut blob = Reader {
        buf: r.string(what[0])?,
    };
    let ty = blob.string(what[1])?;
    if ty != ED25519.as_bytes() {
        return Err(bad_type(printable(ty)));
    }
    let bytes = blob.string(what[0])?;
    let out: [u8; N] = bytes.try_into().map_err(|_| bad_len(bytes.len()))?;
    blob.finish(what[0])?;
    Ok(out)
}

fn put_string(out: &mut Vec<u8>, bytes: &[u8]) {
    // Every field MON writes is far below 4 GiB; lengths are bounded by the callers.
    out.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
    out.extend_from_slice(bytes);
}

/// Encodes an Ed25519 SSHSIG blob (version 1, sha512, empty reserved field).
/// The caller has checked `namespace` (non-empty, at most [`MAX_NAMESPACE_LEN`] bytes).
pub(crate) fn encode(
    public_key: &[u8; PUBLIC_KEY_LEN],
    namespace: &str,
    signature: &[u8; SIGNATURE_LEN],
) -> Vec<u8> {
    let mut key = Vec::with_capacity(51);
    put_string(&mut key, ED25519.as_bytes());
    put_string(&mut key, public_key);
    let mut sig = Vec::with_capacity(83);
    put_string(&mut sig, ED25519.as_bytes());
    put_string(&mut sig, signature);

    let mut out = Vec::with_capacity(180 + namespace.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_be_bytes());
    put_string(&mut out, &key);
    put_string(&mut out, namespace.as_bytes());
    put_string(&mut out, &[]);
    put_string(&mut out, SHA512.as_bytes());
    put_string(&mut out, &sig);
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn sample() -> Vec<u8> {
        encode(&[7u8; 32], "mon-query@mon", &[9u8; 64])
    }

    #[test]
    fn round_trip() {
        let blob = sample();
        let p = decode(&blob).unwrap();
        assert_eq!(p.public_key, [7u8; 32]);
        assert_eq!(p.namespace, "mon-query@mon");
        assert_eq!(p.signature, [9u8; 64]);
    }

    #[test]
    fn every_truncation_is_rejected() {
        let blob = sample();
        for n in 0..blob.len() {
            assert!(decode(&blob[..n]).is_err(), "prefix of {n} bytes accepted");
        }
    }

    #[test]
    fn trailing_byte_is_rejected() {
        let mut blob = sample();
        blob.push(0);
        assert_eq!(
            decode(&blob),
            Err(SigError::TrailingBytes {
                field: "signature blob",
                count: 1
            })
        );
    }

    #[test]
    fn version_zero_and_two_are_rejected() {
        for v in [0u32, 2] {
            let mut blob = sample();
            blob[6..10].copy_from_slice(&v.to_be_bytes());
            assert_eq!(decode(&blob), Err(SigError::UnsupportedVersion(v)));
        }
    }

    #[test]
    fn printable_escapes_control_characters() {
        assert_eq!(printable(b"a\nb"), "a\\nb");
        assert_eq!(printable(&[b'x'; 50]).chars().count(), 41);
    }
}
