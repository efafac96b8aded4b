//! Executing a session's operations and aggregating results up the first-parent tree:
//! sealed link traffic, local results, deadlines and retransmission.

use mon_keys::hop::CLIENT_NAME;

use crate::agg::{Local, Partial, Query};
use crate::roster::Roster;
use crate::wire::packet::{Inner, Packet, SubtreeResult};
use crate::wire::session::SessionHash;

use super::{sealed, ChildState};
use crate::node::{Node, Output, Peer, RunRequest};

/// How long a push node keeps serving after its result went up, ms.
const PUSH_LINGER_MS: u64 = 60_000;
/// Why a child that never answered the Session (retransmissions included) is missing.
pub(in crate::node) const NO_ANSWER: &str = "no answer (node down?)";

impl Node {
    pub(in crate::node) fn handle_sealed(
        &mut self,
        now_ms: u64,
        from: Peer,
        hash: SessionHash,
        sender: &str,
        channel: u8,
        frame: &[u8],
    ) {
        if channel == crate::push::msg::PUSH_CHANNEL {
            self.handle_push_frame(now_ms, hash, sender, frame);
            return;
        }
        if channel != 0 {
            self.counters.frames_rejected += 1;
            return;
        }
        let Some(s) = self.sessions.get_mut(&hash) else {
            return;
        };
        let inner = if s.parent.name == sender && s.parent.peer == from {
            s.parent.opener.open(frame).ok().map(|b| (true, b))
        } else if sender == CLIENT_NAME
            && s.parent.name == CLIENT_NAME
            && matches!((s.parent.peer, from), (Peer::Addr(_), Peer::Client(..)))
        {
            // A client that sent its Session in a datagram continues on its TCP stream; a
            // frame sealed with the first hop's key proves the stream is the client's, and
            // the result goes there.
            let opened = s.parent.opener.open(frame).ok();
            if opened.is_some() {
                s.parent.peer = from;
            }
            opened.map(|b| (true, b))
        } else if let Some(c) = s.children.iter_mut().find(|c| c.name == sender) {
            match &mut c.state {
                ChildState::Linked { opener, .. } => opener.open(frame).ok().map(|b| (false, b)),
                _ => None,
            }
        } else if let Some(p) = s.extra_parents.iter_mut().find(|p| p.name == sender) {
            // Extra DAG parents only serve blocks; their frames just prove key possession
            // (enough to take over from a first parent lost before its go).
            if p.opener.open(frame).is_ok() {
                self.authenticated = true;
                p.go = true;
                if s.push.is_some() {
                    self.push_idle_takeover(now_ms, hash);
                }
            }
            return;
        } else {
            None
        };
        let Some((from_parent, plain)) = inner else {
            self.counters.frames_rejected += 1;
            return;
        };
        self.authenticated = true;
        let Ok(inner) = Inner::from_bytes(&plain) else {
            self.counters.frames_rejected += 1;
            return;
        };
        match (from_parent, inner) {
            (true, Inner::Go) => self.on_go(now_ms, hash),
            (true, Inner::ResultAck) => {
                if let Some(s) = self.sessions.get_mut(&hash) {
                    s.result_acked = true;
                }
            }
            (true, Inner::Cancel) => {
                if let Some(s) = self.sessions.get_mut(&hash) {
                    s.finish_by = now_ms;
                }
                self.try_finish(now_ms, hash);
            }
            (false, Inner::Result(r)) => self.on_child_result(now_ms, hash, sender, r),
            (_, Inner::Command(_)) => {
                // Follow-up Commands are not supported yet (the interactive-session issue
                // will check them against the session's `cmd_key`): refused as junk, nothing
                // runs and no audit record per frame.
                tracing::debug!(
                    code = crate::wire::command::COMMAND_UNSUPPORTED,
                    "follow-up Command refused: not supported yet"
                );
                self.counters.commands_refused += 1;
                self.counters.junk += 1;
                self.junk.note(from.ip(), now_ms);
                self.drain_junk(now_ms);
            }
            _ => self.counters.frames_rejected += 1,
        }
    }

