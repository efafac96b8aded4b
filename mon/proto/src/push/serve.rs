//! The serving side of a parent: which child's requested block to send next.
//!
//! A parent sends one block at a time (its upload link is the bottleneck) and picks the child by
//! smooth weighted round-robin among the children with queued requests. A child whose first
//! (tree) parent is this node gets a larger weight, so the data flows mostly along the
//! first-parent chain while the extra DAG links carry the rest (see docs/push-design.md for why
//! this matters: with equal weights the source's children share its upload and the whole push
//! slows to `children × F / u_s`). Nodes serve with [`ServeQueue::next_request_at`], which goes
//! further: secondary children get only what the primaries leave idle for
//! [`SECONDARY_IDLE_MS`] (see there for the measurement behind it).
//!
//! The queue only orders requests; the caller checks that it holds a block
//! ([`crate::push::sched::Download::check_serve`]) before queueing it.

mod pace;

use std::collections::VecDeque;

use thiserror::Error;

use pace::{Drain, Pace};
pub use pace::{MIN_SAMPLES, SLOW_FACTOR};

/// A child link, as numbered by the caller.
pub type ChildId = u32;

/// Most children one parent serves.
pub const MAX_CHILDREN: usize = 256;
/// Weight given to a child whose first parent is this node (see docs/push-design.md).
pub const PRIMARY_WEIGHT: u32 = 32;
/// Weight of every other child.
pub const SECONDARY_WEIGHT: u32 = 1;
/// Blocks a node has handed to its sockets and not yet seen written, per session: the
/// serving order decides what goes on the wire only while the sockets hold little.
pub const MAX_SENDING: u32 = 2;

/// Why a child's request was refused.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum ServeError {
    /// The child is not (or no longer) linked.
    #[error("child {0} is not linked to this node")]
    UnknownChild(ChildId),
    /// The child is already linked.
    #[error("child {0} is already linked")]
    DuplicateChild(ChildId),
    /// Too many children.
    #[error("more than {MAX_CHILDREN} children")]
    TooManyChildren,
    /// The child has more requests queued than its pipeline allows: a protocol violation.
    #[error("child {child} has more than {max} requests queued")]
    QueueFull {
        /// The child.
        child: ChildId,
        /// The per-child limit.
        max: usize,
    },
    /// The same block is already queued for this child.
    #[error("child {child} requested block {index} twice")]
    AlreadyQueued {
        /// The child.
        child: ChildId,
        /// The block.
        index: u32,
    },
}

impl ServeError {
    /// A stable reason code for audit records and counters.
    pub fn code(&self) -> &'static str {
        match self {
            ServeError::UnknownChild(_) => "unknown-child",
            ServeError::DuplicateChild(_) => "duplicate-child",
            ServeError::TooManyChildren => "too-many-children",
            ServeError::QueueFull { .. } => "queue-full",
            ServeError::AlreadyQueued { .. } => "already-queued",
        }
    }
}

#[derive(Debug)]
struct Child {
    id: ChildId,
    weight: u32,
    current: i64,
    queue: VecDeque<u32>,
    /// Blocks handed out by [`ServeQueue::next_request_at`] and not yet reported
    /// [`ServeQueue::sent`], and how fast the child's socket takes them.
    drain: Drain,
}

impl Child {
    fn in_flight(&self) -> usize {
        self.drain.in_flight()
    }
}

/// How long a parent's primary children must have had nothing queued before a secondary
/// child is served, in [`ServeQueue::next_request_at`], ms.
///
/// Measured (docs/benchmarks.md, push): in a pipeline every node receives at nearly its
/// uplink's rate, so its primary child's requests arrive at that rate too, a block at a time,
/// tens of ms apart; a secondary block slipped into such a gap occupies the uplink (and its
/// queue) when the next primary request comes, and the first-parent chain slows hop by hop.
/// Secondary links therefore get only capacity the primaries leave unused for a while: the
/// end of a push, a primary child that is complete or gone, a parent with no primary child.
pub const SECONDARY_IDLE_MS: u64 = 500;

