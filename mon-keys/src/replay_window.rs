//! Sliding anti-replay window for 64-bit frame counters (WireGuard style, after RFC 6479).
//!
//! The window remembers which of the last [`WINDOW_SIZE`] counters below the highest accepted
//! one have been seen, in a ring of [`BLOCKS`] 64-bit words. A counter is accepted when it is
//! above the highest accepted counter, or within the window and not yet seen. Everything older
//! is rejected, so frames may arrive reordered by up to `WINDOW_SIZE - 1` positions.
//!
//! Use [`ReplayWindow::check`] before authenticating a frame and [`ReplayWindow::update`] only
//! after it authenticated, so that forged frames cannot move the window.

/// Number of 64-bit words in the ring.
pub const BLOCKS: usize = 32;
/// Bits in the ring (2048).
const RING_BITS: u64 = (BLOCKS as u64) * 64;
/// Counters accepted below the highest one: `highest - counter < WINDOW_SIZE` (1984, as
/// WireGuard: the ring minus one word, which is cleared as the window slides).
pub const WINDOW_SIZE: u64 = RING_BITS - 64;
/// The counter value that is never accepted (the sender refuses to reach it).
pub const COUNTER_LIMIT: u64 = u64::MAX;

/// Why a counter was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ReplayError {
    /// The counter was already accepted.
    #[error("frame counter {counter} was already received (replay)")]
    Replayed {
        /// The rejected counter.
        counter: u64,
    },
    /// The counter is older than the window.
    #[error(
        "frame counter {counter} is too old (highest received {highest}, window {WINDOW_SIZE})"
    )]
    TooOld {
        /// The rejected counter.
        counter: u64,
        /// The highest counter accepted so far.
        highest: u64,
    },
    /// The counter is the reserved final value.
    #[error("frame counter {counter} is beyond the limit")]
    Exhausted {
        /// The rejected counter.
        counter: u64,
    },
}

/// The anti-replay state of one receiving direction of one channel.
#[derive(Debug, Clone)]
pub struct ReplayWindow {
    /// Highest accepted counter + 1; 0 before any counter was accepted.
    next: u64,
    /// Bit `c % RING_BITS` is set when counter `c` (within the window) was accepted.
    ring: [u64; BLOCKS],
}

impl Default for ReplayWindow {
    fn default() -> Self {
        Self::new()
    }
}

impl ReplayWindow {
    /// An empty window: every counter below [`COUNTER_LIMIT`] is acceptable.
    pub fn new() -> Self {
        ReplayWindow {
            next: 0,
            ring: [0; BLOCKS],
        }
    }

    /// The highest counter accepted so far.
    pub fn highest(&self) -> Option<u64> {
        self.next.checked_sub(1)
    }

    fn slot(counter: u64) -> (usize, u64) {
        // `counter / 64 % BLOCKS` < BLOCKS, so the cast is lossless.
        let block = ((counter / 64) % BLOCKS as u64) as usize;
        (block, 1u64 << (counter % 64))
    }

    /// Whether `counter` would be accepted now, without recording it.
    pub fn check(&self, counter: u64) -> Result<(), ReplayError> {
        if counter == COUNTER_LIMIT {
            return Err(ReplayError::Exhausted { counter });
        }
        let Some(highest) = self.highest() else {
            return Ok(());
        };
        if counter > highest {
            return Ok(());
        }
        if highest - counter >= WINDOW_SIZE {
            return Err(ReplayError::TooOld { counter, highest });
        }
        let (block, bit) = Self::slot(counter);
        if self.ring[block] & bit != 0 {
            return Err(ReplayError::Replayed { counter });
        }
        Ok(())
    }

    /// Checks `counter` and records it as received. Call only for authenticated frames.
    pub fn update(&mut self, counter: u64) -> Result<(), ReplayError> {
        self.check(counter)?;
        if counter >= self.next {
            // Slide: clear the words between the old highest and the new one.
            let new_block = counter / 64;
            let first_clear = match self.highest() {
                Some(h) => h / 64 + 1,
                None => 0,
            };
            let to_clear = new_block
                .saturating_sub(first_clear)
                .saturating_add(1)
                .min(BLOCKS as u64);
            if new_block >= first_clear {
                for i in 0..to_clear {
                    let b = ((new_block - i) % BLOCKS as u64) as usize;
                    self.ring[b] = 0;
                }
            }
            self.next = counter + 1;
        }
        let (block, bit) = Self::slot(counter);
        self.ring[block] |= bit;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashSet;

    /// Reference model: a set of everything accepted plus the window rule.
    fn model_accepts(seen: &HashSet<u64>, highest: Option<u64>, c: u64) -> bool {
        if c == u64::MAX || seen.contains(&c) {
            return false;
        }
        match highest {
            Some(h) if c <= h => h - c < WINDOW_SIZE,
            _ => true,
        }
    }

    #[test]
    fn in_order_then_replay() {
        let mut w = ReplayWindow::new();
        for c in 0..5000 {
            w.update(c).unwrap();
        }
        assert_eq!(w.update(4999), Err(ReplayError::Replayed { counter: 4999 }));
        assert_eq!(
            w.update(4999 - WINDOW_SIZE + 1),
            Err(ReplayError::Replayed {
                counter: 4999 - WINDOW_SIZE + 1
            })
        );
        assert!(matches!(
            w.update(4999 - WINDOW_SIZE),
            Err(ReplayError::TooOld { .. })
        ));
        assert_eq!(w.highest(), Some(4999));
    }

    #[test]
    fn big_jump_clears_ring() {
        let mut w = ReplayWindow::new();
        w.update(3).unwrap();
        w.update(3 + RING_BITS).unwrap();
        // 3 is too old now; 3 + RING_BITS - 1 was never seen and is inside the window.
        assert!(matches!(w.check(3), Err(ReplayError::TooOld { .. })));
        w.update(3 + RING_BITS - 1).unwrap();
        w.update(u64::MAX - 1).unwrap();
        assert_eq!(
            w.check(u64::MAX),
            Err(ReplayError::Exhausted { counter: u64::MAX })
        );
        assert!(w.check(u64::MAX - 2).is_ok());
    }

    proptest! {
        #[test]
        fn matches_model(steps in proptest::collection::vec((0u64..6000, any::<bool>()), 1..400)) {
            let mut w = ReplayWindow::new();
            let mut seen = HashSet::new();
            let mut highest = None;
            for (c, far) in steps {
                let c = if far { c.saturating_mul(1 << 40) } else { c };
                let expect = model_accepts(&seen, highest, c);
                prop_assert_eq!(w.update(c).is_ok(), expect, "counter {}", c);
                if expect {
                    seen.insert(c);
                    highest = Some(highest.map_or(c, |h: u64| h.max(c)));
                }
            }
        }
    }
}
