//! A virtual-time simulation of one push over a DAG, driving the real [`Download`] and
//! [`ServeQueue`] of every node.
//!
//! Model: every node has an upload capacity (bytes per ms) and unlimited download; a parent
//! sends one block at a time, choosing the child by weighted round-robin ([`ServeQueue`], first
//! (tree) children weighted `primary_weight`); every message (advert, have, request, cancel)
//! and every block arrives `latency_ms` after it is sent. Blocks are verified for real against
//! a small stand-in manifest (one 64-byte block per virtual block) so corrupt relays are
//! caught by the same code as in the server. Nodes may fail at a given time (their links are
//! noticed down `detect_ms` later) or corrupt every block they serve. A node that loses all its
//! parents closes its child links too. A child whose primary parent is gone asks the next one
//! for primary service ([`Event::PrimaryChanged`]).
//!
//! The result is compared with the Kumar–Ross lower bound for one file of `F` bytes from a
//! source of upload `u_s` to `N` receivers of uploads `u_i` (download unlimited here):
//! `T ≥ max(F / u_s, N·F / (u_s + Σ u_i))`.

pub mod dag;
mod model;
#[cfg(test)]
mod tests;

pub use model::{kumar_ross_bound, SimConfig, SimError, SimNode, SimResult};

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use mon_proto::push::bitset::BitSet;
use mon_proto::push::manifest::build_manifest;
use mon_proto::push::sched::{BlockOutcome, Download, Event, ParentId};
use mon_proto::push::serve::{ServeQueue, SECONDARY_WEIGHT};
use mon_proto::wire::session::{Manifest, MAX_BLOCKS};

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
    corrupt: bool,
    alive: bool,
    busy: bool,
    children: Vec<u32>,
    timer_at: Option<u64>,
    finish: Option<f64>,
    uploaded: u64,
}

struct Sim<'a> {
    cfg: &'a SimConfig,
    nodes: Vec<NodeState>,
    blocks: Vec<Vec<u8>>,
    heap: BinaryHeap<Item>,
    seq: u64,
    now: f64,
}

const REAL_BLOCK: u32 = 64;

fn stand_in_manifest(nblocks: u32) -> Result<(Manifest, Vec<Vec<u8>>), SimError> {
    let blocks: Vec<Vec<u8>> = (0..nblocks)
        .map(|i| {
            let mut h = blake3::Hasher::new();
            h.update(&i.to_le_bytes());
            let mut b = vec![0u8; REAL_BLOCK as usize];
            h.finalize_xof().fill(&mut b);
            b
        })
        .collect();
    let data: Vec<u8> = blocks.concat();
    let m = build_manifest(
        "sim",
        &data[..],
        data.len() as u64,
        0o644,
        REAL_BLOCK,
        "/sim",
    )
    .map_err(|_| SimError::Geometry {
        file_size: data.len() as u64,
        block_size: REAL_BLOCK,
    })?;
    Ok((m, blocks))
}

