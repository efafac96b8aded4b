//! Receiver-driven multi-parent block download (one [`Download`] per session per node).
//!
//! Parents advertise the blocks they hold (a bitmap when the link opens, then `Have(index)` as
//! they get more). The child requests different blocks from different parents, keeping at most
//! `depth` requests outstanding per parent, and verifies every block against the signed manifest
//! before the caller writes it. Only then is it marked held ([`Download::stored`]), advertised to
//! our own children ([`Event::Have`]) and servable ([`Download::check_serve`]).
//!
//! Sans-IO: times are passed in (`now_ms`), randomness comes from a seeded ChaCha RNG, and
//! output is drained by the caller ([`Download::poll_requests`], [`Download::poll_event`]).
//!
//! Failure handling: a parent that sends a block that does not verify is dropped for the
//! session ([`Event::ParentDropped`]) and cannot be re-added; its outstanding requests go back to
//! the pool. A request not answered within `request_timeout_ms` is re-issued elsewhere and the
//! parent's window shrinks to one request (optionally, `max_strikes` timeout rounds in a row
//! without a block drop the parent as unresponsive; off by default, because a parent that
//! serves its first children with priority may legitimately keep a secondary child waiting, and
//! dead links are the transport's to detect). A node whose parents are all gone with blocks
//! missing has [`Download::failed`].
//!
//! The first live parent is the primary (main feed); when it goes, the next one is promoted
//! and [`Event::PrimaryChanged`] tells the caller to ask that parent for primary service. A
//! primary that progresses far slower than another parent is passed over the same way
//! ([`Event::Preferred`], see `rebalance.rs`).
//!
//! A driver's loop, per session:
//!
//! ```text
//! link to parent P      -> add_parent(P); on P's advert: on_advert(P, bitmap)
//! Have(i) from P        -> on_have(P, i)
//! Block(i, bytes) from P-> match on_block(now, P, i, bytes):
//!                            Verified  => write at i * block_size, then stored(i)
//!                            Corrupt   => (P already dropped) audit, close the link
//!                            Duplicate | Unexpected => ignore
//! link to P lost        -> remove_parent(P)
//! after each of these, and at poll_timeout(): handle_timeout(now); send poll_requests(now);
//!                          drain poll_event(): Have -> all children, Cancel -> parent,
//!                          PrimaryChanged | Preferred -> parent,
//!                          ParentDropped -> close + audit
//! complete()            -> commit the file; failed() -> report the reason up the DAG
//! ```

mod parents;
mod pick;
#[cfg(test)]
mod proptests;
mod rebalance;
mod requests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_faults;
#[cfg(test)]
mod tests_rebalance;
#[cfg(test)]
mod tests_slow;
mod types;

pub use rebalance::{MIN_WINDOW_BLOCKS, RATE_WINDOW_MS, SLOWER_FACTOR, SLOW_WINDOWS};
pub use types::{
    AddParentError, BlockOutcome, Config, DropReason, Event, FailReason, ParentStats, PeerError,
    Policy, ServeRefusal, Stats, PRIMARY_WINDOW_BYTES,
};

use std::collections::VecDeque;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::bitset::BitSet;
use parents::Parent;

use super::manifest::{block_len, check_geometry, verify_against, ManifestError};
use crate::wire::session::Manifest;

/// A parent link, as numbered by the caller.
pub type ParentId = u32;

/// Most parents linked at the same time.
pub const MAX_LIVE_PARENTS: usize = 64;
/// Parents dropped for misbehaviour that are remembered (and refused if re-added); past this
/// many, no new parent is accepted at all.
pub const MAX_DROPPED: usize = 1024;
/// Largest per-parent pipeline depth.
pub const MAX_DEPTH: u8 = 64;
/// At most this many parents are asked for the same block at once (endgame and hedging).
pub const MAX_COPIES: u8 = 2;

/// The download state of one node in one push session.
#[derive(Debug)]
pub struct Download {
    cfg: Config,
    policy: Policy,
    rng: ChaCha8Rng,
    size: u64,
    block_size: u32,
    hashes: Vec<[u8; 32]>,
    n: u32,
    have: BitSet,
    pending: BitSet,
    inflight: BitSet,
    copies: Vec<u8>,
    first_sent: Vec<u64>,
    holders: Vec<u16>,
    parents: Vec<Parent>,
    dropped: Vec<ParentId>,
    events: VecDeque<Event>,
    had_parent: bool,
    rr: usize,
    /// When the current rate window began (`rebalance.rs`).
    window_ms: Option<u64>,
    /// Rate windows in a row in which the primary was far slower than another parent.
    slow_windows: u32,
    /// In the last rate window the primary was far slower than another parent: the other
    /// parents are asked for blocks it does not hold (`pick.rs`).
    primary_slow: bool,
    /// The most blocks one parent gained in one rate window so far (`rebalance.rs`).
    best_gain: u32,
    last_poll_ms: u64,
    totals: Stats,
}

