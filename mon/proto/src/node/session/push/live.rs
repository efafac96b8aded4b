//! Push link liveness: keepalives, silent links, links to nodes known to be down, a node's
//! own stalls, orphans (every parent gone) asking their children for adoption.

use super::super::{ChildState, Ctx, Session};
use super::send_on;
use std::collections::VecDeque;

use super::state::{Land, PLink, PushState, ADOPT_GRACE_MS, STALL_MS};
use crate::membership::MemberId;
use crate::node::{Node, Output, Peer};
use crate::push::msg::{PushMsg, LINK_SILENT_MS, PING_MS, PROGRESS_MS};
use crate::wire::session::{SessionHash, SignedSession};

impl Node {
    /// Keepalives, silent links, deferred extra offers, scheduler timeouts.
    pub(in crate::node) fn push_timers(&mut self, now_ms: u64, hash: SessionHash) {
        let Some((s, mut cx)) = self.session_cx(&hash) else {
            return;
        };
        let terms = s.offer_terms(now_ms);
        let Some(p) = s.push.as_mut() else {
            return;
        };
        let offers = p.tick(now_ms, hash, &cx.cfg.name, cx.out);
        s.report_push_progress(now_ms, hash, &mut cx);
        s.lose_push_links(
            now_ms,
            |l| now_ms >= l.heard + LINK_SILENT_MS,
            "push link silent (node down or overloaded?)",
        );
        for m in offers {
            self.push_offer_child(now_ms, hash, &terms, &m);
        }
        self.push_pump(now_ms, hash);
    }

    /// The driver could not reach the node at `addr` on its push stream (connection refused
    /// or reset, also after a reconnect): every push link to it is lost at once, without
    /// waiting for [`LINK_SILENT_MS`] of silence.
    pub fn push_peer_down(&mut self, now_ms: u64, addr: std::net::SocketAddr) {
        let hashes: Vec<SessionHash> = self
            .sessions
            .iter()
            .filter(|(_, s)| s.push.is_some())
            .map(|(h, _)| *h)
            .collect();
        for h in hashes {
            if let Some(s) = self.sessions.get_mut(&h) {
                s.lose_push_links(
                    now_ms,
                    |l| l.peer == Peer::Addr(addr),
                    "push stream to it closed (node down?)",
                );
            }
            self.push_pump(now_ms, h);
            self.try_finish(now_ms, h);
        }
    }

    /// An extra parent's go came while the first parent's link is gone: it may take over
    /// (see [`Session::idle_takeover`]) and its go starts the push.
    pub(in crate::node) fn push_idle_takeover(&mut self, now_ms: u64, hash: SessionHash) {
        let Some((s, mut cx)) = self.session_cx(&hash) else {
            return;
        };
        if s.idle_takeover(now_ms, hash, &mut cx) {
            self.on_go(now_ms, hash);
        }
    }

    /// Parent link `id` asked for adoption: offer it the session, so that we become one of
    /// its (extra) parents.
    pub(in crate::node) fn push_on_adopt(&mut self, now_ms: u64, hash: SessionHash, id: u32) {
        let Some(s) = self.sessions.get(&hash) else {
            return;
        };
        let terms = s.offer_terms(now_ms);
        let Some((name, addr)) = s.adopter(id) else {
            return;
        };
        let Some(key) = self.node_key_for(&name, addr.ip()) else {
            return;
        };
        let m = MemberId { name, addr, key };
        self.push_offer_child(now_ms, hash, &terms, &m);
    }

    /// Offers the session to `m` as a push child (a deferred extra offer, or an adoption),
    /// with a second less than our budget.
    fn push_offer_child(
        &mut self,
        now_ms: u64,
        hash: SessionHash,
        terms: &OfferTerms,
        m: &MemberId,
    ) {
        let (signed, level, budget) = terms;
        let child_budget = budget.saturating_sub(1000);
        if let Some(c) = self.offer(now_ms, &hash, signed, *level, child_budget, m) {
            if let Some(s) = self.sessions.get_mut(&hash) {
                s.children.push(c);
            }
        }
    }
}

/// What an offer of the session to a push child is made of: the signed session, our level
/// and our budget (ms left until we finish).
type OfferTerms = (SignedSession, u16, u32);

impl Session {
    /// The terms of an offer made now (see [`OfferTerms`]).
    fn offer_terms(&self, now_ms: u64) -> OfferTerms {
        let budget = u32::try_from(self.finish_by.saturating_sub(now_ms)).unwrap_or(u32::MAX);
        (self.signed.clone(), self.level, budget)
    }

