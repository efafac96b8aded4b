//! One session on a node: its parent link(s), its children, its local results and, for a
//! push, its data plane. [`Session`] holds the state; the parts that drive it live beside
//! it: `children` (whom the session is offered to), `answers` (a child's SessionOk, Prune or
//! Deny), `result` (local operations, aggregation and the result going up), `push` (the
//! session's push data plane).
//!
//! The node routes each packet, local result and timer to its session by hash; outputs keep
//! the node's order rules (audit and journal records before the actions they guard).

mod aggregate;
mod answers;
mod children;
mod command;
pub(in crate::node) use command::Interactive;
pub(in crate::node) mod push;
mod reoffer;
mod result;
mod runs;
mod sweep;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_former;
mod timers;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;

use mon_keys::frame::{Opener, Sealer};
use mon_keys::hop::Initiator;

use crate::agg::Partial;
use crate::membership::Membership;
use crate::node::{Counters, Node, NodeConfig, Output, Peer};
use crate::roster::Roster;
use crate::wire::packet::{Inner, Packet, SubtreeResult};
use crate::wire::session::{SessionBody, SessionHash, SignedSession};

/// Repeats of our SessionOk, or of an unacknowledged result, one RTO apart before they back
/// off (see [`Session::session_ok_due`], [`Session::result_due`]).
const SESSION_OK_STEADY: u32 = 3;

/// Sends of an unacknowledged result to a parent node past the node's `retries`, backing
/// off to 8 RTOs (see [`Session::result_due`]); a one-shot session's linger (5 s) ends them
/// sooner. Each lost copy of a result used to be resent `retries` times only: with 2 % loss,
/// about one result in 125,000 was lost three times and the parent, still waiting seconds
/// before its deadline, lost that whole subtree (twice in 100 sessions of 330 nodes).
pub(in crate::node) const RESULT_LATE_RESENDS: u32 = 6;

/// A link towards a parent (the first parent gets results; extra DAG parents serve blocks).
pub(in crate::node) struct ParentLink {
    pub name: String,
    pub peer: Peer,
    pub sealer: Sealer,
    pub opener: Opener,
    /// The parent's first sealed frame arrived (it holds e_p's secret).
    pub go: bool,
    /// Our SessionOk to this parent, for retransmission on a duplicate Session and, to the
    /// first parent, every RTO until its go comes (a lost go is sent again on it).
    pub session_ok: Vec<u8>,
}

/// Where a child stands. (A handful per session: the size difference does not matter.)
#[allow(clippy::large_enum_variant)]
pub(in crate::node) enum ChildState {
    /// Session sent, waiting for SessionOk / Prune / Deny.
    Offered {
        initiator: Option<Box<Initiator>>,
        packet: Vec<u8>,
        packet_hash: [u8; 32],
        sent_at: u64,
        tries: u32,
        /// A Prune answering this offer, its signature not checked yet: the child counts
        /// as settled, and the signature is checked (one batch per node, off the busy
        /// set-up wave) before the result goes up; a SessionOk still wins over it.
        prune_sig: Option<Box<[u8; 64]>>,
    },
    /// Handshake done; waiting for its subtree's result.
    Linked {
        sealer: Sealer,
        opener: Opener,
        result: Option<SubtreeResult>,
    },
    /// Already in the overlay elsewhere.
    Pruned,
    /// Took this node as an extra DAG parent (serves push blocks; its result goes to its
    /// first parent).
    Extra { sealer: Sealer, opener: Opener },
    /// Refused the session.
    Denied { code: String, text: String },
    /// Never answered, or its subtree was lost. `initiator`: kept when it never answered
    /// our offer, so that its SessionOk, late (a busy child, or answers lost), still links it
    /// while our result has not gone up.
    Missing {
        why: String,
        initiator: Option<Box<Initiator>>,
    },
}

