//! SSHSIG signatures (OpenSSH PROTOCOL.sshsig), as `ssh-keygen -Y sign` makes and
//! `ssh-keygen -Y verify` checks them, restricted to what MON accepts: version 1, Ed25519 keys,
//! hash sha512, an empty reserved field, no trailing bytes.
//!
//! - [`Signer`]: something that can sign (a key file, an ssh-agent key; see [`crate::userkey`]).
//! - [`inspect`]: structural checks only, cheapest first, no cryptography.
//! - [`verify`]: [`inspect`] + namespace + weak-key rejection + strict Ed25519 verification.
//! - [`armor`] / [`dearmor`]: the `-----BEGIN SSH SIGNATURE-----` text form.

mod armor;
pub(crate) mod wire;

pub use armor::{armor, dearmor};

use crate::crypto::ed25519::{self, VerifyError};
use ssh_key::public::{Ed25519PublicKey, KeyData};
use ssh_key::{HashAlg, PublicKey};

/// Namespace (capability class) of read-only queries.
pub const NS_QUERY: &str = "mon-query@mon";
/// Namespace (capability class) of file reads.
pub const NS_READ: &str = "mon-read@mon";
/// Namespace (capability class) of command execution.
pub const NS_EXEC: &str = "mon-exec@mon";
/// Namespace (capability class) of file pushes.
pub const NS_PUSH: &str = "mon-push@mon";
/// Namespace (capability class) of reading the nodes' audit logs (`mon audit fleet`).
pub const NS_AUDIT: &str = "mon-audit@mon";

/// Largest raw SSHSIG blob accepted. An Ed25519 SSHSIG is 170 bytes plus the namespace.
pub const MAX_SSHSIG_LEN: usize = 1024;
/// Longest namespace accepted (and signed).
pub const MAX_NAMESPACE_LEN: usize = 256;

/// Why an SSHSIG blob (or its armored text) was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigError {
    /// The blob is larger than [`MAX_SSHSIG_LEN`].
    #[error("signature is {len} bytes, more than the {max} allowed")]
    TooLong {
        /// Length received.
        len: usize,
        /// Limit.
        max: usize,
    },
    /// The blob ends inside a field.
    #[error("signature is truncated (in the {field} field)")]
    Truncated {
        /// The field being read.
        field: &'static str,
    },
    /// The blob does not start with `SSHSIG`.
    #[error("not an SSHSIG signature (bad magic)")]
    BadMagic,
    /// Version other than 1.
    #[error("unsupported SSHSIG version {0} (MON accepts version 1)")]
    UnsupportedVersion(u32),
    /// Key type other than `ssh-ed25519`.
    #[error("signature made with a \"{0}\" key: MON accepts only ssh-ed25519 keys")]
    UnsupportedKeyType(String),
    /// Ed25519 public key of the wrong length.
    #[error("Ed25519 public key in the signature is {0} bytes, expected 32")]
    BadPublicKeyLength(usize),
    /// Bytes left over inside a field or after the blob.
    #[error("{count} unexpected trailing bytes after the {field}")]
    TrailingBytes {
        /// The field followed by the extra bytes.
        field: &'static str,
        /// How many extra bytes.
        count: usize,
    },
    /// The namespace is empty.
    #[error("signature has an empty namespace")]
    EmptyNamespace,
    /// The namespace is longer than [`MAX_NAMESPACE_LEN`].
    #[error("signature namespace is {len} bytes, more than the {max} allowed")]
    NamespaceTooLong {
        /// Length received.
        len: usize,
        /// Limit.
        max: usize,
    },
    /// The namespace is not UTF-8.
    #[error("signature namespace is not valid UTF-8")]
    NamespaceNotUtf8,
    /// The reserved field is not empty.
    #[error("signature has a non-empty reserved field ({0} bytes)")]
    ReservedNotEmpty(usize),
    /// Hash algorithm other than sha512.
    #[error("signature uses hash \"{0}\": MON requires sha512")]
    UnsupportedHash(String),
    /// Signature algorithm other than `ssh-ed25519`.
    #[error("signature algorithm \"{0}\": MON accepts only ssh-ed25519")]
    UnsupportedSignatureAlgorithm(String),
    /// Ed25519 signature of the wrong length.
    #[error("Ed25519 signature is {0} bytes, expected 64")]
    BadSignatureLength(usize),
    /// The namespace is valid but not the one required.
    #[error("signature is for namespace \"{found}\", expected \"{expected}\"")]
    WrongNamespace {
        /// The namespace the verifier required.
        expected: String,
        /// The namespace in the signature (escaped for printing).
        found: String,
    },
    /// The public key is unusable (invalid, non-canonical, weak) or the signature is wrong.
    #[error("signature by {fingerprint} rejected: {reason}")]
    Crypto {
        /// Fingerprint of the key in the signature.
        fingerprint: String,
        /// What failed.
        reason: VerifyError,
    },
    /// Armored text longer than any valid signature.
    #[error("armored signature is {len} bytes, more than the {max} allowed")]
    ArmorTooLong {
        /// Length received.
        len: usize,
        /// Limit.
        max: usize,
    },
    /// No `-----BEGIN SSH SIGNATURE-----` line at the start.
    #[error("armored signature does not start with -----BEGIN SSH SIGNATURE-----")]
    ArmorMissingBegin,
    /// No `-----END SSH SIGNATURE-----` line at the end.
    #[error("armored signature does not end with -----END SSH SIGNATURE-----")]
    ArmorMissingEnd,
    /// A character that is not base64 or a line break.
    #[error("armored signature contains the character '{0}', which is not base64")]
    ArmorBadCharacter(String),
    /// The base64 does not decode.
    #[error("armored signature is not valid base64: {0}")]
    ArmorBase64(String),
}

