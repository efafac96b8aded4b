//! The hop handshake: one per overlay link (client → entry node, parent → child), carried on
//! the Session / SessionOK exchange.
//!
//! # Flow
//!
//! 1. **P → C** (Session): the signed session, P's fresh X25519 key `e_p`
//!    ([`Initiator::public`]) and, when P is a server, P's node signature
//!    ([`parent_signature`]). On the first hop P is the client: `e_p` must equal the session's
//!    `client_eph`, there is no parent signature and `parent_name` is [`CLIENT_NAME`].
//! 2. **C**: checks the Session (C verifies P's signature with [`verify_parent_signature`]
//!    against P's key from known_nodes), then [`respond`]: makes `e_c`, computes
//!    `dh = X25519(e_c, e_p)` (a non-contributory result is refused), the transcript hash `th`,
//!    the link keys, its node signature over `th` and a key confirmation.
//!    **C → P** (SessionOK): [`ChildHello`] = `e_c`, signature, confirmation.
//! 3. **P**: looks C's key up in known_nodes itself ([`crate::known_nodes::KnownNodes::check`]),
//!    then [`Initiator::finish`] checks the confirmation (constant time) and C's signature and
//!    yields the same [`LinkKeys`]. P's first sealed frame proves to C that P holds `e_p`'s
//!    secret; C executes nothing before that frame opened.
//!
//! # Byte layout (all integers big-endian)
//!
//! ```text
//! name(n)       = u16 length || UTF-8 bytes of n          (1 ..= 255 bytes)
//!
//! parent signature   = Ed25519(parent node key,
//!                        "MON-hop-parent-sig-v1\0" || session_hash (32) || e_p (32) || name(child))
//!
//! dh            = X25519(e_c secret, e_p) = X25519(e_p secret, e_c)   (must not be all zero)
//! th            = SHA-256("MON-hop-v1\0" || session_hash (32) || e_p (32) || e_c (32)
//!                         || name(parent) || name(child))
//! child signature    = Ed25519(child node key, "MON-hop-child-sig-v1\0" || th)
//!
//! prk           = HKDF-Extract-SHA256(salt = session_hash, ikm = dh)
//! K(dir, ch)    = HKDF-Expand-SHA256(prk, info = "MON hop v1" || dir (1) || ch (u64, 8) || th, 32)
//!                 dir 0x01 = parent→child frames, 0x02 = child→parent frames,
//!                 0x03 = child's key confirmation (ch = 0)
//! confirm       = Poly1305 tag (16) of ChaCha20-Poly1305(key = K(0x03, 0), nonce = 12 zero
//!                 bytes, AAD = "MON-hop-confirm-v1\0" || th, plaintext = empty)
//!
//! ChildHello    = e_c (32) || child signature (64) || confirm (16)      = 112 bytes
//! ```
//!
//! `"\0"` is one zero byte; the string constants are ASCII. Channel `ch` 0 carries datagrams,
//! 1.. carry streams; frames are laid out in [`crate::frame`].
//!
//! Ed25519 signatures are verified with `verify_strict`, weak keys are rejected. Every signed
//! message starts with its own domain string, distinct from every other MON signature.

mod link_keys;
mod transcript;

use rand_core::{CryptoRng, RngCore};

use crate::crypto::ct_eq;
use crate::crypto::link::{
    x25519_agree, x25519_agree_kept, x25519_ephemeral, x25519_initiator, InitSecret, TAG_LEN,
};
use crate::nodekey::{verify_node_sig, NodeKey, NodeSigError};

pub use link_keys::{LinkKeys, Role, MAX_CHANNELS};
pub use transcript::MAX_NAME_LEN;

use transcript::{child_sig_message, parent_sig_message, transcript_hash};

/// Parent name used in the transcript of the client's first hop (not a valid node name).
pub const CLIENT_NAME: &str = "@client";
/// Length of the key confirmation, in bytes.
pub const CONFIRM_LEN: usize = TAG_LEN;
/// Length of an encoded [`ChildHello`], in bytes.
pub const CHILD_HELLO_LEN: usize = 32 + 64 + CONFIRM_LEN;

