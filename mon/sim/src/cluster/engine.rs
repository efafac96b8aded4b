//! The discrete-event engine: one queue of events ordered by (virtual time, sequence number),
//! N real [`Node`] state machines, the network between them and the client's link to its
//! entry node.
//!
//! Time is kept in µs; a node is told `epoch + µs / 1000` (unix ms). Each node is a FIFO
//! server: an event for a node that is still busy waits until it is free, is handled at that
//! time, and what it sends leaves when its service time is over. A packet to a dead node, or
//! lost on the way, is dropped; dead nodes' timers never fire.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap};
use std::net::SocketAddr;

use rand_chacha::ChaCha8Rng;

use super::push_io::PushFiles;
use super::setup::{node_addr, CLIENT_IP};
use super::world::{World, MAX_BACKLOG_US};
use mon_proto::agg::Local;
use mon_proto::node::{Node, Peer};
use mon_proto::wire::session::SessionHash;

/// The simulated client's connection id at every entry node.
const CLIENT_ID: u64 = 1;

/// `from` of a packet sent by the client.
const FROM_CLIENT: u32 = u32::MAX;

/// TCP's initial retransmission timeout, for a lost SYN (Linux: 1 s), µs.
const TCP_SYN_RTO_US: u64 = 1_000_000;
/// SYN retransmissions the model draws at most.
const TCP_SYN_RETRIES: u32 = 6;
/// How long past half a round trip the client waits for the answer to its Session datagram
/// before it sends the Session on its connection too (`mon`'s `open_session`), µs.
const CLIENT_GRACE_US: u64 = 30_000;

/// What happens (kept small: the queue moves these around a lot).
enum Kind {
    /// A node starts and joins through the seeds.
    Start { node: u32 },
    /// A packet arrives at node `to` from node `from` (or [`FROM_CLIENT`]); `stream`: on a
    /// push stream (TCP, in order: never dropped for a full backlog).
    Packet {
        to: u32,
        from: u32,
        bytes: Vec<u8>,
        stream: bool,
    },
    /// A node's timer.
    Timer { node: u32 },
    /// A local operation finished.
    Local(Box<LocalDone>),
    /// A packet arrives at the client.
    ToClient { bytes: Vec<u8> },
}

struct LocalDone {
    node: u32,
    session: SessionHash,
    index: usize,
    local: Local,
}

struct Event {
    at: u64,
    seq: u64,
    kind: Kind,
}

