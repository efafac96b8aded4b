//! Push manifests: per-block BLAKE3 hashes, block geometry and block verification.
//!
//! A block is `block_size` bytes except the last, which holds the remainder. Its hash is the
//! plain BLAKE3 hash of its bytes; the user signs the manifest, so a block is authentic exactly
//! when its hash equals the manifest entry at its index.

use std::io::{self, Read};

use thiserror::Error;

use super::geometry::{self, GeometryError};
pub use super::geometry::{
    block_len, block_offset, default_block_size, MAX_BLOCKS, MAX_BLOCK_SIZE,
    MIN_DEFAULT_BLOCK_SIZE, TARGET_BLOCKS,
};
use crate::wire::session::Manifest;

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
    /// Block size zero or above [`MAX_BLOCK_SIZE`] (one the push decoder cannot carry).
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

/// Checks the geometry a download relies on ([`geometry::check_carriable`]): block size in
/// `1 ..= MAX_BLOCK_SIZE`, one hash per block, at most [`MAX_BLOCKS`] of them.
pub fn check_geometry(m: &Manifest) -> Result<u32, ManifestError> {
    if geometry::check_carriable(0, m.block_size).is_err() {
        return Err(ManifestError::BlockSize(m.block_size));
    }
    let want = geometry::block_count(m.size, m.block_size);
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
/// and with `InvalidInput` if [`geometry::check_carriable`] refuses the block size or file size
/// (the message names a block size that fits, when one does).
pub fn build_manifest(
    name: &str,
    mut data: impl Read,
    size: u64,
    mode: u32,
    block_size: u32,
    dest: &str,
) -> io::Result<Manifest> {
    let nblocks = geometry::check_carriable(size, block_size)
        .map_err(|e: GeometryError| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
    let blocks = hash_blocks(&mut data, size, block_size, nblocks)?;
    at_end(&mut data, size)?;
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

/// The hashes of the `nblocks` blocks of the first `size` bytes of `data`; `InvalidData`
/// when `data` ends early.
fn hash_blocks(
    data: &mut impl Read,
    size: u64,
    block_size: u32,
    nblocks: u64,
) -> io::Result<Vec<serde_bytes::ByteArray<32>>> {
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
                changed(format!("file is shorter than {size} bytes"))
            } else {
                e
            }
        })?;
        blocks.push(serde_bytes::ByteArray::new(*blake3::hash(chunk).as_bytes()));
        left -= n as u64;
    }
    Ok(blocks)
}

/// `InvalidData` unless `data` has nothing after its first `size` bytes.
fn at_end(data: &mut impl Read, size: u64) -> io::Result<()> {
    let mut probe = [0u8; 1];
    if data.read(&mut probe)? != 0 {
        return Err(changed(format!("file is longer than {size} bytes")));
    }
    Ok(())
}

/// The error for a file whose length is not the one measured: `what`, and the likely cause.
fn changed(what: String) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("{what} (did it change while reading?)"),
    )
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
        m.block_size = MAX_BLOCK_SIZE * 2;
        assert_eq!(
            check_geometry(&m),
            Err(ManifestError::BlockSize(MAX_BLOCK_SIZE * 2)),
            "a block the push decoder cannot carry"
        );
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
}
