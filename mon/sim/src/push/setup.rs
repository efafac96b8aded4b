//! Setting up a simulated push: the checks of its DAG and geometry, the small stand-in
//! manifest whose blocks are verified for real, and every node's state before the start.

use mon_proto::push::manifest::build_manifest;
use mon_proto::push::sched::Download;
use mon_proto::push::serve::ServeQueue;
use mon_proto::wire::session::{Manifest, MAX_BLOCKS};

use super::{NodeState, SimConfig, SimError, SimNode};

/// Bytes of a stand-in block (one per virtual block).
const REAL_BLOCK: u32 = 64;

/// A manifest of `nblocks` stand-in blocks of [`REAL_BLOCK`] pseudo-random bytes, and the
/// blocks.
pub(super) fn stand_in_manifest(nblocks: u32) -> Result<(Manifest, Vec<Vec<u8>>), SimError> {
    let blocks: Vec<Vec<u8>> = (0..nblocks)
        .map(|i| {
            let mut h = blake3::Hasher::new();
            h.update(&i.to_le_bytes());
            let mut b = vec![0u8; REAL_BLOCK as usize];
            h.finalize_xof().fill(&mut b);
            b
        })
        .collect();
    let data: Vec<u8> = blocks.concat();
    let m = build_manifest(
        "sim",
        &data[..],
        data.len() as u64,
        0o644,
        REAL_BLOCK,
        "/sim",
    )
    .map_err(|_| SimError::Geometry {
        file_size: data.len() as u64,
        block_size: REAL_BLOCK,
    })?;
    Ok((m, blocks))
}

/// Checks the DAG: node 0 (the source) has no parent, every other node's parents come before
/// it, and every upload and download capacity is positive.
pub(super) fn check_nodes(nodes: &[SimNode]) -> Result<(), SimError> {
    let source = nodes.first().ok_or(SimError::NoSource)?;
    if !source.parents.is_empty() {
        return Err(SimError::BadParent {
            node: 0,
            parent: source.parents.first().copied().unwrap_or(0),
        });
    }
    for (i, n) in nodes.iter().enumerate() {
        if let Some(&p) = n.parents.iter().find(|&&p| p as usize >= i) {
            return Err(SimError::BadParent {
                node: i as u32,
                parent: p,
            });
        }
        let none = |c: f64| c.is_nan() || c <= 0.0;
        if none(n.upload) || none(n.download) {
            return Err(SimError::Capacity(i as u32));
        }
    }
    Ok(())
}

/// The number of blocks of the file (at most [`MAX_BLOCKS`]).
pub(super) fn block_count(cfg: &SimConfig) -> Result<u32, SimError> {
    let geometry = SimError::Geometry {
        file_size: cfg.file_size,
        block_size: cfg.block_size,
    };
    if cfg.block_size == 0 {
        return Err(geometry);
    }
    let nblocks = cfg.file_size.div_ceil(u64::from(cfg.block_size));
    if nblocks > MAX_BLOCKS as u64 {
        return Err(geometry);
    }
    Ok(nblocks as u32)
}

impl NodeState {
    /// Node `i` before the push starts: its download (complete for the source, node 0) with
    /// a seed of its own, an empty serve queue, no children yet.
    pub(super) fn new(
        i: usize,
        n: &SimNode,
        cfg: &SimConfig,
        manifest: &Manifest,
    ) -> Result<Self, SimError> {
        let seed = cfg.seed ^ (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let dl = Download::with_config(manifest, cfg.policy, cfg.sched.clone(), seed, i == 0)
            .map_err(|_| SimError::Geometry {
                file_size: cfg.file_size,
                block_size: cfg.block_size,
            })?;
        Ok(NodeState {
            dl,
            serve: ServeQueue::new(usize::from(cfg.sched.depth.max(1)) * 2),
            upload: n.upload,
            download: n.download,
            up_free: 0.0,
            down_free: 0.0,
            corrupt: n.corrupt,
            alive: true,
            sending: 0,
            kick_at: None,
            children: Vec::new(),
            timer_at: None,
            finish: (i == 0).then_some(0.0),
            uploaded: 0,
        })
    }
}
