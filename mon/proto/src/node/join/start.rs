//! `start_session`: the boundary between admission and the session. An admitted session
//! gets its state (budget, deadlines, parent link, push download) and its first child offers
//! (the overlay's picks, or a push's ring successors), then joins the session table.

use std::sync::Arc;

use super::super::budget::split_budget;
use super::super::session::push::state::{PushState, EXTRA_OFFER_DELAY_MS};
use super::super::session::{Interactive, ParentLink, Session};
use super::super::Node;
use super::outcome::Admitted;
use crate::membership::MemberId;
use crate::push::msg::expand_dest;
use crate::push::Download;
use crate::timing::link_rto_ms;
use crate::wire::session::{Manifest, SessionBody, SessionHash};

impl Node {
    /// Starts an admitted session (its SessionOk is sent already).
    pub(super) fn start_session(&mut self, now_ms: u64, a: Admitted) {
        let hash = a.verified.hash;
        let (push_dir, allow_setid, max_fanout) = (
            a.verified.push_dir.clone(),
            a.verified.allow_setid,
            a.verified.max_fanout,
        );
        let (mut s, child_budget_ms) = self.new_session(now_ms, a);
        if let Some(m) = &s.body.push {
            let Some(ps) = self.push_state(now_ms, m, push_dir, allow_setid) else {
                return;
            };
            s.push = Some(Box::new(ps));
        }
        let max_depth = match s.body.overlay.max_depth {
            0 => u16::MAX,
            d => u16::from(d),
        };
        if s.level < max_depth && child_budget_ms >= 50 {
            self.offer_first_children(now_ms, &hash, &mut s, child_budget_ms, max_fanout);
        }
        self.sessions.insert(hash, s);
    }

    /// A push session's state: its download (None when the manifest does not make one) and
    /// the destination and grants it writes under.
    fn push_state(
        &mut self,
        now_ms: u64,
        m: &Manifest,
        push_dir: Option<String>,
        allow_setid: bool,
    ) -> Option<PushState> {
        let dest = expand_dest(&m.dest, &self.cfg.name).unwrap_or_default();
        let seed = rand::RngCore::next_u64(&mut self.rng);
        let cfg = crate::push::Config {
            primary_first: self.cfg.push_primary_first,
            // Measured in the push simulator (docs/benchmarks.md): not yet better than
            // without; off until it is.
            pass_over_slow_primary: false,
            ..crate::push::Config::for_block_size(m.block_size)
        };
        let dl = Download::with_config(m, self.cfg.push_policy, cfg, seed, false).ok()?;
        let mut ps = PushState::new(m.clone(), dest, dl, now_ms);
        ps.push_dir = push_dir;
        ps.allow_setid = allow_setid;
        Some(ps)
    }

    /// The session's state, and the budget its children get.
    fn new_session(&self, now_ms: u64, a: Admitted) -> (Session, u32) {
        let v = a.verified;
        let body = Arc::new(v.body);
        let (answer_in, child_budget_ms) = session_budget(a.budget_ms, &body);
        let go_wait = self.go_wait(&body);
        let rto_ms = link_rto_ms(self.membership.rtt_ms(&a.parent), self.cfg.rto_ms);
        let cmd = body.interactive.then(|| {
            Box::new(Interactive::new(
                now_ms,
                body.issued_at,
                answer_in,
                body.max_lifetime_s,
            ))
        });
        let s = Session {
            local: vec![None; body.ops.len()],
            ops: body.ops.clone(),
            cmd,
            body,
            signed: a.signed,
            principal: v.principal,
            key_fp: v.key_fp,
            run_as: v.run_as,
            grep_paths: v.grep_paths,
            targeted: v.targeted,
            level: a.parent_level.saturating_add(1),
            parent: ParentLink {
                name: a.parent,
                peer: a.from,
                sealer: a.sealer,
                opener: a.opener,
                go: false,
                session_ok: a.session_ok,
            },
            extra_parents: Vec::new(),
            former_parents: Vec::new(),
            children: Vec::new(),
            local_started: false,
            started_ms: now_ms,
            go_by: now_ms + go_wait,
            ok_sent_at: now_ms,
            ok_tries: 0,
            finish_by: now_ms + answer_in,
            result_packet: None,
            result_sent_at: 0,
            result_tries: 0,
            result_acked: false,
            forget_at: None,
            client_gone: false,
            swept: false,
            rto_ms,
            push: None,
        };
        (s, child_budget_ms)
    }

    /// How long the session waits here for its Go: the configured wait, bounded by the
    /// signed join window (at least 1 s).
    fn go_wait(&self, body: &SessionBody) -> u64 {
        self.cfg
            .go_wait_ms
            .min(body.expires_at.saturating_sub(body.issued_at).max(1000))
    }

    /// The first child offers: the overlay's picks, or for a push the staircase (the first
    /// ring successor takes us as its first parent at once; the next ones get the session a
    /// little later, by when the chain has usually reached them, so they take us as an extra
    /// parent).
    fn offer_first_children(
        &mut self,
        now_ms: u64,
        hash: &SessionHash,
        s: &mut Session,
        child_budget_ms: u32,
        max_fanout: Option<u32>,
    ) {
        let (body, level): (Arc<SessionBody>, u16) = (s.body.clone(), s.level);
        if s.push.is_none() {
            let picks = self.pick_children(now_ms, &body, level, &s.parent.name, max_fanout);
            for m in picks {
                if let Some(c) = self.offer(now_ms, hash, &s.signed, level, child_budget_ms, &m) {
                    s.children.push(c);
                }
            }
            return;
        }
        let max_parents = usize::from(body.overlay.max_parents.max(1));
        let mut succ = self.push_successors(now_ms, hash, &s.parent.name, max_parents);
        if succ.is_empty() {
            succ = self.pick_children(now_ms, &body, level, &s.parent.name, max_fanout);
            succ.truncate(1);
        }
        self.offer_staircase(now_ms, hash, s, child_budget_ms, succ);
    }

    /// A push's staircase over its successors `succ`: an offer to the first now, the next
    /// ones deferred by [`EXTRA_OFFER_DELAY_MS`] each.
    fn offer_staircase(
        &mut self,
        now_ms: u64,
        hash: &SessionHash,
        s: &mut Session,
        child_budget_ms: u32,
        succ: Vec<MemberId>,
    ) {
        let mut it = succ.into_iter();
        if let Some(first) = it.next() {
            let level = s.level;
            if let Some(c) = self.offer(now_ms, hash, &s.signed, level, child_budget_ms, &first) {
                s.children.push(c);
            }
        }
        let Some(p) = s.push.as_mut() else {
            return;
        };
        for (k, m) in it.enumerate() {
            p.deferred
                .push((m, now_ms + EXTRA_OFFER_DELAY_MS * (k as u64 + 1)));
        }
    }
}

/// The time to answer in and the budget the children get, from what the parent gives us.
/// The signed lifetime bounds everything the session does here (its operations get at most
/// the time left until `finish_by`), whatever timeout the body asks for.
fn session_budget(given_ms: u32, body: &SessionBody) -> (u64, u32) {
    let lifetime_ms = u32::try_from(u64::from(body.max_lifetime_s) * 1000).unwrap_or(u32::MAX);
    let budget = given_ms.min(body.timeout_ms).min(lifetime_ms).max(100);
    split_budget(budget, body.push.is_some())
}