    /// Marks the live links `lost` picks as gone: parents leave the download (their requests
    /// go elsewhere), children leave the serve queue and, if their result is still due, are
    /// reported missing with `why` (after a grace in which their subtree may adopt us).
    fn lose_push_links(&mut self, now_ms: u64, lost: impl Fn(&PLink) -> bool, why: &str) {
        let Some(p) = self.push.as_mut() else {
            return;
        };
        for (i, l) in p.parents.iter_mut().enumerate() {
            if l.alive && lost(l) {
                tracing::debug!(parent = %l.name, why, "push: parent link lost");
                l.alive = false;
                p.dl.remove_parent(i as u32);
            }
        }
        let mut lost_children: Vec<String> = Vec::new();
        for (i, l) in p.children.iter_mut().enumerate() {
            if l.alive && lost(l) {
                tracing::debug!(child = %l.name, why, "push: child link lost");
                l.alive = false;
                p.serve.remove_child(i as u32);
                lost_children.push(l.name.clone());
            }
        }
        if lost_children.is_empty() {
            return;
        }
        if self.result_packet.is_none() {
            p.hold_until = now_ms + ADOPT_GRACE_MS;
        }
        for c in &mut self.children {
            if lost_children.contains(&c.name)
                && matches!(c.state, ChildState::Linked { result: None, .. })
            {
                c.state = ChildState::Missing {
                    why: why.into(),
                    initiator: None,
                };
            }
        }
    }

    /// Parent link `id` failed and serves nothing more: it leaves the download; if it is our
    /// result parent the link stays up for keepalives (it waits for our result).
    pub(in crate::node) fn push_parent_left(&mut self, id: u32) {
        let result_parent = self.parent.name.as_str();
        let Some(p) = self.push.as_mut() else {
            return;
        };
        let Some(l) = p.parents.get_mut(id as usize) else {
            return;
        };
        if l.name == result_parent {
            l.data = false;
        } else {
            l.alive = false;
        }
        p.dl.remove_parent(id);
    }

    /// The name and address of parent link `id`, which asked for adoption, when the session
    /// is to be offered to it (not when our part failed, nor when it is linked or offered
    /// already: answers are matched by name).
    fn adopter(&self, id: u32) -> Option<(String, std::net::SocketAddr)> {
        let p = self.push.as_ref()?;
        if p.land == Land::Failed {
            return None;
        }
        let l = p.parents.get(id as usize)?;
        let Peer::Addr(addr) = l.peer else {
            return None;
        };
        let name = l.name.clone();
        tracing::debug!(orphan = %name, "push: parent asks for adoption");
        if p.children.iter().any(|c| c.alive && c.name == name)
            || self.children.iter().any(|c| c.name == name)
        {
            return None;
        }
        Some((name, addr))
    }

    /// A parent linked while this node had none left (parent link `id`, just added). If the
    /// result parent is still there (dropped for misbehaviour, kept for keepalives), the new
    /// one is only asked to serve us first; if it is gone, the new one becomes the first
    /// parent and takes over our result (once its link is recorded: see `push_pump`).
    pub(super) fn push_relinked(
        &mut self,
        now_ms: u64,
        hash: SessionHash,
        id: u32,
        cx: &mut Ctx<'_>,
    ) {
        let result_parent = self.parent.name.as_str();
        let Some(p) = self.push.as_mut() else {
            return;
        };
        let kept = p.result_parent_kept(result_parent);
        let Some(l) = p.parents.get_mut(id as usize) else {
            return;
        };
        let m = if kept {
            PushMsg::Prefer
        } else {
            p.pending_primary = Some(l.name.clone());
            PushMsg::Primary
        };
        send_on(cx.out, &cx.cfg.name, hash, l, &m, now_ms, None);
    }

    /// A node still waiting for its first parent's go whose link to that parent is gone
    /// (the parent died right after offering us the session) would wait for nothing until
    /// the deadline. An extra parent that has proven its hop key (its go arrived) takes
    /// over: it becomes the first parent (told with `Primary`, so it expects our result).
    /// Returns whether it did: the push then starts as if its go had come from the first
    /// parent (the node runs `on_go`).
    pub(super) fn idle_takeover(
        &mut self,
        now_ms: u64,
        hash: SessionHash,
        cx: &mut Ctx<'_>,
    ) -> bool {
        if self.parent.go || self.result_packet.is_some() {
            return false;
        }
        let first = self.parent.name.as_str();
        let Some(p) = self.push.as_mut() else {
            return false;
        };
        if p.land != Land::Idle || p.parents.iter().any(|l| l.alive && l.name == first) {
            return false;
        }
        let Some(pos) = self.extra_parents.iter().position(|x| {
            x.go && p
                .parents
                .iter()
                .any(|l| l.alive && l.data && l.name == x.name)
        }) else {
            return false;
        };
        let name = self.extra_parents[pos].name.as_str();
        tracing::debug!(lost = %first, new = %name, "push: first parent lost before its go, an extra parent takes over");
        if let Some(l) = p.parents.iter_mut().find(|l| l.alive && l.name == name) {
            send_on(
                cx.out,
                &cx.cfg.name,
                hash,
                l,
                &PushMsg::Primary,
                now_ms,
                None,
            );
        }
        // Its go (already proven) now counts as the first parent's: `on_go` starts the push.
        self.promote_extra_parent(pos, false);
        true
    }

