//! Push geometry: the one home of every size bound a push relies on.
//!
//! A file is cut into blocks of `block_size` bytes (the last holds the remainder). Every block
//! travels whole in one push message ([`crate::push::msg::PushMsg::Block`]), which the
//! decoder takes up to [`MAX_PUSH_MSG`] bytes: so the largest block is [`MAX_BLOCK_SIZE`],
//! and [`MAX_PUSH_MSG`] is derived from it, not the other way round. A signed manifest lists
//! one hash per block, at most [`MAX_BLOCKS`] of them, which makes [`MAX_FILE_SIZE`] =
//! `MAX_BLOCK_SIZE × MAX_BLOCKS` (about 2.9 GiB) the largest pushable file.
//!
//! Two checks, both here: [`check`] is what a signed session may carry (block size
//! [`MIN_BLOCK_SIZE`] ..= [`MAX_BLOCK_SIZE`], at most [`MAX_BLOCKS`] blocks); the client
//! ([`choose_block_size`]) applies it before it hashes and the session decoder
//! ([`crate::wire::session::Manifest::validate`]) on every node. [`check_carriable`] drops the
//! lower bound, which is a rule of the wire and not a need of the data plane: it is what
//! [`crate::push::build_manifest`] and the download scheduler
//! ([`crate::push::manifest::check_geometry`]) rely on (the push simulator hashes small
//! stand-in blocks). The push message decoder takes [`MAX_PUSH_MSG`]. docs/protocol.md and
//! docs/operations.md state the same numbers.

/// Smallest block size a manifest may carry (below it, per-block costs dominate).
pub const MIN_BLOCK_SIZE: u32 = 4 * 1024;
/// Largest block size a manifest may carry: a block and its envelope must fit one push
/// message ([`MAX_PUSH_MSG`]).
pub const MAX_BLOCK_SIZE: u32 = 512 * 1024;
/// Largest number of blocks in one push manifest (bounds the signed session's size).
pub const MAX_BLOCKS: usize = 6000;
/// Largest pushable file: [`MAX_BLOCKS`] blocks of [`MAX_BLOCK_SIZE`] (3,145,728,000 bytes,
/// about 2.9 GiB).
pub const MAX_FILE_SIZE: u64 = MAX_BLOCK_SIZE as u64 * MAX_BLOCKS as u64;
/// Bytes a push message adds around a block's bytes (CBOR enum tag, index, length), with room
/// to spare.
pub const PUSH_MSG_ENVELOPE: usize = 1024;
/// Largest encoded push message the decoder accepts: the largest block and its envelope.
pub const MAX_PUSH_MSG: usize = MAX_BLOCK_SIZE as usize + PUSH_MSG_ENVELOPE;

/// Blocks the default block size aims for (pipeline delay per DAG hop is one block time, so
/// the push overhead of a chain of `N` hops is about `N / TARGET_BLOCKS`).
pub const TARGET_BLOCKS: u64 = 1024;
/// Smallest default block size.
pub const MIN_DEFAULT_BLOCK_SIZE: u32 = 32 * 1024;

/// Why a block size or file size cannot make a manifest.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum GeometryError {
    /// The block size is outside [`MIN_BLOCK_SIZE`] ..= [`MAX_BLOCK_SIZE`] (or zero, for
    /// [`check_carriable`]).
    #[error("block size {0} out of range ({MIN_BLOCK_SIZE}..={MAX_BLOCK_SIZE})")]
    BlockSize(u32),
    /// The file needs more than [`MAX_BLOCKS`] blocks at this block size; `advice` names the
    /// smallest block size that fits, when one does.
    #[error("{size} bytes in blocks of {block_size} make {blocks} blocks, more than {MAX_BLOCKS}{}",
        advice_text(*.advice))]
    TooManyBlocks {
        /// File size.
        size: u64,
        /// Block size asked for.
        block_size: u32,
        /// Blocks it would take.
        blocks: u64,
        /// The smallest accepted block size that fits the file, if any.
        advice: Option<u32>,
    },
}

