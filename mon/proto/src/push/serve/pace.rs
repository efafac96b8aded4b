//! Paces for the serving rule of [`super::ServeQueue::next_request_at`]: how fast this node
//! receives blocks, and how fast each child's socket takes the blocks handed to it.
//!
//! A child whose socket drains far slower than we receive (its download link is slower than
//! the links of the pipeline we are in, issue 13) is *download-limited*: while it is served,
//! most of our uplink is idle, so it must neither hold the node's other sending slot nor keep
//! the secondary children waiting (see [`SLOW_FACTOR`]).

use std::collections::VecDeque;

/// A child whose smoothed time per block exceeds this many times our own smoothed time
/// between received blocks is download-limited.
///
/// On equal links a pipeline's child drains at the rate its parent receives (ratio about 1;
/// up to about 2 at the end of a push, when a node receives from all its parents at once);
/// a host at 2 Mbit/s below hosts at 10 drains at a ratio of about 5.
pub const SLOW_FACTOR: u64 = 3;
/// Samples a pace needs before it counts (a few blocks: the first ones ride an empty socket).
pub const MIN_SAMPLES: u32 = 4;
/// A gap longer than this (a node that waited for its go, a stalled loop) counts as this long,
/// ms: one pause must not make a fast link look slow for long.
pub const MAX_SAMPLE_MS: u64 = 1_000;

/// A smoothed time per event (1/8 weight per sample), in µs.
#[derive(Clone, Debug, Default)]
pub(super) struct Pace {
    last_ms: Option<u64>,
    per_event_us: u64,
    samples: u32,
    /// The shortest smoothed time per event so far (once it counts).
    best_us: Option<u64>,
}

impl Pace {
    /// One more event at `now_ms`, `sample_ms` after the previous one (or the start of its
    /// service).
    fn sample(&mut self, sample_ms: u64) {
        let us = sample_ms.min(MAX_SAMPLE_MS) * 1000;
        self.per_event_us = if self.samples == 0 {
            us
        } else {
            (self.per_event_us * 7 + us) / 8
        };
        self.samples = self.samples.saturating_add(1);
        if let Some(us) = self.per_event_us() {
            self.best_us = Some(self.best_us.map_or(us, |b| b.min(us)));
        }
    }

    /// An event (a block received) at `now_ms`: its interval since the previous one.
    pub(super) fn tick(&mut self, now_ms: u64) {
        if let Some(last) = self.last_ms {
            self.sample(now_ms.saturating_sub(last));
        }
        self.last_ms = Some(now_ms.max(self.last_ms.unwrap_or(0)));
    }

    /// The smoothed time per event, µs, once it has [`MIN_SAMPLES`] samples.
    pub(super) fn per_event_us(&self) -> Option<u64> {
        (self.samples >= MIN_SAMPLES).then_some(self.per_event_us)
    }
}

/// The blocks of one child handed to its socket and not yet written, and its drain pace.
#[derive(Clone, Debug, Default)]
pub(super) struct Drain {
    /// When each block in flight was handed out, oldest first (a socket writes in order).
    handed: VecDeque<u64>,
    /// The drain pace: a block's service starts when it is handed out or when the block
    /// before it was written, whichever is later, and ends when it is written.
    pace: Pace,
}

impl Drain {
    /// Blocks in flight.
    pub(super) fn in_flight(&self) -> usize {
        self.handed.len()
    }

    /// A block was handed out at `now_ms`.
    pub(super) fn handed(&mut self, now_ms: u64) {
        self.handed.push_back(now_ms);
    }

    /// The oldest block in flight was written at `now_ms`.
    pub(super) fn written(&mut self, now_ms: u64) {
        let Some(h) = self.handed.pop_front() else {
            return;
        };
        let start = h.max(self.pace.last_ms.unwrap_or(h));
        self.pace.sample(now_ms.saturating_sub(start));
        self.pace.last_ms = Some(now_ms.max(start));
    }

    /// The oldest block in flight never reached the socket (the child is gone, the read
    /// failed): its slot is free, without a sample.
    pub(super) fn dropped(&mut self) {
        self.handed.pop_front();
    }

    /// Whether this child drains more than [`SLOW_FACTOR`] times slower than `received`,
    /// our own best pace of received blocks (the best: at the end of a push the last blocks
    /// trickle in, and a node that holds them all receives nothing, while its link is as
    /// fast as ever).
    pub(super) fn slower_than(&self, received: &Pace) -> bool {
        match (self.pace.per_event_us(), received.best_us) {
            (Some(d), Some(r)) => d > r.max(1).saturating_mul(SLOW_FACTOR),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_socket_draining_five_times_slower_than_we_receive_is_slow() {
        let mut rx = Pace::default();
        let (mut fast, mut slow) = (Drain::default(), Drain::default());
        for k in 0..20u64 {
            rx.tick(26 * k);
            fast.handed(26 * k);
            fast.written(26 * k + 26);
        }
        for k in 0..8u64 {
            slow.handed(131 * k);
            slow.written(131 * k + 131);
        }
        assert!(!fast.slower_than(&rx));
        assert!(slow.slower_than(&rx));
    }

    #[test]
    fn queued_blocks_are_timed_from_the_write_before_them() {
        let mut rx = Pace::default();
        let mut d = Drain::default();
        for k in 0..10u64 {
            rx.tick(26 * k);
        }
        // Two blocks at a time, handed out together: each takes one block time, not two.
        for k in 0..10u64 {
            d.handed(52 * k);
            d.handed(52 * k);
            d.written(52 * k + 26);
            d.written(52 * k + 52);
        }
        assert_eq!(d.in_flight(), 0);
        assert!(!d.slower_than(&rx));
    }

    #[test]
    fn too_few_samples_say_nothing_and_a_pause_is_capped() {
        let mut rx = Pace::default();
        let mut d = Drain::default();
        rx.tick(0);
        rx.tick(26);
        d.handed(0);
        d.written(10_000);
        assert!(!d.slower_than(&rx), "one sample each");
        d.dropped();
        assert_eq!(d.in_flight(), 0);
        let mut p = Pace::default();
        p.tick(0);
        p.tick(60_000);
        assert_eq!(p.per_event_us, MAX_SAMPLE_MS * 1000);
    }
}