/// Per-parent request queues with weighted round-robin service.
#[derive(Debug)]
pub struct ServeQueue {
    children: Vec<Child>,
    max_queue: usize,
    /// Last time a primary child that is not download-limited had a request queued
    /// ([`ServeQueue::next_request_at`]).
    primary_busy_ms: u64,
    /// How fast this node receives blocks ([`ServeQueue::received`]).
    received: Pace,
}

impl ServeQueue {
    /// A queue that holds at most `max_queue_per_child` requests per child (at least 1).
    pub fn new(max_queue_per_child: usize) -> ServeQueue {
        ServeQueue {
            children: Vec::new(),
            max_queue: max_queue_per_child.max(1),
            primary_busy_ms: 0,
            received: Pace::default(),
        }
    }

    /// Links a child with a service weight (0 is treated as 1).
    pub fn add_child(&mut self, child: ChildId, weight: u32) -> Result<(), ServeError> {
        if self.children.iter().any(|c| c.id == child) {
            return Err(ServeError::DuplicateChild(child));
        }
        if self.children.len() >= MAX_CHILDREN {
            return Err(ServeError::TooManyChildren);
        }
        self.children.push(Child {
            id: child,
            weight: weight.max(1),
            current: 0,
            queue: VecDeque::new(),
            drain: Drain::default(),
        });
        Ok(())
    }

    /// Unlinks a child; returns how many of its requests were dropped.
    pub fn remove_child(&mut self, child: ChildId) -> usize {
        match self.children.iter().position(|c| c.id == child) {
            Some(i) => self.children.swap_remove(i).queue.len(),
            None => 0,
        }
    }

    /// Changes a child's weight (a child whose primary parent is gone asks this node to serve
    /// it as a primary child). False if the child is not linked.
    pub fn set_weight(&mut self, child: ChildId, weight: u32) -> bool {
        match self.children.iter_mut().find(|c| c.id == child) {
            Some(c) => {
                c.weight = weight.max(1);
                true
            }
            None => false,
        }
    }

    /// Queues a request for `index` from `child`.
    pub fn request(&mut self, child: ChildId, index: u32) -> Result<(), ServeError> {
        let max = self.max_queue;
        let c = self
            .children
            .iter_mut()
            .find(|c| c.id == child)
            .ok_or(ServeError::UnknownChild(child))?;
        if c.queue.contains(&index) {
            return Err(ServeError::AlreadyQueued { child, index });
        }
        if c.queue.len() >= max {
            return Err(ServeError::QueueFull { child, max });
        }
        c.queue.push_back(index);
        Ok(())
    }

    /// Drops a queued request (the child got the block elsewhere); true if it was queued.
    pub fn cancel(&mut self, child: ChildId, index: u32) -> bool {
        let Some(c) = self.children.iter_mut().find(|c| c.id == child) else {
            return false;
        };
        match c.queue.iter().position(|&i| i == index) {
            Some(p) => c.queue.remove(p).is_some(),
            None => false,
        }
    }

    /// Requests queued over all children.
    pub fn queued(&self) -> usize {
        self.children.iter().map(|c| c.queue.len()).sum()
    }

    /// The next block to send: smooth weighted round-robin among children with requests.
    pub fn next_request(&mut self) -> Option<(ChildId, u32)> {
        self.pick(|_| true)
    }