impl PartialEq for Event {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for Event {}
impl PartialOrd for Event {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Event {
    /// Reversed, so that the max-heap pops the earliest (then lowest sequence) first.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

/// One simulated server.
pub(crate) struct Host {
    pub(crate) node: Node,
    /// Started and not dead.
    pub(crate) up: bool,
    /// Killed (never comes back).
    pub(crate) dead: bool,
    busy_until: u64,
    timer_at: Option<u64>,
}

impl Host {
    /// A host for `node`, not started yet.
    fn new(node: Node) -> Host {
        Host {
            node,
            up: false,
            dead: false,
            busy_until: 0,
            timer_at: None,
        }
    }
}

/// What [`Engine::step`] did.
pub(crate) enum Step {
    /// Handled one event inside the simulation.
    Busy,
    /// A packet reached the client.
    Client(Vec<u8>),
    /// No event before the limit; the clock is at the limit.
    Idle,
}

/// Counters.
#[derive(Clone, Debug, Default)]
pub(crate) struct Traffic {
    /// Gossip packets handed to a live node.
    pub gossip: u64,
    /// Other packets (sessions) handed to a live node.
    pub session: u64,
    /// Bytes in all of them.
    pub bytes: u64,
    /// Packets dropped: dead or not yet started destination, or lost.
    pub dropped: u64,
    /// Timer events handled.
    pub timers: u64,
    /// Events that waited for a busy node.
    pub deferred: u64,
}

impl Traffic {
    /// Counts a packet handed to a live node: gossip or session, and its bytes.
    fn count_delivered(&mut self, bytes: &[u8]) {
        if is_gossip(bytes) {
            self.gossip += 1;
        } else {
            self.session += 1;
        }
        self.bytes += bytes.len() as u64;
    }
}

/// The peer a packet from `from` (a node index, or [`FROM_CLIENT`]) comes from.
fn sender(from: u32) -> Peer {
    if from == FROM_CLIENT {
        Peer::Client(CLIENT_ID, CLIENT_IP)
    } else {
        Peer::Addr(node_addr(from as usize))
    }
}

/// Whether an encoded packet is gossip (CBOR `{"Gossip": …}`), without decoding it.
fn is_gossip(bytes: &[u8]) -> bool {
    bytes.get(1..8) == Some(b"\x66Gossip".as_slice())
}

/// The engine.
pub(crate) struct Engine {
    pub(crate) hosts: Vec<Host>,
    world: World,
    by_addr: HashMap<SocketAddr, usize>,
    queue: BinaryHeap<Event>,
    seq: u64,
    now_us: u64,
    epoch_ms: u64,
    rng: ChaCha8Rng,
    loss: f64,
    /// Join addresses of starting nodes.
    seeds: Vec<SocketAddr>,
    /// The entry node of the client's current session.
    entry: Option<usize>,
    /// When the client's connection to it is open (and its Session sent on it, when its
    /// datagram was lost), µs.
    client_open_at: u64,
    /// (time µs, node) of every session accept since [`Engine::track_accepts`].
    accepts: Vec<(u64, usize)>,
    tracking: bool,
    pub(crate) traffic: Traffic,
    value: fn(usize) -> f64,
    /// The nodes' push files, in memory.
    pub(crate) push_files: PushFiles,
    /// Arrival time of the last packet on each push stream (from, to): a stream delivers in
    /// order.
    stream_at: HashMap<(u32, u32), u64>,
}

impl Engine {
    /// An engine over `nodes` (none started) in `world`; node clocks read `epoch_ms` at
    /// virtual time 0. `value(i)` is node `i`'s value of every resource.
    pub(crate) fn new(
        nodes: Vec<Node>,
        world: World,
        epoch_ms: u64,
        rng: ChaCha8Rng,
        loss: f64,
        value: fn(usize) -> f64,
    ) -> Engine {
        let by_addr = (0..nodes.len()).map(|i| (node_addr(i), i)).collect();
        let hosts = nodes.into_iter().map(Host::new).collect();
        Engine {
            hosts,
            world,
            by_addr,
            queue: BinaryHeap::new(),
            seq: 0,
            now_us: 0,
            epoch_ms,
            rng,
            loss,
            seeds: Vec::new(),
            entry: None,
            client_open_at: 0,
            accepts: Vec::new(),
            tracking: false,
            traffic: Traffic::default(),
            value,
            push_files: PushFiles::default(),
            stream_at: HashMap::new(),
        }
    }

    /// Virtual time, µs.
    pub(crate) fn now_us(&self) -> u64 {
        self.now_us
    }

    /// The unix ms a node reads at virtual time `us`.
    pub(crate) fn unix_ms(&self, us: u64) -> u64 {
        self.epoch_ms + us / 1000
    }

    fn push(&mut self, at: u64, kind: Kind) {
        self.seq += 1;
        self.queue.push(Event {
            at,
            seq: self.seq,
            kind,
        });
    }

    /// Node `i` starts at virtual time `at` and joins through the seeds (see
    /// [`Engine::set_seeds`]).
    pub(crate) fn schedule_start(&mut self, i: usize, at: u64) {
        self.push(at, Kind::Start { node: i as u32 });
    }

    /// The join addresses every node starts with.
    pub(crate) fn set_seeds(&mut self, seeds: Vec<SocketAddr>) {
        self.seeds = seeds;
    }

    /// Node `i` dies now: it receives nothing and sends nothing from now on.
    pub(crate) fn kill(&mut self, i: usize) {
        if let Some(h) = self.hosts.get_mut(i) {
            h.up = false;
            h.dead = true;
        }
    }

    /// Starts recording session accepts (audit `session-accept` records).
    pub(crate) fn track_accepts(&mut self) {
        self.accepts.clear();
        self.tracking = true;
    }

