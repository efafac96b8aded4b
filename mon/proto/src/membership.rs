//! Gossip membership (paper §2.1) as a sans-IO state machine.
//!
//! Each node keeps a bounded **partial view**. Every `ping_interval_ms` (±10 % jitter) it
//! sends a [`Ping`] to a random view member (to a join address while the view is empty) with a
//! few random view entries; the receiver answers with a [`Pong`] carrying random entries of its
//! own. An entry's **age** is the time since the last evidence that the node is alive: 0 when
//! a message arrives from it directly, the reported age (plus local time since) when learned
//! from others; younger evidence wins, the oldest member is dropped first from a full view and
//! a member with no evidence for `dead_after_ms` leaves it. The Ping→Pong round trip (nonce
//! matched in a bounded table of outstanding Pings) gives a smoothed **RTT** per member, and
//! the members with the lowest RTT form the **local list**, split into left (smaller random
//! node id) and right (larger) halves.
//!
//! Two additions over the paper, both carried in the `aux` field and never entering the view:
//! a **ring table** (nearest known node ids on each side, kept fresh by sending every
//! `ring_ping_every`-th Ping to a ring neighbour and by answering with the entries nearest to
//! the asker's node id), which lets a session also walk the ring and so reach the few nodes a
//! random tree misses; and a **size estimate** (see [`Membership::size_estimate`]) that drives
//! [`default_fanout`].
//!
//! Trust: the caller (the envelope layer) authenticates the sender of every message; this
//! state machine checks it and every third-party entry against the `trust` callback (the
//! `known_nodes` name/key pairs) before anything enters its tables. Entries are hints; the hop
//! handshake authenticates a node for real.
//!
//! I/O: every entry point takes `now_ms`; randomness comes from a ChaCha8 generator seeded by
//! the caller (same seed and inputs → same outputs); messages to send are drained with
//! [`Membership::poll_transmit`] and the next deadline is [`Membership::poll_timeout`].
//!
//! Files: this one holds the state and message handling; `tick` the timers (expiry, the
//! periodic Ping); `entries` what a message carries; `config` the knobs and the gossip
//! interval they derive from; `view`, `local`, `ring`, `estimate`, `select` the tables.

mod config;
mod entries;
mod estimate;
mod local;
mod msg;
mod ring;
mod select;
mod tick;
mod view;

use std::collections::VecDeque;
use std::net::SocketAddr;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

pub use config::{
    Config, Stats, DEAD_AFTER_INTERVALS, DEFAULT_PING_INTERVAL_MS, ESTIMATE_WINDOW_INTERVALS,
    KMV_WINDOW_INTERVALS, PING_TIMEOUT_INTERVALS,
};
pub use estimate::{default_fanout, default_fanout_with_ring, IN_DEGREE_SHAPE};
pub use msg::{Entry, GossipMsg, MemberId, Ping, Pong};
pub use ring::{RingNeighbours, RingPeer};
pub use view::MemberView;

use estimate::SizeEstimator;
use local::{ewma, LocalList, PendingPings};
use ring::RingTable;
use view::PartialView;

/// How many Pings of a node go to a join address (one every `seed_ping_every`) after start.
const SEED_PINGS: u64 = 6;

/// Current sizes of the internal tables (each bounded by its [`Config`] cap).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Footprint {
    /// Partial view members (≤ `view_size`).
    pub view: usize,
    /// Local list members (≤ `local_list_size`).
    pub local: usize,
    /// Ring table members (≤ 2 · `ring_size`).
    pub ring: usize,
    /// Outstanding Pings (≤ `max_outstanding`).
    pub pending: usize,
    /// Join addresses (≤ `max_seeds`).
    pub seeds: usize,
    /// Queued messages (≤ `max_transmit_queue`).
    pub transmit: usize,
    /// Names remembered by the size estimator (≤ `max_seen`).
    pub seen: usize,
    /// k-minimum-values table (≤ 2 · `kmv_k`).
    pub kmv: usize,
}

/// The membership state machine of one node.
pub struct Membership {
    me: MemberId,
    node_id: u64,
    config: Config,
    rng: ChaCha8Rng,
    view: PartialView,
    local: LocalList,
    ring: RingTable,
    estimator: SizeEstimator,
    pending: PendingPings,
    seeds: Vec<SocketAddr>,
    transmit: VecDeque<(SocketAddr, GossipMsg)>,
    next_ping_ms: u64,
    pings_started: u64,
    ring_cursor: u64,
    last_now_ms: u64,
    stats: Stats,
}

