//! Per-session push state of a node: the download, the serve queue and the channel-1 links
//! to parents and children (see [`crate::push::msg`] and docs/protocol.md, "Push").

use mon_keys::frame::{Opener, Sealer};

use super::Peer;
use crate::membership::MemberId;
use crate::push::msg::{LINK_SILENT_MS, PING_MS};
use crate::push::serve::ServeQueue;
use crate::push::Download;
use crate::wire::session::Manifest;

/// One end of a push link (channel 1 of a hop link).
pub(super) struct PLink {
    pub name: String,
    pub peer: Peer,
    pub sealer: Sealer,
    pub opener: Opener,
    /// Last time anything arrived on the link.
    pub heard: u64,
    /// Last time we sent on the link.
    pub sent: u64,
    pub alive: bool,
    /// `push.serve` already audited for this child link.
    pub audited: bool,
}

impl PLink {
    pub fn new(name: String, peer: Peer, sealer: Sealer, opener: Opener, now_ms: u64) -> PLink {
        PLink {
            name,
            peer,
            sealer,
            opener,
            heard: now_ms,
            sent: now_ms,
            alive: true,
            audited: false,
        }
    }
}

/// Where the local file stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Land {
    /// Waiting for the first parent's go.
    Idle,
    /// The driver is creating the temporary file.
    Creating,
    /// Blocks may be written.
    Ready,
    /// The driver is committing.
    Committing,
    /// Committed (or, on a relay-only node, complete).
    Done,
    /// Failed; the temporary file is gone.
    Failed,
}

/// A push session's data-plane state on one node.
pub(super) struct PushState {
    pub manifest: Manifest,
    /// DEST with `{node}` expanded.
    pub dest: String,
    pub dl: Download,
    pub serve: ServeQueue,
    /// Parent links; the index is the [`crate::push::ParentId`].
    pub parents: Vec<PLink>,
    /// Child links; the index is the [`crate::push::serve::ChildId`].
    pub children: Vec<PLink>,
    pub land: Land,
    /// Blocks handed to the driver and not yet written to a socket.
    pub sending: u32,
    /// Do not report before this time (a lost child's subtree may adopt us meanwhile).
    pub hold_until: u64,
    /// Extra-parent offers to send later (the staircase).
    pub deferred: Vec<(MemberId, u64)>,
    pub started_ms: u64,
}

/// Blocks outstanding between the node and its sockets, per session.
pub(super) const MAX_SENDING: u32 = 2;
/// Delay before a node offers the session to its 2nd, 3rd… ring successors as their extra
/// parent (by then the chain has usually reached them, so they take it as extra).
pub(super) const EXTRA_OFFER_DELAY_MS: u64 = 300;
/// How long a node whose child link was lost holds its result for adoptions.
pub(super) const ADOPT_GRACE_MS: u64 = 3_000;

impl PushState {
    /// The next time this state needs a timer.
    pub fn next_timer(&self) -> Option<u64> {
        let mut t = self.dl.poll_timeout();
        let mut at = |x: u64| t = Some(t.map_or(x, |y: u64| y.min(x)));
        for l in self.parents.iter().chain(self.children.iter()) {
            if l.alive {
                at(l.sent + PING_MS);
                at(l.heard + LINK_SILENT_MS);
            }
        }
        for (_, when) in &self.deferred {
            at(*when);
        }
        if self.hold_until > 0 {
            at(self.hold_until);
        }
        t
    }

    /// Whether the local part is over (committed, relayed, or failed).
    pub fn finished(&self) -> bool {
        matches!(self.land, Land::Done | Land::Failed)
    }
}
