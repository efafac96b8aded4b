//! A deterministic in-memory network of [`Membership`] state machines under virtual time.
//!
//! One event queue ordered by (time, sequence number): message deliveries after a per-pair
//! one-way latency, and each node's timer at its [`Membership::poll_timeout`]. Same seed and
//! latency function → same run. Used by the membership tests (convergence, failure, RTT,
//! tree coverage) and usable by the simulator.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use mon_proto::membership::{Config, GossipMsg, MemberId, Membership};

/// One simulated node.
pub struct SimNode {
    /// Its state machine.
    pub m: Membership,
    /// Dead nodes receive nothing and never fire timers.
    pub alive: bool,
    timer_at: Option<u64>,
}

enum Event {
    Deliver {
        to: usize,
        from: usize,
        msg: GossipMsg,
    },
    Timer {
        node: usize,
        at: u64,
    },
}

/// One-way latency in ms from node `a` to node `b`.
pub type Latency = Box<dyn Fn(usize, usize) -> u64>;

/// The simulated network.
pub struct SimNet {
    /// The nodes, indexed 0..n.
    pub nodes: Vec<SimNode>,
    now_ms: u64,
    seq: u64,
    events: BTreeMap<(u64, u64), Event>,
    by_addr: BTreeMap<SocketAddr, usize>,
    roster: BTreeMap<String, MemberId>,
    distrusted: BTreeSet<String>,
    trust_all: BTreeSet<usize>,
    latency: Latency,
    delivered: u64,
}

impl std::fmt::Debug for SimNet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimNet")
            .field("nodes", &self.nodes.len())
            .field("now_ms", &self.now_ms)
            .finish_non_exhaustive()
    }
}

/// The identity of simulated node `i`: name `n{i}`, address `10.x.y.z:7460`, a key derived
/// from `i`.
pub fn sim_id(i: usize) -> MemberId {
    let b = (i as u32).to_be_bytes();
    let mut key = [0xA5u8; 32];
    key[..8].copy_from_slice(&(i as u64).to_le_bytes());
    MemberId {
        name: format!("n{i}"),
        addr: SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::new(10, b[1], b[2], b[3]), 7460)),
        key,
    }
}

/// Latency model: nodes at random points of a 100 × 100 plane, one-way latency
/// `1 + distance` ms (so RTTs of 2–285 ms).
pub fn planar_latency(n: usize, seed: u64) -> Latency {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x9E37_79B9_7F4A_7C15);
    let pts: Vec<(f64, f64)> = (0..n)
        .map(|_| (rng.gen_range(0.0..100.0), rng.gen_range(0.0..100.0)))
        .collect();
    Box::new(move |a, b| match (pts.get(a), pts.get(b)) {
        (Some(p), Some(q)) => 1 + ((p.0 - q.0).hypot(p.1 - q.1)) as u64,
        _ => 1,
    })
}

impl SimNode {
    /// A live node running `m`, no timer queued.
    fn new(m: Membership) -> SimNode {
        SimNode {
            m,
            alive: true,
            timer_at: None,
        }
    }
}

