//! Parent links of a download: linking, adverts and `Have`s, unlinking and dropping.
//!
//! A parent's index `pi` in `Download::parents` is its rank: index 0 is the primary, so
//! unlinking it promotes the next one ([`Event::PrimaryChanged`]). A dropped parent is
//! remembered (up to [`MAX_DROPPED`]) and refused if it is linked again.

use super::{
    AddParentError, Download, DropReason, Event, ParentId, PeerError, MAX_DROPPED, MAX_LIVE_PARENTS,
};
use crate::push::bitset::BitSet;

/// An outstanding request.
#[derive(Clone, Copy, Debug)]
pub(super) struct Req {
    pub(super) index: u32,
    pub(super) sent_ms: u64,
}

/// A linked parent: what it holds, what we asked it for, how it has served us.
#[derive(Debug)]
pub(super) struct Parent {
    pub(super) id: ParentId,
    pub(super) has: BitSet,
    pub(super) out: Vec<Req>,
    /// Requests that timed out here: not re-asked from this parent while another holder
    /// exists, but a late answer is still accepted.
    pub(super) expired: BitSet,
    pub(super) strikes: u32,
    pub(super) blocks: u32,
    pub(super) bytes: u64,
    pub(super) timeouts: u32,
    /// Smoothed request-to-block time of this parent, ms (None until the first block).
    pub(super) est_ms: Option<u64>,
    /// When its last verified block came (None: none yet).
    pub(super) last_block_ms: Option<u64>,
    /// Blocks it advertised when the current rate window began ([`super::rebalance`]).
    pub(super) window_mark: u32,
}

impl Download {
    /// Links a parent (it holds nothing until it advertises).
    pub fn add_parent(&mut self, parent: ParentId) -> Result<(), AddParentError> {
        if self.parents.iter().any(|p| p.id == parent) {
            return Err(AddParentError::Duplicate(parent));
        }
        if self.dropped.contains(&parent) {
            return Err(AddParentError::Dropped(parent));
        }
        if self.parents.len() >= MAX_LIVE_PARENTS || self.dropped.len() >= MAX_DROPPED {
            return Err(AddParentError::TooMany);
        }
        self.parents.push(Parent {
            id: parent,
            has: BitSet::new(self.n),
            out: Vec::new(),
            expired: BitSet::new(self.n),
            strikes: 0,
            blocks: 0,
            bytes: 0,
            timeouts: 0,
            est_ms: None,
            last_block_ms: None,
            window_mark: 0,
        });
        self.had_parent = true;
        Ok(())
    }

    /// The link to a parent is gone (lost, or closed by the caller): its outstanding requests
    /// go back to the pool. Returns false if it was not linked.
    pub fn remove_parent(&mut self, parent: ParentId) -> bool {
        match self.find(parent) {
            Some(pi) => {
                self.detach(pi);
                self.totals.lost_parents += 1;
                true
            }
            None => false,
        }
    }

    /// A parent's full advert. Adverts only add blocks (a parent never loses one).
    pub fn on_advert(&mut self, parent: ParentId, bitmap: &BitSet) -> Result<(), PeerError> {
        if bitmap.len() != self.n {
            return Err(PeerError::BitmapLength {
                got: bitmap.len(),
                want: self.n,
            });
        }
        let pi = self.find(parent).ok_or(PeerError::UnknownParent(parent))?;
        for i in bitmap.iter() {
            self.note_has(pi, i);
        }
        Ok(())
    }

    /// A parent now holds block `index`.
    pub fn on_have(&mut self, parent: ParentId, index: u32) -> Result<(), PeerError> {
        if index >= self.n {
            return Err(PeerError::IndexOutOfRange {
                index,
                blocks: self.n,
            });
        }
        let pi = self.find(parent).ok_or(PeerError::UnknownParent(parent))?;
        self.note_has(pi, index);
        Ok(())
    }

    pub(super) fn find(&self, parent: ParentId) -> Option<usize> {
        self.parents.iter().position(|p| p.id == parent)
    }

    pub(super) fn note_has(&mut self, pi: usize, index: u32) {
        if let Some(p) = self.parents.get_mut(pi) {
            if p.has.insert(index) {
                if let Some(h) = self.holders.get_mut(index as usize) {
                    *h = h.saturating_add(1);
                }
            }
        }
    }

    /// Unlinks parent `pi`: requests back to the pool, holder counts down.
    pub(super) fn detach(&mut self, pi: usize) {
        if pi >= self.parents.len() {
            return;
        }
        let p = self.parents.remove(pi);
        if pi == 0 && !self.complete() {
            if let Some(next) = self.parents.first() {
                self.events.push_back(Event::PrimaryChanged(next.id));
            }
        }
        for r in &p.out {
            self.release(r.index);
        }
        for i in p.has.iter() {
            if let Some(h) = self.holders.get_mut(i as usize) {
                *h = h.saturating_sub(1);
            }
        }
    }

    pub(super) fn drop_parent(&mut self, pi: usize, reason: DropReason) {
        let Some(id) = self.parents.get(pi).map(|p| p.id) else {
            return;
        };
        self.events
            .push_back(Event::ParentDropped { parent: id, reason });
        self.detach(pi);
        if self.dropped.len() < MAX_DROPPED {
            self.dropped.push(id);
        }
        self.totals.dropped_parents += 1;
    }
}
