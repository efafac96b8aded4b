//! Sealed frames: all traffic on a hop link after the handshake.
//!
//! Each direction of each channel of a link has its own ChaCha20-Poly1305 key (see
//! [`crate::hop::LinkKeys::channel`]), so a (key, nonce) pair is never used twice.
//!
//! # Frame layout
//!
//! ```text
//! frame      = counter || ciphertext || tag
//! counter    = 8 bytes, unsigned big-endian; 0 for the first frame of a channel direction,
//!              then +1 per frame; the value 2^64-1 is never sent
//! ciphertext = ChaCha20-Poly1305 encryption of the plaintext (same length as the plaintext,
//!              0 ..= MAX_PLAINTEXT_LEN bytes)
//! tag        = 16-byte Poly1305 tag
//! nonce      = 4 zero bytes || counter (8 bytes, big-endian)       (96-bit IETF nonce)
//! AAD        = counter (the same 8 bytes as on the wire)
//! ```
//!
//! A frame is therefore `plaintext length + 24` bytes long, at most [`MAX_FRAME_LEN`].
//!
//! The receiver checks, in order: length (at least [`FRAME_OVERHEAD`], at most
//! [`MAX_FRAME_LEN`]), the counter against its sliding replay window ([`ReplayWindow`], 1984
//! frames of reordering), the tag; only then is the counter recorded as received. Frames of
//! one channel may thus be reordered or lost (datagrams), but never accepted twice.

use zeroize::Zeroizing;

use crate::crypto::link::{Aead, KEY_LEN, TAG_LEN};
use crate::replay_window::{ReplayError, ReplayWindow, COUNTER_LIMIT};

/// Bytes of the counter header.
pub const COUNTER_LEN: usize = 8;
/// Bytes a frame adds to its plaintext: counter + tag.
pub const FRAME_OVERHEAD: usize = COUNTER_LEN + TAG_LEN;
/// Largest plaintext one frame carries (1 MiB).
pub const MAX_PLAINTEXT_LEN: usize = 1 << 20;
/// Largest frame accepted: [`MAX_PLAINTEXT_LEN`] + [`FRAME_OVERHEAD`].
pub const MAX_FRAME_LEN: usize = MAX_PLAINTEXT_LEN + FRAME_OVERHEAD;

/// Why a frame could not be sealed or opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The frame is shorter than counter + tag.
    #[error("frame of {len} bytes is truncated (at least {FRAME_OVERHEAD} bytes)")]
    Truncated {
        /// Received length.
        len: usize,
    },
    /// The frame is longer than [`MAX_FRAME_LEN`].
    #[error("frame of {len} bytes exceeds the limit of {MAX_FRAME_LEN} bytes")]
    TooLong {
        /// Received length.
        len: usize,
    },
    /// The plaintext to seal is longer than [`MAX_PLAINTEXT_LEN`].
    #[error("plaintext of {len} bytes exceeds the frame limit of {MAX_PLAINTEXT_LEN} bytes")]
    PlaintextTooLong {
        /// Plaintext length.
        len: usize,
    },
    /// The counter was replayed, is outside the window, or is the reserved value.
    #[error(transparent)]
    Replay(#[from] ReplayError),
    /// The tag does not verify: tampered, truncated, or sealed under another key (channel,
    /// direction or link).
    #[error("frame {counter} failed authentication (tampered, or not for this channel/direction)")]
    Authentication {
        /// The counter the frame claimed.
        counter: u64,
    },
    /// This channel direction has sent 2^64-1 frames; the link must be re-established.
    #[error("frame counter exhausted on this channel; re-establish the link")]
    CounterExhausted,
}

/// The sending half of one channel direction: seals frames with increasing counters.
///
/// The key is wiped on drop.
pub struct Sealer {
    aead: Aead,
    next: u64,
}

// The cipher wipes its key on drop (chacha20poly1305 implements `ZeroizeOnDrop`).
impl zeroize::ZeroizeOnDrop for Sealer {}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealer")
            .field("next", &self.next)
            .finish_non_exhaustive()
    }
}

impl Sealer {
    pub(crate) fn new(key: &Zeroizing<[u8; KEY_LEN]>) -> Self {
        Sealer {
            aead: Aead::new(key),
            next: 0,
        }
    }

    /// The counter the next frame will carry.
    pub fn next_counter(&self) -> u64 {
        self.next
    }