/// Runs one push. Deterministic for a given input.
pub fn simulate(nodes: &[SimNode], cfg: &SimConfig) -> Result<SimResult, SimError> {
    let source = nodes.first().ok_or(SimError::NoSource)?;
    if !source.parents.is_empty() {
        return Err(SimError::BadParent {
            node: 0,
            parent: source.parents.first().copied().unwrap_or(0),
        });
    }
    for (i, n) in nodes.iter().enumerate() {
        if let Some(&p) = n.parents.iter().find(|&&p| p as usize >= i) {
            return Err(SimError::BadParent {
                node: i as u32,
                parent: p,
            });
        }
        if n.upload.is_nan() || n.upload <= 0.0 {
            return Err(SimError::Capacity(i as u32));
        }
    }
    let geometry = SimError::Geometry {
        file_size: cfg.file_size,
        block_size: cfg.block_size,
    };
    if cfg.block_size == 0 {
        return Err(geometry);
    }
    let nblocks = cfg.file_size.div_ceil(u64::from(cfg.block_size));
    if nblocks > MAX_BLOCKS as u64 {
        return Err(geometry);
    }
    let (manifest, blocks) = stand_in_manifest(nblocks as u32)?;
    let mut states = Vec::with_capacity(nodes.len());
    for (i, n) in nodes.iter().enumerate() {
        let seed = cfg.seed ^ (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let dl = Download::with_config(&manifest, cfg.policy, cfg.sched.clone(), seed, i == 0)
            .map_err(|_| SimError::Geometry {
                file_size: cfg.file_size,
                block_size: cfg.block_size,
            })?;
        states.push(NodeState {
            dl,
            serve: ServeQueue::new(usize::from(cfg.sched.depth.max(1)) * 2),
            upload: n.upload,
            corrupt: n.corrupt,
            alive: true,
            busy: false,
            children: Vec::new(),
            timer_at: None,
            finish: (i == 0).then_some(0.0),
            uploaded: 0,
        });
    }
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
                Ev::Timer { node } => {
                    let now = self.now_ms();
                    if let Some(s) = self.node(node) {
                        if s.alive && s.timer_at == Some(now) {
                            s.timer_at = None;
                            s.dl.handle_timeout(now);
                        }
                    }
                    self.after(node);
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
            if self
                .nodes
                .iter()
                .all(|s| !s.alive || s.finish.is_some() || s.dl.failed().is_some())
            {
                break;
            }
        }
    }

    fn now_ms(&self) -> u64 {
        self.now as u64
    }

    fn deliver(&mut self, to: u32, from: u32, msg: Msg) {
        let now = self.now_ms();
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
            Msg::Block { index, corrupt } => {
                let mut bytes = self.blocks.get(index as usize).cloned().unwrap_or_default();
                if corrupt {
                    if let Some(b) = bytes.first_mut() {
                        *b ^= 0x55;
                    }
                }
                let Some(s) = self.node(to) else { return };
                if s.dl.on_block(now, from, index, &bytes) == BlockOutcome::Verified {
                    s.dl.stored(index);
                }
            }
        }
        self.after(to);
    }

    /// Drains a node's events, sends its requests, re-arms its timer, notes completion.
    fn after(&mut self, node: u32) {
        let now = self.now_ms();
        let now_f = self.now;
        let Some(s) = self.node(node) else { return };
        if !s.alive {
            return;
        }
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
        let rearm = timer.is_some() && timer != s.timer_at;
        if rearm {
            s.timer_at = timer;
        }
        let children = s.children.clone();
        for e in events {
            match e {
                Event::Have(i) => {
                    for &c in &children {
                        self.send(node, c, Msg::Have(i));
                    }
                }
                Event::Cancel { parent, index } => self.send(node, parent, Msg::Cancel(index)),
                Event::PrimaryChanged(parent) => self.send(node, parent, Msg::Primary),
                Event::ParentDropped { parent, .. } => {
                    let t = self.now + self.cfg.latency_ms;
                    self.push(
                        t,
                        Ev::ChildGone {
                            parent,
                            child: node,
                        },
                    );
                }
            }
        }
        for (p, i) in requests {
            self.send(node, p as ParentId, Msg::Request(i));
        }
        if let (true, Some(t)) = (rearm, timer) {
            self.push(t as f64, Ev::Timer { node });
        }
        if gave_up {
            // a node that cannot finish closes its links, so its children look elsewhere
            self.fail(node);
        }
    }

    /// Starts the next transmission of an idle node.
    fn kick(&mut self, node: u32) {
        let bs = u64::from(self.cfg.block_size);
        let size = self.cfg.file_size;
        let now = self.now;
        let Some(s) = self.node(node) else { return };
        if !s.alive || s.busy {
            return;
        }
        let Some((child, index)) = s.serve.next_request() else {
            return;
        };
        let len = size.saturating_sub(u64::from(index) * bs).min(bs);
        s.busy = true;
        s.uploaded += len;
        let t = now + len as f64 / s.upload;
        self.push(t, Ev::TxDone { node, child, index });
    }

    fn tx_done(&mut self, node: u32, child: u32, index: u32) {
        let Some(s) = self.node(node) else { return };
        if !s.alive {
            return;
        }
        s.busy = false;
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
        let parents: Vec<u32> = self
            .nodes
            .iter()
            .enumerate()
            .filter(|(_, p)| p.children.contains(&node))
            .map(|(i, _)| i as u32)
            .collect();
        for p in parents {
            self.push(
                t,
                Ev::ChildGone {
                    parent: p,
                    child: node,
                },
            );
        }
    }

    fn result(&self, nodes: &[SimNode]) -> SimResult {
        let file = self.cfg.file_size as f64;
        let mut failed = Vec::new();
        let mut makespan: f64 = 0.0;
        let mut done = 0usize;
        for (i, s) in self.nodes.iter().enumerate().skip(1) {
            match s.finish {
                Some(t) => {
                    makespan = makespan.max(t);
                    done += 1;
                }
                None if s.dl.failed().is_some() => failed.push((i as u32, "lost-all-parents")),
                None if !s.alive => failed.push((i as u32, "dead")),
                None => failed.push((i as u32, "stalled")),
            }
        }
        let uploads: Vec<f64> = nodes.iter().skip(1).map(|n| n.upload).collect();
        let source_upload = nodes.first().map_or(1.0, |n| n.upload);
        let bound = kumar_ross_bound(file, source_upload, &uploads, f64::INFINITY);
        let (mut corrupt, mut dups, mut hedges, mut timeouts, mut dropped) = (0, 0, 0, 0, 0);
        for s in &self.nodes {
            let st = s.dl.stats();
            corrupt += st.corrupt;
            dups += st.duplicates;
            hedges += st.hedges;
            timeouts += st.timeouts;
            dropped += st.dropped_parents;
        }
        SimResult {
            finish_ms: self.nodes.iter().map(|s| s.finish).collect(),
            failed,
            makespan_ms: makespan,
            bound_ms: bound,
            ratio: if bound > 0.0 { makespan / bound } else { 0.0 },
            aggregate_rate: if makespan > 0.0 {
                done as f64 * file / makespan
            } else {
                0.0
            },
            uploaded: self.nodes.iter().map(|s| s.uploaded).collect(),
            corrupt_rejected: corrupt,
            duplicates: dups,
            hedges,
            timeouts,
            dropped_parents: dropped,
        }
    }
}