impl std::fmt::Debug for Membership {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Membership")
            .field("me", &self.me.name)
            .field("node_id", &self.node_id)
            .field("footprint", &self.footprint())
            .finish_non_exhaustive()
    }
}

impl Membership {
    /// A node `me` with random `node_id`; `seed` seeds its private random generator.
    pub fn new(me: MemberId, node_id: u64, config: Config, seed: u64) -> Self {
        let config = config.sanitized();
        let mut estimator = SizeEstimator::new(
            config.max_seen,
            config.estimate_window_ms,
            config.kmv_k,
            config.kmv_window_ms,
        );
        estimator.offer_kmv(&me, node_id, 0);
        Membership {
            view: PartialView::new(config.view_size, config.evict_passed_on_first),
            local: LocalList::new(node_id, config.local_list_size),
            ring: RingTable::new(node_id, config.ring_size),
            pending: PendingPings::new(config.max_outstanding),
            estimator,
            rng: ChaCha8Rng::seed_from_u64(seed),
            seeds: Vec::new(),
            transmit: VecDeque::new(),
            next_ping_ms: 0,
            pings_started: 0,
            ring_cursor: 0,
            last_now_ms: 0,
            stats: Stats::default(),
            me,
            node_id,
            config,
        }
    }

    /// This node's identity.
    pub fn me(&self) -> &MemberId {
        &self.me
    }

    /// This node's random node id.
    pub fn node_id(&self) -> u64 {
        self.node_id
    }

    /// The configuration in force (after sanitizing).
    pub fn config(&self) -> &Config {
        &self.config
    }

    fn clock(&mut self, now_ms: u64) {
        self.last_now_ms = self.last_now_ms.max(now_ms);
    }

    fn alive_at(&self, heard_ms: u64, now_ms: u64) -> bool {
        now_ms.saturating_sub(heard_ms) <= self.config.dead_after_ms
    }

    /// Remembers a join address (`--join ADDR`): it is pinged while the view is empty, and the
    /// first Pong (authenticated by the envelope) reveals who is there.
    pub fn add_seed(&mut self, addr: SocketAddr, now_ms: u64) {
        self.clock(now_ms);
        if addr == self.me.addr || self.seeds.contains(&addr) {
            return;
        }
        if self.seeds.len() < self.config.max_seeds {
            self.seeds.push(addr);
        }
        if self.view.is_empty() {
            self.next_ping_ms = self.next_ping_ms.min(now_ms);
        }
    }

    /// Handles a message from `from`, already authenticated by the envelope layer.
    /// `trust` says whether a name/key pair is in `known_nodes`; the sender and every entry
    /// must pass it. Messages from ourselves or an untrusted sender are ignored.
    pub fn handle(
        &mut self,
        now_ms: u64,
        from: &MemberId,
        msg: GossipMsg,
        trust: &dyn Fn(&MemberId) -> bool,
    ) {
        self.clock(now_ms);
        if from.name == self.me.name || !trust(from) {
            self.stats.messages_refused += 1;
            return;
        }
        let sender_node_id = msg.sender_node_id();
        self.note_alive(from, sender_node_id, now_ms, true);
        match msg {
            GossipMsg::Ping(p) => {
                self.stats.pings_received += 1;
                self.reply(now_ms, from, sender_node_id, p.nonce);
                self.ingest_all(now_ms, &p.entries, &p.aux, trust);
            }
            GossipMsg::Pong(p) => {
                self.stats.pongs_received += 1;
                if let Some(sent_ms) = self.pending.take(p.nonce, from) {
                    self.rtt_sample(from, sender_node_id, now_ms.saturating_sub(sent_ms), now_ms);
                }
                self.ingest_all(now_ms, &p.entries, &p.aux, trust);
            }
        }
    }

    /// Takes in what a Ping or Pong carries: its view `entries`, then its structure hints
    /// (`aux`).
    fn ingest_all(
        &mut self,
        now_ms: u64,
        entries: &[Entry],
        aux: &[Entry],
        trust: &dyn Fn(&MemberId) -> bool,
    ) {
        self.ingest(now_ms, entries, false, trust);
        self.ingest(now_ms, aux, true, trust);
    }

