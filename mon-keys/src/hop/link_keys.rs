//! The keys of one established hop link and the per-channel frame keys derived from them.

use std::collections::BTreeSet;

use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::crypto::link::{hkdf_expand, hkdf_extract, Aead, SecretKey, KEY_LEN, TAG_LEN};
use crate::frame::{Opener, Sealer};

use super::transcript::{
    confirm_aad, DIR_CHILD_TO_PARENT, DIR_CONFIRM, DIR_PARENT_TO_CHILD, HKDF_INFO,
};
use super::HopError;

/// Most channels one link may open (datagrams + streams) before it must be re-established.
pub const MAX_CHANNELS: usize = 1 << 16;

/// Which end of the link a [`LinkKeys`] belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The parent (initiator): seals parent→child frames, opens child→parent frames.
    Parent,
    /// The child (responder): seals child→parent frames, opens parent→child frames.
    Child,
}

/// The secret of an established link: the HKDF pseudorandom key plus the transcript hash.
///
/// Wiped on drop. Hands out each channel's [`Sealer`]/[`Opener`] pair once only, so that no
/// (key, counter) pair can be used twice.
pub struct LinkKeys {
    prk: SecretKey,
    th: [u8; 32],
    role: Role,
    used: BTreeSet<u64>,
}

impl Zeroize for LinkKeys {
    fn zeroize(&mut self) {
        self.prk.zeroize();
        self.th.zeroize();
    }
}

impl Drop for LinkKeys {
    fn drop(&mut self) {
        self.zeroize();
    }
}

impl ZeroizeOnDrop for LinkKeys {}

impl std::fmt::Debug for LinkKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LinkKeys")
            .field("role", &self.role)
            .field("channels_open", &self.used.len())
            .finish_non_exhaustive()
    }
}

/// `HKDF-Expand(prk, "MON hop v1" || dir || channel (u64 BE) || th, 32)`.
fn expand(
    prk: &[u8; KEY_LEN],
    dir: u8,
    channel: u64,
    th: &[u8; 32],
) -> Result<SecretKey, HopError> {
    hkdf_expand(prk, &[HKDF_INFO, &[dir], &channel.to_be_bytes(), th])
        .ok_or(HopError::KeyDerivation)
}

impl LinkKeys {
    /// Derives the link secret: `prk = HKDF-Extract(salt = session_hash, ikm = dh)`.
    pub(super) fn derive(
        session_hash: &[u8; 32],
        dh: &[u8; KEY_LEN],
        th: [u8; 32],
        role: Role,
    ) -> Self {
        LinkKeys {
            prk: hkdf_extract(session_hash, dh),
            th,
            role,
            used: BTreeSet::new(),
        }
    }

    /// The child's key confirmation: the Poly1305 tag of ChaCha20-Poly1305 under
    /// `K(0x03, channel 0)`, nonce 0, AAD `"MON-hop-confirm-v1\0" || th`, empty plaintext.
    pub(super) fn confirmation(&self) -> Result<[u8; TAG_LEN], HopError> {
        let key = expand(&self.prk, DIR_CONFIRM, 0, &self.th)?;
        Aead::new(&key)
            .seal_in_place(0, &confirm_aad(&self.th), &mut [])
            .ok_or(HopError::KeyDerivation)
    }

    /// Which end of the link these keys belong to.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The handshake transcript hash `th` (public; useful in audit records and Prune
    /// signatures that must name the link).
    pub fn transcript_hash(&self) -> [u8; 32] {
        self.th
    }

    /// The frame sealer (our direction) and opener (the peer's direction) of `channel`:
    /// channel 0 carries datagrams, channels 1.. carry streams.
    ///
    /// Keys: `K(dir, channel) = HKDF-Expand(prk, "MON hop v1" || dir || channel || th, 32)`
    /// with `dir` 0x01 for parent→child and 0x02 for child→parent.
    ///
    /// Each channel can be taken once per link ([`HopError::ChannelInUse`] otherwise, since a
    /// second sealer would restart at counter 0 and reuse nonces), and at most
    /// [`MAX_CHANNELS`] channels per link ([`HopError::TooManyChannels`]).
    pub fn channel(&mut self, channel: u64) -> Result<(Sealer, Opener), HopError> {
        if self.used.contains(&channel) {
            return Err(HopError::ChannelInUse { channel });
        }
        if self.used.len() >= MAX_CHANNELS {
            return Err(HopError::TooManyChannels);
        }
        let (send_dir, recv_dir) = match self.role {
            Role::Parent => (DIR_PARENT_TO_CHILD, DIR_CHILD_TO_PARENT),
            Role::Child => (DIR_CHILD_TO_PARENT, DIR_PARENT_TO_CHILD),
        };
        let send = expand(&self.prk, send_dir, channel, &self.th)?;
        let recv = expand(&self.prk, recv_dir, channel, &self.th)?;
        self.used.insert(channel);
        Ok((Sealer::new(&send), Opener::new(&recv)))
    }
}
