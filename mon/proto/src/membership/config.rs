//! Tuning knobs and counters of the membership state machine.

use serde::{Deserialize, Serialize};

/// Membership configuration. Servers and the simulator run [`Config::default`], which is
/// [`Config::with_interval`] at [`DEFAULT_PING_INTERVAL_MS`] (through `NodeConfig::server`):
/// one gossip profile, every timeout derived from the interval.
///
/// Every size here is a hard cap: memory use of a [`super::Membership`] is bounded by
/// `O(view_size + local_list_size + ring_size + max_outstanding + max_seeds +
/// max_transmit_queue + max_seen + 2 * kmv_k)` entries whatever its peers send.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Config {
    /// Partial view size; when full the oldest entry is dropped first.
    pub view_size: usize,
    /// Local list size (nearest nodes by RTT), half left (smaller node id), half right.
    pub local_list_size: usize,
    /// Ring table size per side (nearest known node ids below and above ours).
    pub ring_size: usize,
    /// Mean interval between two Pings sent by this node.
    pub ping_interval_ms: u64,
    /// Every `ring_ping_every`-th Ping goes to a ring neighbour instead of a random view member
    /// (keeps the ring table fresh and converging); 0 disables ring pings.
    pub ring_ping_every: u64,
    /// During start-up, every `seed_ping_every`-th Ping (six times in all) goes to a random
    /// join address even when the view is not empty, so groups that formed apart while nodes
    /// were starting find each other; 0 disables it.
    pub seed_ping_every: u64,
    /// Random view entries carried per Ping/Pong.
    pub entries_per_msg: usize,
    /// Structure hints (ring + size estimator) carried per Ping/Pong.
    pub aux_entries_per_msg: usize,
    /// A node with no evidence of life (direct or relayed) for this long leaves the view,
    /// the local list and the ring table.
    pub dead_after_ms: u64,
    /// An unanswered Ping is forgotten after this long (no RTT sample from a later Pong).
    pub ping_timeout_ms: u64,
    /// Cap on Pings awaiting their Pong.
    pub max_outstanding: usize,
    /// Cap on entries taken from one received message (in each of `entries` and `aux`);
    /// the rest is ignored.
    pub max_entries_in: usize,
    /// When the view is full, drop first the members we already passed on to a peer (entries
    /// move rather than copy, as in Cyclon's shuffle), then the oldest. Off by default (the
    /// paper drops the oldest first); on, in-degrees are more even and random trees need a
    /// fanout about 2 lower for the same coverage, at the price of views that are not always
    /// full (see `tests/membership_coverage.rs`).
    pub evict_passed_on_first: bool,
    /// Cap on join addresses remembered.
    pub max_seeds: usize,
    /// Cap on queued outgoing messages; a Pong that does not fit is dropped.
    pub max_transmit_queue: usize,
    /// Window of the size estimator: nodes heard of (directly or in entries) within this
    /// window are counted.
    pub estimate_window_ms: u64,
    /// Cap on the names remembered by the size estimator.
    pub max_seen: usize,
    /// `k` of the k-minimum-values size estimator (see [`super::Membership::size_estimate`]).
    pub kmv_k: usize,
    /// How long a node with a small node id stays in the k-minimum-values table without new
    /// evidence of life. Longer than `dead_after_ms` because the minima travel far (every
    /// node keeps the same ones); a dead node lingering only inflates the estimate.
    pub kmv_window_ms: u64,
}

/// The one default gossip interval (mean ms between two Pings of a node): what `mon server`
/// runs unless `--ping-interval-ms` says otherwise, and what the simulator runs. With 3 view
/// entries and 1 structure hint per message it keeps gossip under 500 B/s per node.
pub const DEFAULT_PING_INTERVAL_MS: u64 = 2_500;

