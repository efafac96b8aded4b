//! The entry node's sweep: once the overlay has answered, the session is offered directly
//! to every roster node it did not reach, so live nodes are covered and dead ones named.

use mon_keys::hop::CLIENT_NAME;

use super::result::NO_ANSWER;
use super::{Child, ChildState, Session};
use crate::node::Node;
use crate::roster::Roster;
use crate::wire::session::SessionHash;

impl Node {
    /// At the entry node, once the overlay has answered: offers the session directly to
    /// every roster node the overlay did not reach (random choices and young ring tables
    /// can miss a few), so live nodes are covered and dead ones are named with a precise
    /// reason. Returns true when it sent offers (the result waits for them).
    pub(super) fn sweep(&mut self, now_ms: u64, hash: SessionHash) -> bool {
        let Some(s) = self.sessions.get_mut(&hash) else {
            return false;
        };
        let Some(unreached) = s.unswept(now_ms, &self.cfg.name, &self.roster) else {
            return false;
        };
        if unreached.is_empty() {
            return false;
        }
        let kids = self.offer_direct(now_ms, hash, unreached);
        let sent = !kids.is_empty();
        if let Some(s) = self.sessions.get_mut(&hash) {
            s.children.extend(kids);
        }
        sent
    }

    /// Offers session `hash` directly to the roster nodes `names` (the sweep, and an
    /// interactive session's re-offers): the budget is 80 % of what is left of this node's,
    /// and each offer is retransmitted once.
    pub(super) fn offer_direct(
        &mut self,
        now_ms: u64,
        hash: SessionHash,
        names: Vec<String>,
    ) -> Vec<Child> {
        let Some(s) = self.sessions.get(&hash) else {
            return Vec::new();
        };
        let signed = s.signed.clone();
        let level = s.level;
        let budget = u32::try_from(s.finish_by.saturating_sub(now_ms)).unwrap_or(u32::MAX);
        let view = self.membership.view(now_ms);
        let mut kids = Vec::new();
        for name in names {
            let Some(m) = self.roster_member(&name, &view) else {
                continue;
            };
            if let Some(mut c) = self.offer(now_ms, &hash, &signed, level, budget * 8 / 10, &m) {
                // Swept nodes are mostly down (the overlay and its ring links missed them):
                // one retransmission, not `retries`, so that a dead roster node holds the
                // whole result back by 2 × rto instead of (retries + 1) × rto.
                if let ChildState::Offered { tries, .. } = &mut c.state {
                    *tries = self.cfg.retries.saturating_sub(1);
                }
                kids.push(c);
            }
        }
        kids
    }
}

impl Session {
    /// The roster nodes the entry node `me` sweeps: those no child's subtree reached, that
    /// were not offered the session and that no parent found down. `None` when no sweep is
    /// due (not the entry, a one-level session, swept already, or too close to the deadline
    /// for a retry round); the sweep happens once.
    fn unswept(&mut self, now_ms: u64, me: &str, roster: &Roster) -> Option<Vec<String>> {
        if self.swept || self.parent.name != CLIENT_NAME || self.body.overlay.max_depth == 1 {
            return None;
        }
        // Leave room for a retry round before the deadline.
        if now_ms + 2 * self.rto_ms >= self.finish_by {
            return None;
        }
        let (reached, down) = self.reached_and_down(me, roster);
        let offered: Vec<&str> = self.children.iter().map(|c| c.name.as_str()).collect();
        let unreached = roster
            .unreached(&reached, |n| {
                n != me && !offered.contains(&n) && !down.iter().any(|d| d == n)
            })
            .into_iter()
            .map(str::to_string)
            .collect();
        self.swept = true;
        Some(unreached)
    }

    /// The roster bitmap the children's subtrees reached (those on the same roster), and
    /// the nodes they found down.
    pub(super) fn reached_and_down(&self, me: &str, roster: &Roster) -> (Vec<u8>, Vec<String>) {
        let digest = roster.digest();
        let mut reached = roster.empty_bitmap();
        roster.mark(&mut reached, me);
        let mut down: Vec<String> = Vec::new();
        for c in &self.children {
            let ChildState::Linked {
                result: Some(r), ..
            } = &c.state
            else {
                continue;
            };
            if r.roster.as_deref() == Some(&digest) {
                Roster::merge(&mut reached, &r.reached);
            }
            // A node some parent already offered the session to, retransmissions included,
            // without an answer, is down: offering it again would only hold the whole
            // result back by another round of retransmissions.
            for p in &r.partials {
                for n in p.coverage().missing.entries() {
                    if n.reason == NO_ANSWER {
                        down.push(n.node.clone());
                    }
                }
            }
        }
        (reached, down)
    }
}