/// Why signing failed.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    /// The namespace is empty or longer than [`MAX_NAMESPACE_LEN`].
    #[error("cannot sign with namespace {0:?}: it must be 1 to 256 bytes")]
    BadNamespace(String),
    /// Could not reach the ssh-agent.
    #[error("cannot connect to ssh-agent at {sock}: {cause}")]
    AgentConnect {
        /// The agent socket.
        sock: std::path::PathBuf,
        /// The underlying error.
        cause: std::io::Error,
    },
    /// The agent refused or failed the request (e.g. the key was removed, or confirmation
    /// was declined).
    #[error("ssh-agent at {sock} refused to sign with {fingerprint}: {reason}")]
    AgentRefused {
        /// The agent socket.
        sock: std::path::PathBuf,
        /// Fingerprint of the requested key.
        fingerprint: String,
        /// What the agent client reported.
        reason: String,
    },
    /// The agent returned a signature that does not verify under the requested key.
    #[error("ssh-agent at {sock} returned an invalid signature for {fingerprint}: {reason}")]
    AgentBadSignature {
        /// The agent socket.
        sock: std::path::PathBuf,
        /// Fingerprint of the requested key.
        fingerprint: String,
        /// Why it was rejected.
        reason: String,
    },
}

/// Something that produces SSHSIG signatures with one Ed25519 key.
pub trait Signer: Send + Sync {
    /// The public key (with the comment from the key file or agent, if any).
    fn public_key(&self) -> &PublicKey;
    /// An SSHSIG over `msg` in `namespace`, hash sha512, as a raw binary blob (not armored).
    fn sign(&self, namespace: &str, msg: &[u8]) -> Result<Vec<u8>, SignError>;
    /// Where the key comes from, for messages: a file path or `ssh-agent key SHA256:…`.
    fn describe(&self) -> String;
}

/// What [`inspect`] and [`verify`] learn from a signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigInfo {
    /// The namespace the signature was made for.
    pub namespace: String,
    /// The signer's public key (no comment).
    pub public_key: PublicKey,
    /// `SHA256:…` fingerprint of the public key.
    pub fingerprint: String,
}

/// The OpenSSH fingerprint of `key`: `SHA256:` and unpadded base64.
pub fn fingerprint(key: &PublicKey) -> String {
    key.fingerprint(HashAlg::Sha256).to_string()
}

/// The `ssh_key` public key for raw Ed25519 key bytes.
pub(crate) fn ed25519_public_key(bytes: [u8; 32], comment: &str) -> PublicKey {
    PublicKey::new(KeyData::Ed25519(Ed25519PublicKey(bytes)), comment)
}

/// Structural checks only, cheapest first: size, magic, version, key type `ssh-ed25519`,
/// namespace, reserved field, hash sha512, signature algorithm, trailing bytes.
/// No cryptography: a blob that passes is not yet authentic.
pub fn inspect(blob: &[u8]) -> Result<SigInfo, SigError> {
    let parsed = wire::decode(blob)?;
    Ok(info(&parsed))
}

fn info(parsed: &wire::Parsed<'_>) -> SigInfo {
    let public_key = ed25519_public_key(parsed.public_key, "");
    SigInfo {
        namespace: parsed.namespace.to_owned(),
        fingerprint: fingerprint(&public_key),
        public_key,
    }
}