    pub(in crate::node) fn on_go(&mut self, now_ms: u64, hash: SessionHash) {
        let Some(s) = self.sessions.get_mut(&hash) else {
            return;
        };
        if s.parent.go {
            return;
        }
        s.parent.go = true;
        if s.local_started {
            return;
        }
        s.local_started = true;
        if s.push.is_some() {
            // A push session's one operation (count) is this node's landing of the file.
            self.push_start(now_ms, hash);
            return;
        }
        let ops: Vec<Query> = s.body.ops.clone();
        let targeted = s.targeted;
        let run_as = s.run_as.clone();
        let grep_paths = s.grep_paths.clone();
        let parent = s.parent.name.clone();
        let timeout_ms = s.finish_by.saturating_sub(now_ms);
        let name = self.cfg.name.clone();
        for (i, q) in ops.iter().enumerate() {
            let local = if !targeted {
                Some(Partial::empty(q))
            } else {
                match q {
                    Query::Count | Query::Depth => {
                        Some(Partial::from_local(q, &name, Local::Present))
                    }
                    Query::Topology => {
                        let parent = (parent != CLIENT_NAME).then(|| parent.clone());
                        Some(Partial::from_local(q, &name, Local::Topology { parent }))
                    }
                    _ => None,
                }
            };
            match local {
                Some(p) => {
                    if let Some(s) = self.sessions.get_mut(&hash) {
                        s.local[i] = Some(p);
                    }
                }
                None => {
                    if matches!(q, Query::Exec { .. } | Query::Grep { .. }) {
                        let ev = self.op_event(&hash, q);
                        self.audit(ev);
                    }
                    self.out.push_back(Output::Run(RunRequest {
                        session: hash,
                        index: i,
                        query: q.clone(),
                        run_as: run_as.clone(),
                        grep_paths: grep_paths.clone(),
                        timeout_ms,
                    }));
                }
            }
        }
        self.try_finish(now_ms, hash);
    }

    pub(in crate::node) fn on_local(
        &mut self,
        now_ms: u64,
        hash: SessionHash,
        index: usize,
        local: Local,
    ) {
        let name = self.cfg.name.clone();
        let Some(s) = self.sessions.get_mut(&hash) else {
            return;
        };
        let Some(q) = s.body.ops.get(index).cloned() else {
            return;
        };
        if s.local.get(index).is_none_or(Option::is_some) {
            return;
        }
        if matches!(q, Query::Exec { .. } | Query::Grep { .. }) {
            let ev = self.op_end_event(&hash, &q, &local, now_ms);
            self.audit(ev);
        }
        if let Some(s) = self.sessions.get_mut(&hash) {
            s.local[index] = Some(Partial::from_local(&q, &name, local));
        }
        self.try_finish(now_ms, hash);
    }

    fn on_child_result(&mut self, now_ms: u64, hash: SessionHash, child: &str, r: SubtreeResult) {
        let me = self.cfg.name.clone();
        let Some(s) = self.sessions.get_mut(&hash) else {
            return;
        };
        let nops = s.body.ops.len();
        let Some(c) = s.children.iter_mut().find(|c| c.name == child) else {
            return;
        };
        if let ChildState::Linked { sealer, result, .. } = &mut c.state {
            if let Some(p) = sealed(hash, &me, sealer, &Inner::ResultAck) {
                let to = Peer::Addr(c.addr);
                if result.is_none() {
                    if r.partials.len() == nops {
                        *result = Some(r);
                    } else {
                        c.state = ChildState::Missing {
                            why: "malformed result".into(),
                        };
                    }
                }
                self.send(to, &p);
            }
        }
        self.try_finish(now_ms, hash);
    }