    /// Stops recording and returns what was recorded.
    pub(crate) fn take_accepts(&mut self) -> Vec<(u64, usize)> {
        self.tracking = false;
        std::mem::take(&mut self.accepts)
    }

    /// The client sends its Session to entry node `entry`, as `mon` does: in a datagram
    /// while its connection to the entry opens (a SYN lost costs TCP's initial 1 s timeout,
    /// doubling); a datagram lost is sent again on the connection once it is open and no
    /// answer came within half a round trip and 30 ms.
    pub(crate) fn client_send_session(&mut self, entry: usize, bytes: Vec<u8>) {
        self.entry = Some(entry);
        let rtt = self.world.client_rtt_us(entry);
        let mut syn_rto = TCP_SYN_RTO_US;
        let mut open_at = self.now_us + rtt;
        for _ in 0..TCP_SYN_RETRIES {
            if !self.lost() {
                break;
            }
            open_at += syn_rto;
            syn_rto *= 2;
        }
        self.client_open_at = open_at;
        let fits = bytes.len() <= mon_proto::wire::packet::MAX_DATAGRAM;
        if fits && !self.lost() {
            let at = self.now_us + self.world.client_us(entry, &mut self.rng);
            self.client_packet(entry, at, bytes);
            return;
        }
        let fallback = if fits { rtt / 2 + CLIENT_GRACE_US } else { 0 };
        self.client_open_at = open_at + fallback;
        self.client_send(entry, bytes);
    }

    /// The client sends `bytes` to entry node `entry` on its connection (a stream to a
    /// nearby server: once it is open, late by the retransmissions its losses cost).
    pub(crate) fn client_send(&mut self, entry: usize, bytes: Vec<u8>) {
        self.entry = Some(entry);
        let rtt = self.world.client_rtt_us(entry);
        let at = self.now_us.max(self.client_open_at)
            + self.world.client_us(entry, &mut self.rng)
            + self.stream_loss_us(rtt);
        self.client_packet(entry, at, bytes);
    }

    /// A packet from the client arrives at node `entry` at `at` µs.
    fn client_packet(&mut self, entry: usize, at: u64, bytes: Vec<u8>) {
        self.push(
            at,
            Kind::Packet {
                to: entry as u32,
                from: FROM_CLIENT,
                bytes,
                stream: false,
            },
        );
    }

    /// Handles the next event if it is due at or before `limit_us`.
    pub(crate) fn step(&mut self, limit_us: u64) -> Step {
        let due = self.queue.peek().is_some_and(|e| e.at <= limit_us);
        if !due {
            self.now_us = self.now_us.max(limit_us);
            return Step::Idle;
        }
        let Some(ev) = self.queue.pop() else {
            return Step::Idle;
        };
        self.now_us = self.now_us.max(ev.at);
        let i = match &ev.kind {
            Kind::ToClient { .. } => None,
            Kind::Start { node } | Kind::Packet { to: node, .. } | Kind::Timer { node } => {
                Some(*node as usize)
            }
            Kind::Local(l) => Some(l.node as usize),
        };
        let Some(i) = i else {
            let Kind::ToClient { bytes } = ev.kind else {
                return Step::Busy;
            };
            return Step::Client(bytes);
        };
        if let Some(ev) = self.ready(i, ev) {
            self.handle(i, ev);
        }
        Step::Busy
    }

