//! Round-trip times: the bounded table of Pings awaiting their Pong, and the local list of
//! nearby nodes (lowest RTT) split into left (smaller node id) and right (larger) halves.

use std::net::SocketAddr;

use super::msg::MemberId;

/// Weight of a new RTT sample in the exponentially weighted moving average (as TCP's SRTT).
pub(crate) const RTT_ALPHA: f64 = 0.125;

/// Folds a new sample into a smoothed RTT.
pub(crate) fn ewma(prev: Option<f64>, sample_ms: f64) -> f64 {
    match prev {
        Some(p) => p + RTT_ALPHA * (sample_ms - p),
        None => sample_ms,
    }
}

/// A Ping awaiting its Pong.
#[derive(Clone, Debug)]
struct Outstanding {
    nonce: u64,
    /// Name of the target when known (`None` for a join address).
    name: Option<String>,
    addr: SocketAddr,
    sent_ms: u64,
}

/// Bounded table of outstanding Pings (oldest evicted when full).
#[derive(Clone, Debug)]
pub(crate) struct PendingPings {
    list: Vec<Outstanding>,
    cap: usize,
}

impl PendingPings {
    pub(crate) fn new(cap: usize) -> Self {
        PendingPings {
            list: Vec::new(),
            cap,
        }
    }

    pub(crate) fn insert(&mut self, nonce: u64, name: Option<String>, addr: SocketAddr, now: u64) {
        if self.list.len() >= self.cap {
            if let Some(i) = self
                .list
                .iter()
                .enumerate()
                .min_by_key(|(_, o)| o.sent_ms)
                .map(|(i, _)| i)
            {
                self.list.swap_remove(i);
            }
        }
        self.list.push(Outstanding {
            nonce,
            name,
            addr,
            sent_ms: now,
        });
    }

    /// Takes the Ping answered by a Pong with `nonce` from `from` and returns when it was sent.
    /// The Pong must come from the node pinged: same name, or same address for a join address.
    pub(crate) fn take(&mut self, nonce: u64, from: &MemberId) -> Option<u64> {
        let i = self.list.iter().position(|o| {
            o.nonce == nonce
                && match &o.name {
                    Some(n) => *n == from.name,
                    None => o.addr == from.addr,
                }
        })?;
        Some(self.list.swap_remove(i).sent_ms)
    }

    /// Forgets Pings older than `timeout_ms`; returns how many.
    pub(crate) fn expire(&mut self, now: u64, timeout_ms: u64) -> usize {
        let before = self.list.len();
        self.list
            .retain(|o| now.saturating_sub(o.sent_ms) <= timeout_ms);
        before - self.list.len()
    }

    pub(crate) fn remove_name(&mut self, name: &str) {
        self.list.retain(|o| o.name.as_deref() != Some(name));
    }

    pub(crate) fn len(&self) -> usize {
        self.list.len()
    }
}

/// A member of the local list.
#[derive(Clone, Debug)]
pub(crate) struct Near {
    pub(crate) id: MemberId,
    pub(crate) node_id: u64,
    pub(crate) rtt_ms: f64,
    pub(crate) heard_ms: u64,
}

/// The local list: on each side of our node id, the members with the lowest smoothed RTT.
#[derive(Clone, Debug)]
pub(crate) struct LocalList {
    me: u64,
    left: Vec<Near>,
    right: Vec<Near>,
    left_cap: usize,
    right_cap: usize,
}

impl LocalList {
    pub(crate) fn new(me: u64, size: usize) -> Self {
        LocalList {
            me,
            left: Vec::new(),
            right: Vec::new(),
            left_cap: size / 2,
            right_cap: size - size / 2,
        }
    }

    /// Offers a member with a fresh smoothed RTT.
    pub(crate) fn offer(&mut self, id: &MemberId, node_id: u64, rtt_ms: f64, heard_ms: u64) {
        if node_id == self.me {
            return;
        }
        self.remove(&id.name);
        let (side, cap) = if node_id < self.me {
            (&mut self.left, self.left_cap)
        } else {
            (&mut self.right, self.right_cap)
        };
        if cap == 0 {
            return;
        }
        let near = Near {
            id: id.clone(),
            node_id,
            rtt_ms,
            heard_ms,
        };
        if side.len() < cap {
            side.push(near);
        } else if let Some(worst) = side.iter_mut().max_by(|a, b| a.rtt_ms.total_cmp(&b.rtt_ms)) {
            if rtt_ms < worst.rtt_ms {
                *worst = near;
            }
        }
        side.sort_by(|a, b| a.rtt_ms.total_cmp(&b.rtt_ms));
    }

    /// Records evidence of life for a member already in the list (same identity only).
    pub(crate) fn touch(&mut self, id: &MemberId, node_id: u64, heard_ms: u64) {
        for n in self.left.iter_mut().chain(self.right.iter_mut()) {
            if n.id == *id && n.node_id == node_id && heard_ms > n.heard_ms {
                n.heard_ms = heard_ms;
            }
        }
    }

    /// Smoothed RTT known for `name`, if listed.
    pub(crate) fn rtt(&self, name: &str) -> Option<f64> {
        self.left
            .iter()
            .chain(self.right.iter())
            .find(|n| n.id.name == name)
            .map(|n| n.rtt_ms)
    }

    pub(crate) fn expire(&mut self, now: u64, dead_after_ms: u64) {
        let alive = |n: &Near| now.saturating_sub(n.heard_ms) <= dead_after_ms;
        self.left.retain(alive);
        self.right.retain(alive);
    }

    pub(crate) fn remove(&mut self, name: &str) {
        self.left.retain(|n| n.id.name != name);
        self.right.retain(|n| n.id.name != name);
    }

    /// Left (smaller node id) members, nearest first.
    pub(crate) fn left(&self) -> &[Near] {
        &self.left
    }

    /// Right (larger node id) members, nearest first.
    pub(crate) fn right(&self) -> &[Near] {
        &self.right
    }
}
