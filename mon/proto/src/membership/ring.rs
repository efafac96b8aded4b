//! The ring table: the nearest known node ids on each side of ours (predecessors below,
//! successors above, wrapping around `u64`), fed by every trusted entry seen. It lets a session
//! also walk the ring (each node forwarding to its successor and predecessor), which catches
//! the few nodes a random tree over partial views misses.

use serde::{Deserialize, Serialize};

use super::msg::MemberId;

/// A ring neighbour.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RingPeer {
    /// Identity.
    pub id: MemberId,
    /// Its random node id.
    pub node_id: u64,
    /// Milliseconds since the last evidence that it is alive.
    pub age_ms: u64,
}

/// Ring neighbours, nearest first on each side. With few nodes one node may be both a
/// predecessor and a successor.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RingNeighbours {
    /// Nodes with the next smaller node ids (wrapping), nearest first.
    pub predecessors: Vec<RingPeer>,
    /// Nodes with the next larger node ids (wrapping), nearest first.
    pub successors: Vec<RingPeer>,
}

#[derive(Clone, Debug)]
pub(crate) struct RingSlot {
    pub(crate) id: MemberId,
    pub(crate) node_id: u64,
    pub(crate) heard_ms: u64,
}

/// Both sides of the ring table.
#[derive(Clone, Debug)]
pub(crate) struct RingTable {
    me: u64,
    cap: usize,
    /// Sorted by clockwise distance `node_id - me`.
    succ: Vec<RingSlot>,
    /// Sorted by counter-clockwise distance `me - node_id`.
    pred: Vec<RingSlot>,
}

fn insert_side(side: &mut Vec<RingSlot>, cap: usize, slot: RingSlot, dist: impl Fn(u64) -> u64) {
    if cap == 0 {
        return;
    }
    if let Some(i) = side.iter().position(|s| s.id.name == slot.id.name) {
        if slot.heard_ms < side[i].heard_ms {
            return;
        }
        side.remove(i);
    }
    let d = dist(slot.node_id);
    let at = side
        .iter()
        .position(|s| dist(s.node_id) > d)
        .unwrap_or(side.len());
    if at < cap {
        side.insert(at, slot);
        side.truncate(cap);
    }
}

impl RingTable {
    pub(crate) fn new(me: u64, cap: usize) -> Self {
        RingTable {
            me,
            cap,
            succ: Vec::new(),
            pred: Vec::new(),
        }
    }

    /// Offers a node seen alive at `heard_ms`.
    pub(crate) fn offer(&mut self, id: &MemberId, node_id: u64, heard_ms: u64) {
        if node_id == self.me {
            return;
        }
        let me = self.me;
        let slot = RingSlot {
            id: id.clone(),
            node_id,
            heard_ms,
        };
        insert_side(&mut self.succ, self.cap, slot.clone(), |n| {
            n.wrapping_sub(me)
        });
        insert_side(&mut self.pred, self.cap, slot, |n| me.wrapping_sub(n));
    }

    pub(crate) fn expire(&mut self, now: u64, dead_after_ms: u64) {
        let alive = |s: &RingSlot| now.saturating_sub(s.heard_ms) <= dead_after_ms;
        self.succ.retain(alive);
        self.pred.retain(alive);
    }

    pub(crate) fn remove(&mut self, name: &str) {
        self.succ.retain(|s| s.id.name != name);
        self.pred.retain(|s| s.id.name != name);
    }

    pub(crate) fn successors(&self) -> &[RingSlot] {
        &self.succ
    }

    pub(crate) fn predecessors(&self) -> &[RingSlot] {
        &self.pred
    }

    /// Ring targets in the order they are pinged: succ[0], pred[0], succ[1], pred[1], …
    pub(crate) fn nth_target(&self, n: u64) -> Option<&RingSlot> {
        let total = self.succ.len() + self.pred.len();
        if total == 0 {
            return None;
        }
        let mut order = Vec::with_capacity(total);
        for i in 0..self.succ.len().max(self.pred.len()) {
            if let Some(s) = self.succ.get(i) {
                order.push(s);
            }
            if let Some(p) = self.pred.get(i) {
                order.push(p);
            }
        }
        let i = usize::try_from(n % total as u64).unwrap_or(0);
        order.get(i).copied()
    }

    pub(crate) fn neighbours(&self, now: u64) -> RingNeighbours {
        let peer = |s: &RingSlot| RingPeer {
            id: s.id.clone(),
            node_id: s.node_id,
            age_ms: now.saturating_sub(s.heard_ms),
        };
        RingNeighbours {
            predecessors: self.pred.iter().map(peer).collect(),
            successors: self.succ.iter().map(peer).collect(),
        }
    }
}
