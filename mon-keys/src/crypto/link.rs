//! Primitives for hop links and node keys: X25519, HKDF-SHA256, SHA-256, ChaCha20-Poly1305 and
//! Ed25519 strict verification of node signatures.
//!
//! The hop handshake ([`crate::hop`]), sealed frames ([`crate::frame`]) and node keys
//! ([`crate::nodekey`]) call these wrappers only, never the underlying crates, so that a move to
//! newer crate versions touches this file.
//!
//! Zeroization: X25519 secrets and shared secrets wipe themselves on drop (x25519-dalek
//! `zeroize` feature), AEAD keys likewise (chacha20poly1305 wipes its key on drop), and every
//! derived key handed out here is wrapped in [`Zeroizing`]. The HMAC states inside the `hkdf`
//! crate are not wiped by that crate; they live on the stack for one derivation only.

use chacha20poly1305::aead::{AeadInPlace, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Nonce, Tag};
use ed25519_dalek::{SigningKey, VerifyingKey};
use hkdf::Hkdf;
use rand_core::{CryptoRng, RngCore};
use sha2::{Digest, Sha256};
use x25519_dalek::EphemeralSecret;
#[cfg(not(feature = "sim-crypto"))]
use x25519_dalek::{PublicKey, StaticSecret};
use zeroize::Zeroizing;

/// Length of every symmetric key and of an X25519 public key, in bytes.
pub const KEY_LEN: usize = 32;
/// Length of a ChaCha20-Poly1305 authentication tag, in bytes.
pub const TAG_LEN: usize = 16;

/// A 32-byte secret that wipes itself on drop.
pub type SecretKey = Zeroizing<[u8; KEY_LEN]>;

/// An X25519 ephemeral secret (with `sim-crypto`: the insecure stand-in).
#[cfg(not(feature = "sim-crypto"))]
pub(crate) type EphSecret = EphemeralSecret;
/// An X25519 ephemeral secret (with `sim-crypto`: the insecure stand-in).
#[cfg(feature = "sim-crypto")]
pub(crate) use super::sim::EphSecret;

/// A fresh X25519 ephemeral secret and its public key.
pub(crate) fn x25519_ephemeral<R: RngCore + CryptoRng>(rng: &mut R) -> (EphSecret, [u8; KEY_LEN]) {
    #[cfg(feature = "sim-crypto")]
    return super::sim::ephemeral(rng);
    #[cfg(not(feature = "sim-crypto"))]
    {
        let secret = EphemeralSecret::random_from_rng(&mut *rng);
        let public = PublicKey::from(&secret).to_bytes();
        (secret, public)
    }
}

/// X25519 between our ephemeral secret (consumed and wiped) and the peer's public key.
///
/// Returns `None` when the result is non-contributory, i.e. the peer sent a low-order point
/// (such as all zeros) that forces a shared secret independent of our secret.
pub(crate) fn x25519_agree(secret: EphSecret, their_public: &[u8; KEY_LEN]) -> Option<SecretKey> {
    #[cfg(feature = "sim-crypto")]
    return super::sim::agree(secret, their_public);
    #[cfg(not(feature = "sim-crypto"))]
    {
        let shared = secret.diffie_hellman(&PublicKey::from(*their_public));
        if !shared.was_contributory() {
            return None;
        }
        Some(Zeroizing::new(shared.to_bytes()))
    }
}

/// The parent's X25519 secret of one hop handshake. Unlike [`EphSecret`] it is not consumed
/// by an agreement: a forged answer must not use it up before the real one arrives. It lives
/// only as long as its offer and wipes itself on drop (x25519-dalek `zeroize` feature).
#[cfg(not(feature = "sim-crypto"))]
pub(crate) type InitSecret = StaticSecret;
/// The parent's X25519 secret of one hop handshake (with `sim-crypto`: the stand-in).
#[cfg(feature = "sim-crypto")]
pub(crate) use super::sim::EphSecret as InitSecret;

/// A fresh secret for the parent side of a hop handshake, and its public key.
pub(crate) fn x25519_initiator<R: RngCore + CryptoRng>(rng: &mut R) -> (InitSecret, [u8; KEY_LEN]) {
    #[cfg(feature = "sim-crypto")]
    return super::sim::ephemeral(rng);
    #[cfg(not(feature = "sim-crypto"))]
    {
        let secret = StaticSecret::random_from_rng(&mut *rng);
        let public = PublicKey::from(&secret).to_bytes();
        (secret, public)
    }
}