/// Why a handshake step failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HopError {
    /// The peer's X25519 key is a low-order point: the shared secret would not depend on ours.
    #[error("the peer's X25519 key is non-contributory (low-order point); link refused")]
    NonContributory,
    /// The parent's node signature over the Session does not verify.
    #[error("parent node signature rejected: {0}")]
    ParentSignature(NodeSigError),
    /// The child's node signature over the transcript does not verify.
    #[error("child node signature rejected: {0}")]
    ChildSignature(NodeSigError),
    /// The child's key confirmation does not match: it does not hold the link keys.
    #[error("child key confirmation does not match; link refused")]
    BadConfirmation,
    /// A node name is empty or longer than [`MAX_NAME_LEN`] bytes.
    #[error("node name of {len} bytes is not usable in a handshake (1 to {MAX_NAME_LEN} bytes)")]
    InvalidName {
        /// Length of the rejected name.
        len: usize,
    },
    /// An encoded [`ChildHello`] has the wrong length.
    #[error("child hello of {len} bytes, expected {CHILD_HELLO_LEN}")]
    HelloLength {
        /// Received length.
        len: usize,
    },
    /// [`LinkKeys::channel`] was asked twice for the same channel.
    #[error("channel {channel} of this link is already in use")]
    ChannelInUse {
        /// The channel.
        channel: u64,
    },
    /// The link has used [`MAX_CHANNELS`] channels.
    #[error("this link has opened {MAX_CHANNELS} channels; re-establish it")]
    TooManyChannels,
    /// HKDF refused to derive a key (cannot happen with SHA-256 and 32-byte keys).
    #[error("key derivation failed")]
    KeyDerivation,
}

/// The child's answer: its ephemeral key, its node signature over the transcript and the key
/// confirmation (layout in the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChildHello {
    /// The child's ephemeral X25519 public key.
    pub e_c: [u8; 32],
    /// The child's node signature over `"MON-hop-child-sig-v1\0" || th`.
    pub sig: [u8; 64],
    /// The key confirmation tag.
    pub confirm: [u8; CONFIRM_LEN],
}

impl ChildHello {
    /// Encodes as `e_c || sig || confirm` ([`CHILD_HELLO_LEN`] bytes).
    pub fn to_bytes(&self) -> [u8; CHILD_HELLO_LEN] {
        let mut out = [0u8; CHILD_HELLO_LEN];
        out[..32].copy_from_slice(&self.e_c);
        out[32..96].copy_from_slice(&self.sig);
        out[96..].copy_from_slice(&self.confirm);
        out
    }

    /// Decodes exactly [`CHILD_HELLO_LEN`] bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, HopError> {
        if bytes.len() != CHILD_HELLO_LEN {
            return Err(HopError::HelloLength { len: bytes.len() });
        }
        let mut hello = ChildHello {
            e_c: [0; 32],
            sig: [0; 64],
            confirm: [0; CONFIRM_LEN],
        };
        hello.e_c.copy_from_slice(&bytes[..32]);
        hello.sig.copy_from_slice(&bytes[32..96]);
        hello.confirm.copy_from_slice(&bytes[96..]);
        Ok(hello)
    }
}

/// The parent side of one handshake. Holds the secret of `e_p`, wiped on drop.
pub struct Initiator {
    secret: InitSecret,
    public: [u8; 32],
}

// Its secret wipes itself on drop (x25519-dalek `zeroize` feature; the sim stand-in too).
impl zeroize::ZeroizeOnDrop for Initiator {}

impl std::fmt::Debug for Initiator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Initiator")
            .field("e_p", &self.public)
            .finish_non_exhaustive()
    }
}

