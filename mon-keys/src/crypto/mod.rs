//! The one place where MON calls cryptographic primitives.
//!
//! - [`ed25519`]: Ed25519 signing, strict verification, weak-key checks, SSHSIG signed data.
//! - [`link`]: X25519, HKDF-SHA256, ChaCha20-Poly1305 for hop links.

pub mod ed25519;
pub mod link;
#[cfg(feature = "sim-crypto")]
mod sim;

/// True when this build has the `sim-crypto` feature: Ed25519 and X25519 are replaced by
/// cheap, **insecure** stand-ins for the simulator. A server or client built so refuses to run.
pub const SIM_CRYPTO: bool = cfg!(feature = "sim-crypto");

/// Constant-time equality of two byte strings (length is not secret).
pub(crate) fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.ct_eq(b).into()
}