/// X25519 between the parent's secret (kept) and the peer's public key; `None` when the
/// result is non-contributory, as [`x25519_agree`].
pub(crate) fn x25519_agree_kept(
    secret: &InitSecret,
    their_public: &[u8; KEY_LEN],
) -> Option<SecretKey> {
    #[cfg(feature = "sim-crypto")]
    return super::sim::agree_ref(secret, their_public);
    #[cfg(not(feature = "sim-crypto"))]
    {
        let shared = secret.diffie_hellman(&PublicKey::from(*their_public));
        if !shared.was_contributory() {
            return None;
        }
        Some(Zeroizing::new(shared.to_bytes()))
    }
}

/// SHA-256 over the concatenation of `parts`.
pub(crate) fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// HKDF-SHA256 extract: the pseudorandom key from `salt` and `ikm`.
pub(crate) fn hkdf_extract(salt: &[u8], ikm: &[u8]) -> SecretKey {
    let (mut prk, _) = Hkdf::<Sha256>::extract(Some(salt), ikm);
    let mut out = Zeroizing::new([0u8; KEY_LEN]);
    out.copy_from_slice(&prk);
    zeroize::Zeroize::zeroize(prk.as_mut_slice());
    out
}

/// HKDF-SHA256 expand of a 32-byte key from `prk` with `info` = concatenation of `info_parts`.
///
/// `None` only if the `hkdf` crate refused a 32-byte PRK or a 32-byte output, which RFC 5869
/// allows; callers turn it into an error rather than use a key that was not derived.
pub(crate) fn hkdf_expand(prk: &[u8; KEY_LEN], info_parts: &[&[u8]]) -> Option<SecretKey> {
    let hk = Hkdf::<Sha256>::from_prk(prk).ok()?;
    let mut out = Zeroizing::new([0u8; KEY_LEN]);
    hk.expand_multi_info(info_parts, out.as_mut_slice()).ok()?;
    Some(out)
}

/// The 96-bit ChaCha20-Poly1305 nonce for a 64-bit counter: 4 zero bytes || counter (BE).
fn counter_nonce(counter: u64) -> Nonce {
    let mut n = [0u8; 12];
    n[4..].copy_from_slice(&counter.to_be_bytes());
    Nonce::from(n)
}

/// A ChaCha20-Poly1305 key bound to one direction of one channel. Wipes its key on drop.
pub(crate) struct Aead(ChaCha20Poly1305);

impl Aead {
    /// A cipher under `key`.
    pub(crate) fn new(key: &[u8; KEY_LEN]) -> Self {
        Aead(ChaCha20Poly1305::new(key.into()))
    }

    /// Encrypts `buf` in place with nonce `counter` and returns the tag.
    pub(crate) fn seal_in_place(
        &self,
        counter: u64,
        aad: &[u8],
        buf: &mut [u8],
    ) -> Option<[u8; TAG_LEN]> {
        self.0
            .encrypt_in_place_detached(&counter_nonce(counter), aad, buf)
            .ok()
            .map(Into::into)
    }

    /// Verifies `tag` and decrypts `buf` in place; `false` (and `buf` unchanged) on failure.
    pub(crate) fn open_in_place(
        &self,
        counter: u64,
        aad: &[u8],
        buf: &mut [u8],
        tag: &[u8; TAG_LEN],
    ) -> bool {
        self.0
            .decrypt_in_place_detached(&counter_nonce(counter), aad, buf, Tag::from_slice(tag))
            .is_ok()
    }
}

/// Why an Ed25519 node public key or signature was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NodeSigError {
    /// The 32 bytes are not the encoding of a point on the curve.
    #[error("the node public key is not a valid Ed25519 point")]
    InvalidKey,
    /// The key is a small-order ("weak") point, for which signatures prove nothing.
    #[error("the node public key is a weak (small-order) Ed25519 key")]
    WeakKey,
    /// The signature does not verify under strict (RFC 8032 + canonical) rules.
    #[error("the node signature does not verify")]
    BadSignature,
}

/// Parses and checks an Ed25519 public key: a valid point that is not weak.
pub(crate) fn ed25519_public(public: &[u8; 32]) -> Result<VerifyingKey, NodeSigError> {
    let vk = VerifyingKey::from_bytes(public).map_err(|_| NodeSigError::InvalidKey)?;
    if vk.is_weak() {
        return Err(NodeSigError::WeakKey);
    }
    Ok(vk)
}

