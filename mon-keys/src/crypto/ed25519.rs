//! Ed25519: signing, strict verification with weak-key rejection, and the SSHSIG signed-data
//! encoding.
//!
//! This is the only module of MON that calls `ed25519-dalek` (and the SSHSIG hashing of
//! `ssh-key`), so that a move to newer crate versions touches one place. Keys and signatures
//! cross this boundary as plain byte arrays.

#[cfg(not(feature = "sim-crypto"))]
use ed25519_dalek::Signature;
use ed25519_dalek::{SigningKey, VerifyingKey};
use rand_core::CryptoRngCore;
use ssh_key::{HashAlg, SshSig};
use zeroize::Zeroizing;

/// Length of an Ed25519 public key.
pub const PUBLIC_KEY_LEN: usize = 32;
/// Length of an Ed25519 signature.
pub const SIGNATURE_LEN: usize = 64;
/// Length of an Ed25519 secret seed.
pub const SEED_LEN: usize = 32;

/// Why an Ed25519 public key or signature was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// The 32 bytes do not decode to a curve point.
    #[error("the public key is not a valid Ed25519 point")]
    InvalidPublicKey,
    /// The point decodes, but its encoding is not the canonical one.
    #[error("the public key is not canonically encoded")]
    NonCanonicalPublicKey,
    /// The key has small order: a signature under it could verify for many messages.
    #[error("the public key is weak (a small-order point)")]
    WeakPublicKey,
    /// The signature does not verify under the key (strict verification).
    #[error("the signature does not verify")]
    BadSignature,
}

/// An Ed25519 secret key. Its bytes are zeroized on drop and never printed.
pub struct SecretKey(SigningKey);

impl SecretKey {
    /// The key whose 32-byte secret seed is `seed` (the seed in an OpenSSH key file).
    pub fn from_seed(seed: &Zeroizing<[u8; SEED_LEN]>) -> Self {
        Self(SigningKey::from_bytes(seed))
    }

    /// A fresh random key.
    pub fn generate<R: CryptoRngCore + ?Sized>(rng: &mut R) -> Self {
        Self(SigningKey::generate(rng))
    }

    /// The 32-byte secret seed, for writing the key to a file.
    pub fn seed(&self) -> Zeroizing<[u8; SEED_LEN]> {
        Zeroizing::new(self.0.to_bytes())
    }

    /// The public key.
    pub fn public_key(&self) -> [u8; PUBLIC_KEY_LEN] {
        self.0.verifying_key().to_bytes()
    }

    /// Signs `msg` (pure Ed25519, RFC 8032).
    pub fn sign(&self, msg: &[u8]) -> [u8; SIGNATURE_LEN] {
        #[cfg(feature = "sim-crypto")]
        return super::sim::sign(&self.public_key(), msg);
        #[cfg(not(feature = "sim-crypto"))]
        {
            use ed25519_dalek::Signer as _;
            self.0.sign(msg).to_bytes()
        }
    }
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretKey")
            .field("public_key", &hex_short(&self.public_key()))
            .finish_non_exhaustive()
    }
}

fn hex_short(bytes: &[u8]) -> String {
    bytes.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// Checks that `public` is a usable Ed25519 public key: a valid, canonically encoded point
/// that is not of small order.
pub fn check_public_key(public: &[u8; PUBLIC_KEY_LEN]) -> Result<(), VerifyError> {
    verifying_key(public).map(|_| ())
}

fn verifying_key(public: &[u8; PUBLIC_KEY_LEN]) -> Result<VerifyingKey, VerifyError> {
    let key = VerifyingKey::from_bytes(public).map_err(|_| VerifyError::InvalidPublicKey)?;
    if key.to_edwards().compress().to_bytes() != *public {
        return Err(VerifyError::NonCanonicalPublicKey);
    }
    if key.is_weak() {
        return Err(VerifyError::WeakPublicKey);
    }
    Ok(key)
}

/// Verifies `sig` over `msg` under `public` with `verify_strict` (canonical `S`, `R` not of
/// small order), after rejecting invalid, non-canonical and weak public keys.
pub fn verify_strict(
    public: &[u8; PUBLIC_KEY_LEN],
    msg: &[u8],
    sig: &[u8; SIGNATURE_LEN],
) -> Result<(), VerifyError> {
    #[cfg(feature = "sim-crypto")]
    return match super::sim::verify(public, msg, sig) {
        true => Ok(()),
        false => Err(VerifyError::BadSignature),
    };
    #[cfg(not(feature = "sim-crypto"))]
    {
        let key = verifying_key(public)?;
        key.verify_strict(msg, &Signature::from_bytes(sig))
            .map_err(|_| VerifyError::BadSignature)
    }
}

/// The bytes an SSHSIG signature actually signs (PROTOCOL.sshsig "signed data"): the magic,
/// `namespace`, an empty reserved field, `sha512` and SHA-512(`msg`).
///
/// Returns `None` only for an empty namespace, which SSHSIG forbids.
pub fn sshsig_signed_data(namespace: &str, msg: &[u8]) -> Option<Vec<u8>> {
    SshSig::signed_data(namespace, HashAlg::Sha512, msg).ok()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use rand_core::OsRng;

    #[test]
    fn sign_then_verify_strict() {
        let key = SecretKey::generate(&mut OsRng);
        let sig = key.sign(b"hello");
        verify_strict(&key.public_key(), b"hello", &sig).unwrap();
        assert_eq!(
            verify_strict(&key.public_key(), b"hellO", &sig),
            Err(VerifyError::BadSignature)
        );
    }

    #[test]
    fn seed_round_trip() {
        let key = SecretKey::generate(&mut OsRng);
        let again = SecretKey::from_seed(&key.seed());
        assert_eq!(key.public_key(), again.public_key());
        assert!(!format!("{key:?}").contains(&format!("{:?}", key.seed().as_slice())));
    }

    #[test]
    fn identity_point_is_weak() {
        // The identity point (0, 1) encodes as 1 followed by zeros: small order.
        let mut id = [0u8; 32];
        id[0] = 1;
        assert_eq!(check_public_key(&id), Err(VerifyError::WeakPublicKey));
        assert_eq!(
            verify_strict(&id, b"m", &[0u8; 64]),
            Err(VerifyError::WeakPublicKey)
        );
    }

    #[test]
    fn non_canonical_point_is_rejected() {
        // y = p + 1 (non-canonical encoding of y = 1, the identity): 2^255 - 19 + 1.
        let mut y = [0xffu8; 32];
        y[0] = 0xee;
        y[31] = 0x7f;
        assert_eq!(
            check_public_key(&y),
            Err(VerifyError::NonCanonicalPublicKey)
        );
    }

    #[test]
    fn signed_data_rejects_empty_namespace() {
        assert!(sshsig_signed_data("", b"m").is_none());
        let d = sshsig_signed_data("mon-query@mon", b"m").unwrap();
        assert!(d.starts_with(b"SSHSIG"));
    }
}