    /// The next block to send, primaries first: while a primary child (weight at least
    /// [`PRIMARY_WEIGHT`]) has requests queued, only primaries are served (weighted
    /// round-robin among them); secondaries only once no primary had anything queued for
    /// [`SECONDARY_IDLE_MS`], or when no primary child is linked.
    ///
    /// Among the eligible children, one with no block in flight (handed out here and not
    /// yet [`ServeQueue::sent`]) goes first: a child behind a slow link (its socket drains
    /// at its download rate) then holds at most one of the node's [`MAX_SENDING`] slots
    /// while the others keep the uplink busy for the rest. A caller that never reports
    /// `sent` gets plain weighted round-robin.
    ///
    /// A *download-limited* child (its socket drains more than [`SLOW_FACTOR`] times slower
    /// than this node receives blocks, [`ServeQueue::received`]) never holds more than one
    /// slot, and as a primary it does not keep the secondaries waiting: a host behind a slow
    /// link uses a fifth of our uplink, and the rest goes to the children that can take it
    /// (issue 13: the fast hosts below a slow relay get their blocks from its parents).
    pub fn next_request_at(&mut self, now_ms: u64) -> Option<(ChildId, u32)> {
        let primary = |c: &Child| c.weight >= PRIMARY_WEIGHT;
        let idle = |c: &Child| c.in_flight() == 0;
        let slow: Vec<bool> = self
            .children
            .iter()
            .map(|c| c.drain.slower_than(&self.received))
            .collect();
        let busy_primary = self
            .children
            .iter()
            .zip(&slow)
            .any(|(c, &s)| primary(c) && !c.queue.is_empty() && !s);
        if busy_primary {
            self.primary_busy_ms = now_ms;
        }
        let open = !busy_primary && self.secondary_ready_at().is_none_or(|t| now_ms >= t);
        // Who may be served now; a download-limited child only into a free slot of its own.
        let may: Vec<ChildId> = self
            .children
            .iter()
            .zip(&slow)
            .filter(|&(c, &s)| (open || primary(c)) && (idle(c) || !s))
            .map(|(c, _)| c.id)
            .collect();
        let eligible = |c: &Child| may.contains(&c.id);
        let (child, index) = self
            .pick(|c| eligible(c) && idle(c))
            .or_else(|| self.pick(eligible))?;
        if let Some(c) = self.children.iter_mut().find(|c| c.id == child) {
            c.drain.handed(now_ms);
        }
        Some((child, index))
    }

    /// A block handed out to `child` by [`ServeQueue::next_request_at`] was written to its
    /// socket at `now_ms`: the child's slot is free again (and its drain pace learns).
    pub fn sent(&mut self, child: ChildId, now_ms: u64) {
        if let Some(c) = self.children.iter_mut().find(|c| c.id == child) {
            c.drain.written(now_ms);
        }
    }

    /// A block handed out to `child` never reached its socket (the child is gone, the read
    /// failed): the slot is free again.
    pub fn not_sent(&mut self, child: ChildId) {
        if let Some(c) = self.children.iter_mut().find(|c| c.id == child) {
            c.drain.dropped();
        }
    }

    /// This node received (verified and stored) a block at `now_ms`: the pace children's
    /// sockets are compared with.
    pub fn received(&mut self, now_ms: u64) {
        self.received.tick(now_ms);
    }

    /// When [`ServeQueue::next_request_at`] will serve the secondary requests now queued
    /// (`None`: none waits for the primaries' idle time).
    pub fn secondary_ready_at(&self) -> Option<u64> {
        let primaries = self.children.iter().any(|c| c.weight >= PRIMARY_WEIGHT);
        let waiting = self
            .children
            .iter()
            .any(|c| c.weight < PRIMARY_WEIGHT && !c.queue.is_empty());
        (primaries && waiting).then(|| self.primary_busy_ms.saturating_add(SECONDARY_IDLE_MS))
    }

