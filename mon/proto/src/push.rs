//! Software push data plane, sans-IO (paper §2.3 "Software Push", issue 4).
//!
//! - [`geometry`]: every size bound (block size, block count, file size, message cap).
//! - [`manifest`]: per-block BLAKE3 hashes, block verification.
//! - [`bitset`]: block bitmaps (what a node holds, what a parent advertises).
//! - [`sched`]: the receiver-driven multi-parent download scheduler ([`sched::Download`]).
//! - [`serve`]: the parent side: which child's request to serve next ([`serve::ServeQueue`]).
//! - [`msg`]: the messages on a push session's links (hop channel 1).
//! - [`ends`]: per-node progress: which nodes finished, reported up the tree in bounded
//!   batches while the push runs.
//!
//! The virtual-time simulation of a whole push DAG lives in the `mon-sim` crate (`mon_sim::push`).
//!
//! A block is verified against the user-signed manifest before it is written, advertised or
//! served; a parent that sends a bad block is dropped for the session.

pub mod bitset;
pub mod ends;
pub mod geometry;
pub mod manifest;
pub mod msg;
pub mod sched;
pub mod serve;

pub use bitset::BitSet;
pub use manifest::{block_hashes, build_manifest, default_block_size, verify_block, BlockError};
pub use sched::{BlockOutcome, Config, Download, Event, FailReason, ParentId, Policy};
