//! A virtual-time simulation of one push over a DAG, driving the real [`Download`] and
//! [`ServeQueue`] of every node.
//!
//! Model: every node has an upload and a download capacity (bytes per ms). A parent serves
//! like the server does: it hands at most [`MAX_SENDING`] blocks to its sockets at once,
//! choosing them with [`ServeQueue::next_request_at`] (first (tree) children weighted
//! `primary_weight`, secondaries only after the primaries idled); a handed block crosses the
//! parent's uplink (first come first served) and then the child's downlink (shared by all its
//! parents the same way), and its slot is free again only once it is through, as a socket
//! write to a slow receiver holds the server's slot. Every message (advert, have, request,
//! cancel) and every block arrives `latency_ms` after it is sent. Blocks are verified for
//! real against a small stand-in manifest (one 64-byte block per virtual block) so corrupt
//! relays are caught by the same code as in the server. Nodes may fail at a given time (their
//! links are noticed down `detect_ms` later) or corrupt every block they serve. A node that
//! loses all its parents closes its child links too. A child whose primary parent is gone
//! asks the next one for primary service ([`Event::PrimaryChanged`]).
//!
//! The result is compared with the Kumar–Ross lower bound for one file of `F` bytes from a
//! source of upload `u_s` to `N` receivers of uploads `u_i` and downloads `d_i`:
//! `T ≥ max(F / u_s, N·F / (u_s + Σ u_i), F / min d_i)`.

pub mod dag;
mod model;
mod result;
mod setup;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_rates;

pub use model::{kumar_ross_bound, SimConfig, SimError, SimNode, SimResult};

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use mon_proto::push::bitset::BitSet;
use mon_proto::push::sched::{BlockOutcome, Download, Event, ParentId};
use mon_proto::push::serve::{ServeQueue, MAX_SENDING, SECONDARY_WEIGHT};

#[derive(Clone, Debug)]
enum Msg {
    Advert(BitSet),
    Have(u32),
    Request(u32),
    Cancel(u32),
    Primary,
    Block { index: u32, corrupt: bool },
}

#[derive(Clone, Debug)]
enum Ev {
    Deliver { to: u32, from: u32, msg: Msg },
    TxDone { node: u32, child: u32, index: u32 },
    Timer { node: u32 },
    Kick { node: u32 },
    Fail { node: u32 },
    LinkDown { child: u32, parent: u32 },
    ChildGone { parent: u32, child: u32 },
}

struct Item {
    t: f64,
    seq: u64,
    ev: Ev,
}

impl PartialEq for Item {
    fn eq(&self, o: &Self) -> bool {
        self.cmp(o) == Ordering::Equal
    }
}
impl Eq for Item {}
impl PartialOrd for Item {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Item {
    fn cmp(&self, o: &Self) -> Ordering {
        // min-heap on (t, seq)
        o.t.total_cmp(&self.t).then(o.seq.cmp(&self.seq))
    }
}

struct NodeState {
    dl: Download,
    serve: ServeQueue,
    upload: f64,
    download: f64,
    /// When the uplink and the downlink are free again.
    up_free: f64,
    down_free: f64,
    corrupt: bool,
    alive: bool,
    /// Blocks handed over and not yet through (at most [`MAX_SENDING`]).
    sending: u32,
    /// When a wake-up for secondary children is scheduled.
    kick_at: Option<u64>,
    children: Vec<u32>,
    timer_at: Option<u64>,
    finish: Option<f64>,
    uploaded: u64,
}

/// What a node's download had to say after an event ([`Sim::drain`]).
struct Drained {
    events: Vec<Event>,
    requests: Vec<(ParentId, u32)>,
    gave_up: bool,
    /// The time to re-arm the timer for, when it changed.
    rearm: Option<u64>,
    children: Vec<u32>,
}

struct Sim<'a> {
    cfg: &'a SimConfig,
    nodes: Vec<NodeState>,
    blocks: Vec<Vec<u8>>,
    heap: BinaryHeap<Item>,
    seq: u64,
    now: f64,
}

/// Runs one push. Deterministic for a given input.
pub fn simulate(nodes: &[SimNode], cfg: &SimConfig) -> Result<SimResult, SimError> {
    setup::check_nodes(nodes)?;
    let (manifest, blocks) = setup::stand_in_manifest(setup::block_count(cfg)?)?;
    let states = nodes
        .iter()
        .enumerate()
        .map(|(i, n)| NodeState::new(i, n, cfg, &manifest))
        .collect::<Result<Vec<_>, _>>()?;
    let mut sim = Sim {
        cfg,
        nodes: states,
        blocks,
        heap: BinaryHeap::new(),
        seq: 0,
        now: 0.0,
    };
    sim.link(nodes);
    sim.run();
    Ok(sim.result(nodes))
}

