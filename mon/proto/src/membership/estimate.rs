//! Estimating the number of live nodes, and the adaptive default fanout derived from it.
//!
//! Two estimators, the larger wins (over-estimating only costs a few extra Session messages,
//! under-estimating costs coverage):
//!
//! 1. **Distinct names heard of** (directly or in entries) within `estimate_window_ms`, in a
//!    map bounded by `max_seen`. Exact for small systems, where every node is mentioned within
//!    the window; an under-estimate for large ones (a node hears ~10 names a second).
//! 2. **k minimum values** over the random node ids: node ids are uniform on `[0, 2^64)`, so if
//!    `v_k` is the k-th smallest node id among the live nodes, `(k - 1) · 2^64 / v_k` is an
//!    unbiased estimate of their number, with a relative standard error of about `1/√(k-2)`
//!    (≈ 27 % for k = 16; for k = 16 the probability to under-estimate by a factor 2 is about
//!    10⁻³). Every node keeps the `2k` smallest node ids it has heard of (entries age out after
//!    `kmv_window_ms`) and carries one of its `k` smallest in the `aux` hints of each message,
//!    so the global minima spread epidemically and every node converges to the same estimate
//!    whatever the system size. The table is only used once it holds `k` ids.

use std::collections::HashMap;

use super::msg::MemberId;

#[derive(Clone, Debug)]
struct Seen {
    heard_ms: u64,
}

/// A node with one of the smallest node ids known.
#[derive(Clone, Debug)]
pub(crate) struct KmvSlot {
    pub(crate) id: MemberId,
    pub(crate) node_id: u64,
    pub(crate) heard_ms: u64,
}

#[derive(Clone, Debug)]
pub(crate) struct SizeEstimator {
    /// Names heard of; a hash map, whose order nothing depends on (so runs stay
    /// deterministic), for O(1) lookups: a node of a large system looks names up constantly.
    seen: HashMap<String, Seen>,
    /// A lower bound of the heard times in `seen` (`u64::MAX` when empty).
    seen_floor: u64,
    max_seen: usize,
    window_ms: u64,
    kmv: Vec<KmvSlot>,
    k: usize,
    kmv_window_ms: u64,
}

impl SizeEstimator {
    pub(crate) fn new(max_seen: usize, window_ms: u64, k: usize, kmv_window_ms: u64) -> Self {
        SizeEstimator {
            seen: HashMap::new(),
            seen_floor: u64::MAX,
            max_seen,
            window_ms,
            kmv: Vec::new(),
            k,
            kmv_window_ms,
        }
    }

    /// Records that `id` (other than ourselves) was alive at `heard_ms`.
    pub(crate) fn offer_seen(&mut self, name: &str, heard_ms: u64) {
        if let Some(s) = self.seen.get_mut(name) {
            s.heard_ms = s.heard_ms.max(heard_ms);
            return;
        }
        if self.seen.len() >= self.max_seen {
            // Full: drop the oldest names older than this one, a sixteenth of the table at a
            // time, so that a full table costs one pass per max_seen/16 new names rather than
            // one per name (thousands of nodes in one simulator process hit this constantly).
            let mut times: Vec<u64> = self.seen.values().map(|s| s.heard_ms).collect();
            let k = (times.len() / 16).max(1);
            let (_, kth, _) = times.select_nth_unstable(k - 1);
            let cut = (*kth).min(heard_ms.saturating_sub(1));
            if heard_ms == 0 || !times.iter().any(|t| *t <= cut) {
                return;
            }
            self.seen.retain(|_, s| s.heard_ms > cut);
            self.seen_floor = cut.saturating_add(1);
        }
        self.seen_floor = self.seen_floor.min(heard_ms);
        self.seen.insert(name.to_owned(), Seen { heard_ms });
    }

    /// Offers a node (ourselves included) to the k-minimum-values table.
    pub(crate) fn offer_kmv(&mut self, id: &MemberId, node_id: u64, heard_ms: u64) {
        let cap = self.k.saturating_mul(2);
        if let Some(i) = self.kmv.iter().position(|s| s.id.name == id.name) {
            if heard_ms < self.kmv[i].heard_ms {
                return;
            }
            self.kmv.remove(i);
        }
        let at = self
            .kmv
            .iter()
            .position(|s| s.node_id > node_id)
            .unwrap_or(self.kmv.len());
        if at < cap {
            self.kmv.insert(
                at,
                KmvSlot {
                    id: id.clone(),
                    node_id,
                    heard_ms,
                },
            );
            self.kmv.truncate(cap);
        }
    }