pub(in crate::node) struct Child {
    pub name: String,
    pub addr: SocketAddr,
    pub key: [u8; 32],
    pub state: ChildState,
    /// Retransmission timeout of the offer to this child, ms (see
    /// [`crate::timing::link_rto_ms`]).
    pub rto_ms: u64,
    /// When it was given up for answering none of our offers.
    pub given_up_at: Option<u64>,
}

impl Child {
    /// Whether this child was given up at `now_ms` for answering none of our offers.
    pub fn unanswered_at(&self, now_ms: u64) -> bool {
        self.given_up_at == Some(now_ms)
    }

    pub fn settled(&self) -> bool {
        match &self.state {
            ChildState::Offered { prune_sig, .. } => prune_sig.is_some(),
            ChildState::Linked { result, .. } => result.is_some(),
            _ => true,
        }
    }
}

/// A session this node is part of.
pub(in crate::node) struct Session {
    pub body: Arc<SessionBody>,
    pub signed: SignedSession,
    pub principal: Option<String>,
    pub key_fp: String,
    pub run_as: Option<String>,
    /// The `grep-paths=` grant a grep is held to (see [`crate::verify::Verified`]).
    pub grep_paths: Vec<Vec<String>>,
    pub targeted: bool,
    pub level: u16,
    pub parent: ParentLink,
    pub extra_parents: Vec<ParentLink>,
    /// First parents this node left for the entry node of an interactive session (see
    /// `reoffer.rs`): their Commands get an empty result.
    pub former_parents: Vec<reoffer::FormerParent>,
    pub children: Vec<Child>,
    /// The operations of the command the session is on: the signed body's, then each
    /// follow-up Command's in an interactive session.
    pub ops: Vec<crate::agg::Query>,
    /// An interactive session's command state (`None`: a one-shot session).
    pub cmd: Option<Box<command::Interactive>>,
    /// One slot per operation; `Some` once evaluated (or skipped).
    pub local: Vec<Option<Partial>>,
    pub local_started: bool,
    pub started_ms: u64,
    /// Dropped at this time unless a parent's go has come by then.
    pub go_by: u64,
    /// When our SessionOk last went to the first parent, and how many times it went again
    /// (see [`Session::session_ok_due`]).
    pub ok_sent_at: u64,
    pub ok_tries: u32,
    /// Send whatever we have by then.
    pub finish_by: u64,
    /// Sealed result packet, kept for retransmission until acknowledged.
    pub result_packet: Option<Vec<u8>>,
    pub result_sent_at: u64,
    pub result_tries: u32,
    pub result_acked: bool,
    /// Forget the state at this time (set once the result is out).
    pub forget_at: Option<u64>,
    pub client_gone: bool,
    /// The entry node already swept the roster for nodes the overlay missed.
    pub swept: bool,
    /// Retransmission timeout on the first parent's link (the result, our SessionOk), ms.
    pub rto_ms: u64,
    /// The push data plane, for push sessions.
    pub push: Option<Box<push::state::PushState>>,
}

impl Session {
    /// Extra parent `pos` becomes the first parent (results go to it from now on) and the
    /// old first parent an extra one; `go` is the new first parent's go flag.
    pub fn promote_extra_parent(&mut self, pos: usize, go: bool) {
        if pos >= self.extra_parents.len() {
            return;
        }
        let mut link = self.extra_parents.remove(pos);
        link.go = go;
        let old = std::mem::replace(&mut self.parent, link);
        self.extra_parents.push(old);
    }

    /// The next time this session needs attention.
    pub fn next_timer(&self) -> Option<u64> {
        let mut t: Option<u64> = None;
        let mut at = |x: u64| t = Some(t.map_or(x, |y: u64| y.min(x)));
        if let Some(f) = self.forget_at {
            at(f);
        } else if !self.has_go() {
            at(self.go_by);
        }
        if self.awaits_go() {
            at(self.session_ok_due());
        }
        if self.result_packet.is_none() {
            at(self.finish_by);
            for c in &self.children {
                if let ChildState::Offered {
                    sent_at,
                    prune_sig: None,
                    ..
                } = c.state
                {
                    at(sent_at + c.rto_ms);
                }
            }
        } else if !self.result_acked {
            at(self.result_due());
        }
        if let Some(x) = self.command_resend_due() {
            at(x);
        }
        if let Some(p) = &self.push {
            if let Some(x) = p.next_timer() {
                at(x);
            }
        }
        t
    }

