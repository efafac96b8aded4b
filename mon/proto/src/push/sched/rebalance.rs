//! Rate windows: is the primary far slower than our other parents? and (off in the server)
//! passing over a slow primary: a parent whose advertised blocks grow far faster than the
//! primary's becomes the main feed.
//!
//! Every [`RATE_WINDOW_MS`] the download counts how many blocks each parent gained. The
//! primary is *slow* while it gained fewer than 1 / [`SLOWER_FACTOR`] of the most blocks one
//! parent gained in a window so far (at least [`MIN_WINDOW_BLOCKS`]) and another parent holds
//! more than it; only then are the other parents asked for fresh blocks (`pick.rs`).
//!
//! With `primary_first`, the first parent is asked for almost everything and serves us with
//! the primary weight; the others only fill in. A primary behind a slow link (issue 13: one
//! host at 2 Mbit/s among hosts at 10) then holds its whole subtree to its rate while its
//! other parents, which progress at full speed, serve their own primary children first.
//! Every [`RATE_WINDOW_MS`] the download compares how many blocks each parent gained
//! (its `Have` rate); when, for [`SLOW_WINDOWS`] windows in a row, another parent is ahead of
//! the primary and gained more than [`SLOWER_FACTOR`] times as many (and at least
//! [`MIN_WINDOW_BLOCKS`]), it moves to the front ([`Event::Preferred`]: the caller asks it to
//! serve us with the primary weight; our result still goes to the first parent of the
//! session). The old primary stays linked as a secondary. On equal links every parent of a
//! pipeline progresses at the same rate, and a complete parent gains nothing, so nothing moves.

use super::{Download, Event, Policy};

/// Length of one rate window, ms.
pub const RATE_WINDOW_MS: u64 = 1_000;
/// A parent gaining more than this many times the primary's blocks in a window is faster.
pub const SLOWER_FACTOR: u32 = 3;
/// Fewer blocks gained in a window than this say nothing about a parent's rate.
pub const MIN_WINDOW_BLOCKS: u32 = 8;
/// Windows in a row the primary must be slower before it is passed over.
pub const SLOW_WINDOWS: u32 = 2;

impl Download {
    /// Closes the rate window if it is over and passes over a slow primary (see the module
    /// documentation). Called at every [`Download::poll_requests`].
    pub(super) fn rebalance(&mut self, now_ms: u64) {
        if !self.cfg.primary_first || self.policy != Policy::RarestFirst {
            return;
        }
        let start = *self.window_ms.get_or_insert(now_ms);
        if now_ms < start.saturating_add(RATE_WINDOW_MS) {
            return;
        }
        self.window_ms = Some(now_ms);
        let gained: Vec<u32> = self
            .parents
            .iter_mut()
            .map(|p| {
                let count = p.has.count();
                let g = count.saturating_sub(p.window_mark);
                p.window_mark = count;
                g
            })
            .collect();
        self.primary_slow = self.primary_is_slow(&gained);
        let faster = self.faster_than_primary(&gained);
        let Some(faster) = faster.filter(|_| self.cfg.pass_over_slow_primary) else {
            self.slow_windows = 0;
            return;
        };
        self.slow_windows += 1;
        if self.slow_windows < SLOW_WINDOWS {
            return;
        }
        self.slow_windows = 0;
        let p = self.parents.remove(faster);
        let id = p.id;
        self.parents.insert(0, p);
        self.totals.rebalanced += 1;
        self.events.push_back(Event::Preferred(id));
    }

    /// Whether the primary is far slower than our parents can be: it gained fewer than
    /// 1 / [`SLOWER_FACTOR`] of the most blocks any parent gained in one window so far (a
    /// parent that is complete gains nothing, so the best window is remembered), and another
    /// parent holds more blocks than it.
    fn primary_is_slow(&mut self, gained: &[u32]) -> bool {
        let window_best = gained.iter().copied().max().unwrap_or(0);
        self.best_gain = self.best_gain.max(window_best);
        let Some(primary) = self.parents.first() else {
            return false;
        };
        let held = primary.has.count();
        let primary_gain = gained.first().copied().unwrap_or(0);
        !self.complete()
            && self.best_gain >= MIN_WINDOW_BLOCKS
            && primary_gain.saturating_mul(SLOWER_FACTOR) < self.best_gain
            && self.parents.iter().skip(1).any(|p| p.has.count() > held)
    }

    /// The parent (index) that gained the most blocks in the window just closed, if it is
    /// ahead of the primary and gained far more than it.
    fn faster_than_primary(&self, gained: &[u32]) -> Option<usize> {
        if self.complete() {
            return None;
        }
        let primary = self.parents.first()?;
        let primary_gain = gained.first().copied().unwrap_or(0);
        let held = primary.has.count();
        let (best, gain) = gained
            .iter()
            .enumerate()
            .skip(1)
            .filter(|&(i, _)| self.parents.get(i).is_some_and(|p| p.has.count() > held))
            .max_by_key(|&(_, &g)| g)?;
        (*gain >= MIN_WINDOW_BLOCKS && *gain > primary_gain.saturating_mul(SLOWER_FACTOR))
            .then_some(best)
    }
}
