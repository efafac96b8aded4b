//! Block selection: which block to ask a given parent for next.

use rand::Rng;

use super::parents::Parent;
use super::{Download, Policy, MAX_COPIES};
use crate::push::bitset::BitSet;

impl Download {
    /// A block parent `pi` holds that we need and nobody has been asked for, by policy.
    /// Blocks that timed out at this parent are skipped while another parent holds them.
    ///
    /// With `primary_first`, a parent other than the primary is asked only for blocks the
    /// primary does not hold, and only while the primary is far slower than another parent
    /// (`rebalance.rs`) or in the endgame: a primary that keeps pace brings the rest soon, and
    /// a block taken from another parent's uplink meanwhile is a block its own first
    /// children do not get (issue 13: below a slow relay, the fast hosts' spare parents must
    /// feed the one node that needs them, not every node below it).
    pub(super) fn pick_fresh(&mut self, pi: usize) -> Option<u32> {
        let defer_to_primary =
            pi > 0 && self.cfg.primary_first && self.policy == Policy::RarestFirst;
        if defer_to_primary && !self.primary_slow && self.missing() > self.cfg.endgame_blocks {
            return None;
        }
        let first_fit = self.policy == Policy::FirstFit;
        let Download {
            parents,
            have,
            pending,
            inflight,
            holders,
            rng,
            ..
        } = self;
        let p = parents.get(pi)?;
        let primary = parents
            .first()
            .filter(|_| defer_to_primary)
            .map(|q| q.has.words());
        let mut words = fresh_words(p, have, pending, inflight, holders, primary);
        if first_fit {
            return words.next().map(|(base, w)| base + w.trailing_zeros());
        }
        pick_rarest(words, holders, rng)
    }

    /// Rarest-first only: a block already requested elsewhere that parent `pi` could also
    /// send, at most [`MAX_COPIES`] asks per block, the oldest request first, when
    /// - the endgame is on (at most `endgame_blocks` missing), or
    /// - the request is older than `hedge_after_ms`, or
    /// - this parent is expected to deliver it sooner than the parent it was asked from (by
    ///   their smoothed request-to-block times): a slow parent does not hold a block that a
    ///   fast one already has.
    pub(super) fn pick_duplicate(&self, pi: usize, now_ms: u64) -> Option<u32> {
        if self.policy != Policy::RarestFirst {
            return None;
        }
        let endgame = self.missing() <= self.cfg.endgame_blocks;
        let p = self.parents.get(pi)?;
        let mut best: Option<(u64, u32)> = None;
        for i in self.inflight.iter() {
            let sent = self.first_sent.get(i as usize).copied().unwrap_or(0);
            if !self.may_duplicate_at(p, i) {
                continue;
            }
            if !(endgame || self.worth_duplicating(pi, p, i, sent, now_ms)) {
                continue;
            }
            if best.is_none_or(|(s, _)| sent < s) {
                best = Some((sent, i));
            }
        }
        best.map(|(_, i)| i)
    }

    /// Block `i` (in flight elsewhere) may be asked of parent `p` too: under
    /// [`MAX_COPIES`] asks, `p` holds it, it has not timed out at `p`, we neither hold
    /// nor await it, and `p` was not already asked for it.
    fn may_duplicate_at(&self, p: &Parent, i: u32) -> bool {
        let copies = self.copies.get(i as usize).copied().unwrap_or(0);
        copies < MAX_COPIES
            && p.has.get(i)
            && !p.expired.get(i)
            && !self.have.get(i)
            && !self.pending.get(i)
            && !p.out.iter().any(|r| r.index == i)
    }