    fn pick(&mut self, eligible: impl Fn(&Child) -> bool) -> Option<(ChildId, u32)> {
        let mut total: i64 = 0;
        let mut best: Option<(usize, i64)> = None;
        for (i, c) in self.children.iter_mut().enumerate() {
            if c.queue.is_empty() || !eligible(c) {
                if c.queue.is_empty() {
                    c.current = 0;
                }
                continue;
            }
            c.current += i64::from(c.weight);
            total += i64::from(c.weight);
            if best.is_none_or(|(_, cur)| cur < c.current) {
                best = Some((i, c.current));
            }
        }
        let c = self.children.get_mut(best?.0)?;
        c.current -= total;
        let index = c.queue.pop_front()?;
        Some((c.id, index))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn weighted_round_robin_shares_by_weight() {
        let mut q = ServeQueue::new(1000);
        q.add_child(1, 3).unwrap();
        q.add_child(2, 1).unwrap();
        for i in 0..100 {
            q.request(1, i).unwrap();
            q.request(2, i).unwrap();
        }
        let first: Vec<ChildId> = (0..40).map(|_| q.next_request().unwrap().0).collect();
        assert_eq!(first.iter().filter(|&&c| c == 1).count(), 30);
        assert_eq!(first.iter().filter(|&&c| c == 2).count(), 10);
        assert_ne!(
            &first[..4],
            &[1, 1, 1, 1],
            "smooth: child 2 is not starved for a run"
        );
    }

    #[test]
    fn idle_child_does_not_bank_credit_and_fifo_per_child() {
        let mut q = ServeQueue::new(8);
        q.add_child(1, 1).unwrap();
        q.add_child(2, 1).unwrap();
        for i in 0..4 {
            q.request(1, i).unwrap();
        }
        assert_eq!(q.next_request(), Some((1, 0)));
        assert_eq!(q.next_request(), Some((1, 1)));
        q.request(2, 9).unwrap();
        q.request(2, 10).unwrap();
        let next: Vec<_> = (0..4).map(|_| q.next_request().unwrap()).collect();
        assert_eq!(next, vec![(1, 2), (2, 9), (1, 3), (2, 10)]);
        assert_eq!(q.next_request(), None);
    }

    #[test]
    fn secondaries_wait_until_the_primaries_were_idle_for_a_while() {
        let mut q = ServeQueue::new(8);
        q.add_child(1, PRIMARY_WEIGHT).unwrap();
        q.add_child(2, SECONDARY_WEIGHT).unwrap();
        q.request(1, 0).unwrap();
        q.request(2, 5).unwrap();
        q.request(2, 6).unwrap();
        assert_eq!(q.next_request_at(1000), Some((1, 0)));
        // The primary's queue just emptied: the secondary waits.
        assert_eq!(q.next_request_at(1100), None);
        assert_eq!(q.secondary_ready_at(), Some(1000 + SECONDARY_IDLE_MS));
        q.request(1, 1).unwrap();
        assert_eq!(q.next_request_at(1200), Some((1, 1)));
        assert_eq!(q.next_request_at(1200 + SECONDARY_IDLE_MS - 1), None);
        assert_eq!(q.next_request_at(1200 + SECONDARY_IDLE_MS), Some((2, 5)));
        // A primary request arriving meanwhile goes first again.
        q.request(1, 2).unwrap();
        assert_eq!(q.next_request_at(2000), Some((1, 2)));
        // Without a primary child, secondaries are served at once.
        assert_eq!(q.remove_child(1), 0);
        assert_eq!(q.secondary_ready_at(), None);
        assert_eq!(q.next_request_at(2001), Some((2, 6)));
    }

    #[test]
    fn a_child_with_a_block_in_flight_yields_to_one_without() {
        let mut q = ServeQueue::new(8);
        q.add_child(1, PRIMARY_WEIGHT).unwrap();
        q.add_child(2, PRIMARY_WEIGHT).unwrap();
        for i in 0..4 {
            q.request(1, i).unwrap();
            q.request(2, 10 + i).unwrap();
        }
        // Child 1's socket is slow: its first block has not left yet.
        assert_eq!(q.next_request_at(0), Some((1, 0)));
        assert_eq!(q.next_request_at(0), Some((2, 10)));
        q.sent(2, 1);
        assert_eq!(
            q.next_request_at(1),
            Some((2, 11)),
            "not a second slot for child 1"
        );
        q.sent(2, 2);
        assert_eq!(q.next_request_at(2), Some((2, 12)));
        q.sent(1, 3);
        q.sent(2, 3);
        assert_eq!(q.next_request_at(3), Some((2, 13)));
        assert_eq!(q.next_request_at(3), Some((1, 1)), "child 1 is free again");
        // With every eligible child busy, the round-robin goes on as without reports.
        assert_eq!(q.next_request_at(3), Some((1, 2)));
    }

    /// A node that received a block every 26 ms (10 Mbit/s of 32 KiB blocks) until `t`.
    fn receiving(q: &mut ServeQueue, t: u64) {
        for k in 0..=t / 26 {
            q.received(k * 26);
        }
    }

    #[test]
    fn a_download_limited_primary_holds_one_slot_and_lets_the_secondaries_in() {
        let mut q = ServeQueue::new(64);
        q.add_child(1, PRIMARY_WEIGHT).unwrap();
        q.add_child(2, SECONDARY_WEIGHT).unwrap();
        receiving(&mut q, 1000);
        for i in 0..40 {
            q.request(1, i).unwrap();
        }
        // Its socket takes a block every 131 ms (2 Mbit/s): one block at a time.
        let mut t = 0;
        for k in 0..8 {
            assert_eq!(q.next_request_at(t), Some((1, k)));
            t += 131;
            q.sent(1, t);
        }
        for i in 100..104 {
            q.request(2, i).unwrap();
        }
        // The primary still has requests queued and its next block in flight; found slow,
        // it no longer keeps the secondaries waiting: the other slot goes to the secondary...
        assert_eq!(q.next_request_at(t), Some((1, 8)));
        assert_eq!(q.next_request_at(t), Some((2, 100)));
        // ... and never a second slot to the slow child.
        q.sent(2, t + 26);
        assert_eq!(q.next_request_at(t + 26), Some((2, 101)));
        assert_eq!(q.next_request_at(t + 26), Some((2, 102)));
    }

    #[test]
    fn a_primary_that_drains_as_fast_as_we_receive_keeps_the_secondaries_waiting() {
        let mut q = ServeQueue::new(64);
        q.add_child(1, PRIMARY_WEIGHT).unwrap();
        q.add_child(2, SECONDARY_WEIGHT).unwrap();
        receiving(&mut q, 1000);
        for i in 0..40 {
            q.request(1, i).unwrap();
        }
        q.request(2, 100).unwrap();
        // Two blocks at a time, each written a block time (26 ms) after the one before.
        let mut t = 0;
        for k in 0..10 {
            assert_eq!(q.next_request_at(t), Some((1, 2 * k)));
            assert_eq!(q.next_request_at(t), Some((1, 2 * k + 1)));
            q.sent(1, t + 26);
            t += 52;
            q.sent(1, t);
        }
        assert_eq!(q.next_request_at(t + SECONDARY_IDLE_MS), Some((1, 20)));
        assert_eq!(q.next_request_at(t + SECONDARY_IDLE_MS), Some((1, 21)));
    }

    #[test]
    fn limits_cancel_and_removal() {
        let mut q = ServeQueue::new(2);
        q.add_child(7, 1).unwrap();
        assert_eq!(q.add_child(7, 1), Err(ServeError::DuplicateChild(7)));
        assert_eq!(q.request(8, 0), Err(ServeError::UnknownChild(8)));
        q.request(7, 0).unwrap();
        assert_eq!(
            q.request(7, 0),
            Err(ServeError::AlreadyQueued { child: 7, index: 0 })
        );
        q.request(7, 1).unwrap();
        assert_eq!(
            q.request(7, 2),
            Err(ServeError::QueueFull { child: 7, max: 2 })
        );
        assert!(q.cancel(7, 0));
        assert!(!q.cancel(7, 0));
        assert_eq!(q.queued(), 1);
        assert_eq!(q.remove_child(7), 1);
        assert_eq!(q.next_request(), None);
    }
}