    /// Sends the subtree result once everything arrived (or `force` at the deadline).
    pub(in crate::node) fn try_finish(&mut self, now_ms: u64, hash: SessionHash) {
        let Some(s) = self.sessions.get(&hash) else {
            return;
        };
        if s.result_packet.is_some() {
            return;
        }
        let force = now_ms >= s.finish_by;
        if !(s.complete() || force) {
            return;
        }
        if !force && s.push.as_ref().is_some_and(|p| p.holds(now_ms)) {
            return;
        }
        if self.check_prunes(hash) && !force {
            return;
        }
        let Some(s) = self.sessions.get(&hash) else {
            return;
        };
        if !s.parent.go {
            // Never got a frame from our parent: nothing may run, nothing is sent.
            if force {
                if let Some(s) = self.sessions.get_mut(&hash) {
                    s.forget_at = Some(now_ms);
                }
            }
            return;
        }
        if !force && self.sweep(now_ms, hash) {
            return;
        }
        let Some(s) = self.sessions.get_mut(&hash) else {
            return;
        };
        let ops = s.body.ops.clone();
        let mut partials: Vec<Partial> = Vec::with_capacity(ops.len());
        for (i, q) in ops.iter().enumerate() {
            let mine = s.local[i].clone().unwrap_or_else(|| {
                let mut p = Partial::empty(q);
                p.add_failed(
                    &self.cfg.name,
                    "local evaluation did not finish before the deadline",
                );
                p
            });
            let mut kids = Partial::empty(q);
            for c in &s.children {
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
                    ChildState::Missing { why } => kids.add_missing(&c.name, why),
                    ChildState::Denied { code, text } => {
                        kids.add_denied(&c.name, &format!("{code}: {text}"))
                    }
                    ChildState::Pruned | ChildState::Extra { .. } => {}
                }
            }
            kids.add_depth_level();
            let mut total = mine;
            if total.merge(kids).is_err() {
                total = Partial::empty(q);
            }
            partials.push(total);
        }
        let relayed = u64::from(!s.targeted)
            + s.children
                .iter()
                .filter_map(|c| match &c.state {
                    ChildState::Linked {
                        result: Some(r), ..
                    } => Some(r.relayed),
                    _ => None,
                })
                .sum::<u64>();
        // Roster bitmap: this node plus every child subtree built on the same roster.
        let digest = self.roster.digest();
        let mut reached = self.roster.empty_bitmap();
        self.roster.mark(&mut reached, &self.cfg.name);
        let mut roster_ok = true;
        for c in &s.children {
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
        // Children that never answered are missing for good now.
        for c in &mut s.children {
            if matches!(
                c.state,
                ChildState::Offered { .. } | ChildState::Linked { result: None, .. }
            ) {
                c.state = ChildState::Missing {
                    why: "deadline".into(),
                };
            }
        }
        let members = if s.parent.name == CLIENT_NAME && s.body.overlay.max_depth == 1 {
            let mut v = self.membership.view(now_ms);
            v.sort_by(|a, b| a.name.cmp(&b.name));
            v
        } else {
            Vec::new()
        };
        let Some(s) = self.sessions.get_mut(&hash) else {
            return;
        };
        let result = Inner::Result(SubtreeResult {
            members,
            relayed,
            partials,
            roster: roster_ok.then_some(digest.into()),
            reached: if roster_ok { reached } else { Vec::new() },
        });
        match s.parent.sealer.seal(&result.to_bytes()) {
            Ok(frame) => {
                let p = Packet::Sealed {
                    session_hash: hash.into(),
                    from: self.cfg.name.clone(),
                    channel: 0,
                    frame,
                };
                let bytes = p.to_bytes();
                s.result_packet = Some(bytes.clone());
                s.result_sent_at = now_ms;
                // A push node keeps serving its (extra) children for a while.
                let linger = if s.push.is_some() {
                    self.cfg.linger_ms.max(PUSH_LINGER_MS)
                } else {
                    self.cfg.linger_ms
                };
                s.forget_at = Some(now_ms + linger);
                let to = s.parent.peer;
                self.out.push_back(Output::Send { to, bytes });
                if let Peer::Client(id, _) = to {
                    self.out.push_back(Output::CloseClient(id));
                }
            }
            Err(_) => s.forget_at = Some(now_ms),
        }
    }

