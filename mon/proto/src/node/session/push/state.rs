//! Per-session push state of a node: the download, the serve queue and the channel-1 links
//! to parents and children (see [`crate::push::msg`] and docs/protocol.md, "Push").

use mon_keys::frame::{Opener, Sealer};

use crate::membership::MemberId;
use crate::node::Peer;
use crate::push::ends::EndLog;
use crate::push::msg::{LINK_SILENT_MS, PING_MS};
use crate::push::serve::ServeQueue;
use crate::push::Download;
use crate::wire::session::Manifest;

/// One end of a push link (channel 1 of a hop link).
pub(in crate::node) struct PLink {
    pub name: String,
    pub peer: Peer,
    pub sealer: Sealer,
    pub opener: Opener,
    /// Last time anything arrived on the link.
    pub heard: u64,
    /// Last time we sent on the link.
    pub sent: u64,
    pub alive: bool,
    /// Blocks may flow (false: a parent dropped for misbehaviour that is still our result
    /// parent; the link only carries keepalives so neither side reports the other lost).
    pub data: bool,
    /// Child links: the last [`crate::push::msg::PushMsg::Progress`] count received.
    pub progress: u64,
    /// `push.serve` already audited for this child link.
    pub audited: bool,
    /// Child links: the child said [`crate::push::msg::PushMsg::Finished`].
    pub finished: bool,
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
            data: true,
            progress: 0,
            audited: false,
            finished: false,
        }
    }
}

/// Where the local file stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(in crate::node) enum Land {
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
pub(in crate::node) struct PushState {
    pub manifest: Manifest,
    /// DEST with `{node}` expanded.
    pub dest: String,
    /// The `push-dirs` entry DEST lands beneath (from the policy decision).
    pub push_dir: Option<String>,
    /// The policy grants `allow-setid`.
    pub allow_setid: bool,
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
    /// Since when every parent is gone with blocks missing (more may still link: extra
    /// offers arrive a little after the first parent's).
    pub orphan_since: Option<u64>,
    /// When the push timers last ran (a node whose own loop stalled credits its links).
    pub timers_ran: u64,
    /// The manifest's `--where` condition on this node.
    pub cond: Cond,
    /// A parent that linked after we were orphaned and was asked to take our result: the
    /// result goes to it once its link is recorded.
    pub pending_primary: Option<String>,
    /// The last progress count sent to the result parent, and when.
    pub progress_sent: (u64, u64),
    /// Ends of our result subtree (ours, our children's reports) not yet reported up.
    pub ends: EndLog,
}

/// Where the manifest's `--where` condition stands on this node.
#[derive(Clone, Debug, PartialEq)]
pub(in crate::node) enum Cond {
    /// No condition (or the node is outside `targets`: it relays anyway).
    None,
    /// The resource is being read.
    Pending,
    /// The condition holds: the file lands.
    Match,
    /// The condition does not hold: the node relays and reports itself skipped.
    NoMatch,
    /// The resource could not be read: the node relays and reports the failure.
    Failed(String),
}

pub(in crate::node) use crate::push::serve::MAX_SENDING;
/// Delay before a node offers the session to its 2nd, 3rd… ring successors as their extra
/// parent (by then the chain has usually reached them, so they take it as extra).
pub(in crate::node) const EXTRA_OFFER_DELAY_MS: u64 = 300;
/// How long a node whose child link was lost holds its result for adoptions: longer than a
/// grandchild needs to notice the lost relay by silence ([`LINK_SILENT_MS`]) and ask another
/// parent to adopt it, or a killed relay's whole subtree goes missing from the result while
/// it is still downloading.
pub(in crate::node) const ADOPT_GRACE_MS: u64 = LINK_SILENT_MS + 5_000;
/// How long a node that has lost (or dropped) every parent with blocks missing waits for
/// another parent to link before it reports `lost-all-parents`.
pub(in crate::node) const ORPHAN_GRACE_MS: u64 = 10_000;
/// Push timers are due at least every [`PING_MS`]; a run this much later means the node's
/// own loop stalled (a loaded machine, a slow disk), and links are credited the stall.
pub(in crate::node) const STALL_MS: u64 = 2 * PING_MS;

impl PushState {
    /// A session's push state before any link: waiting for the first parent's go.
    pub fn new(manifest: Manifest, dest: String, dl: Download, now_ms: u64) -> PushState {
        PushState {
            manifest,
            dest,
            push_dir: None,
            allow_setid: false,
            dl,
            serve: ServeQueue::new(2 * usize::from(crate::push::sched::MAX_DEPTH)),
            parents: Vec::new(),
            children: Vec::new(),
            land: Land::Idle,
            sending: 0,
            hold_until: 0,
            deferred: Vec::new(),
            started_ms: now_ms,
            orphan_since: None,
            timers_ran: now_ms,
            cond: Cond::None,
            pending_primary: None,
            progress_sent: (0, 0),
            ends: EndLog::new(),
        }
    }

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
        if let Some(t) = self.serve.secondary_ready_at() {
            at(t);
        }
        if let Some(o) = self.orphan_since {
            at(o + ORPHAN_GRACE_MS);
        }
        t
    }

    /// Whether the local part is over (committed, relayed, or failed).
    pub fn finished(&self) -> bool {
        matches!(self.land, Land::Done | Land::Failed)
    }

    /// Whether this node must not report its result yet: a lost child's subtree may still
    /// adopt it, or a live child link (first or extra) still downloads and may need this
    /// node as its first parent if it loses its own (a failed node serves nothing and waits
    /// for nobody).
    pub fn holds(&self, now_ms: u64) -> bool {
        self.hold_until > now_ms
            || (self.land != Land::Failed && self.children.iter().any(|l| l.alive && !l.finished))
    }
}
