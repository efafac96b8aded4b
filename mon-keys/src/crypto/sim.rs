//! **INSECURE** stand-ins for Ed25519 and X25519, compiled only with the `sim-crypto` feature,
//! for the simulator (`mon sim`), where one process runs thousands of nodes and real
//! signatures would take most of the time.
//!
//! They keep the shapes and the checks that matter to the protocol logic, and none of the
//! security: a "signature" is SHA-512 over the public key and the message (anyone can make
//! one), and the "shared secret" of a key exchange is SHA-256 over the two public values
//! (anyone can compute it). A wrong message, key or signature is still rejected, so the
//! protocol takes the same paths as with real crypto. `mon` refuses to run a server or a
//! client when this feature is on.

use rand_core::{CryptoRng, RngCore};
use sha2::{Digest, Sha256, Sha512};
use zeroize::Zeroizing;

/// The stand-in signature of `msg` under `public`.
pub(crate) fn sign(public: &[u8; 32], msg: &[u8]) -> [u8; 64] {
    let mut h = Sha512::new();
    h.update(b"MON-sim-crypto-sig\0");
    h.update(public);
    h.update(msg);
    h.finalize().into()
}

/// Whether `sig` is the stand-in signature of `msg` under `public`.
pub(crate) fn verify(public: &[u8; 32], msg: &[u8], sig: &[u8; 64]) -> bool {
    super::ct_eq(&sign(public, msg), sig)
}

/// A stand-in X25519 ephemeral secret: 32 random bytes and the public value derived from them.
pub(crate) struct EphSecret {
    _secret: Zeroizing<[u8; 32]>,
    public: [u8; 32],
}

impl zeroize::Zeroize for EphSecret {
    fn zeroize(&mut self) {
        self._secret.as_mut().fill(0);
    }
}

impl Drop for EphSecret {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(self);
    }
}

/// A fresh stand-in key pair.
pub(crate) fn ephemeral<R: RngCore + CryptoRng>(rng: &mut R) -> (EphSecret, [u8; 32]) {
    let mut secret = Zeroizing::new([0u8; 32]);
    rng.fill_bytes(secret.as_mut());
    let public: [u8; 32] = Sha256::new()
        .chain_update(b"MON-sim-crypto-x25519\0")
        .chain_update(secret.as_ref())
        .finalize()
        .into();
    (
        EphSecret {
            _secret: secret,
            public,
        },
        public,
    )
}

/// The stand-in shared secret: the same on both sides; `None` for an all-zero peer value
/// (as X25519 refuses a non-contributory one).
pub(crate) fn agree(secret: EphSecret, their_public: &[u8; 32]) -> Option<Zeroizing<[u8; 32]>> {
    agree_ref(&secret, their_public)
}

/// [`agree`] without consuming the secret.
pub(crate) fn agree_ref(
    secret: &EphSecret,
    their_public: &[u8; 32],
) -> Option<Zeroizing<[u8; 32]>> {
    if their_public.iter().all(|b| *b == 0) {
        return None;
    }
    let (a, b) = if secret.public <= *their_public {
        (&secret.public, their_public)
    } else {
        (their_public, &secret.public)
    };
    let shared: [u8; 32] = Sha256::new()
        .chain_update(b"MON-sim-crypto-dh\0")
        .chain_update(a)
        .chain_update(b)
        .finalize()
        .into();
    Some(Zeroizing::new(shared))
}