/// `dead_after_ms` in gossip intervals: a member unheard of for 12 intervals (30 s at the
/// default) leaves the view. Each live member is pinged or mentioned several times in that
/// span, so a live one is not dropped by bad luck.
pub const DEAD_AFTER_INTERVALS: u64 = 12;
/// `ping_timeout_ms` in gossip intervals: an unanswered Ping is forgotten after 4 intervals
/// (10 s at the default), far above any round trip.
pub const PING_TIMEOUT_INTERVALS: u64 = 4;
/// `estimate_window_ms` in gossip intervals: the size estimator counts names heard of within
/// 24 intervals (60 s at the default), twice `dead_after_ms`.
pub const ESTIMATE_WINDOW_INTERVALS: u64 = 24;
/// `kmv_window_ms` in gossip intervals: 120 (300 s at the default), ten times `dead_after_ms`
/// because the minima travel far (every node keeps the same ones).
pub const KMV_WINDOW_INTERVALS: u64 = 120;

impl Default for Config {
    /// What `mon server` and the simulator run: [`Config::with_interval`] at
    /// [`DEFAULT_PING_INTERVAL_MS`].
    fn default() -> Self {
        Config::with_interval(DEFAULT_PING_INTERVAL_MS)
    }
}

impl Config {
    /// The servers' configuration at a gossip interval of `ping_interval_ms`: one Ping per
    /// interval with 3 view entries and 1 structure hint (≈ 4 entries of ~80 bytes CBOR,
    /// plus the Pong's), and every timeout derived from the interval (`*_INTERVALS` above), so
    /// a slower gossip keeps members as long in gossip rounds.
    pub fn with_interval(ping_interval_ms: u64) -> Self {
        Config {
            view_size: 32,
            local_list_size: 8,
            ring_size: 2,
            ping_interval_ms,
            ring_ping_every: 2,
            seed_ping_every: 10,
            entries_per_msg: 3,
            aux_entries_per_msg: 1,
            dead_after_ms: ping_interval_ms * DEAD_AFTER_INTERVALS,
            ping_timeout_ms: ping_interval_ms * PING_TIMEOUT_INTERVALS,
            max_outstanding: 16,
            max_entries_in: 16,
            evict_passed_on_first: false,
            max_seeds: 16,
            max_transmit_queue: 64,
            estimate_window_ms: ping_interval_ms * ESTIMATE_WINDOW_INTERVALS,
            max_seen: 4096,
            kmv_k: 16,
            kmv_window_ms: ping_interval_ms * KMV_WINDOW_INTERVALS,
        }
    }

    /// The same configuration with every cap raised to at least 1 where 0 would make the
    /// state machine useless.
    pub(crate) fn sanitized(mut self) -> Self {
        self.view_size = self.view_size.max(1);
        self.ping_interval_ms = self.ping_interval_ms.max(1);
        self.dead_after_ms = self.dead_after_ms.max(1);
        self.max_outstanding = self.max_outstanding.max(1);
        self.max_transmit_queue = self.max_transmit_queue.max(1);
        self.kmv_k = self.kmv_k.max(2);
        self.estimate_window_ms = self.estimate_window_ms.max(self.dead_after_ms);
        self.kmv_window_ms = self.kmv_window_ms.max(self.dead_after_ms);
        self
    }
}

/// Counters (monotonic since start).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// Pings queued for sending.
    pub pings_sent: u64,
    /// Pongs queued for sending.
    pub pongs_sent: u64,
    /// Pings handled.
    pub pings_received: u64,
    /// Pongs handled.
    pub pongs_received: u64,
    /// Pongs that matched an outstanding Ping (RTT samples taken).
    pub rtt_samples: u64,
    /// Pings never answered within `ping_timeout_ms`.
    pub pings_timed_out: u64,
    /// Entries (view + aux) sent.
    pub entries_sent: u64,
    /// Entries (view + aux) received and examined.
    pub entries_received: u64,
    /// Entries ignored because the received message carried more than `max_entries_in`.
    pub entries_over_cap: u64,
    /// Entries refused by the trust check (unknown name/key pair).
    pub entries_untrusted: u64,
    /// Messages ignored because their sender failed the trust check or claimed our name.
    pub messages_refused: u64,
    /// Outgoing messages dropped because the transmit queue was full.
    pub transmit_dropped: u64,
    /// Members removed from the view because they aged past `dead_after_ms`.
    pub expired: u64,
}