    /// Sends the result parent how many nodes of our result subtree finished their part
    /// (ourselves, plus the last counts of the children whose result parent we are), at most
    /// every [`PROGRESS_MS`] and only when it changed; and with it the next report of which
    /// nodes finished, when one is pending.
    fn report_push_progress(&mut self, now_ms: u64, hash: SessionHash, cx: &mut Ctx<'_>) {
        if self.result_packet.is_some() {
            // Ends that came after our result (a child's last report can be overtaken by
            // its result, a datagram) still go up: the parent's result may not be out yet.
            self.send_push_ends(now_ms, hash, true, cx);
            return;
        }
        let result_parent = self.parent.name.as_str();
        let linked: Vec<&str> = self
            .children
            .iter()
            .filter(|c| matches!(c.state, ChildState::Linked { .. }))
            .map(|c| c.name.as_str())
            .collect();
        let Some(p) = self.push.as_mut() else {
            return;
        };
        let mut n = u64::from(p.finished());
        for l in &p.children {
            if l.alive && linked.contains(&l.name.as_str()) {
                n = n.saturating_add(l.progress);
            }
        }
        let (last, at) = p.progress_sent;
        if (n == last && !p.ends.has_pending()) || now_ms < at + PROGRESS_MS {
            return;
        }
        p.progress_sent = (n, now_ms);
        if n != last {
            if let Some(l) = p
                .parents
                .iter_mut()
                .find(|l| l.alive && l.name == result_parent)
            {
                send_on(
                    cx.out,
                    &cx.cfg.name,
                    hash,
                    l,
                    &PushMsg::Progress(n),
                    now_ms,
                    None,
                );
            }
        }
        // Which nodes finished, at most one bounded report per period.
        self.send_push_ends(now_ms, hash, false, cx);
    }
}

impl PushState {
    /// The push part's own timers: credits a stall of this node's loop to its links, sends
    /// keepalives, runs the scheduler's timeouts and ends an adoption hold. Returns the
    /// deferred extra-parent offers now due.
    fn tick(
        &mut self,
        now_ms: u64,
        hash: SessionHash,
        me: &str,
        out: &mut VecDeque<Output>,
    ) -> Vec<MemberId> {
        // Timers are due at least every PING_MS while a link is up: a much later run means
        // this node's own loop stalled, and nothing could be heard meanwhile.
        let gap = now_ms.saturating_sub(self.timers_ran);
        self.timers_ran = now_ms;
        if gap > STALL_MS {
            for l in self.parents.iter_mut().chain(self.children.iter_mut()) {
                l.heard = l.heard.saturating_add(gap - PING_MS).min(now_ms);
            }
        }
        for l in self.parents.iter_mut().chain(self.children.iter_mut()) {
            if l.alive && now_ms >= l.sent + PING_MS {
                send_on(out, me, hash, l, &PushMsg::Ping, now_ms, None);
            }
        }
        self.dl.handle_timeout(now_ms);
        let (due, later): (Vec<_>, Vec<_>) =
            self.deferred.drain(..).partition(|(_, at)| *at <= now_ms);
        self.deferred = later;
        if self.hold_until > 0 && now_ms >= self.hold_until {
            self.hold_until = 0;
        }
        due.into_iter().map(|(m, _)| m).collect()
    }

    /// This node just lost every parent with blocks missing: ask each child to offer it
    /// the session as their extra parent (a child that got blocks elsewhere can feed it; a
    /// cycle of extra links is harmless, data only flows towards nodes that miss blocks).
    pub(super) fn ask_adoption(
        &mut self,
        now_ms: u64,
        hash: SessionHash,
        me: &str,
        out: &mut VecDeque<Output>,
    ) {
        tracing::debug!("push: every parent lost, asking children for adoption");
        for l in &mut self.children {
            // Not a parent we dropped (or that failed) and that is also our child.
            if self.parents.iter().any(|x| x.name == l.name) {
                continue;
            }
            send_on(out, me, hash, l, &PushMsg::Adopt, now_ms, None);
        }
    }
}
