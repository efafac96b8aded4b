//! Push manifests: per-block BLAKE3 hashes, block geometry and block verification.
//!
//! A block is `block_size` bytes except the last, which holds the remainder. Its hash is the
//! plain BLAKE3 hash of its bytes; the user signs the manifest, so a block is authentic exactly
//! when its hash equals the manifest entry at its index.

use std::io::{self, Read};

use thiserror::Error;

use crate::wire::session::{Manifest, MAX_BLOCKS};

/// Largest block size a manifest may carry.
pub const MAX_BLOCK_SIZE: u32 = 16 * 1024 * 1024;

/// Why a block was refused.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum BlockError {
    /// The index is past the last block.
    #[error("block {index} does not exist (the manifest has {blocks} blocks)")]
    OutOfRange {
        /// Index received.
        index: u32,
        /// Blocks in the manifest.
        blocks: usize,
    },
    /// The block has the wrong length.
    #[error("block {index} is {got} bytes, the manifest says {want}")]
    Length {
        /// Block index.
        index: u32,
        /// Bytes received.
        got: usize,
        /// Bytes expected.
        want: u64,
    },
    /// The bytes do not hash to the manifest entry.
    #[error("block {index} does not match its hash in the signed manifest")]
    Hash {
        /// Block index.
        index: u32,
    },
}

impl BlockError {
    /// A stable reason code for audit records and counters.
    pub fn code(&self) -> &'static str {
        match self {
            BlockError::OutOfRange { .. } => "block-out-of-range",
            BlockError::Length { .. } => "block-length",
            BlockError::Hash { .. } => "block-hash",
        }
    }
}

/// Why a manifest cannot drive a download (the session decoder normally catches these first).
#[derive(Debug, Error, PartialEq, Eq)]
pub enum ManifestError {
    /// Block size zero or above the limit.
    #[error("block size {0} out of range")]
    BlockSize(u32),
    /// The number of hashes does not fit the size and block size.
    #[error("manifest lists {got} blocks, size {size} needs {want} (at most {MAX_BLOCKS})")]
    BlockCount {
        /// Hashes listed.
        got: usize,
        /// Hashes needed.
        want: u64,
        /// File size.
        size: u64,
    },
}

/// Checks the geometry a download relies on: block size in range, one hash per block.
pub fn check_geometry(m: &Manifest) -> Result<u32, ManifestError> {
    if m.block_size == 0 || m.block_size > MAX_BLOCK_SIZE {
        return Err(ManifestError::BlockSize(m.block_size));
    }
    let want = m.size.div_ceil(u64::from(m.block_size));
    if m.blocks.len() as u64 != want || m.blocks.len() > MAX_BLOCKS {
        return Err(ManifestError::BlockCount {
            got: m.blocks.len(),
            want,
            size: m.size,
        });
    }
    u32::try_from(m.blocks.len()).map_err(|_| ManifestError::BlockCount {
        got: m.blocks.len(),
        want,
        size: m.size,
    })
}

/// Blocks the default block size aims for (pipeline delay per DAG hop is one block time, so
/// the push overhead of a chain of `N` hops is about `N / TARGET_BLOCKS`).
pub const TARGET_BLOCKS: u64 = 1024;
/// Smallest default block size.
pub const MIN_DEFAULT_BLOCK_SIZE: u32 = 32 * 1024;
/// Largest default block size unless the file needs more to stay within `MAX_BLOCKS` blocks
/// (bounds the memory held by in-flight blocks).
pub const MAX_DEFAULT_BLOCK_SIZE: u32 = 1024 * 1024;

/// The default block size for a file of `size` bytes: a power of two giving about
/// [`TARGET_BLOCKS`] blocks, within 32 KiB ..= 1 MiB; larger only if the file would need more
/// than `MAX_BLOCKS` blocks (up to 16 MiB, which bounds pushable files at about 94 GiB).
/// See docs/push-design.md for the simulation behind these numbers.
pub fn default_block_size(size: u64) -> u32 {
    let mut bs = MIN_DEFAULT_BLOCK_SIZE;
    while bs < MAX_DEFAULT_BLOCK_SIZE && size.div_ceil(u64::from(bs)) > TARGET_BLOCKS {
        bs *= 2;
    }
    while bs < MAX_BLOCK_SIZE && size.div_ceil(u64::from(bs)) > MAX_BLOCKS as u64 {
        bs *= 2;
    }
    bs
}