    pub(crate) fn expire(&mut self, now: u64) {
        let w = self.window_ms;
        // `seen_floor` ≤ every heard time: nothing to do while it is inside the window.
        if now.saturating_sub(self.seen_floor) > w {
            self.seen.retain(|_, s| now.saturating_sub(s.heard_ms) <= w);
            self.seen_floor = self
                .seen
                .values()
                .map(|s| s.heard_ms)
                .min()
                .unwrap_or(u64::MAX);
        }
        let kw = self.kmv_window_ms;
        self.kmv.retain(|s| now.saturating_sub(s.heard_ms) <= kw);
    }

    pub(crate) fn remove(&mut self, name: &str) {
        self.seen.remove(name);
        self.kmv.retain(|s| s.id.name != name);
    }

    /// The `k` smallest node ids known (the ones worth gossiping).
    pub(crate) fn kmv_head(&self) -> &[KmvSlot] {
        &self.kmv[..self.k.min(self.kmv.len())]
    }

    /// Every node in the k-minimum-values table (up to 2k).
    pub(crate) fn kmv_all(&self) -> &[KmvSlot] {
        &self.kmv
    }

    pub(crate) fn kmv_len(&self) -> usize {
        self.kmv.len()
    }

    /// Distinct other nodes heard of within the window.
    pub(crate) fn seen_count(&self) -> usize {
        self.seen.len()
    }

    /// The k-minimum-values estimate, once `k` node ids are known.
    pub(crate) fn kmv_estimate(&self) -> Option<f64> {
        let kth = self.kmv.get(self.k.checked_sub(1)?)?;
        let frac = (kth.node_id as f64 + 1.0) / 18_446_744_073_709_551_616.0;
        Some((self.k as f64 - 1.0) / frac)
    }
}

/// Shape `r` of the negative binomial that fits the in-degree distribution (how many views
/// hold a given node) produced by this membership with [`super::Config::default`]: mean 32,
/// variance ≈ 95 in simulation (`r = mean² / (variance − mean) ≈ 16`), i.e. more spread than
/// the Poisson in-degrees of uniform views (`r → ∞`). With `evict_passed_on_first` it is ≈ 70.
pub const IN_DEGREE_SHAPE: f64 = 16.0;

/// Fanout `k` such that `n · (1 + k/r)^(−r·m) ≤ 0.01`: the union bound over `n` nodes of the
/// probability that `m` independent chances to reach a node all fail.
fn fanout_for(n_estimate: usize, m: f64) -> usize {
    let n = n_estimate.max(1) as f64;
    let r = IN_DEGREE_SHAPE;
    let k = r * ((100.0 * n).powf(1.0 / (r * m)) - 1.0);
    if k.is_finite() && k > 0.0 {
        (k.ceil() as usize).min(1024)
    } else {
        1
    }
}

/// Default fanout of a random tree (children sampled from the partial view only) for an
/// estimated `n_estimate` live nodes: a session should reach all of them in at least 99 of
/// 100 sessions.
///
/// Derivation. A reached node sends the Session to `k` of the `V` members of its view, so a
/// node that sits in `D` views is missed with probability `(1 − k/V)^D ≈ e^{−kD/V}`. With
/// uniform views `D` is Poisson with mean `V` and this averages to `e^{−k}`; the union bound
/// over `N` nodes gives `P(some node missed) ≤ N·e^{−k}`, hence the classic `k ≥ ln(100·N)`.
/// Gossip views are not uniform: their in-degrees are over-dispersed, well fitted by a
/// negative binomial of shape `r` = [`IN_DEGREE_SHAPE`], for which the average is
/// `(1 + k/r)^{−r}`; so `k = r·((100·N)^{1/r} − 1)`, rounded up. Values: 12 for 50 nodes,
/// 14 for 200, 17 for 1,000, 22 for 10,000. Checked by simulation of the membership itself
/// in `tests/membership_coverage.rs` (the union bound makes it slightly conservative).
pub fn default_fanout(n_estimate: usize) -> usize {
    fanout_for(n_estimate, 1.0).max(2)
}

/// Default fanout when every reached node also forwards the Session to its nearest ring
/// successor and predecessor ([`super::Membership::ring_neighbours`]). A node is then missed
/// only if the random tree misses it *and* its two ring neighbours (the three events are
/// nearly independent), so `N·p³ ≤ 0.01` suffices: `k = r·((100·N)^{1/(3r)} − 1)`, plus one
/// as a margin for ring neighbours that just died, and at least 4. Values: 5 for 50–200
/// nodes, 6 for 1,000, 7 for 10,000 — with two more messages per node, about half the
/// messages of [`default_fanout`] at 1,000 nodes.
pub fn default_fanout_with_ring(n_estimate: usize) -> usize {
    (fanout_for(n_estimate, 3.0) + 1).max(4)
}
