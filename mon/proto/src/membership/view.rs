//! The bounded partial view (paper §2.1): at most `cap` members, one slot per name, each with
//! the local time of the freshest evidence that it is alive; when full, the oldest goes first
//! (optionally, members already passed on to a peer go first: see
//! [`super::Config::evict_passed_on_first`]).

use rand::Rng;
use serde::{Deserialize, Serialize};

use super::msg::MemberId;

/// One member of the partial view, as shown by `mon members`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MemberView {
    /// Node name.
    pub name: String,
    /// Listening address.
    pub addr: std::net::SocketAddr,
    /// Ed25519 node public key.
    #[serde(with = "serde_bytes")]
    pub key: [u8; 32],
    /// Random node id.
    pub node_id: u64,
    /// Milliseconds since the last evidence that the node is alive.
    pub age_ms: u64,
    /// Smoothed round-trip time from our Pings, if any was answered.
    pub rtt_ms: Option<f64>,
}

impl MemberView {
    /// The identity part.
    pub fn id(&self) -> MemberId {
        MemberId {
            name: self.name.clone(),
            addr: self.addr,
            key: self.key,
        }
    }
}

/// A slot of the partial view.
#[derive(Clone, Debug)]
pub(crate) struct Slot {
    pub(crate) id: MemberId,
    pub(crate) node_id: u64,
    /// Local time (ms) of the freshest evidence of life.
    pub(crate) heard_ms: u64,
    /// Smoothed RTT (ms).
    pub(crate) rtt_ms: Option<f64>,
    /// Passed on in one of our messages since we last refreshed it.
    pub(crate) passed_on: bool,
}

impl Slot {
    pub(crate) fn to_view(&self, now_ms: u64) -> MemberView {
        MemberView {
            name: self.id.name.clone(),
            addr: self.id.addr,
            key: self.id.key,
            node_id: self.node_id,
            age_ms: now_ms.saturating_sub(self.heard_ms),
            rtt_ms: self.rtt_ms,
        }
    }

    /// Merges evidence that this member (`id`, `node_id`) was alive at `heard_ms`: ignored
    /// unless younger (or the same time under another identity); a new identity or node id
    /// (a restart) resets the RTT.
    fn refresh(&mut self, id: &MemberId, node_id: u64, heard_ms: u64) -> Observed {
        if heard_ms < self.heard_ms || (heard_ms == self.heard_ms && self.id == *id) {
            return Observed::Ignored;
        }
        if self.id != *id || self.node_id != node_id {
            self.id = id.clone();
            self.node_id = node_id;
            self.rtt_ms = None;
        }
        self.heard_ms = heard_ms;
        self.passed_on = false;
        Observed::Refreshed
    }
}

/// What [`PartialView::observe`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Observed {
    /// A new member took a free slot or the slot of the oldest member.
    Inserted,
    /// A known member was refreshed (or its identity replaced by younger information).
    Refreshed,
    /// Nothing changed: older than what we know, or older than every member of a full view.
    Ignored,
}

/// Bounded partial view keyed by name. A `Vec` keeps iteration order deterministic
/// (reproducible simulations) and is fast at the sizes used (tens of members).
#[derive(Clone, Debug)]
pub(crate) struct PartialView {
    slots: Vec<Slot>,
    cap: usize,
    evict_passed_on_first: bool,
}

impl PartialView {
    pub(crate) fn new(cap: usize, evict_passed_on_first: bool) -> Self {
        PartialView {
            slots: Vec::with_capacity(cap),
            cap,
            evict_passed_on_first,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.slots.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    pub(crate) fn slots(&self) -> &[Slot] {
        &self.slots
    }

    pub(crate) fn get_mut(&mut self, name: &str) -> Option<&mut Slot> {
        self.slots.iter_mut().find(|s| s.id.name == name)
    }

    /// Merges evidence that `id` (with `node_id`) was alive at local time `heard_ms`.
    /// Younger information wins wholesale (a restarted node comes back with a new node id,
    /// possibly a new port); a full view makes room by dropping its oldest member, but only
    /// for someone younger.
    pub(crate) fn observe(&mut self, id: &MemberId, node_id: u64, heard_ms: u64) -> Observed {
        if let Some(slot) = self.slots.iter_mut().find(|s| s.id.name == id.name) {
            return slot.refresh(id, node_id, heard_ms);
        }
        let slot = Slot {
            id: id.clone(),
            node_id,
            heard_ms,
            rtt_ms: None,
            passed_on: false,
        };
        if self.slots.len() < self.cap {
            self.slots.push(slot);
            return Observed::Inserted;
        }
        self.replace_one(slot)
    }

    /// Makes room for `slot` in the full view: over a member already passed on (the oldest
    /// such) when `evict_passed_on_first`, else over the oldest member if `slot` is younger.
    fn replace_one(&mut self, slot: Slot) -> Observed {
        if self.evict_passed_on_first {
            let passed_on = self
                .slots
                .iter()
                .enumerate()
                .filter(|(_, s)| s.passed_on)
                .min_by_key(|(_, s)| s.heard_ms)
                .map(|(i, _)| i);
            if let Some(i) = passed_on {
                self.slots[i] = slot;
                return Observed::Inserted;
            }
        }
        match self.oldest() {
            Some(i) if self.slots[i].heard_ms < slot.heard_ms => {
                self.slots[i] = slot;
                Observed::Inserted
            }
            _ => Observed::Ignored,
        }
    }

    fn oldest(&self) -> Option<usize> {
        self.slots
            .iter()
            .enumerate()
            .min_by_key(|(_, s)| s.heard_ms)
            .map(|(i, _)| i)
    }

    /// Drops members with no evidence of life since `now_ms - dead_after_ms`; returns how many.
    pub(crate) fn expire(&mut self, now_ms: u64, dead_after_ms: u64) -> usize {
        let before = self.slots.len();
        self.slots
            .retain(|s| now_ms.saturating_sub(s.heard_ms) <= dead_after_ms);
        before - self.slots.len()
    }

    /// Marks the named members as passed on in an outgoing message.
    pub(crate) fn mark_passed_on(&mut self, names: &[&str]) {
        for s in self.slots.iter_mut() {
            if names.contains(&s.id.name.as_str()) {
                s.passed_on = true;
            }
        }
    }

    pub(crate) fn remove(&mut self, name: &str) {
        self.slots.retain(|s| s.id.name != name);
    }

    /// Up to `k` distinct random slots passing `keep`.
    pub(crate) fn sample<R: Rng>(
        &self,
        rng: &mut R,
        k: usize,
        keep: impl Fn(&Slot) -> bool,
    ) -> Vec<&Slot> {
        let candidates: Vec<&Slot> = self.slots.iter().filter(|s| keep(s)).collect();
        let k = k.min(candidates.len());
        rand::seq::index::sample(rng, candidates.len(), k)
            .into_iter()
            .filter_map(|i| candidates.get(i).copied())
            .collect()
    }
}
