//! The simulation's inputs, outputs and the lower bound it is measured against.

use thiserror::Error;

use mon_proto::push::sched::{Config, Policy};

/// One simulated node. Node 0 is the source.
#[derive(Clone, Debug, PartialEq)]
pub struct SimNode {
    /// Upload capacity in bytes per millisecond (10 Mbit/s = 1250).
    pub upload: f64,
    /// Download capacity in bytes per millisecond (`f64::INFINITY`: unlimited). Blocks from
    /// all parents share it, first come first served; a parent's block to a slow receiver
    /// holds one of its sending slots until it is through.
    pub download: f64,
    /// Parents, first (tree) parent first; each must have a smaller index.
    pub parents: Vec<u32>,
    /// The node dies at this time.
    pub fail_at_ms: Option<f64>,
    /// The node corrupts every block it serves.
    pub corrupt: bool,
}

/// Simulation parameters.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// File size in bytes.
    pub file_size: u64,
    /// Block size in bytes.
    pub block_size: u32,
    /// Scheduling policy of every receiver.
    pub policy: Policy,
    /// Scheduler tuning of every receiver.
    pub sched: Config,
    /// Serving weight of a child whose first parent is the sender (others weigh 1).
    pub primary_weight: u32,
    /// One-way delay of every message and block, in ms.
    pub latency_ms: f64,
    /// Delay before both ends notice a dead node's links, in ms.
    pub detect_ms: f64,
    /// Seed of every node's scheduler RNG (mixed with the node index).
    pub seed: u64,
    /// The simulation stops here (nodes not done are reported as stalled).
    pub max_time_ms: f64,
    /// Parents tell their serve queue when a block left ([`ServeQueue::sent`]), so that a
    /// slow child holds at most one sending slot.
    ///
    /// [`ServeQueue::sent`]: mon_proto::push::serve::ServeQueue::sent
    pub report_sent: bool,
}

/// Why a simulation could not run.
#[derive(Debug, Error, PartialEq)]
pub enum SimError {
    /// No nodes.
    #[error("no source node")]
    NoSource,
    /// A parent index is not smaller than the node's, or the source has parents.
    #[error("node {node} has parent {parent}, which is not an earlier node")]
    BadParent {
        /// The node.
        node: u32,
        /// The parent.
        parent: u32,
    },
    /// Block size zero or file too large for `MAX_BLOCKS` blocks.
    #[error("{file_size} bytes in blocks of {block_size} is not a valid manifest")]
    Geometry {
        /// File size.
        file_size: u64,
        /// Block size.
        block_size: u32,
    },
    /// A node has zero or negative upload or download capacity.
    #[error("node {0} has no upload or download capacity")]
    Capacity(u32),
}

/// What happened.
#[derive(Clone, Debug, PartialEq)]
pub struct SimResult {
    /// Completion time of every node (`Some(0.0)` for the source; `None`: failed or stalled).
    pub finish_ms: Vec<Option<f64>>,
    /// Receivers that did not complete, with the reason (`dead`, `lost-all-parents`, `stalled`).
    pub failed: Vec<(u32, &'static str)>,
    /// The last completion among the receivers that completed.
    pub makespan_ms: f64,
    /// The Kumar–Ross lower bound.
    pub bound_ms: f64,
    /// `makespan / bound`.
    pub ratio: f64,
    /// Completed receivers × file size / makespan, bytes per ms.
    pub aggregate_rate: f64,
    /// Bytes uploaded by each node (including wasted duplicates and corrupt blocks).
    pub uploaded: Vec<u64>,
    /// Blocks rejected as corrupt, over all receivers.
    pub corrupt_rejected: u32,
    /// Copies received of blocks already held, over all receivers.
    pub duplicates: u32,
    /// Duplicate requests issued (endgame and hedging).
    pub hedges: u32,
    /// Requests that timed out, over all receivers.
    pub timeouts: u32,
    /// Parents dropped by receivers' schedulers (corrupt or unresponsive).
    pub dropped_parents: u32,
    /// Slow primaries passed over, over all receivers.
    pub rebalanced: u32,
}

/// The Kumar–Ross lower bound on the time to send `file` bytes to every receiver:
/// `max(F/u_s, N·F/(u_s + Σu_i), F/d_min)` (pass `f64::INFINITY` for unlimited download).
pub fn kumar_ross_bound(
    file: f64,
    source_upload: f64,
    receiver_uploads: &[f64],
    d_min: f64,
) -> f64 {
    let n = receiver_uploads.len() as f64;
    let total: f64 = source_upload + receiver_uploads.iter().sum::<f64>();
    (file / source_upload)
        .max(n * file / total)
        .max(file / d_min)
}