impl Sim<'_> {
    fn push(&mut self, t: f64, ev: Ev) {
        self.seq += 1;
        self.heap.push(Item {
            t,
            seq: self.seq,
            ev,
        });
    }

    fn send(&mut self, from: u32, to: u32, msg: Msg) {
        let t = self.now + self.cfg.latency_ms;
        self.push(t, Ev::Deliver { to, from, msg });
    }

    fn node(&mut self, i: u32) -> Option<&mut NodeState> {
        self.nodes.get_mut(i as usize)
    }

    fn link(&mut self, nodes: &[SimNode]) {
        for (c, n) in nodes.iter().enumerate() {
            let c = c as u32;
            for (k, &p) in n.parents.iter().enumerate() {
                let weight = if k == 0 {
                    self.cfg.primary_weight
                } else {
                    SECONDARY_WEIGHT
                };
                let added = self.node(c).is_some_and(|s| s.dl.add_parent(p).is_ok());
                if !added {
                    continue;
                }
                if let Some(ps) = self.node(p) {
                    let _ = ps.serve.add_child(c, weight);
                    ps.children.push(c);
                    let advert = ps.dl.bitmap().clone();
                    self.send(p, c, Msg::Advert(advert));
                }
            }
            if let Some(t) = n.fail_at_ms {
                self.push(t, Ev::Fail { node: c });
            }
        }
    }

    fn run(&mut self) {
        while let Some(item) = self.heap.pop() {
            if item.t > self.cfg.max_time_ms {
                break;
            }
            self.now = item.t;
            match item.ev {
                Ev::Deliver { to, from, msg } => self.deliver(to, from, msg),
                Ev::TxDone { node, child, index } => self.tx_done(node, child, index),
                Ev::Timer { node } => self.timer(node),
                Ev::Kick { node } => {
                    if let Some(s) = self.node(node) {
                        s.kick_at = None;
                    }
                    self.kick(node);
                }
                Ev::Fail { node } => self.fail(node),
                Ev::LinkDown { child, parent } => {
                    if let Some(s) = self.node(child) {
                        s.dl.remove_parent(parent);
                    }
                    self.after(child);
                }
                Ev::ChildGone { parent, child } => {
                    if let Some(s) = self.node(parent) {
                        s.serve.remove_child(child);
                        s.children.retain(|&c| c != child);
                    }
                }
            }
            if self.all_settled() {
                break;
            }
        }
    }

    /// A node's timer: its download handles the timeout unless the node died or the timer
    /// was re-armed for another time since.
    fn timer(&mut self, node: u32) {
        let now = self.now_ms();
        if let Some(s) = self.node(node) {
            if s.alive && s.timer_at == Some(now) {
                s.timer_at = None;
                s.dl.handle_timeout(now);
            }
        }
        self.after(node);
    }

    /// Every node is dead, finished or gave up: nothing more can happen.
    fn all_settled(&self) -> bool {
        self.nodes
            .iter()
            .all(|s| !s.alive || s.finish.is_some() || s.dl.failed().is_some())
    }

    fn now_ms(&self) -> u64 {
        self.now as u64
    }

    fn deliver(&mut self, to: u32, from: u32, msg: Msg) {
        let primary_weight = self.cfg.primary_weight;
        let Some(s) = self.node(to) else { return };
        if !s.alive {
            return;
        }
        match msg {
            Msg::Advert(bits) => {
                let _ = s.dl.on_advert(from, &bits);
            }
            Msg::Have(i) => {
                let _ = s.dl.on_have(from, i);
            }
            Msg::Request(i) => {
                if s.dl.check_serve(i).is_ok() {
                    let _ = s.serve.request(from, i);
                }
                self.kick(to);
                return;
            }
            Msg::Cancel(i) => {
                s.serve.cancel(from, i);
                return;
            }
            Msg::Primary => {
                s.serve.set_weight(from, primary_weight);
                return;
            }
            Msg::Block { index, corrupt } => self.on_block(to, from, index, corrupt),
        }
        self.after(to);
    }

    /// Block `index` arrives at `to` from `from` (its first byte flipped if `corrupt`): it is
    /// stored if it verifies.
    fn on_block(&mut self, to: u32, from: u32, index: u32, corrupt: bool) {
        let now = self.now_ms();
        let mut bytes = self.blocks.get(index as usize).cloned().unwrap_or_default();
        if corrupt {
            if let Some(b) = bytes.first_mut() {
                *b ^= 0x55;
            }
        }
        let report_sent = self.cfg.report_sent;
        let Some(s) = self.node(to) else { return };
        if s.dl.on_block(now, from, index, &bytes) == BlockOutcome::Verified
            && s.dl.stored(index)
            && report_sent
        {
            s.serve.received(now);
        }
    }

    /// Drains a node's events, sends its requests, re-arms its timer, notes completion.
    fn after(&mut self, node: u32) {
        let Some(d) = self.drain(node) else { return };
        for e in d.events {
            self.emit(node, e, &d.children);
        }
        for (p, i) in d.requests {
            self.send(node, p as ParentId, Msg::Request(i));
        }
        if let Some(t) = d.rearm {
            self.push(t as f64, Ev::Timer { node });
        }
        if d.gave_up {
            // a node that cannot finish closes its links, so its children look elsewhere
            self.fail(node);
        }
    }

    /// Takes what a live node's download has to say now: its events and requests, whether it
    /// gave up, and the time to re-arm its timer for (if it changed); notes completion.
    fn drain(&mut self, node: u32) -> Option<Drained> {
        let now = self.now_ms();
        let now_f = self.now;
        let s = self.node(node).filter(|s| s.alive)?;
        let mut events = Vec::new();
        while let Some(e) = s.dl.poll_event() {
            events.push(e);
        }
        let requests = s.dl.poll_requests(now);
        let gave_up = s.dl.failed().is_some();
        if s.finish.is_none() && s.dl.complete() {
            s.finish = Some(now_f);
        }
        let timer = s.dl.poll_timeout().map(|t| t.max(now));
        let rearm = timer.filter(|_| timer != s.timer_at);
        if rearm.is_some() {
            s.timer_at = rearm;
        }
        Some(Drained {
            events,
            requests,
            gave_up,
            rearm,
            children: s.children.clone(),
        })
    }

    /// Sends what a download event of `node` calls for: a Have to every child, a Cancel or a
    /// Primary to a parent, or (a parent dropped) the parent's notice that the child is gone.
    fn emit(&mut self, node: u32, e: Event, children: &[u32]) {
        match e {
            Event::Have(i) => {
                for &c in children {
                    self.send(node, c, Msg::Have(i));
                }
            }
            Event::Cancel { parent, index } => self.send(node, parent, Msg::Cancel(index)),
            Event::PrimaryChanged(parent) | Event::Preferred(parent) => {
                self.send(node, parent, Msg::Primary)
            }
            Event::ParentDropped { parent, .. } => {
                let t = self.now + self.cfg.latency_ms;
                let ev = Ev::ChildGone {
                    parent,
                    child: node,
                };
                self.push(t, ev);
            }
        }
    }

    /// Hands a node's next blocks to its links while it has free sending slots; if only
    /// secondary requests wait for the primaries' idle time, wakes it up then.
    fn kick(&mut self, node: u32) {
        loop {
            let now = self.now;
            let now_ms = self.now_ms();
            let Some(s) = self.node(node) else { return };
            if !s.alive || s.sending >= MAX_SENDING {
                return;
            }
            let Some((child, index)) = s.serve.next_request_at(now_ms) else {
                let wake = s.serve.secondary_ready_at().filter(|&t| t > now_ms);
                if wake.is_some() && wake != s.kick_at {
                    s.kick_at = wake;
                    if let Some(t) = wake {
                        self.push(t as f64, Ev::Kick { node });
                    }
                }
                return;
            };
            self.transmit(node, child, index, now);
        }
    }

    /// Block `index` from `node` to `child`, handed over at `now`: through the uplink, then
    /// the child's downlink; the slot frees (and the block arrives) when it is through.
    fn transmit(&mut self, node: u32, child: u32, index: u32, now: f64) {
        let bs = u64::from(self.cfg.block_size);
        let len = self
            .cfg
            .file_size
            .saturating_sub(u64::from(index) * bs)
            .min(bs);
        let Some(s) = self.node(node) else { return };
        s.sending += 1;
        s.uploaded += len;
        let up_start = now.max(s.up_free);
        let up_done = up_start + len as f64 / s.upload;
        s.up_free = up_done;
        let through = match self.node(child) {
            Some(c) => {
                let done = (c.down_free.max(up_start) + len as f64 / c.download).max(up_done);
                c.down_free = done;
                done
            }
            None => up_done,
        };
        self.push(through, Ev::TxDone { node, child, index });
    }

    fn tx_done(&mut self, node: u32, child: u32, index: u32) {
        let report_sent = self.cfg.report_sent;
        let now_ms = self.now_ms();
        let Some(s) = self.nodes.get_mut(node as usize) else {
            return;
        };
        if !s.alive {
            return;
        }
        s.sending = s.sending.saturating_sub(1);
        if report_sent {
            s.serve.sent(child, now_ms);
        }
        let corrupt = s.corrupt;
        self.send(node, child, Msg::Block { index, corrupt });
        self.kick(node);
    }

    fn fail(&mut self, node: u32) {
        let Some(s) = self.node(node) else { return };
        s.alive = false;
        let children = s.children.clone();
        let t = self.now + self.cfg.detect_ms;
        for c in children {
            self.push(
                t,
                Ev::LinkDown {
                    child: c,
                    parent: node,
                },
            );
        }
        for p in self.parents_of(node) {
            self.push(
                t,
                Ev::ChildGone {
                    parent: p,
                    child: node,
                },
            );
        }
    }

    /// The nodes that serve `node` (have it as a child).
    fn parents_of(&self, node: u32) -> Vec<u32> {
        self.nodes
            .iter()
            .enumerate()
            .filter(|(_, p)| p.children.contains(&node))
            .map(|(i, _)| i as u32)
            .collect()
    }
}
