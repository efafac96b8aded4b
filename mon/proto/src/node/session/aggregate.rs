//! Finishing a session: when this node's subtree result may go up, what it holds (this
//! node's local partials merged with every child's subtree, the relayed count, the roster
//! bitmap) and sending it, sealed, to the first parent.
//!
//! Order: the result is one `Send` (followed by `CloseClient` when the parent is a client);
//! nothing here audits. [`Node::try_finish`] is the node's one entry: it looks the session up
//! once, asks [`Session::ready_to_finish`], lets the entry node sweep the roster
//! (`sweep.rs`) and then builds and sends the result.

use mon_keys::hop::CLIENT_NAME;

use super::{ChildState, Ctx, Session};
use crate::agg::{Partial, Query};
use crate::membership::MemberView;
use crate::node::{Counters, Node, Output, Peer};
use crate::roster::Roster;
use crate::wire::packet::{Inner, Packet, SubtreeResult};
use crate::wire::session::SessionHash;

/// How long a push node keeps serving after its result went up, ms.
const PUSH_LINGER_MS: u64 = 60_000;

impl Node {
    /// Sends the subtree result once everything arrived (or at the deadline).
    pub(in crate::node) fn try_finish(&mut self, now_ms: u64, hash: SessionHash) {
        let Some(s) = self.sessions.get_mut(&hash) else {
            return;
        };
        let Some(force) = s.ready_to_finish(now_ms, &hash, &mut self.counters) else {
            return;
        };
        if !force && self.sweep(now_ms, hash) {
            return;
        }
        let Some((s, mut cx)) = self.session_cx(&hash) else {
            return;
        };
        let result = s.subtree_result(now_ms, cx.cfg.name.as_str(), cx.roster, cx.membership);
        // A push's pending per-node ends go first (to the client: on the same stream).
        s.send_push_ends(now_ms, hash, true, &mut cx);
        s.send_result(now_ms, hash, result, &mut cx);
    }
}

impl Session {
    /// Whether the result may be built now: `Some(force)` once everything this node waits
    /// for has arrived (`force`: the deadline passed, send whatever there is). Checks the
    /// held Prunes' signatures first (a forged one holds the result back until the
    /// deadline). A session whose parent never sent its go owes nothing: at the deadline it
    /// is only forgotten.
    pub(in crate::node) fn ready_to_finish(
        &mut self,
        now_ms: u64,
        hash: &SessionHash,
        counters: &mut Counters,
    ) -> Option<bool> {
        if self.result_packet.is_some() {
            return None;
        }
        let force = now_ms >= self.finish_by;
        if !(self.complete() || force) {
            return None;
        }
        if !force && self.push.as_ref().is_some_and(|p| p.holds(now_ms)) {
            return None;
        }
        if self.check_prunes(hash, counters) && !force {
            return None;
        }
        if !self.parent.go {
            // Never got a frame from our parent: nothing may run, nothing is sent.
            if force {
                self.forget_at = Some(now_ms);
            }
            return None;
        }
        Some(force)
    }

    /// This node's subtree result; children still unanswered are missing for good after it.
    pub(in crate::node) fn subtree_result(
        &mut self,
        now_ms: u64,
        me: &str,
        roster: &Roster,
        membership: &crate::membership::Membership,
    ) -> SubtreeResult {
        let mut partials = self.merged_partials(me);
        let relayed = self.relayed();
        let (digest, reached) = self.reached(me, roster);
        if let Some(bits) = &reached {
            // A child one parent gave up on may have answered through another parent of this
            // subtree: it is counted there, so it is not missing.
            for p in &mut partials {
                p.drop_missing_answered(|n| roster.is_marked(bits, n));
            }
        }
        self.give_up_unanswered();
        let members = if self.parent.name == CLIENT_NAME && self.body.overlay.max_depth == 1 {
            let mut v: Vec<MemberView> = membership.view(now_ms);
            v.sort_by(|a, b| a.name.cmp(&b.name));
            v
        } else {
            Vec::new()
        };
        SubtreeResult {
            members,
            seq: self.cmd_seq(),
            relayed,
            partials,
            roster: reached.is_some().then_some(digest.into()),
            reached: reached.unwrap_or_default(),
        }
    }

    /// Per operation: this node's partial (failed if it did not finish) merged with every
    /// child's.
    fn merged_partials(&self, me: &str) -> Vec<Partial> {
        let mut partials: Vec<Partial> = Vec::with_capacity(self.ops.len());
        for (i, q) in self.ops.iter().enumerate() {
            let mine = self.local[i].clone().unwrap_or_else(|| {
                let mut p = Partial::empty(q);
                p.add_failed(me, "local evaluation did not finish before the deadline");
                p
            });
            let mut kids = self.children_partial(i, q);
            kids.add_depth_level();
            let mut total = mine;
            if total.merge(kids).is_err() {
                total = Partial::empty(q);
            }
            partials.push(total);
        }
        partials
    }