    /// Evidence that `id` was alive at local time `heard_ms`.
    fn note_alive(&mut self, id: &MemberId, node_id: u64, heard_ms: u64, into_view: bool) {
        if into_view {
            self.view.observe(id, node_id, heard_ms);
        }
        self.local.touch(id, node_id, heard_ms);
        self.ring.offer(id, node_id, heard_ms);
        self.estimator.offer_seen(&id.name, heard_ms);
        self.estimator.offer_kmv(id, node_id, heard_ms);
    }

    /// Takes in the first `max_entries_in` of `entries` (structure hints if `aux`): each
    /// that passes [`Membership::admits`] is evidence of life from `age_ms` ago.
    fn ingest(
        &mut self,
        now_ms: u64,
        entries: &[Entry],
        aux: bool,
        trust: &dyn Fn(&MemberId) -> bool,
    ) {
        let cap = self.config.max_entries_in;
        if entries.len() > cap {
            self.stats.entries_over_cap += (entries.len() - cap) as u64;
        }
        for e in entries.iter().take(cap) {
            self.stats.entries_received += 1;
            if !self.admits(e, aux, trust) {
                continue;
            }
            let heard = now_ms.saturating_sub(e.age_ms);
            if aux {
                self.note_hint(e, heard);
            } else {
                self.note_alive(&e.id, e.node_id, heard, true);
            }
        }
    }

    /// Whether an entry is taken in: not ourselves, young enough (`kmv_window_ms` for a
    /// structure hint, `dead_after_ms` for a view entry) and trusted (else counted).
    fn admits(&mut self, e: &Entry, aux: bool, trust: &dyn Fn(&MemberId) -> bool) -> bool {
        if e.id.name == self.me.name {
            return false;
        }
        let max_age = if aux {
            self.config.kmv_window_ms
        } else {
            self.config.dead_after_ms
        };
        if e.age_ms > max_age {
            return false;
        }
        if !trust(&e.id) {
            self.stats.entries_untrusted += 1;
            return false;
        }
        true
    }

    /// A structure hint heard alive at `heard`: the ring and the local set take it while it
    /// is not dead, the size estimate's sightings within its window, its k minimum values
    /// always (the view does not).
    fn note_hint(&mut self, e: &Entry, heard: u64) {
        if e.age_ms <= self.config.dead_after_ms {
            self.ring.offer(&e.id, e.node_id, heard);
            self.local.touch(&e.id, e.node_id, heard);
        }
        if e.age_ms <= self.config.estimate_window_ms {
            self.estimator.offer_seen(&e.id.name, heard);
        }
        self.estimator.offer_kmv(&e.id, e.node_id, heard);
    }

    fn rtt_sample(&mut self, from: &MemberId, node_id: u64, sample_ms: u64, now_ms: u64) {
        self.stats.rtt_samples += 1;
        let sample = sample_ms as f64;
        let in_view = self
            .view
            .get_mut(&from.name)
            .filter(|s| s.id == *from && s.node_id == node_id);
        let srtt = match in_view {
            Some(slot) => {
                let prev = slot.rtt_ms.or_else(|| self.local.rtt(&from.name));
                let srtt = ewma(prev, sample);
                slot.rtt_ms = Some(srtt);
                srtt
            }
            None => ewma(self.local.rtt(&from.name), sample),
        };
        self.local.offer(from, node_id, srtt, now_ms);
    }

    fn queue(&mut self, to: SocketAddr, msg: GossipMsg) -> bool {
        if self.transmit.len() >= self.config.max_transmit_queue {
            self.stats.transmit_dropped += 1;
            return false;
        }
        self.stats.entries_sent += (msg.entries().len() + msg.aux().len()) as u64;
        self.transmit.push_back((to, msg));
        true
    }

    fn reply(&mut self, now_ms: u64, to: &MemberId, to_node_id: u64, nonce: u64) {
        let entries = self.pick_entries(now_ms, &to.name);
        let aux = self.pick_aux(now_ms, Some(to_node_id), &to.name);
        let pong = GossipMsg::Pong(Pong {
            nonce,
            sender_node_id: self.node_id,
            entries,
            aux,
        });
        if self.queue(to.addr, pong) {
            self.stats.pongs_sent += 1;
        }
    }

    /// When [`Membership::handle_timeout`] should be called next (ms, same clock as `now_ms`).
    pub fn poll_timeout(&self) -> Option<u64> {
        Some(self.next_ping_ms)
    }

    /// Next message to send, with its destination.
    pub fn poll_transmit(&mut self) -> Option<(SocketAddr, GossipMsg)> {
        self.transmit.pop_front()
    }