    /// Seals `plaintext` into a frame (layout in the module docs) and advances the counter.
    ///
    /// Fails when the plaintext exceeds [`MAX_PLAINTEXT_LEN`] or the counter is exhausted; a
    /// counter is never reused.
    pub fn seal(&mut self, plaintext: &[u8]) -> Result<Vec<u8>, FrameError> {
        if plaintext.len() > MAX_PLAINTEXT_LEN {
            return Err(FrameError::PlaintextTooLong {
                len: plaintext.len(),
            });
        }
        let counter = self.next;
        if counter == COUNTER_LIMIT {
            return Err(FrameError::CounterExhausted);
        }
        let header = counter.to_be_bytes();
        let mut frame = Vec::with_capacity(plaintext.len() + FRAME_OVERHEAD);
        frame.extend_from_slice(&header);
        frame.extend_from_slice(plaintext);
        let tag = self
            .aead
            .seal_in_place(counter, &header, &mut frame[COUNTER_LEN..])
            .ok_or(FrameError::PlaintextTooLong {
                len: plaintext.len(),
            })?;
        frame.extend_from_slice(&tag);
        self.next = counter + 1;
        Ok(frame)
    }

    /// Test hook: jump the counter forward (never backward, so no nonce is reused).
    #[cfg(test)]
    pub(crate) fn skip_to(&mut self, next: u64) {
        self.next = self.next.max(next);
    }
}

/// The receiving half of one channel direction: authenticates frames and rejects replays.
///
/// The key is wiped on drop.
pub struct Opener {
    aead: Aead,
    window: ReplayWindow,
}

// The cipher wipes its key on drop (chacha20poly1305 implements `ZeroizeOnDrop`).
impl zeroize::ZeroizeOnDrop for Opener {}

impl std::fmt::Debug for Opener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Opener")
            .field("highest", &self.window.highest())
            .finish_non_exhaustive()
    }
}

impl Opener {
    pub(crate) fn new(key: &Zeroizing<[u8; KEY_LEN]>) -> Self {
        Opener {
            aead: Aead::new(key),
            window: ReplayWindow::new(),
        }
    }

    /// The highest counter accepted so far (`None` before the first frame).
    pub fn highest(&self) -> Option<u64> {
        self.window.highest()
    }

    /// Opens a frame: checks its size, its counter against the replay window and its tag, then
    /// records the counter and returns the plaintext.
    ///
    /// A rejected frame leaves the window unchanged.
    pub fn open(&mut self, frame: &[u8]) -> Result<Vec<u8>, FrameError> {
        if frame.len() < FRAME_OVERHEAD {
            return Err(FrameError::Truncated { len: frame.len() });
        }
        if frame.len() > MAX_FRAME_LEN {
            return Err(FrameError::TooLong { len: frame.len() });
        }
        let (header, rest) = frame.split_at(COUNTER_LEN);
        let (ciphertext, tag) = rest.split_at(rest.len() - TAG_LEN);
        let mut counter_bytes = [0u8; COUNTER_LEN];
        counter_bytes.copy_from_slice(header);
        let counter = u64::from_be_bytes(counter_bytes);
        self.window.check(counter)?;
        let mut tag_bytes = [0u8; TAG_LEN];
        tag_bytes.copy_from_slice(tag);
        let mut plaintext = ciphertext.to_vec();
        if !self
            .aead
            .open_in_place(counter, header, &mut plaintext, &tag_bytes)
        {
            return Err(FrameError::Authentication { counter });
        }
        self.window.update(counter)?;
        Ok(plaintext)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn pair() -> (Sealer, Opener) {
        let key = Zeroizing::new([7u8; KEY_LEN]);
        (Sealer::new(&key), Opener::new(&key))
    }

    #[test]
    fn counter_exhaustion_refused() {
        let (mut s, mut o) = pair();
        s.skip_to(u64::MAX - 1);
        let last = s.seal(b"last").unwrap();
        assert_eq!(&last[..8], &(u64::MAX - 1).to_be_bytes());
        assert_eq!(s.seal(b"more"), Err(FrameError::CounterExhausted));
        assert_eq!(o.open(&last).unwrap(), b"last");
    }

    #[test]
    fn reserved_counter_rejected_before_authentication() {
        let (_, mut o) = pair();
        let mut frame = vec![0xffu8; 8];
        frame.extend_from_slice(&[0u8; 16]);
        assert_eq!(
            o.open(&frame),
            Err(FrameError::Replay(ReplayError::Exhausted {
                counter: u64::MAX
            }))
        );
    }

    #[test]
    fn size_limits() {
        let (mut s, mut o) = pair();
        let big = vec![0u8; MAX_PLAINTEXT_LEN];
        let frame = s.seal(&big).unwrap();
        assert_eq!(frame.len(), MAX_FRAME_LEN);
        assert_eq!(o.open(&frame).unwrap().len(), MAX_PLAINTEXT_LEN);
        assert_eq!(
            s.seal(&vec![0u8; MAX_PLAINTEXT_LEN + 1]),
            Err(FrameError::PlaintextTooLong {
                len: MAX_PLAINTEXT_LEN + 1
            })
        );
        assert_eq!(
            o.open(&vec![0u8; MAX_FRAME_LEN + 1]),
            Err(FrameError::TooLong {
                len: MAX_FRAME_LEN + 1
            })
        );
    }
}