    /// Operation `i` over the children: their subtrees' partials, and what each child that
    /// brought none is (missing, denied).
    fn children_partial(&self, i: usize, q: &Query) -> Partial {
        let mut kids = Partial::empty(q);
        for c in &self.children {
            match &c.state {
                ChildState::Linked {
                    result: Some(r), ..
                } => {
                    if let Some(cp) = r.partials.get(i) {
                        if kids.merge(cp.clone()).is_err() {
                            kids.add_missing(&c.name, "sent a malformed result");
                        }
                    }
                }
                ChildState::Linked { result: None, .. } => {
                    kids.add_missing(&c.name, "its subtree did not answer before the deadline")
                }
                ChildState::Offered { .. } => {
                    kids.add_missing(&c.name, "did not answer the session")
                }
                ChildState::Missing { why, .. } => kids.add_missing(&c.name, why),
                ChildState::Denied { code, text } => {
                    kids.add_denied(&c.name, &format!("{code}: {text}"))
                }
                ChildState::Pruned | ChildState::Extra { .. } => {}
            }
        }
        kids
    }

    /// Nodes of the subtree that only relayed (this one when it is not targeted).
    fn relayed(&self) -> u64 {
        u64::from(!self.targeted)
            + self
                .children
                .iter()
                .filter_map(|c| match &c.state {
                    ChildState::Linked {
                        result: Some(r), ..
                    } => Some(r.relayed),
                    _ => None,
                })
                .sum::<u64>()
    }

    /// The roster digest and bitmap of the subtree: this node plus every child subtree built
    /// on the same roster (`None` when one was not).
    fn reached(&self, me: &str, roster: &Roster) -> ([u8; 32], Option<Vec<u8>>) {
        let digest = roster.digest();
        let mut reached = roster.empty_bitmap();
        roster.mark(&mut reached, me);
        let mut roster_ok = true;
        for c in &self.children {
            if let ChildState::Linked {
                result: Some(r), ..
            } = &c.state
            {
                let same = r.roster.as_deref() == Some(&digest);
                if !(same && Roster::merge(&mut reached, &r.reached)) {
                    roster_ok = false;
                }
            }
        }
        (digest, roster_ok.then_some(reached))
    }

    /// Children that never answered are missing for good now. In an interactive session a
    /// linked child keeps its link (reported missing in this result, it is sent the next
    /// command).
    fn give_up_unanswered(&mut self) {
        let keep_links = self.cmd.is_some();
        for c in &mut self.children {
            let unanswered = match c.state {
                ChildState::Offered { .. } => true,
                ChildState::Linked { result: None, .. } => !keep_links,
                _ => false,
            };
            if unanswered {
                c.state = ChildState::Missing {
                    why: "deadline".into(),
                    initiator: None,
                };
            }
        }
    }

    /// Seals `result` to the first parent, keeps it for retransmission and sets when the
    /// session is forgotten (a push node keeps serving its children a while longer).
    pub(in crate::node) fn send_result(
        &mut self,
        now_ms: u64,
        hash: SessionHash,
        result: SubtreeResult,
        cx: &mut Ctx<'_>,
    ) {
        let inner = Inner::Result(result);
        match self.parent.sealer.seal(&inner.to_bytes()) {
            Ok(frame) => {
                let p = Packet::Sealed {
                    session_hash: hash.into(),
                    from: cx.cfg.name.clone(),
                    channel: 0,
                    frame,
                };
                let bytes = p.to_bytes();
                self.result_packet = Some(bytes.clone());
                self.result_sent_at = now_ms;
                let linger = if self.push.is_some() {
                    cx.cfg.linger_ms.max(PUSH_LINGER_MS)
                } else {
                    cx.cfg.linger_ms
                };
                let to = self.parent.peer;
                cx.out.push_back(Output::Send { to, bytes });
                if let Some(st) = &self.cmd {
                    // Interactive: the overlay stays for the next command.
                    self.forget_at = Some(st.forget_after(now_ms));
                    return;
                }
                self.forget_at = Some(now_ms + linger);
                if let Peer::Client(id, _) = to {
                    cx.out.push_back(Output::CloseClient(id));
                }
            }
            Err(_) => self.forget_at = Some(now_ms),
        }
    }
}