impl Initiator {
    /// A fresh ephemeral X25519 key pair for one link.
    pub fn new<R: RngCore + CryptoRng>(rng: &mut R) -> Self {
        let (secret, public) = x25519_initiator(rng);
        Initiator { secret, public }
    }

    /// `e_p`, sent in the Session (on the first hop: the session's `client_eph`).
    pub fn public(&self) -> [u8; 32] {
        self.public
    }

    /// Completes the handshake with the child's answer.
    ///
    /// `child_key` is the key the caller found for `child_name` in known_nodes. Checks, in
    /// order: names, contributory DH, the key confirmation (constant time), the child's node
    /// signature (strict). Does not consume the secret: an answer that fails any check (a
    /// forged or corrupted SessionOk) leaves the initiator ready for the real one. The secret
    /// is wiped when the initiator is dropped.
    pub fn finish(
        &self,
        session_hash: &[u8; 32],
        parent_name: &str,
        child_name: &str,
        child_key: &[u8; 32],
        hello: &ChildHello,
    ) -> Result<LinkKeys, HopError> {
        let th = transcript_hash(
            session_hash,
            &self.public,
            &hello.e_c,
            parent_name,
            child_name,
        )?;
        let dh = x25519_agree_kept(&self.secret, &hello.e_c).ok_or(HopError::NonContributory)?;
        let keys = LinkKeys::derive(session_hash, &dh, th, Role::Parent);
        let expected = keys.confirmation()?;
        if !ct_eq(&expected, &hello.confirm) {
            return Err(HopError::BadConfirmation);
        }
        verify_node_sig(child_key, &child_sig_message(&th), &hello.sig)
            .map_err(HopError::ChildSignature)?;
        Ok(keys)
    }
}

/// The parent's node signature over `"MON-hop-parent-sig-v1\0" || session_hash || e_p ||
/// name(child)`, sent with the Session.
///
/// Fails only for an empty or over-long `child_name`.
pub fn parent_signature(
    node_key: &NodeKey,
    session_hash: &[u8; 32],
    e_p: &[u8; 32],
    child_name: &str,
) -> Result<[u8; 64], HopError> {
    Ok(node_key.sign(&parent_sig_message(session_hash, e_p, child_name)?))
}

/// Checks a parent's node signature (strict verification, weak keys rejected). `parent_key`
/// is the key the child found for the parent in known_nodes; `child_name` is the child's own.
pub fn verify_parent_signature(
    parent_key: &[u8; 32],
    session_hash: &[u8; 32],
    e_p: &[u8; 32],
    child_name: &str,
    sig: &[u8; 64],
) -> Result<(), HopError> {
    let msg = parent_sig_message(session_hash, e_p, child_name)?;
    verify_node_sig(parent_key, &msg, sig).map_err(HopError::ParentSignature)
}

/// The child side: answers a Session whose checks passed.
///
/// Makes `e_c`, refuses a non-contributory `e_p` (low-order point, e.g. all zeros), signs the
/// transcript with `node_key` and computes the key confirmation. The returned keys must not
/// be used to execute anything before the parent's first frame opened with them.
pub fn respond<R: RngCore + CryptoRng>(
    rng: &mut R,
    node_key: &NodeKey,
    session_hash: &[u8; 32],
    e_p: &[u8; 32],
    parent_name: &str,
    child_name: &str,
) -> Result<(ChildHello, LinkKeys), HopError> {
    // Names first: cheap, and no secret is made for a request that cannot succeed.
    transcript::name_field(parent_name)?;
    transcript::name_field(child_name)?;
    let (secret, e_c) = x25519_ephemeral(rng);
    let dh = x25519_agree(secret, e_p).ok_or(HopError::NonContributory)?;
    let th = transcript_hash(session_hash, e_p, &e_c, parent_name, child_name)?;
    let keys = LinkKeys::derive(session_hash, &dh, th, Role::Child);
    let confirm = keys.confirmation()?;
    let sig = node_key.sign(&child_sig_message(&th));
    Ok((ChildHello { e_c, sig, confirm }, keys))
}