fn advice_text(advice: Option<u32>) -> String {
    match advice {
        Some(bs) => format!(": use a block size of at least {}K", bs.div_ceil(1024)),
        None => format!(
            ": the largest pushable file is {MAX_FILE_SIZE} bytes ({MAX_BLOCKS} blocks of {}K)",
            MAX_BLOCK_SIZE / 1024
        ),
    }
}

/// True when `block_size` is one a manifest may carry (and so one the decoder can carry).
pub fn block_size_ok(block_size: u32) -> bool {
    (MIN_BLOCK_SIZE..=MAX_BLOCK_SIZE).contains(&block_size)
}

/// Blocks a file of `size` bytes takes in blocks of `block_size` (zero block size: none fit).
pub fn block_count(size: u64, block_size: u32) -> u64 {
    if block_size == 0 {
        return u64::MAX;
    }
    size.div_ceil(u64::from(block_size))
}

/// Checks that `block_size` is one a signed session may carry and that a file of `size` bytes
/// fits [`MAX_BLOCKS`] blocks of it; returns the block count.
pub fn check(size: u64, block_size: u32) -> Result<u64, GeometryError> {
    if !block_size_ok(block_size) {
        return Err(GeometryError::BlockSize(block_size));
    }
    check_carriable(size, block_size)
}

/// [`check`] without the lower bound on the block size: `1 ..= MAX_BLOCK_SIZE`, at most
/// [`MAX_BLOCKS`] blocks. What the data plane (hashing, scheduling, the push decoder) needs.
pub fn check_carriable(size: u64, block_size: u32) -> Result<u64, GeometryError> {
    if block_size == 0 || block_size > MAX_BLOCK_SIZE {
        return Err(GeometryError::BlockSize(block_size));
    }
    let blocks = block_count(size, block_size);
    if blocks > MAX_BLOCKS as u64 {
        return Err(GeometryError::TooManyBlocks {
            size,
            block_size,
            blocks,
            advice: smallest_block_size_for(size),
        });
    }
    Ok(blocks)
}

/// The smallest block size (a multiple of 1 KiB, at least [`MIN_BLOCK_SIZE`]) that fits a
/// file of `size` bytes in [`MAX_BLOCKS`] blocks, or `None` above [`MAX_FILE_SIZE`].
pub fn smallest_block_size_for(size: u64) -> Option<u32> {
    if size > MAX_FILE_SIZE {
        return None;
    }
    let need = size.div_ceil(MAX_BLOCKS as u64).div_ceil(1024) * 1024;
    let bs = u32::try_from(need).ok()?.max(MIN_BLOCK_SIZE);
    block_size_ok(bs).then_some(bs)
}

/// The default block size for a file of `size` bytes: a power of two giving about
/// [`TARGET_BLOCKS`] blocks, within [`MIN_DEFAULT_BLOCK_SIZE`] ..= [`MAX_BLOCK_SIZE`] (which
/// also bounds the memory held by in-flight blocks). A file above [`MAX_FILE_SIZE`] gets
/// [`MAX_BLOCK_SIZE`], which [`check`] then refuses. See docs/push-design.md for the
/// simulation behind these numbers.
pub fn default_block_size(size: u64) -> u32 {
    let mut bs = MIN_DEFAULT_BLOCK_SIZE;
    while bs < MAX_BLOCK_SIZE && block_count(size, bs) > TARGET_BLOCKS {
        bs *= 2;
    }
    while bs < MAX_BLOCK_SIZE && block_count(size, bs) > MAX_BLOCKS as u64 {
        bs *= 2;
    }
    bs
}