impl Download {
    /// A download with the default tuning for the manifest's block size
    /// ([`Config::for_block_size`]). `have_all` marks the source, which holds every block
    /// from the start.
    pub fn new(
        manifest: &Manifest,
        policy: Policy,
        seed: u64,
        have_all: bool,
    ) -> Result<Download, ManifestError> {
        let cfg = Config::for_block_size(manifest.block_size);
        Download::with_config(manifest, policy, cfg, seed, have_all)
    }

    /// A download with explicit tuning.
    pub fn with_config(
        manifest: &Manifest,
        policy: Policy,
        mut cfg: Config,
        seed: u64,
        have_all: bool,
    ) -> Result<Download, ManifestError> {
        let n = check_geometry(manifest)?;
        cfg.depth = cfg.depth.clamp(1, MAX_DEPTH);
        cfg.secondary_depth = cfg.secondary_depth.clamp(1, cfg.depth);
        cfg.max_strikes = cfg.max_strikes.map(|m| m.max(1));
        Ok(Download {
            cfg,
            policy,
            rng: ChaCha8Rng::seed_from_u64(seed),
            size: manifest.size,
            block_size: manifest.block_size,
            hashes: manifest.blocks.iter().map(|b| **b).collect(),
            n,
            have: if have_all {
                BitSet::full(n)
            } else {
                BitSet::new(n)
            },
            pending: BitSet::new(n),
            inflight: BitSet::new(n),
            copies: vec![0; n as usize],
            first_sent: vec![0; n as usize],
            holders: vec![0; n as usize],
            parents: Vec::new(),
            dropped: Vec::new(),
            events: VecDeque::new(),
            had_parent: false,
            rr: 0,
            window_ms: None,
            slow_windows: 0,
            primary_slow: false,
            best_gain: 0,
            last_poll_ms: 0,
            totals: Stats::default(),
        })
    }

    /// A block arrived. Only a block requested from this parent is verified; see
    /// [`BlockOutcome`] for what to do next.
    pub fn on_block(
        &mut self,
        now_ms: u64,
        parent: ParentId,
        index: u32,
        bytes: &[u8],
    ) -> BlockOutcome {
        let (Some(pi), true) = (self.find(parent), index < self.n) else {
            self.totals.unexpected += 1;
            return BlockOutcome::Unexpected;
        };
        let Some((was_out, was_expired)) = self.settle_request(pi, index, now_ms) else {
            return BlockOutcome::Unexpected;
        };
        if self.have.get(index) || self.pending.get(index) {
            self.totals.duplicates += 1;
            return BlockOutcome::Duplicate;
        }
        if !was_out && !was_expired {
            self.totals.unexpected += 1;
            return BlockOutcome::Unexpected;
        }
        if let Err(outcome) = self.verify_block(pi, index, bytes) {
            return outcome;
        }
        self.credit(pi, bytes.len() as u64, now_ms);
        self.pending.insert(index);
        self.cancel_elsewhere(index);
        BlockOutcome::Verified
    }

    /// Checks block `index` against its manifest hash; a corrupt block drops parent `pi`.
    fn verify_block(&mut self, pi: usize, index: u32, bytes: &[u8]) -> Result<(), BlockOutcome> {
        let Some(hash) = self.hashes.get(index as usize) else {
            return Err(BlockOutcome::Unexpected);
        };
        if let Err(error) = verify_against(self.size, self.block_size, hash, index, bytes) {
            self.totals.corrupt += 1;
            self.drop_parent(
                pi,
                DropReason::Corrupt {
                    index,
                    error: error.clone(),
                },
            );
            return Err(BlockOutcome::Corrupt(error));
        }
        Ok(())
    }

