//! An interactive session's re-offers: at each follow-up Command the entry node offers the
//! session again, directly (as its set-up sweep does, `sweep.rs`), to the roster nodes the
//! last result did not reach: nodes missed at set-up (down then, or unreachable), and nodes
//! cut off when a node above them died.
//!
//! - A node that joins then (a new session here) gets, as its go, the Command the session is
//!   on ([`Session::go_for_child`]) and runs that, never the session's own operations: the
//!   user asked for those long ago (a node that gets a Go for them past the session's own
//!   deadline starts nothing either, [`crate::timing::own_ops_deadline_ms`]).
//! - A node still in the session under a parent that died takes the entry as its first
//!   parent: it answers the entry's offer with a SessionOk instead of a Prune
//!   ([`Session::leaves_for`]), and its old first parent becomes a *former* parent, whose
//!   Commands it answers with an empty result ([`Session::answer_former_parent`]) so that
//!   the old parent, if it lives, neither waits for it nor counts it twice.
//!
//! Bounded like the sweep: at most one offer per roster node not reached, one
//! retransmission each; nothing past the session's join window (nodes would refuse it).

use mon_keys::hop::CLIENT_NAME;

use super::{sealed, ChildState, Ctx, ParentLink, Session};
use crate::agg::Partial;
use crate::node::{Node, Output, Peer};
use crate::roster::Roster;
use crate::timing::DUPLICATE_RESENDS;
use crate::wire::command::Command;
use crate::wire::packet::{Inner, SubtreeResult};
use crate::wire::session::SessionHash;

/// The level of the entry node (the client's child): the only node whose offers carry it.
const ENTRY_LEVEL: u16 = 1;

/// A first parent this node left for the entry node: its link, and the Commands it answered
/// on it. A Command on this link costs a signature check and a sealed result; one whose
/// `seq` is not above the last answered here is dropped before that check (the last one
/// again gets its empty result at most [`DUPLICATE_RESENDS`] more times, for a lost one),
/// and the link is dropped at the first Command that does not verify: a compromised
/// former parent replaying the session's captured Commands costs one check per command of
/// the session, not one per frame.
pub(in crate::node) struct FormerParent {
    pub link: ParentLink,
    /// The highest `seq` answered on this link (at first, the command the session was on
    /// when it left: its real result went to this parent already).
    pub answered: u64,
    /// How many times that `seq` was answered again.
    pub again: u32,
}

impl Node {
    /// At the entry node, before a new Command replaces the last command's results: the
    /// roster nodes to offer the session again (see the module docs).
    pub(in crate::node) fn missed_by_overlay(
        &self,
        now_ms: u64,
        hash: &SessionHash,
    ) -> Vec<String> {
        self.sessions.get(hash).map_or_else(Vec::new, |s| {
            s.missed_by_overlay(now_ms, &self.cfg.name, &self.roster)
        })
    }

    /// Offers session `hash` to `missed` (from [`Node::missed_by_overlay`]), replacing what
    /// the session knew of them (an old offer, given up or pruned).
    pub(in crate::node) fn reoffer(&mut self, now_ms: u64, hash: SessionHash, missed: Vec<String>) {
        if missed.is_empty() {
            return;
        }
        let kids = self.offer_direct(now_ms, hash, missed);
        if let Some(s) = self.sessions.get_mut(&hash) {
            s.children
                .retain(|c| !kids.iter().any(|k| k.name == c.name));
            s.children.extend(kids);
        }
    }
}

impl Session {
    /// The roster nodes that the entry node `me` offers an interactive session again at a
    /// new Command: those no child's last result marks as reached, that are not linked
    /// children and that no result names as denying the session. None when this is not the
    /// entry of an interactive session, a one-level session, past the join window, or when
    /// some child's result was built on another roster (what it reached is not known, and
    /// the nodes below it would be offered twice), and none while the last command has not
    /// finished here: its children's results are not in, so nothing says whom it reached (a
    /// client sending Commands back to back would otherwise have every node below the
    /// children offered the session, and each node between commands would take the entry as
    /// its first parent: the whole overlay in one fan-out).
    fn missed_by_overlay(&self, now_ms: u64, me: &str, roster: &Roster) -> Vec<String> {
        if self.cmd.is_none()
            || self.result_packet.is_none()
            || self.push.is_some()
            || self.parent.name != CLIENT_NAME
            || self.body.overlay.max_depth == 1
            || now_ms > self.body.expires_at
        {
            return Vec::new();
        }
        let digest = roster.digest();
        let mut keep: Vec<String> = Vec::new();
        for c in &self.children {
            match &c.state {
                ChildState::Linked {
                    result: Some(r), ..
                } => {
                    if r.roster.as_deref() != Some(&digest) {
                        return Vec::new();
                    }
                    keep.push(c.name.clone());
                    for p in &r.partials {
                        keep.extend(p.coverage().denied.entries().iter().map(|d| d.node.clone()));
                    }
                }
                ChildState::Linked { .. }
                | ChildState::Extra { .. }
                | ChildState::Denied { .. } => keep.push(c.name.clone()),
                _ => {}
            }
        }
        // The nodes found down are offered again too: one of them may be back.
        let (reached, _down) = self.reached_and_down(me, roster);
        roster
            .unreached(&reached, |n| n != me && !keep.iter().any(|k| k == n))
            .into_iter()
            .map(str::to_string)
            .collect()
    }