    /// Whether this node still waits for its first parent's go over a node link (not from a
    /// client, whose go comes on its stream): its SessionOk goes again every RTO meanwhile.
    pub fn awaits_go(&self) -> bool {
        !self.parent.go
            && self.forget_at.is_none()
            && self.parent.name != mon_keys::hop::CLIENT_NAME
            && !self.parent.session_ok.is_empty()
    }

    /// When our SessionOk goes to the first parent again while its go has not come: one RTO
    /// after the last, doubling after [`SESSION_OK_STEADY`] repeats up to 8 RTOs, until the go
    /// comes or the session is dropped (no go by its deadline or join window). A go lost
    /// once costs one RTO; a parent that went away costs a few dozen small packets at most.
    pub fn session_ok_due(&self) -> u64 {
        let backoff = (self.ok_tries + 1).saturating_sub(SESSION_OK_STEADY).min(3);
        self.ok_sent_at + (self.rto_ms << backoff)
    }

    /// When the result goes to the parent again while unacknowledged: one RTO after the
    /// last send, doubling after [`SESSION_OK_STEADY`] sends up to 8 RTOs.
    pub fn result_due(&self) -> u64 {
        let backoff = (self.result_tries + 1)
            .saturating_sub(SESSION_OK_STEADY)
            .min(3);
        self.result_sent_at + (self.rto_ms << backoff)
    }

    /// Whether a parent (first or extra) has sent its go.
    pub fn has_go(&self) -> bool {
        self.parent.go || self.extra_parents.iter().any(|p| p.go)
    }

    /// Whether everything this node waits for has arrived.
    pub fn complete(&self) -> bool {
        let local_done = !self.parent.go || self.local.iter().all(Option::is_some);
        self.parent.go && local_done && self.children.iter().all(Child::settled)
    }
}

/// What a session borrows from its node while it handles something: the node's settings,
/// its output queue (outputs keep the node's order: audit before action), its counters and
/// the views it reads (roster, membership). Built from split borrows of the node's fields
/// beside the one `sessions.get_mut` at the node boundary ([`Node::session_cx`]).
pub(in crate::node) struct Ctx<'a> {
    pub cfg: &'a NodeConfig,
    pub out: &'a mut VecDeque<Output>,
    pub counters: &'a mut Counters,
    pub roster: &'a Roster,
    pub membership: &'a Membership,
    pub runs: &'a mut super::runs::RunTable,
}

impl Node {
    /// The session `hash` and the node context it works with, or `None` when the node has
    /// no such session.
    pub(in crate::node) fn session_cx(
        &mut self,
        hash: &SessionHash,
    ) -> Option<(&mut Session, Ctx<'_>)> {
        let s = self.sessions.get_mut(hash)?;
        let cx = Ctx {
            cfg: &self.cfg,
            out: &mut self.out,
            counters: &mut self.counters,
            roster: &self.roster,
            membership: &self.membership,
            runs: &mut self.runs,
        };
        Some((s, cx))
    }
}

/// A summary of a session for status displays.
#[derive(Clone, Debug)]
pub struct SessionSummary {
    /// Session hash.
    pub hash: SessionHash,
    /// Level in the overlay.
    pub level: u16,
    /// Children.
    pub children: usize,
}

/// `inner` sealed on channel 0 of a session link, as a packet from `from`; `None` once the
/// link's sealer refuses (its counter is exhausted).
pub(in crate::node) fn sealed(
    hash: SessionHash,
    from: &str,
    sealer: &mut Sealer,
    inner: &Inner,
) -> Option<Packet> {
    let frame = sealer.seal(&inner.to_bytes()).ok()?;
    Some(Packet::Sealed {
        session_hash: hash.into(),
        from: from.to_string(),
        channel: 0,
        frame,
    })
}