    /// Takes `index` off parent `pi`'s outstanding requests (updating its latency
    /// estimate) and off its expired set. Returns (was outstanding, had expired), or None
    /// when there is no such parent.
    fn settle_request(&mut self, pi: usize, index: u32, now_ms: u64) -> Option<(bool, bool)> {
        let p = self.parents.get_mut(pi)?;
        let was_out = match p.out.iter().position(|r| r.index == index) {
            Some(pos) => {
                let r = p.out.remove(pos);
                let sample = now_ms.saturating_sub(r.sent_ms);
                p.est_ms = Some(p.est_ms.map_or(sample, |e| (e * 7 + sample) / 8));
                true
            }
            None => false,
        };
        let was_expired = p.expired.remove(index);
        if was_out {
            self.release(index);
        }
        Some((was_out, was_expired))
    }

    /// Counts a verified block of `len` bytes for parent `pi` (clearing its strikes) and
    /// in the totals.
    fn credit(&mut self, pi: usize, len: u64, now_ms: u64) {
        if let Some(p) = self.parents.get_mut(pi) {
            p.last_block_ms = Some(now_ms);
            p.strikes = 0;
            p.blocks += 1;
            p.bytes += len;
        }
        self.totals.blocks += 1;
        self.totals.bytes += len;
    }

    /// Block `index` is in: cancels the requests for it still out at other parents.
    fn cancel_elsewhere(&mut self, index: u32) {
        for qi in 0..self.parents.len() {
            let Some(q) = self.parents.get_mut(qi) else {
                continue;
            };
            if let Some(pos) = q.out.iter().position(|r| r.index == index) {
                q.out.remove(pos);
                let parent = q.id;
                self.release(index);
                self.events.push_back(Event::Cancel { parent, index });
            }
        }
    }

    /// The caller has written a verified block: we hold it now, it is advertised to our
    /// children ([`Event::Have`]) and may be served. Returns false (and does nothing) unless
    /// the block was verified and not yet stored.
    pub fn stored(&mut self, index: u32) -> bool {
        if !self.pending.remove(index) {
            return false;
        }
        self.have.insert(index);
        self.events.push_back(Event::Have(index));
        true
    }

    /// The next event for the caller.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// True once every block is verified and stored.
    pub fn complete(&self) -> bool {
        self.have.is_full()
    }

    /// Why this download cannot finish, if it cannot: every parent gone with blocks missing.
    /// (Before the first parent is linked the download is waiting, not failed.)
    pub fn failed(&self) -> Option<FailReason> {
        let missing = self.missing();
        if missing == 0 || !self.had_parent || !self.parents.is_empty() {
            return None;
        }
        Some(FailReason::LostAllParents {
            missing,
            total: self.n,
            lost: self.totals.lost_parents,
            dropped: self.totals.dropped_parents,
        })
    }

    /// Whether a child's request for `index` may be served: only verified, stored blocks.
    pub fn check_serve(&self, index: u32) -> Result<(), ServeRefusal> {
        if index >= self.n {
            return Err(ServeRefusal::OutOfRange {
                index,
                blocks: self.n,
            });
        }
        if !self.have.get(index) {
            return Err(ServeRefusal::NotHeld(index));
        }
        Ok(())
    }

    /// The blocks held (verified and stored): the advert sent to a new child.
    pub fn bitmap(&self) -> &BitSet {
        &self.have
    }

    /// `(blocks held, blocks in the file)`.
    pub fn progress(&self) -> (u32, u32) {
        (self.have.count(), self.n)
    }

    /// Length of block `index` in bytes (0 past the end).
    pub fn block_len(&self, index: u32) -> u64 {
        block_len(self.size, self.block_size, index).unwrap_or(0)
    }

    /// Counters, including a row per live parent.
    pub fn stats(&self) -> Stats {
        let mut s = self.totals.clone();
        s.parents = self
            .parents
            .iter()
            .map(|p| ParentStats {
                parent: p.id,
                advertised: p.has.count(),
                blocks: p.blocks,
                bytes: p.bytes,
                outstanding: p.out.len() as u32,
                timeouts: p.timeouts,
            })
            .collect();
        s
    }

    // ---- internals ----

    /// One outstanding request for `index` is gone.
    pub(super) fn release(&mut self, index: u32) {
        if let Some(c) = self.copies.get_mut(index as usize) {
            *c = c.saturating_sub(1);
            if *c == 0 {
                self.inflight.remove(index);
            }
        }
    }

    pub(super) fn missing(&self) -> u32 {
        self.n - self.have.count() - self.pending.count()
    }
}
