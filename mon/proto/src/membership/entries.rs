//! What a Ping or Pong carries besides the sender: random live view members (`entries`,
//! the partial-view shuffle) and structure hints (`aux`: ring neighbours of the receiver and
//! k-minimum-values candidates for its size estimate). Both skip the receiver itself and
//! members past `dead_after_ms`.

use rand::Rng;

use super::estimate::KmvSlot;
use super::{Entry, MemberId, Membership};

/// A candidate for structure hints: identity, node id, local time last heard alive.
type Known<'a> = (&'a MemberId, u64, u64);

impl Membership {
    /// `entries_per_msg` random live view members other than `peer`.
    pub(super) fn pick_entries(&mut self, now_ms: u64, peer: &str) -> Vec<Entry> {
        let dead_after = self.config.dead_after_ms;
        let out: Vec<Entry> = self
            .view
            .sample(&mut self.rng, self.config.entries_per_msg, |s| {
                s.id.name != peer && now_ms.saturating_sub(s.heard_ms) <= dead_after
            })
            .into_iter()
            .map(|s| Entry {
                id: s.id.clone(),
                node_id: s.node_id,
                age_ms: now_ms.saturating_sub(s.heard_ms),
            })
            .collect();
        let names: Vec<&str> = out.iter().map(|e| e.id.name.as_str()).collect();
        self.view.mark_passed_on(&names);
        out
    }

    /// Structure hints for `peer`: half of the budget (the odd slot going either way at random)
    /// for the known nodes nearest to its node id (alternating sides, starting on a random
    /// one), the rest for random entries among our k smallest node ids.
    pub(super) fn pick_aux(
        &mut self,
        now_ms: u64,
        peer_node_id: Option<u64>,
        peer: &str,
    ) -> Vec<Entry> {
        let budget = self.config.aux_entries_per_msg;
        if budget == 0 {
            return Vec::new();
        }
        let mut out: Vec<Entry> = Vec::with_capacity(budget);
        if let Some(target) = peer_node_id {
            let succ_first = self.rng.gen_bool(0.5);
            let ring_slots = budget / 2 + usize::from(budget % 2 == 1 && self.rng.gen_bool(0.5));
            let known = self.alive_known(now_ms, peer);
            out = nearest(&known, target, ring_slots, succ_first, now_ms);
        }
        self.add_kmv_hints(&mut out, budget, now_ms, peer);
        out
    }

    /// View and ring members other than `peer` and ourselves heard from within
    /// `dead_after_ms`.
    fn alive_known(&self, now_ms: u64, peer: &str) -> Vec<Known<'_>> {
        let dead_after = self.config.dead_after_ms;
        let me = self.me.name.as_str();
        self.view
            .slots()
            .iter()
            .map(|s| (&s.id, s.node_id, s.heard_ms))
            .chain(
                self.ring
                    .successors()
                    .iter()
                    .chain(self.ring.predecessors())
                    .map(|s| (&s.id, s.node_id, s.heard_ms)),
            )
            .filter(|(id, _, h)| {
                id.name != peer && id.name != me && now_ms.saturating_sub(*h) <= dead_after
            })
            .collect()
    }

    /// Fills `out` up to `budget` with random entries among our k smallest node ids (not
    /// `peer`, not ourselves, none already in `out`).
    fn add_kmv_hints(&mut self, out: &mut Vec<Entry>, budget: usize, now_ms: u64, peer: &str) {
        let me = self.me.name.as_str();
        let head: Vec<&KmvSlot> = self
            .estimator
            .kmv_head()
            .iter()
            .filter(|s| s.id.name != peer && s.id.name != me)
            .filter(|s| !out.iter().any(|e| e.id.name == s.id.name))
            .collect();
        let want = budget.saturating_sub(out.len()).min(head.len());
        for i in rand::seq::index::sample(&mut self.rng, head.len(), want) {
            if let Some(s) = head.get(i) {
                out.push(entry(&s.id, s.node_id, s.heard_ms, now_ms));
            }
        }
    }
}

/// The entry for a member last heard at `heard` (local ms), aged at `now_ms`.
fn entry(id: &MemberId, node_id: u64, heard: u64, now_ms: u64) -> Entry {
    Entry {
        id: id.clone(),
        node_id,
        age_ms: now_ms.saturating_sub(heard),
    }
}

/// The `slots` members of `known` nearest to `target` on the ring, alternating between the
/// successor and the predecessor side (starting on the successor side if `succ_first`), each
/// at most once.
fn nearest(
    known: &[Known<'_>],
    target: u64,
    slots: usize,
    succ_first: bool,
    now_ms: u64,
) -> Vec<Entry> {
    let mut out = Vec::with_capacity(slots);
    let mut side_succ = succ_first;
    let mut excluded: Vec<String> = Vec::new();
    for _ in 0..slots {
        let best = known
            .iter()
            .filter(|(id, _, _)| !excluded.contains(&id.name))
            .min_by_key(|(_, n, _)| {
                if side_succ {
                    n.wrapping_sub(target)
                } else {
                    target.wrapping_sub(*n)
                }
            });
        if let Some((id, n, h)) = best {
            excluded.push(id.name.clone());
            out.push(entry(id, *n, *h, now_ms));
        }
        side_succ = !side_succ;
    }
    out
}
