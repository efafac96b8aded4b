//! Block selection: which block to ask a given parent for next.

use rand::Rng;

use super::{Download, Policy, MAX_COPIES};

impl Download {
    /// A block parent `pi` holds that we need and nobody has been asked for, by policy.
    /// Blocks that timed out at this parent are skipped while another parent holds them.
    pub(super) fn pick_fresh(&mut self, pi: usize) -> Option<u32> {
        let Download {
            parents,
            have,
            pending,
            inflight,
            holders,
            rng,
            policy,
            cfg,
            ..
        } = self;
        let p = parents.get(pi)?;
        let primary = parents
            .first()
            .filter(|_| pi > 0 && cfg.primary_first && *policy == Policy::RarestFirst)
            .map(|q| q.has.words());
        let mut best: Option<(u16, u32)> = None;
        let mut ties: u32 = 0;
        let words = p
            .has
            .words()
            .iter()
            .zip(have.words())
            .zip(pending.words())
            .zip(inflight.words())
            .zip(p.expired.words());
        for (wi, ((((&h, &own), &pend), &infl), &exp)) in words.enumerate() {
            let mut w = h & !own & !pend & !infl;
            if let Some(pw) = primary {
                w &= !pw.get(wi).copied().unwrap_or(0);
            }
            let base = (wi as u32) * 64;
            let mut e = w & exp;
            while e != 0 {
                let b = e.trailing_zeros();
                e &= e - 1;
                if holders.get((base + b) as usize).copied().unwrap_or(0) > 1 {
                    w &= !(1u64 << b);
                }
            }
            if w == 0 {
                continue;
            }
            if *policy == Policy::FirstFit {
                return Some(base + w.trailing_zeros());
            }
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
        let hedge = self.cfg.hedge_after_ms;
        let p = self.parents.get(pi)?;
        let mine = p.est_ms;
        let mut best: Option<(u64, u32)> = None;
        for i in self.inflight.iter() {
            let copies = self.copies.get(i as usize).copied().unwrap_or(0);
            let sent = self.first_sent.get(i as usize).copied().unwrap_or(0);
            if copies >= MAX_COPIES
                || !p.has.get(i)
                || p.expired.get(i)
                || self.have.get(i)
                || self.pending.get(i)
                || p.out.iter().any(|r| r.index == i)
            {
                continue;
            }
            let old = hedge.is_some_and(|h| now_ms >= sent.saturating_add(h));
            let to_primary = pi == 0 && self.cfg.primary_first;
            let sooner = || match (mine, self.expected_arrival(i)) {
                (Some(m), Some(there)) => now_ms.saturating_add(m) < there,
                _ => false,
            };
            if !(endgame || old || to_primary || sooner()) {
                continue;
            }
            if best.is_none_or(|(s, _)| sent < s) {
                best = Some((sent, i));
            }
        }
        best.map(|(_, i)| i)
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