    /// Outside the endgame, a second ask (first sent at `sent`) pays when the request is
    /// old and the parents it waits at sent nothing for as long (a parent that keeps
    /// delivering is only busy: a deep window at a slow link is not a lost request, and a
    /// copy would take the receiver's own link twice), goes to the primary, or `p` should
    /// deliver sooner than the parent asked.
    fn worth_duplicating(&self, pi: usize, p: &Parent, i: u32, sent: u64, now_ms: u64) -> bool {
        let old = self.cfg.hedge_after_ms.is_some_and(|h| {
            now_ms >= sent.saturating_add(h) && self.waits_at_silent_parents(i, now_ms, h)
        });
        let to_primary = pi == 0 && self.cfg.primary_first;
        let sooner = || match (p.est_ms, self.expected_arrival(i)) {
            (Some(m), Some(there)) => now_ms.saturating_add(m) < there,
            _ => false,
        };
        old || to_primary || sooner()
    }

    /// Every parent with a request for block `i` outstanding delivered no block in the last
    /// `h` ms.
    fn waits_at_silent_parents(&self, i: u32, now_ms: u64, h: u64) -> bool {
        self.parents
            .iter()
            .filter(|q| q.out.iter().any(|r| r.index == i))
            .all(|q| {
                q.last_block_ms
                    .is_none_or(|t| now_ms >= t.saturating_add(h))
            })
    }

    /// When the earliest outstanding copy of block `i` is expected, from its parent's
    /// smoothed request-to-block time (None if that parent has no estimate yet).
    fn expected_arrival(&self, i: u32) -> Option<u64> {
        self.parents
            .iter()
            .filter_map(|q| {
                let r = q.out.iter().find(|r| r.index == i)?;
                Some(r.sent_ms.saturating_add(q.est_ms?))
            })
            .min()
    }
}

/// The words of blocks parent `p` holds that we neither hold, await, nor have asked for
/// (minus those the primary holds, when deferring to it), as (first index, bit mask);
/// a block that timed out at `p` is left out while another parent holds it. Empty words
/// are skipped.
fn fresh_words<'a>(
    p: &'a Parent,
    have: &'a BitSet,
    pending: &'a BitSet,
    inflight: &'a BitSet,
    holders: &'a [u16],
    primary: Option<&'a [u64]>,
) -> impl Iterator<Item = (u32, u64)> + 'a {
    let words = p
        .has
        .words()
        .iter()
        .zip(have.words())
        .zip(pending.words())
        .zip(inflight.words())
        .zip(p.expired.words());
    words
        .enumerate()
        .filter_map(move |(wi, ((((&h, &own), &pend), &infl), &exp))| {
            let mut w = h & !own & !pend & !infl;
            if let Some(pw) = primary {
                w &= !pw.get(wi).copied().unwrap_or(0);
            }
            let base = (wi as u32) * 64;
            let w = drop_expired_held_elsewhere(w, exp, base, holders);
            (w != 0).then_some((base, w))
        })
}

/// Clears from `w` the blocks that timed out here (`exp`) while more than one parent
/// holds them.
fn drop_expired_held_elsewhere(mut w: u64, exp: u64, base: u32, holders: &[u16]) -> u64 {
    let mut e = w & exp;
    while e != 0 {
        let b = e.trailing_zeros();
        e &= e - 1;
        if holders.get((base + b) as usize).copied().unwrap_or(0) > 1 {
            w &= !(1u64 << b);
        }
    }
    w
}

/// The candidate held by the fewest parents, ties broken uniformly at random (reservoir
/// sampling, in index order).
fn pick_rarest(
    words: impl Iterator<Item = (u32, u64)>,
    holders: &[u16],
    rng: &mut impl Rng,
) -> Option<u32> {
    let mut best: Option<(u16, u32)> = None;
    let mut ties: u32 = 0;
    for (base, mut w) in words {
        while w != 0 {
            let i = base + w.trailing_zeros();
            w &= w - 1;
            let count = holders.get(i as usize).copied().unwrap_or(0);
            match best {
                Some((c, _)) if c < count => {}
                Some((c, _)) if c == count => {
                    ties += 1;
                    if rng.gen_range(0..ties) == 0 {
                        best = Some((count, i));
                    }
                }
                _ => {
                    best = Some((count, i));
                    ties = 1;
                }
            }
        }
    }
    best.map(|(_, i)| i)
}