/// Length in bytes of block `index` of a file of `size` bytes cut into `block_size` blocks,
/// or `None` past the end.
pub fn block_len(size: u64, block_size: u32, index: u32) -> Option<u64> {
    let bs = u64::from(block_size);
    let start = u64::from(index).checked_mul(bs)?;
    if bs == 0 || start >= size {
        return None;
    }
    Some((size - start).min(bs))
}

/// Byte offset of block `index` in the file.
pub fn block_offset(block_size: u32, index: u32) -> u64 {
    u64::from(index) * u64::from(block_size)
}

/// BLAKE3 hash of every `block_size` chunk of `data` (the last may be short). Zero-length data
/// has no blocks. A zero `block_size` is treated as one byte.
pub fn block_hashes(data: &[u8], block_size: u32) -> Vec<[u8; 32]> {
    data.chunks(block_size.max(1) as usize)
        .map(|c| *blake3::hash(c).as_bytes())
        .collect()
}

/// Checks block `index` against the manifest: in range, right length, BLAKE3 equal.
/// (The hashes are public, so a plain comparison is fine.)
pub fn verify_block(m: &Manifest, index: u32, bytes: &[u8]) -> Result<(), BlockError> {
    let Some(want_hash) = m.blocks.get(index as usize) else {
        return Err(BlockError::OutOfRange {
            index,
            blocks: m.blocks.len(),
        });
    };
    verify_against(m.size, m.block_size, want_hash, index, bytes)
}

/// [`verify_block`] with the manifest fields passed separately (the scheduler keeps a copy).
pub(crate) fn verify_against(
    size: u64,
    block_size: u32,
    want_hash: &[u8; 32],
    index: u32,
    bytes: &[u8],
) -> Result<(), BlockError> {
    let want_len = block_len(size, block_size, index).unwrap_or(0);
    if bytes.len() as u64 != want_len {
        return Err(BlockError::Length {
            index,
            got: bytes.len(),
            want: want_len,
        });
    }
    if blake3::hash(bytes).as_bytes() != want_hash {
        return Err(BlockError::Hash { index });
    }
    Ok(())
}