    /// Retransmissions, deadlines, forgetting.
    pub(in crate::node) fn session_timers(&mut self, now_ms: u64) {
        let hashes: Vec<SessionHash> = self.sessions.keys().copied().collect();
        for h in hashes {
            let mut resend: Vec<(Peer, Vec<u8>)> = Vec::new();
            let mut forget = false;
            if let Some(s) = self.sessions.get_mut(&h) {
                if s.forget_at.is_some_and(|f| now_ms >= f) {
                    forget = true;
                } else if s.forget_at.is_none() && !s.has_go() && now_ms >= s.go_by {
                    // Its parent never proved itself: nothing ran, nothing is owed.
                    tracing::debug!(
                        "a session was dropped: no go from its parent within the join window"
                    );
                    self.counters.sessions_no_go += 1;
                    forget = true;
                } else if s.result_packet.is_none() {
                    let rto = s.rto_ms;
                    for c in &mut s.children {
                        if let ChildState::Offered {
                            packet,
                            sent_at,
                            tries,
                            prune_sig: None,
                            ..
                        } = &mut c.state
                        {
                            if now_ms >= *sent_at + rto {
                                if *tries >= self.cfg.retries {
                                    c.state = ChildState::Missing {
                                        why: NO_ANSWER.into(),
                                    };
                                } else {
                                    *tries += 1;
                                    *sent_at = now_ms;
                                    resend.push((Peer::Addr(c.addr), packet.clone()));
                                }
                            }
                        }
                    }
                } else if !s.result_acked && now_ms >= s.result_sent_at + s.rto_ms {
                    if s.result_tries < self.cfg.retries && s.parent.name != CLIENT_NAME {
                        s.result_tries += 1;
                        s.result_sent_at = now_ms;
                        if let Some(b) = &s.result_packet {
                            resend.push((s.parent.peer, b.clone()));
                        }
                    } else {
                        s.result_acked = true;
                    }
                }
            }
            if forget {
                if let Some(s) = self.sessions.remove(&h) {
                    if s.push.is_some() {
                        self.out.push_back(Output::PushDrop { session: h });
                    }
                }
                continue;
            }
            if self.sessions.get(&h).is_some_and(|s| s.push.is_some()) {
                self.push_timers(now_ms, h);
            }
            for (to, bytes) in resend {
                self.out.push_back(Output::Send { to, bytes });
            }
            self.try_finish(now_ms, h);
        }
    }
}

impl Node {
    /// At the entry node, once the overlay has answered: offers the session directly to
    /// every roster node the overlay did not reach (random choices and young ring tables
    /// can miss a few), so live nodes are covered and dead ones are named with a precise
    /// reason. Returns true when it sent offers (the result waits for them).
    fn sweep(&mut self, now_ms: u64, hash: SessionHash) -> bool {
        let Some(s) = self.sessions.get(&hash) else {
            return false;
        };
        if s.swept || s.parent.name != CLIENT_NAME || s.body.overlay.max_depth == 1 {
            return false;
        }
        // Leave room for a retry round before the deadline.
        if now_ms + 2 * s.rto_ms >= s.finish_by {
            return false;
        }
        let digest = self.roster.digest();
        let mut reached = self.roster.empty_bitmap();
        self.roster.mark(&mut reached, &self.cfg.name);
        let mut offered: Vec<&str> = Vec::new();
        let mut down: Vec<String> = Vec::new();
        for c in &s.children {
            offered.push(&c.name);
            if let ChildState::Linked {
                result: Some(r), ..
            } = &c.state
            {
                if r.roster.as_deref() == Some(&digest) {
                    Roster::merge(&mut reached, &r.reached);
                }
                // A node some parent already offered the session to, retransmissions
                // included, without an answer, is down: offering it again would only hold
                // the whole result back by another round of retransmissions.
                for p in &r.partials {
                    for n in p.coverage().missing.entries() {
                        if n.reason == NO_ANSWER {
                            down.push(n.node.clone());
                        }
                    }
                }
            }
        }
        let me = self.cfg.name.clone();
        let unreached: Vec<String> = self
            .roster
            .unreached(&reached, |n| {
                n != me && !offered.contains(&n) && !down.iter().any(|d| d == n)
            })
            .into_iter()
            .map(str::to_string)
            .collect();
        let signed = s.signed.clone();
        let level = s.level;
        let budget = u32::try_from(s.finish_by.saturating_sub(now_ms)).unwrap_or(u32::MAX);
        if let Some(s) = self.sessions.get_mut(&hash) {
            s.swept = true;
        }
        if unreached.is_empty() {
            return false;
        }
        let view = self.membership.view(now_ms);
        let mut kids = Vec::new();
        for name in unreached {
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
        let sent = !kids.is_empty();
        if let Some(s) = self.sessions.get_mut(&hash) {
            s.children.extend(kids);
        }
        sent
    }
}
