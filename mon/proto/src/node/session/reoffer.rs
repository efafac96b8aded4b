//! An interactive session's re-offers: at each follow-up Command the entry node offers the
//! session again, directly (as its set-up sweep does, `sweep.rs`), to the roster nodes the
//! last result did not reach: nodes missed at set-up (down then, or unreachable), and nodes
//! cut off when a node above them died.
//!
//! - A node that joins then (a new session here) gets, right after its go, the Command the
//!   session is on ([`Session::command_to_joined`]) and runs that, not the session's own
//!   operations (whose result, `seq` 0, its parent acknowledges and ignores).
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
use crate::wire::command::Command;
use crate::wire::packet::{Inner, SubtreeResult};
use crate::wire::session::SessionHash;

/// The level of the entry node (the client's child): the only node whose offers carry it.
const ENTRY_LEVEL: u16 = 1;

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

    /// A child that just linked while this node is on a follow-up Command (a node that
    /// joined at a re-offer) gets that Command, sealed after its go.
    pub(in crate::node) fn command_to_joined(
        &mut self,
        hash: SessionHash,
        child: &str,
        cx: &mut Ctx<'_>,
    ) {
        if self.cmd_seq() == 0 || self.result_packet.is_some() {
            return;
        }
        let Some(cmd) = self.cmd.as_ref().and_then(|c| c.last.clone()) else {
            return;
        };
        let Some(c) = self.children.iter_mut().find(|c| c.name == child) else {
            return;
        };
        let ChildState::Linked {
            sealer,
            result: None,
            ..
        } = &mut c.state
        else {
            return;
        };
        if let Some(p) = sealed(hash, &cx.cfg.name, sealer, &Inner::Command(*cmd)) {
            cx.out.push_back(Output::Send {
                to: Peer::Addr(c.addr),
                bytes: p.to_bytes(),
            });
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
        self.former_parents.retain(|p| p.name != self.parent.name);
        self.former_parents.push(old);
        self.level = ENTRY_LEVEL + 1;
        // Our SessionOk goes again every RTO until the entry's go (or Command) comes.
        self.ok_sent_at = now_ms;
        self.ok_tries = 0;
        // The last result went to the old parent: it is not sent again to the new one.
        self.result_acked = true;
    }

    /// A frame from a former first parent: a Command gets an empty result for its `seq`
    /// (this subtree answers through the entry now); anything else is ignored.
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
        let Some(result) = self.empty_result(&hash, &cmd, cx.roster) else {
            cx.counters.commands_refused += 1;
            return;
        };
        let Some(p) = self.former_parents.iter_mut().find(|p| p.name == sender) else {
            return;
        };
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