/// Builds a manifest by reading exactly `size` bytes from `data`, hashing block by block
/// (memory use: one block). Fails with `InvalidData` if the reader yields fewer or more bytes,
/// and with `InvalidInput` if the block size is out of range or the file needs more than
/// `MAX_BLOCKS` blocks.
pub fn build_manifest(
    name: &str,
    mut data: impl Read,
    size: u64,
    mode: u32,
    block_size: u32,
    dest: &str,
) -> io::Result<Manifest> {
    if block_size == 0 || block_size > MAX_BLOCK_SIZE {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("block size {block_size} out of range (1..={MAX_BLOCK_SIZE})"),
        ));
    }
    let nblocks = size.div_ceil(u64::from(block_size));
    if nblocks > MAX_BLOCKS as u64 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "{size} bytes in blocks of {block_size} make {nblocks} blocks, \
                 more than {MAX_BLOCKS}: use a larger block size"
            ),
        ));
    }
    let mut blocks = Vec::with_capacity(nblocks as usize);
    let mut buf = vec![0u8; block_size as usize];
    let mut left = size;
    while left > 0 {
        let n = left.min(u64::from(block_size)) as usize;
        let chunk = buf
            .get_mut(..n)
            .ok_or_else(|| io::Error::other("block buffer"))?;
        data.read_exact(chunk).map_err(|e| {
            if e.kind() == io::ErrorKind::UnexpectedEof {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("file is shorter than {size} bytes (did it change while reading?)"),
                )
            } else {
                e
            }
        })?;
        blocks.push(serde_bytes::ByteArray::new(*blake3::hash(chunk).as_bytes()));
        left -= n as u64;
    }
    let mut probe = [0u8; 1];
    if data.read(&mut probe)? != 0 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("file is longer than {size} bytes (did it change while reading?)"),
        ));
    }
    Ok(Manifest {
        name: name.to_string(),
        size,
        mode,
        block_size,
        blocks,
        dest: dest.to_string(),
        cond: None,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn data(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 7 + i / 251) as u8).collect()
    }

    #[test]
    fn manifest_matches_block_hashes_and_verifies() {
        let d = data(10_000);
        let m = build_manifest("f", &d[..], 10_000, 0o755, 4096, "/srv/f").unwrap();
        assert_eq!(m.blocks.len(), 3);
        let hashes = block_hashes(&d, 4096);
        assert_eq!(
            m.blocks.iter().map(|b| **b).collect::<Vec<_>>(),
            hashes,
            "streamed and in-memory hashing agree"
        );
        assert_eq!(check_geometry(&m), Ok(3));
        verify_block(&m, 0, &d[..4096]).unwrap();
        verify_block(&m, 2, &d[8192..]).unwrap();
        assert_eq!(block_len(10_000, 4096, 2), Some(10_000 - 8192));
        assert_eq!(block_len(10_000, 4096, 3), None);
    }

    #[test]
    fn verify_rejects_wrong_bytes_length_and_index() {
        let d = data(10_000);
        let m = build_manifest("f", &d[..], 10_000, 0o644, 4096, "/srv/f").unwrap();
        let mut bad = d[..4096].to_vec();
        bad[100] ^= 1;
        assert_eq!(
            verify_block(&m, 0, &bad),
            Err(BlockError::Hash { index: 0 })
        );
        assert_eq!(
            verify_block(&m, 1, &d[..4096]),
            Err(BlockError::Hash { index: 1 }),
            "right bytes at the wrong index"
        );
        assert_eq!(
            verify_block(&m, 2, &d[8192..9000]),
            Err(BlockError::Length {
                index: 2,
                got: 808,
                want: 1808
            })
        );
        assert_eq!(
            verify_block(&m, 3, &[]),
            Err(BlockError::OutOfRange {
                index: 3,
                blocks: 3
            })
        );
        assert_eq!(BlockError::Hash { index: 0 }.code(), "block-hash");
    }

    #[test]
    fn build_rejects_short_long_and_oversized() {
        let d = data(5000);
        let e = build_manifest("f", &d[..], 6000, 0o644, 4096, "/d").unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
        assert!(e.to_string().contains("shorter"));
        let e = build_manifest("f", &d[..], 4000, 0o644, 4096, "/d").unwrap_err();
        assert!(e.to_string().contains("longer"));
        let e = build_manifest("f", io::empty(), 1 << 40, 0o644, 4096, "/d").unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        assert!(build_manifest("f", io::empty(), 0, 0o644, 0, "/d").is_err());
        let empty = build_manifest("f", io::empty(), 0, 0o644, 4096, "/d").unwrap();
        assert!(empty.blocks.is_empty());
    }

    #[test]
    fn geometry_errors_instead_of_panics() {
        let mut m = build_manifest("f", &data(100)[..], 100, 0o644, 4096, "/d").unwrap();
        m.block_size = 0;
        assert_eq!(check_geometry(&m), Err(ManifestError::BlockSize(0)));
        m.block_size = 4096;
        m.size = 5000;
        assert!(matches!(
            check_geometry(&m),
            Err(ManifestError::BlockCount {
                got: 1,
                want: 2,
                ..
            })
        ));
    }

    #[test]
    fn default_block_size_bounds_block_count() {
        assert_eq!(default_block_size(0), MIN_DEFAULT_BLOCK_SIZE);
        assert_eq!(default_block_size(8 << 20), 32 * 1024);
        assert_eq!(default_block_size(64 << 20), 64 * 1024);
        assert_eq!(default_block_size(1 << 30), 1024 * 1024);
        assert_eq!(
            default_block_size(4 << 30),
            1024 * 1024,
            "5.8 GiB fit in 1 MiB blocks"
        );
        assert_eq!(default_block_size(8 << 30), 2 * 1024 * 1024);
        for size in [1u64, 1 << 20, 1 << 30, 5 << 30, 90 << 30] {
            let bs = default_block_size(size);
            assert!(bs.is_power_of_two() && bs >= MIN_DEFAULT_BLOCK_SIZE);
            assert!(size.div_ceil(u64::from(bs)) <= MAX_BLOCKS as u64, "{size}");
        }
        assert_eq!(default_block_size(u64::MAX), MAX_BLOCK_SIZE);
    }
}