    /// What a child that links (or repeats its SessionOk) gets as its go. A one-shot
    /// session's child gets a Go at once. In an interactive session a child gets what this
    /// node itself runs, and only while it runs it: a Go once our own go came, for the
    /// session's own operations (`seq` 0); the Command this node is on, for a follow-up
    /// command (a Command is a go: only the parent can seal it on the link); nothing before
    /// our own go or once our result went up (the child waits for the next Command, or
    /// drops the session at its go deadline and is offered it again). So a node that joins
    /// late, at a re-offer, or below one that did, never gets a Go for the session's own
    /// operations long after the user asked for them.
    pub(in crate::node) fn go_for_child(&self) -> Option<Inner> {
        let Some(st) = self.cmd.as_ref() else {
            return Some(Inner::Go);
        };
        if !self.parent.go || self.result_packet.is_some() {
            return None;
        }
        match &st.last {
            Some(cmd) if st.seq > 0 => Some(Inner::Command((**cmd).clone())),
            _ => Some(Inner::Go),
        }
    }

    /// Our own go came: the children that linked before it (an interactive session's,
    /// which got no go then, see [`Session::go_for_child`]) get theirs.
    pub(in crate::node) fn go_to_linked_children(&mut self, hash: SessionHash, cx: &mut Ctx<'_>) {
        let Some(go) = self.go_for_child() else {
            return;
        };
        for c in &mut self.children {
            let ChildState::Linked {
                sealer,
                result: None,
                ..
            } = &mut c.state
            else {
                continue;
            };
            if let Some(p) = sealed(hash, &cx.cfg.name, sealer, &go) {
                cx.out.push_back(Output::Send {
                    to: Peer::Addr(c.addr),
                    bytes: p.to_bytes(),
                });
            }
        }
    }

    /// Whether this node leaves its first parent for `parent`, which offers the session
    /// from `level`: only the entry node of an interactive session re-offers it at a
    /// follow-up Command, and only to nodes its last result did not reach; a node between
    /// commands (its last result sent) that gets such an offer was cut off from the entry.
    /// At set-up (no follow-up Command yet) it answers with a Prune, as every node does.
    pub(in crate::node) fn leaves_for(&self, parent: &str, level: u16) -> bool {
        self.cmd.is_some()
            && self.push.is_none()
            && self.cmd_seq() > 0
            && self.result_packet.is_some()
            && level == ENTRY_LEVEL
            && self.level > ENTRY_LEVEL + 1
            && self.parent.name != parent
            && self.parent.name != CLIENT_NAME
    }

    /// `link` (to the entry node) becomes the first parent; the old one becomes a former
    /// parent. The next Command comes from the entry.
    pub(in crate::node) fn take_new_parent(&mut self, now_ms: u64, link: ParentLink) {
        let old = std::mem::replace(&mut self.parent, link);
        self.former_parents
            .retain(|p| p.link.name != self.parent.name);
        self.former_parents.push(FormerParent {
            link: old,
            answered: self.cmd_seq(),
            again: 0,
        });
        self.level = ENTRY_LEVEL + 1;
        // Our SessionOk goes again every RTO until the entry's go (or Command) comes.
        self.ok_sent_at = now_ms;
        self.ok_tries = 0;
        // The last result went to the old parent: it is not sent again to the new one.
        self.result_acked = true;
    }

    /// A frame from a former first parent: a Command gets an empty result for its `seq`
    /// (this subtree answers through the entry now), within the bound of [`FormerParent`]
    /// (the rest is dropped and counted in `former_commands_dropped`); anything else is
    /// ignored.
    pub(in crate::node) fn answer_former_parent(
        &mut self,
        hash: SessionHash,
        sender: &str,
        plain: &[u8],
        cx: &mut Ctx<'_>,
    ) {
        let Ok(Inner::Command(cmd)) = Inner::from_bytes(plain) else {
            return;
        };
        let Some(i) = self
            .former_parents
            .iter()
            .position(|p| p.link.name == sender)
        else {
            return;
        };
        let p = &self.former_parents[i];
        let again = cmd.seq == p.answered && p.again < DUPLICATE_RESENDS;
        if cmd.seq <= p.answered && !again {
            cx.counters.former_commands_dropped += 1;
            return;
        }
        let Some(result) = self.empty_result(&hash, &cmd, cx.roster) else {
            // No relay seals a Command that does not verify (or another session's): the
            // link is dropped, its frames are rejected from now on.
            cx.counters.commands_refused += 1;
            self.former_parents.remove(i);
            return;
        };
        let p = &mut self.former_parents[i];
        if cmd.seq > p.answered {
            p.answered = cmd.seq;
            p.again = 0;
        } else {
            p.again += 1;
        }
        let p = &mut p.link;
        if let Some(packet) = sealed(hash, &cx.cfg.name, &mut p.sealer, &Inner::Result(result)) {
            cx.out.push_back(Output::Send {
                to: p.peer,
                bytes: packet.to_bytes(),
            });
        }
    }

    /// A result for `cmd` that counts nothing and reaches nobody (`None`: `cmd` is not this
    /// session's, or its signature does not verify).
    fn empty_result(
        &self,
        hash: &SessionHash,
        cmd: &Command,
        roster: &Roster,
    ) -> Option<SubtreeResult> {
        if *cmd.session_hash != *hash {
            return None;
        }
        let verify = |k: &[u8; 32], m: &[u8], s: &[u8; 64]| {
            mon_keys::nodekey::verify_node_sig(k, m, s).is_ok()
        };
        let ops = cmd.open(&self.body.cmd_key, 0, verify).ok()?;
        Some(SubtreeResult {
            members: Vec::new(),
            seq: cmd.seq,
            relayed: 0,
            partials: ops.iter().map(Partial::empty).collect(),
            roster: Some(roster.digest().into()),
            reached: roster.empty_bitmap(),
        })
    }
}