/// The block size a push uses: `asked` (from `--block-size`) or the default for `size`,
/// checked with [`check`].
pub fn choose_block_size(size: u64, asked: Option<u32>) -> Result<u32, GeometryError> {
    let bs = asked.unwrap_or_else(|| default_block_size(size));
    check(size, bs)?;
    Ok(bs)
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::push::msg::PushMsg;

    #[test]
    fn the_largest_block_passes_the_push_decoder() {
        let m = PushMsg::Block(u32::MAX, vec![0xa5; MAX_BLOCK_SIZE as usize]);
        let bytes = m.to_bytes();
        assert!(bytes.len() <= MAX_PUSH_MSG, "{} bytes", bytes.len());
        assert_eq!(PushMsg::from_bytes(&bytes).unwrap(), m);
        let too_big = PushMsg::Block(0, vec![0; MAX_PUSH_MSG]).to_bytes();
        assert!(PushMsg::from_bytes(&too_big).is_err());
    }

    #[test]
    fn a_manifest_whose_blocks_cannot_decode_is_refused_by_validate() {
        let data = vec![7u8; 3 << 20];
        let mut m =
            crate::push::build_manifest("f", &data[..], 3 << 20, 0o644, MAX_BLOCK_SIZE, "/srv/f")
                .unwrap();
        assert!(m.validate().is_ok(), "the largest block size is accepted");
        m.block_size = 1 << 20;
        m.blocks.truncate(3);
        let e = m.validate().unwrap_err();
        assert!(e.contains("block size 1048576 out of range"), "{e}");
        assert!(crate::push::manifest::check_geometry(&m).is_err());
    }

    #[test]
    fn file_size_bound_is_max_block_times_max_blocks() {
        assert_eq!(MAX_FILE_SIZE, 3_145_728_000);
        assert_eq!(check(MAX_FILE_SIZE, MAX_BLOCK_SIZE), Ok(MAX_BLOCKS as u64));
        assert!(matches!(
            check(MAX_FILE_SIZE + 1, MAX_BLOCK_SIZE),
            Err(GeometryError::TooManyBlocks { advice: None, .. })
        ));
        assert_eq!(
            check(1, MAX_BLOCK_SIZE + 1024),
            Err(GeometryError::BlockSize(MAX_BLOCK_SIZE + 1024))
        );
        assert_eq!(
            check(1, MIN_BLOCK_SIZE - 1),
            Err(GeometryError::BlockSize(MIN_BLOCK_SIZE - 1))
        );
    }

    #[test]
    fn the_advice_names_a_block_size_that_is_accepted() {
        for size in [
            6001 * 4096u64,
            1 << 30,
            2 << 30,
            MAX_FILE_SIZE - 1,
            MAX_FILE_SIZE,
        ] {
            let Err(GeometryError::TooManyBlocks { advice, .. }) = check(size, MIN_BLOCK_SIZE)
            else {
                panic!("{size} fits 4K blocks");
            };
            let bs = advice.unwrap();
            assert_eq!(choose_block_size(size, Some(bs)), Ok(bs), "{size}");
            let text = check(size, MIN_BLOCK_SIZE).unwrap_err().to_string();
            assert!(text.contains(&format!("{}K", bs / 1024)), "{text}");
        }
    }

    #[test]
    fn default_block_size_is_accepted_up_to_the_file_size_bound() {
        assert_eq!(default_block_size(0), MIN_DEFAULT_BLOCK_SIZE);
        assert_eq!(default_block_size(8 << 20), 32 * 1024);
        assert_eq!(default_block_size(64 << 20), 64 * 1024);
        assert_eq!(default_block_size(1 << 30), MAX_BLOCK_SIZE);
        for size in [0u64, 1, 1 << 20, 1 << 30, 2 << 30, MAX_FILE_SIZE] {
            let bs = default_block_size(size);
            assert!(bs.is_power_of_two() && bs >= MIN_DEFAULT_BLOCK_SIZE);
            assert_eq!(choose_block_size(size, None), Ok(bs), "{size}");
        }
        assert_eq!(default_block_size(u64::MAX), MAX_BLOCK_SIZE);
        assert!(choose_block_size(MAX_FILE_SIZE + 1, None).is_err());
    }
}