/// Strict Ed25519 verification (`verify_strict`), rejecting invalid and weak keys.
pub(crate) fn ed25519_verify_strict(
    public: &[u8; 32],
    msg: &[u8],
    sig: &[u8; 64],
) -> Result<(), NodeSigError> {
    #[cfg(feature = "sim-crypto")]
    return match super::sim::verify(public, msg, sig) {
        true => Ok(()),
        false => Err(NodeSigError::BadSignature),
    };
    #[cfg(not(feature = "sim-crypto"))]
    {
        let vk = checked_public_cached(public)?;
        vk.verify_strict(msg, &ed25519_dalek::Signature::from_bytes(sig))
            .map_err(|_| NodeSigError::BadSignature)
    }
}

/// Checked public keys this thread decompressed lately: a node verifies the same few
/// known_nodes keys (its gossip peers, its parents) over and over, and decompressing a point
/// (a square root in the field) is about a fifth of a verification. At most this many
/// entries (~200 bytes each); a full cache starts over. Only keys that passed
/// [`ed25519_public`] are kept: an invalid or weak key is checked, and refused, every time.
const KEY_CACHE_ENTRIES: usize = 512;

thread_local! {
    static KEY_CACHE: std::cell::RefCell<std::collections::HashMap<[u8; 32], VerifyingKey>> =
        std::cell::RefCell::new(std::collections::HashMap::new());
}

/// [`ed25519_public`], remembered per thread ([`KEY_CACHE_ENTRIES`]).
fn checked_public_cached(public: &[u8; 32]) -> Result<VerifyingKey, NodeSigError> {
    if let Some(vk) = KEY_CACHE.with(|c| c.borrow().get(public).copied()) {
        return Ok(vk);
    }
    let vk = ed25519_public(public)?;
    KEY_CACHE.with(|c| {
        let mut c = c.borrow_mut();
        if c.len() >= KEY_CACHE_ENTRIES {
            c.clear();
        }
        c.insert(*public, vk);
    });
    Ok(vk)
}

/// Ed25519 signature of `msg`.
pub(crate) fn ed25519_sign(key: &SigningKey, msg: &[u8]) -> [u8; 64] {
    #[cfg(feature = "sim-crypto")]
    return super::sim::sign(&key.verifying_key().to_bytes(), msg);
    #[cfg(not(feature = "sim-crypto"))]
    {
        use ed25519_dalek::Signer as _;
        key.sign(msg).to_bytes()
    }
}

/// Compile-time check that the secret-holding types used here wipe themselves on drop.
/// x25519-dalek's secrets derive `Zeroize` with `#[zeroize(drop)]` (a `Drop` impl, without the
/// `ZeroizeOnDrop` marker), so for them `Zeroize` shows the `zeroize` feature is on.
const _: fn() = || {
    fn zeroize_on_drop<T: zeroize::ZeroizeOnDrop>() {}
    #[allow(drop_bounds)] // deliberately: the type must have its own Drop (the wipe)
    fn zeroize_with_drop<T: zeroize::Zeroize + Drop>() {}
    zeroize_on_drop::<ChaCha20Poly1305>();
    zeroize_on_drop::<SigningKey>();
    zeroize_with_drop::<EphemeralSecret>();
    zeroize_with_drop::<x25519_dalek::SharedSecret>();
};

#[cfg(all(test, not(feature = "sim-crypto")))]
mod key_cache_tests {
    use super::*;

    #[test]
    fn a_cached_key_still_checks_every_signature_and_a_weak_key_is_never_cached() {
        let key = SigningKey::from_bytes(&[7u8; 32]);
        let public = key.verifying_key().to_bytes();
        let sig = ed25519_sign(&key, b"m");
        for _ in 0..2 {
            assert_eq!(ed25519_verify_strict(&public, b"m", &sig), Ok(()));
            assert_eq!(
                ed25519_verify_strict(&public, b"other", &sig),
                Err(NodeSigError::BadSignature)
            );
        }
        // The identity point: a valid encoding of a small-order (weak) key, refused each time.
        let mut weak = [0u8; 32];
        weak[0] = 1;
        for _ in 0..2 {
            assert_eq!(
                ed25519_verify_strict(&weak, b"m", &sig),
                Err(NodeSigError::WeakKey)
            );
        }
        assert!(KEY_CACHE.with(|c| !c.borrow().contains_key(&weak)));
    }

    #[test]
    fn the_cache_stays_bounded() {
        for i in 0..(KEY_CACHE_ENTRIES + 10) {
            let mut seed = [0u8; 32];
            seed[..8].copy_from_slice(&(i as u64).to_le_bytes());
            let public = SigningKey::from_bytes(&seed).verifying_key().to_bytes();
            let _ = ed25519_verify_strict(&public, b"m", &[0u8; 64]);
            assert!(KEY_CACHE.with(|c| c.borrow().len()) <= KEY_CACHE_ENTRIES);
        }
    }
}
