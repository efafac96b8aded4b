//! MON key handling: SSH user keys (file, passphrase, ssh-agent), SSHSIG signing and strict
//! verification, node keys and `known_nodes`, the per-link hop handshake and sealed frames.
//!
//! All calls into cryptographic primitives live under [`crypto`], so that a move to newer
//! crate versions touches one place.

pub mod crypto;

pub mod addr;

pub mod sshsig;
pub mod userkey;

pub mod file_mode;
pub mod frame;
pub mod glob;
pub mod hop;
pub mod key_type;
pub mod known_nodes;
pub mod nodekey;
pub mod replay_window;
