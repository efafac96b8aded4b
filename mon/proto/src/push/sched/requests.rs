//! Requests: which parent is asked for which block and when, request timeouts and hedging.
//!
//! Every parent has a window of outstanding requests (`depth` for the primary,
//! `secondary_depth` for the others, one after a timeout); [`Download::poll_requests`] fills
//! the windows round-robin, fresh blocks first ([`super::pick`]), then endgame and hedged
//! duplicates (at most [`MAX_COPIES`] copies of one block in flight).

use super::parents::{Parent, Req};
use super::{Download, DropReason, Event, ParentId, MAX_COPIES};

impl Download {
    /// The requests to send now, as `(parent, block)`, respecting every parent's window. Also
    /// issues endgame and hedged duplicates.
    pub fn poll_requests(&mut self, now_ms: u64) -> Vec<(ParentId, u32)> {
        self.last_poll_ms = self.last_poll_ms.max(now_ms);
        self.rebalance(now_ms);
        let mut out = Vec::new();
        let np = self.parents.len();
        if np == 0 || self.missing() == 0 {
            return out;
        }
        let start = self.rr % np;
        self.rr = self.rr.wrapping_add(1);
        loop {
            let mut progress = false;
            for k in 0..np {
                let pi = (start + k) % np;
                if !self.has_slot(pi) {
                    continue;
                }
                let pick = match self.pick_fresh(pi) {
                    Some(i) => Some((i, false)),
                    None => self.pick_duplicate(pi, now_ms).map(|i| (i, true)),
                };
                if let Some((index, dup)) = pick {
                    if let Some(id) = self.issue(pi, index, now_ms, dup) {
                        out.push((id, index));
                        progress = true;
                    }
                }
            }
            if !progress {
                return out;
            }
        }
    }

    /// The earliest time at which [`Download::handle_timeout`] (then
    /// [`Download::poll_requests`]) has work: a request deadline or a request becoming old
    /// enough to hedge.
    pub fn poll_timeout(&self) -> Option<u64> {
        let timeout = self.cfg.request_timeout_ms;
        let mut best = self
            .parents
            .iter()
            .flat_map(|p| p.out.iter())
            .map(|r| r.sent_ms.saturating_add(timeout))
            .min();
        if let Some(h) = self.cfg.hedge_after_ms {
            for i in self.inflight.iter() {
                let copies = self.copies.get(i as usize).copied().unwrap_or(0);
                let sent = self.first_sent.get(i as usize).copied().unwrap_or(0);
                let at = sent.saturating_add(h);
                if copies < MAX_COPIES && at > self.last_poll_ms {
                    best = Some(best.map_or(at, |b| b.min(at)));
                }
            }
        }
        best
    }

    /// Expires requests older than the request timeout: each goes back to the pool (and is
    /// not re-asked from the same parent while another holder exists) and is cancelled at
    /// the parent ([`Event::Cancel`], so its queue never holds more than our window; a block
    /// already on its way is still accepted); the parent's window shrinks to one; after
    /// `max_strikes` rounds the parent is dropped as unresponsive.
    pub fn handle_timeout(&mut self, now_ms: u64) {
        let timeout = self.cfg.request_timeout_ms;
        let mut expired: Vec<(ParentId, u32)> = Vec::new();
        let mut unresponsive = Vec::new();
        for p in &mut self.parents {
            if p.expire_requests(now_ms, timeout, &mut expired)
                && self.cfg.max_strikes.is_some_and(|m| p.strikes >= m)
            {
                unresponsive.push((p.id, p.timeouts));
            }
        }
        self.totals.timeouts += expired.len() as u32;
        for (parent, index) in expired {
            self.release(index);
            self.events.push_back(Event::Cancel { parent, index });
        }
        for (id, timeouts) in unresponsive {
            if let Some(pi) = self.find(id) {
                self.drop_parent(pi, DropReason::Unresponsive { timeouts });
            }
        }
    }

    pub(super) fn has_slot(&self, pi: usize) -> bool {
        self.parents.get(pi).is_some_and(|p| {
            let window = if p.strikes > 0 {
                1
            } else if pi == 0 {
                usize::from(self.cfg.depth)
            } else {
                usize::from(self.cfg.secondary_depth)
            };
            p.out.len() < window
        })
    }

    pub(super) fn issue(
        &mut self,
        pi: usize,
        index: u32,
        now_ms: u64,
        dup: bool,
    ) -> Option<ParentId> {
        let p = self.parents.get_mut(pi)?;
        p.out.push(Req {
            index,
            sent_ms: now_ms,
        });
        let id = p.id;
        let i = index as usize;
        if let (Some(c), Some(t)) = (self.copies.get_mut(i), self.first_sent.get_mut(i)) {
            if *c == 0 {
                *t = now_ms;
            }
            *c = c.saturating_add(1);
        }
        self.inflight.insert(index);
        if dup {
            self.totals.hedges += 1;
        }
        Some(id)
    }
}

impl Parent {
    /// Takes the requests older than `timeout` off this parent, appending them to `expired`
    /// and marking them expired here; if any, counts them and a strike. Returns whether any
    /// request expired.
    fn expire_requests(
        &mut self,
        now_ms: u64,
        timeout: u64,
        expired: &mut Vec<(ParentId, u32)>,
    ) -> bool {
        let before = expired.len();
        let id = self.id;
        self.out.retain(|r| {
            if r.sent_ms.saturating_add(timeout) <= now_ms {
                expired.push((id, r.index));
                false
            } else {
                true
            }
        });
        let n = expired.len() - before;
        if n == 0 {
            return false;
        }
        for &(_, i) in expired.get(before..).unwrap_or(&[]) {
            self.expired.insert(i);
        }
        self.timeouts += n as u32;
        self.strikes += 1;
        true
    }
}