/// Verifies `blob` as an SSHSIG by its embedded key over exactly `msg` in `namespace`:
/// [`inspect`], then namespace equality, then rejection of invalid, non-canonical and weak keys,
/// then Ed25519 `verify_strict` over the SSHSIG signed data.
///
/// This says the key signed the message; whether the key may do so is the policy's question.
pub fn verify(blob: &[u8], namespace: &str, msg: &[u8]) -> Result<SigInfo, SigError> {
    let parsed = wire::decode(blob)?;
    if parsed.namespace != namespace {
        return Err(SigError::WrongNamespace {
            expected: namespace.escape_debug().to_string(),
            found: parsed.namespace.escape_debug().to_string(),
        });
    }
    let info = info(&parsed);
    let crypto_err = |reason| SigError::Crypto {
        fingerprint: info.fingerprint.clone(),
        reason,
    };
    // The namespace came from a decoded, non-empty field, so signed data always exists.
    let signed = ed25519::sshsig_signed_data(namespace, msg).ok_or(SigError::EmptyNamespace)?;
    ed25519::verify_strict(&parsed.public_key, &signed, &parsed.signature).map_err(crypto_err)?;
    Ok(info)
}

/// Checks a namespace before signing: non-empty and at most [`MAX_NAMESPACE_LEN`] bytes.
pub(crate) fn check_sign_namespace(namespace: &str) -> Result<(), SignError> {
    if namespace.is_empty() || namespace.len() > MAX_NAMESPACE_LEN {
        return Err(SignError::BadNamespace(
            namespace.chars().take(64).collect::<String>(),
        ));
    }
    Ok(())
}

/// Signs with a local Ed25519 secret key and encodes the SSHSIG blob.
pub(crate) fn sign_with_secret(
    secret: &ed25519::SecretKey,
    namespace: &str,
    msg: &[u8],
) -> Result<Vec<u8>, SignError> {
    check_sign_namespace(namespace)?;
    let signed = ed25519::sshsig_signed_data(namespace, msg)
        .ok_or_else(|| SignError::BadNamespace(String::new()))?;
    let sig = secret.sign(&signed);
    Ok(wire::encode(&secret.public_key(), namespace, &sig))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use rand_core::OsRng;

    #[test]
    fn sign_verify_and_reject() {
        let key = ed25519::SecretKey::generate(&mut OsRng);
        let blob = sign_with_secret(&key, NS_QUERY, b"body").unwrap();
        let info = verify(&blob, NS_QUERY, b"body").unwrap();
        assert_eq!(info.namespace, NS_QUERY);
        assert!(info.fingerprint.starts_with("SHA256:"));
        assert_eq!(inspect(&blob).unwrap(), info);
        assert!(matches!(
            verify(&blob, NS_EXEC, b"body"),
            Err(SigError::WrongNamespace { .. })
        ));
        assert!(matches!(
            verify(&blob, NS_QUERY, b"bodY"),
            Err(SigError::Crypto {
                reason: VerifyError::BadSignature,
                ..
            })
        ));
    }

    #[test]
    fn ssh_key_parses_our_encoding() {
        let key = ed25519::SecretKey::generate(&mut OsRng);
        let blob = sign_with_secret(&key, NS_PUSH, b"x").unwrap();
        let parsed = ssh_key::SshSig::from_pem(armor(&blob)).unwrap();
        assert_eq!(parsed.namespace(), NS_PUSH);
        assert_eq!(parsed.hash_alg(), HashAlg::Sha512);
        assert_eq!(parsed.version(), 1);
        let pk = ed25519_public_key(key.public_key(), "");
        pk.verify(NS_PUSH, b"x", &parsed).unwrap();
    }

    #[test]
    fn weak_key_is_rejected_even_with_a_crafted_signature() {
        // Identity point as the key, and R = identity, S = 0: a signature that a non-strict
        // verifier would accept for every message.
        let mut id = [0u8; 32];
        id[0] = 1;
        let mut sig = [0u8; 64];
        sig[0] = 1;
        let blob = wire::encode(&id, NS_QUERY, &sig);
        assert!(inspect(&blob).is_ok());
        assert!(matches!(
            verify(&blob, NS_QUERY, b"anything"),
            Err(SigError::Crypto {
                reason: VerifyError::WeakPublicKey,
                ..
            })
        ));
    }

    #[test]
    fn bad_namespaces_are_refused_for_signing() {
        let key = ed25519::SecretKey::generate(&mut OsRng);
        assert!(sign_with_secret(&key, "", b"m").is_err());
        assert!(sign_with_secret(&key, &"n".repeat(257), b"m").is_err());
        let blob = sign_with_secret(&key, &"n".repeat(256), b"m").unwrap();
        assert!(blob.len() <= MAX_SSHSIG_LEN);
    }
}