impl SimNet {
    /// `n` nodes with random node ids, all trusting one another, none joined yet.
    pub fn new(n: usize, config: &Config, seed: u64, latency: Latency) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut nodes = Vec::with_capacity(n);
        let mut by_addr = BTreeMap::new();
        let mut roster = BTreeMap::new();
        for i in 0..n {
            let id = sim_id(i);
            by_addr.insert(id.addr, i);
            roster.insert(id.name.clone(), id.clone());
            let node_id: u64 = rng.gen();
            let m = Membership::new(id, node_id, config.clone(), rng.gen());
            nodes.push(SimNode::new(m));
        }
        let mut net = SimNet {
            nodes,
            now_ms: 0,
            seq: 0,
            events: BTreeMap::new(),
            by_addr,
            roster,
            distrusted: BTreeSet::new(),
            trust_all: BTreeSet::new(),
            latency,
            delivered: 0,
        };
        for i in 0..n {
            net.reschedule(i);
        }
        net
    }

    /// Every node but node 0 joins through node 0 (`--join` of node 0's address).
    pub fn join_all_to_first(&mut self) {
        let Some(first) = self.nodes.first().map(|n| n.m.me().addr) else {
            return;
        };
        let now = self.now_ms;
        for i in 1..self.nodes.len() {
            self.nodes[i].m.add_seed(first, now);
            self.reschedule(i);
        }
    }

    /// Node `i` joins through node `j`.
    pub fn join(&mut self, i: usize, j: usize) {
        let addr = self.nodes[j].m.me().addr;
        let now = self.now_ms;
        self.nodes[i].m.add_seed(addr, now);
        self.reschedule(i);
    }

    /// No node's `known_nodes` lists node `i` (except nodes made to trust all).
    pub fn distrust(&mut self, i: usize) {
        self.distrusted.insert(sim_id(i).name);
    }

    /// Node `i` trusts every identity (a misconfigured node that would gossip anything).
    pub fn trust_everyone_at(&mut self, i: usize) {
        self.trust_all.insert(i);
    }

    /// Node `i` stops: receives nothing, sends nothing.
    pub fn kill(&mut self, i: usize) {
        if let Some(n) = self.nodes.get_mut(i) {
            n.alive = false;
        }
    }

    /// Virtual time now.
    pub fn now_ms(&self) -> u64 {
        self.now_ms
    }

    /// Messages delivered so far.
    pub fn delivered(&self) -> u64 {
        self.delivered
    }

    /// Index of the node with identity `id`, if simulated.
    pub fn index_of(&self, id: &MemberId) -> Option<usize> {
        self.by_addr.get(&id.addr).copied()
    }

    fn push(&mut self, at: u64, ev: Event) {
        self.seq += 1;
        self.events.insert((at, self.seq), ev);
    }

    fn reschedule(&mut self, i: usize) {
        let Some(t) = self.nodes[i].m.poll_timeout() else {
            return;
        };
        let t = t.max(self.now_ms);
        if self.nodes[i].timer_at != Some(t) {
            self.nodes[i].timer_at = Some(t);
            self.push(t, Event::Timer { node: i, at: t });
        }
    }

    fn flush(&mut self, i: usize) {
        while let Some((addr, msg)) = self.nodes[i].m.poll_transmit() {
            if let Some(&to) = self.by_addr.get(&addr) {
                let at = self.now_ms + (self.latency)(i, to);
                self.push(at, Event::Deliver { to, from: i, msg });
            }
        }
        self.reschedule(i);
    }

    /// Runs all events up to virtual time `t_ms` (inclusive) and sets the clock to it.
    pub fn run_until(&mut self, t_ms: u64) {
        while let Some(entry) = self.events.first_entry() {
            if entry.key().0 > t_ms {
                break;
            }
            let ((at, _), ev) = entry.remove_entry();
            self.now_ms = at;
            match ev {
                Event::Deliver { to, from, msg } => self.deliver(at, to, from, msg),
                Event::Timer { node, at } => self.timer(node, at),
            }
        }
        self.now_ms = self.now_ms.max(t_ms);
    }

    /// Node `to` handles `msg` from node `from` at `at` (unless either is dead), trusting the
    /// roster minus the distrusted nodes (or everyone, if made to).
    fn deliver(&mut self, at: u64, to: usize, from: usize, msg: GossipMsg) {
        if !self.nodes[to].alive || !self.nodes[from].alive {
            return;
        }
        self.delivered += 1;
        let from_id = self.nodes[from].m.me().clone();
        let roster = &self.roster;
        let distrusted = &self.distrusted;
        let all = self.trust_all.contains(&to);
        let trust = |id: &MemberId| {
            all || (roster.get(&id.name) == Some(id) && !distrusted.contains(&id.name))
        };
        self.nodes[to].m.handle(at, &from_id, msg, &trust);
        self.flush(to);
    }

    /// Node `node`'s timer queued for `at` fires, unless the node is dead or the timer was
    /// re-armed for another time since.
    fn timer(&mut self, node: usize, at: u64) {
        if !self.nodes[node].alive || self.nodes[node].timer_at != Some(at) {
            return;
        }
        self.nodes[node].timer_at = None;
        self.nodes[node].m.handle_timeout(at);
        self.flush(node);
    }

    /// Builds one session's random tree from `root` (instantly, at the current virtual time):
    /// every node reached for the first time sends the Session to `fanout` members sampled
    /// from its own view (its parent excluded) and, with `ring`, also to its nearest ring
    /// successor and predecessor; a node reached again prunes. Dead nodes swallow the
    /// Session. Returns the number of live nodes reached (root included).
    pub fn session(&mut self, root: usize, fanout: usize, ring: bool) -> usize {
        let n = self.nodes.len();
        let mut reached = vec![false; n];
        let mut queue = std::collections::VecDeque::new();
        if !self.nodes[root].alive {
            return 0;
        }
        reached[root] = true;
        queue.push_back((root, None::<String>));
        let now = self.now_ms;
        while let Some((u, parent)) = queue.pop_front() {
            let children = self.session_children(u, parent.as_deref(), fanout, ring, now);
            let me = self.nodes[u].m.me().name.clone();
            for c in children {
                let Some(ci) = self.index_of(&c) else {
                    continue;
                };
                if reached[ci] || !self.nodes[ci].alive {
                    continue;
                }
                reached[ci] = true;
                queue.push_back((ci, Some(me.clone())));
            }
        }
        reached.iter().filter(|r| **r).count()
    }

    /// Whom node `u` sends a session's Session to: `fanout` members of its view other than
    /// its `parent` and, with `ring`, its nearest ring successor and predecessor.
    fn session_children(
        &mut self,
        u: usize,
        parent: Option<&str>,
        fanout: usize,
        ring: bool,
        now: u64,
    ) -> Vec<MemberId> {
        let exclude = |id: &MemberId| parent == Some(id.name.as_str());
        let mut children = self.nodes[u].m.sample(fanout, &exclude);
        if ring {
            let r = self.nodes[u].m.ring_neighbours(now);
            children.extend(r.successors.into_iter().take(1).map(|p| p.id));
            children.extend(r.predecessors.into_iter().take(1).map(|p| p.id));
        }
        children
    }

    /// Number of live nodes.
    pub fn alive_count(&self) -> usize {
        self.nodes.iter().filter(|n| n.alive).count()
    }
}

/// The gossip profile the membership simulations (mon/sim/tests) were calibrated with: a
/// Ping every second with 4 entries and 2 hints, dead after 15 s; quicker convergence than
/// the servers' [`Config::default`] (2.5 s, 3 + 1 entries, timeouts derived), at about twice
/// its bandwidth. Not what `mon server` runs.
pub fn fast_gossip() -> Config {
    Config {
        ping_interval_ms: 1_000,
        entries_per_msg: 4,
        aux_entries_per_msg: 2,
        dead_after_ms: 15_000,
        ping_timeout_ms: 5_000,
        ..Config::default()
    }
}