    /// `ev` if node `i` handles it now; `None` when it is dropped (node dead or not started,
    /// socket backlog full), superseded (an old timer) or deferred (re-queued for when the
    /// node is free or its deadline comes).
    fn ready(&mut self, i: usize, ev: Event) -> Option<Event> {
        let h = self.hosts.get(i)?;
        if h.dead || (!h.up && !matches!(ev.kind, Kind::Start { .. })) {
            if matches!(ev.kind, Kind::Packet { .. }) {
                self.traffic.dropped += 1;
            }
            return None;
        }
        if let Kind::Timer { .. } = ev.kind {
            if !self.timer_fires(i, ev.at) {
                return None;
            }
        }
        let h = self.hosts.get(i)?;
        // A node too far behind drops packets (its socket buffer is full).
        let datagram = matches!(ev.kind, Kind::Packet { stream: false, .. });
        if datagram && h.busy_until > ev.at + MAX_BACKLOG_US {
            self.traffic.dropped += 1;
            return None;
        }
        // A busy node handles the event when it is free (FIFO).
        if h.busy_until > ev.at {
            let at = h.busy_until;
            if let Kind::Timer { .. } = ev.kind {
                if let Some(h) = self.hosts.get_mut(i) {
                    h.timer_at = Some(at);
                }
            }
            self.traffic.deferred += 1;
            self.push(at, ev.kind);
            return None;
        }
        Some(ev)
    }

    /// Whether node `i`'s timer event queued for `at` fires now: not when a later-queued one
    /// superseded it, nor when the node's deadline moved later since it was queued (see
    /// `reschedule`; then it is re-queued for that deadline).
    fn timer_fires(&mut self, i: usize, at: u64) -> bool {
        if self.hosts.get(i).map(|h| h.timer_at) != Some(Some(at)) {
            return false; // superseded by an earlier one
        }
        let due = self.timer_due(i);
        if due.is_none_or(|d| d > at) {
            if let Some(h) = self.hosts.get_mut(i) {
                h.timer_at = due;
            }
            if let Some(d) = due {
                self.push(d, Kind::Timer { node: i as u32 });
            }
            return false;
        }
        true
    }

    /// Node `i` handles `ev` (start, packet, timer or local result) at `ev.at`, takes a service
    /// time, and its outputs leave when it is done.
    fn handle(&mut self, i: usize, ev: Event) {
        let start = ev.at;
        let service = self.world.service_us(i, &mut self.rng);
        let now_ms = self.unix_ms(start);
        let Some(h) = self.hosts.get_mut(i) else {
            return;
        };
        match ev.kind {
            Kind::Start { .. } => {
                h.up = true;
                h.node.join(&self.seeds, now_ms);
            }
            Kind::Packet {
                from,
                bytes,
                stream,
                ..
            } => {
                self.traffic.count_delivered(&bytes);
                if stream && from != FROM_CLIENT {
                    h.node.handle_stream_packet(now_ms, sender(from), &bytes);
                } else {
                    h.node.handle_packet(now_ms, sender(from), &bytes);
                }
            }
            Kind::Timer { .. } => {
                self.traffic.timers += 1;
                h.timer_at = None;
                h.node.handle_timeout(now_ms);
            }
            Kind::Local(l) => h.node.handle_local(now_ms, l.session, l.index, l.local),
            Kind::ToClient { .. } => {}
        }
        h.busy_until = start + service;
        self.flush(i, start, start + service);
    }

    /// Runs until virtual time `t_us`, ignoring anything sent to the client.
    pub(crate) fn run_until(&mut self, t_us: u64) {
        while !matches!(self.step(t_us), Step::Idle) {}
    }

    /// When node `i` wants its timer, µs (not before now).
    fn timer_due(&self, i: usize) -> Option<u64> {
        let h = self.hosts.get(i)?;
        let t_ms = h.node.poll_timeout()?;
        Some((t_ms.saturating_sub(self.epoch_ms) * 1000).max(self.now_us))
    }

    /// Makes sure node `i`'s timer fires no later than it wants. A queued timer that is
    /// already earlier stays (when it fires, it re-queues itself for the real deadline), so
    /// that deadlines moving later — every packet of a session moves them — cost no queue
    /// entry.
    fn reschedule(&mut self, i: usize) {
        if !self.hosts.get(i).is_some_and(|h| h.up) {
            return;
        }
        let Some(at) = self.timer_due(i) else {
            return;
        };
        let Some(h) = self.hosts.get_mut(i) else {
            return;
        };
        if h.timer_at.is_none_or(|t| t > at) {
            h.timer_at = Some(at);
            self.push(at, Kind::Timer { node: i as u32 });
        }
    }
}

mod output;
mod push_out;
#[cfg(test)]
mod tests;