    /// The partial view, ages relative to `now_ms`; members past `dead_after_ms` are left out.
    pub fn view(&self, now_ms: u64) -> Vec<MemberView> {
        self.view
            .slots()
            .iter()
            .filter(|s| self.alive_at(s.heard_ms, now_ms))
            .map(|s| s.to_view(now_ms))
            .collect()
    }

    /// The smoothed round trip to `name` our Pings measured (view or local list), if any.
    pub fn rtt_ms(&self, name: &str) -> Option<f64> {
        self.view
            .slots()
            .iter()
            .find(|s| s.id.name == name)
            .and_then(|s| s.rtt_ms)
            .or_else(|| self.local.rtt(name))
    }

    /// Nearest known node ids on each side of ours (ring predecessors and successors, nearest
    /// first, at most `ring_size` each). A session in which every reached node also forwards
    /// to its first successor and predecessor walks the ring and so reaches the nodes the
    /// random tree missed (see `tests/membership_coverage.rs`).
    pub fn ring_neighbours(&self, now_ms: u64) -> RingNeighbours {
        let mut r = self.ring.neighbours(now_ms);
        let dead_after = self.config.dead_after_ms;
        r.predecessors.retain(|p| p.age_ms <= dead_after);
        r.successors.retain(|p| p.age_ms <= dead_after);
        r
    }

    /// Estimated number of live nodes, this one included: the largest of
    /// (a) the live view members plus one,
    /// (b) the distinct names heard of within `estimate_window_ms` plus one, and
    /// (c) the k-minimum-values estimate over the random node ids (see the `estimate` module:
    ///     unbiased, ~27 % standard error for k = 16, same at every node once converged).
    pub fn size_estimate(&self) -> usize {
        let direct = self.view.len().max(self.estimator.seen_count()) + 1;
        let kmv = self
            .estimator
            .kmv_estimate()
            .map(|e| e.round().min(usize::MAX as f64) as usize)
            .unwrap_or(0);
        direct.max(kmv)
    }

    /// Forgets a member (e.g. after a failed hop handshake); it comes back only with new
    /// evidence of life.
    pub fn remove(&mut self, id: &MemberId) {
        if self.view.slots().iter().any(|s| s.id == *id) {
            self.view.remove(&id.name);
        }
        self.local.remove(&id.name);
        self.ring.remove(&id.name);
        self.pending.remove_name(&id.name);
        self.estimator.remove(&id.name);
    }

    /// Forgets at once every member `trust` no longer accepts (e.g. a node key marked
    /// `@revoked`, or a line removed, when `known_nodes` reloads), in every table: view,
    /// local list, ring, size estimator, outstanding Pings. Returns how many were forgotten.
    pub fn retain_trusted(&mut self, trust: &dyn Fn(&MemberId) -> bool) -> usize {
        let mut ids: Vec<MemberId> = self.view.slots().iter().map(|s| s.id.clone()).collect();
        ids.extend(
            self.local
                .left()
                .iter()
                .chain(self.local.right())
                .map(|n| n.id.clone()),
        );
        ids.extend(
            self.ring
                .successors()
                .iter()
                .chain(self.ring.predecessors())
                .map(|r| r.id.clone()),
        );
        ids.extend(self.estimator.kmv_all().iter().map(|k| k.id.clone()));
        let mut gone: Vec<MemberId> = ids.into_iter().filter(|id| !trust(id)).collect();
        gone.sort_by(|a, b| a.name.cmp(&b.name));
        gone.dedup_by(|a, b| a.name == b.name);
        for id in &gone {
            // By name in every table: a name whose key is no longer trusted goes entirely.
            self.view.remove(&id.name);
            self.local.remove(&id.name);
            self.ring.remove(&id.name);
            self.pending.remove_name(&id.name);
            self.estimator.remove(&id.name);
        }
        gone.len()
    }

    /// Counters.
    pub fn stats(&self) -> Stats {
        self.stats.clone()
    }

    /// Current table sizes.
    pub fn footprint(&self) -> Footprint {
        Footprint {
            view: self.view.len(),
            local: self.local.left().len() + self.local.right().len(),
            ring: self.ring.successors().len() + self.ring.predecessors().len(),
            pending: self.pending.len(),
            seeds: self.seeds.len(),
            transmit: self.transmit.len(),
            seen: self.estimator.seen_count(),
            kmv: self.estimator.kmv_len(),
        }
    }
}
