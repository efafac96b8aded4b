//! A fixed-length bit set over block indices: what a node holds, what a parent advertises.
//!
//! Wire form (block adverts): `ceil(len / 8)` bytes, bit `i` is bit `i % 8` (LSB first) of byte
//! `i / 8`; the unused high bits of the last byte must be zero. Decoding is strict.

use thiserror::Error;

/// Why advert bytes were rejected.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum BitSetError {
    /// The byte length does not match the block count.
    #[error("block bitmap is {got} bytes, {want} expected for {len} blocks")]
    Length {
        /// Bytes received.
        got: usize,
        /// Bytes expected.
        want: usize,
        /// Number of blocks.
        len: u32,
    },
    /// Bits past the last block are set.
    #[error("block bitmap has bits set past block {len}")]
    Padding {
        /// Number of blocks.
        len: u32,
    },
}

/// A set of block indices `0..len`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BitSet {
    words: Vec<u64>,
    len: u32,
    count: u32,
}

impl BitSet {
    /// An empty set over `len` blocks.
    pub fn new(len: u32) -> BitSet {
        BitSet {
            words: vec![0; (len as usize).div_ceil(64)],
            len,
            count: 0,
        }
    }

    /// The full set over `len` blocks.
    pub fn full(len: u32) -> BitSet {
        let mut s = BitSet::new(len);
        for w in &mut s.words {
            *w = u64::MAX;
        }
        s.clear_padding();
        s.count = len;
        s
    }

    fn clear_padding(&mut self) {
        let rem = self.len % 64;
        if rem != 0 {
            if let Some(last) = self.words.last_mut() {
                *last &= (1u64 << rem) - 1;
            }
        }
    }

    /// Number of blocks the set ranges over.
    pub fn len(&self) -> u32 {
        self.len
    }

    /// True when the set ranges over zero blocks.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Number of members.
    pub fn count(&self) -> u32 {
        self.count
    }

    /// True when every block is a member.
    pub fn is_full(&self) -> bool {
        self.count == self.len
    }

    /// Is `i` a member? Out-of-range indices are not.
    pub fn get(&self, i: u32) -> bool {
        if i >= self.len {
            return false;
        }
        self.words
            .get((i / 64) as usize)
            .is_some_and(|w| w & (1u64 << (i % 64)) != 0)
    }

    /// Adds `i`; returns true if it was not a member. Out-of-range indices are ignored.
    pub fn insert(&mut self, i: u32) -> bool {
        if i >= self.len {
            return false;
        }
        match self.words.get_mut((i / 64) as usize) {
            Some(w) if *w & (1u64 << (i % 64)) == 0 => {
                *w |= 1u64 << (i % 64);
                self.count += 1;
                true
            }
            _ => false,
        }
    }

    /// Removes `i`; returns true if it was a member.
    pub fn remove(&mut self, i: u32) -> bool {
        if i >= self.len {
            return false;
        }
        match self.words.get_mut((i / 64) as usize) {
            Some(w) if *w & (1u64 << (i % 64)) != 0 => {
                *w &= !(1u64 << (i % 64));
                self.count -= 1;
                true
            }
            _ => false,
        }
    }

    /// The raw words (bit `i` of word `w` is block `64 * w + i`); padding bits are zero.
    pub fn words(&self) -> &[u64] {
        &self.words
    }

    /// Members in increasing order.
    pub fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        self.words.iter().enumerate().flat_map(|(wi, &w)| {
            let base = (wi as u32) * 64;
            BitIter(w).map(move |b| base + b)
        })
    }

    /// The advert encoding (see the module documentation).
    pub fn to_bytes(&self) -> Vec<u8> {
        let n = (self.len as usize).div_ceil(8);
        let mut out = Vec::with_capacity(n);
        for w in &self.words {
            out.extend_from_slice(&w.to_le_bytes());
        }
        out.truncate(n);
        out
    }

    /// Decodes an advert for `len` blocks, strictly.
    pub fn from_bytes(len: u32, bytes: &[u8]) -> Result<BitSet, BitSetError> {
        let want = (len as usize).div_ceil(8);
        if bytes.len() != want {
            return Err(BitSetError::Length {
                got: bytes.len(),
                want,
                len,
            });
        }
        let mut s = BitSet::new(len);
        for (w, chunk) in s.words.iter_mut().zip(bytes.chunks(8)) {
            let mut b = [0u8; 8];
            b[..chunk.len()].copy_from_slice(chunk);
            *w = u64::from_le_bytes(b);
        }
        let before: u32 = s.words.iter().map(|w| w.count_ones()).sum();
        s.clear_padding();
        let after: u32 = s.words.iter().map(|w| w.count_ones()).sum();
        if before != after {
            return Err(BitSetError::Padding { len });
        }
        s.count = after;
        Ok(s)
    }
}

/// Iterates the set bit positions of one word.
struct BitIter(u64);

impl Iterator for BitIter {
    type Item = u32;
    fn next(&mut self) -> Option<u32> {
        if self.0 == 0 {
            return None;
        }
        let b = self.0.trailing_zeros();
        self.0 &= self.0 - 1;
        Some(b)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn insert_remove_count() {
        let mut s = BitSet::new(130);
        assert!(s.insert(0));
        assert!(s.insert(129));
        assert!(!s.insert(129));
        assert!(!s.insert(130), "out of range is ignored");
        assert_eq!(s.count(), 2);
        assert!(s.get(129) && !s.get(128) && !s.get(1000));
        assert_eq!(s.iter().collect::<Vec<_>>(), vec![0, 129]);
        assert!(s.remove(0));
        assert!(!s.remove(0));
        assert_eq!(s.count(), 1);
    }

    #[test]
    fn full_has_no_padding_bits() {
        let s = BitSet::full(70);
        assert!(s.is_full());
        assert_eq!(s.iter().count(), 70);
        assert_eq!(s.to_bytes().len(), 9);
        assert_eq!(*s.to_bytes().last().unwrap(), 0b0011_1111);
    }

    #[test]
    fn bytes_round_trip_and_strictness() {
        let mut s = BitSet::new(13);
        for i in [0, 5, 8, 12] {
            s.insert(i);
        }
        let b = s.to_bytes();
        assert_eq!(b, vec![0b0010_0001, 0b0001_0001]);
        assert_eq!(BitSet::from_bytes(13, &b).unwrap(), s);
        assert_eq!(
            BitSet::from_bytes(13, &[0, 0, 0]),
            Err(BitSetError::Length {
                got: 3,
                want: 2,
                len: 13
            })
        );
        assert_eq!(
            BitSet::from_bytes(13, &[0, 0b0010_0000]),
            Err(BitSetError::Padding { len: 13 })
        );
        assert_eq!(BitSet::from_bytes(0, &[]).unwrap().len(), 0);
    }
}
