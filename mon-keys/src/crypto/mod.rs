//! The one place where MON calls cryptographic primitives.
//!
//! - [`ed25519`]: Ed25519 signing, strict verification, weak-key checks, SSHSIG signed data.
//! - [`link`]: X25519, HKDF-SHA256, ChaCha20-Poly1305 for hop links.

pub mod ed25519;
pub mod link;
