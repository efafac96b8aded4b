//! A session's timers: forgetting it (after its linger, or when no go came within the join
//! window), retransmitting our SessionOk until the first parent's go comes, unanswered offers
//! and the unacknowledged result, the push part's timers, then finishing at the deadline.
//!
//! Order per session: `PushDrop` when it is forgotten; else the push part's outputs, then
//! the retransmissions, then the result if it is due.

use mon_keys::hop::CLIENT_NAME;

use super::result::NO_ANSWER;
use super::{ChildState, Session};
use crate::node::{Counters, Node, Output, Peer};
use crate::wire::session::SessionHash;

/// What a session's timers decided.
pub(in crate::node) enum Tick {
    /// The session's state goes.
    Forget,
    /// Packets to send again.
    Resend(Vec<(Peer, Vec<u8>)>),
}

impl Node {
    /// Retransmissions, deadlines, forgetting.
    pub(in crate::node) fn session_timers(&mut self, now_ms: u64) {
        let hashes: Vec<SessionHash> = self.sessions.keys().copied().collect();
        for h in hashes {
            let Some(s) = self.sessions.get_mut(&h) else {
                continue;
            };
            let resend = match s.tick(now_ms, self.cfg.retries, &mut self.counters) {
                Tick::Forget => {
                    if let Some(s) = self.sessions.remove(&h) {
                        if s.push.is_some() {
                            self.out.push_back(Output::PushDrop { session: h });
                        }
                        if let (Some(_), Peer::Client(id, _)) = (&s.cmd, s.parent.peer) {
                            // An interactive session ended (lifetime or idle): its client's
                            // stream closes.
                            self.out.push_back(Output::CloseClient(id));
                        }
                    }
                    continue;
                }
                Tick::Resend(resend) => resend,
            };
            for c in s.children.iter().filter(|c| c.unanswered_at(now_ms)) {
                self.found_down.note(&c.name, now_ms);
                // Down, most likely: not picked as a child again until gossip hears of it
                // alive (the roster's sweep still offers it the sessions it enters).
                self.membership.remove(&crate::membership::MemberId {
                    name: c.name.clone(),
                    addr: c.addr,
                    key: c.key,
                });
            }
            if s.push.is_some() {
                self.push_timers(now_ms, h);
            }
            for (to, bytes) in resend {
                self.out.push_back(Output::Send { to, bytes });
            }
            let retries = self.cfg.retries;
            if let Some((s, mut cx)) = self.session_cx(&h) {
                s.resend_command(now_ms, h, retries, &mut cx);
            }
            self.try_finish(now_ms, h);
        }
    }
}

impl Session {
    /// The session's own timers at `now_ms`: whether it is forgotten, else what to send
    /// again (`retries` retransmissions per offer; for the result, `retries` one RTO apart
    /// and [`super::RESULT_LATE_RESENDS`] more, backing off, until acknowledged).
    pub(in crate::node) fn tick(
        &mut self,
        now_ms: u64,
        retries: u32,
        counters: &mut Counters,
    ) -> Tick {
        if self.forget_at.is_some_and(|f| now_ms >= f) {
            return Tick::Forget;
        }
        if self.forget_at.is_none() && !self.has_go() && now_ms >= self.go_by {
            // Its parent never proved itself: nothing ran, nothing is owed.
            tracing::debug!("a session was dropped: no go from its parent within the join window");
            counters.sessions_no_go += 1;
            return Tick::Forget;
        }
        let mut resend = Vec::new();
        if self.awaits_go() && now_ms >= self.session_ok_due() {
            // Our SessionOk or the parent's go was lost: the parent answers a SessionOk from
            // a linked child with a fresh go.
            self.ok_sent_at = now_ms;
            self.ok_tries += 1;
            resend.push((self.parent.peer, self.parent.session_ok.clone()));
        }
        if self.result_packet.is_none() {
            self.resend_offers(now_ms, retries, &mut resend);
        } else if !self.result_acked && now_ms >= self.result_due() {
            let sends = retries.saturating_add(super::RESULT_LATE_RESENDS);
            if self.result_tries < sends && self.parent.name != CLIENT_NAME {
                self.result_tries += 1;
                self.result_sent_at = now_ms;
                if let Some(b) = &self.result_packet {
                    resend.push((self.parent.peer, b.clone()));
                }
            } else {
                self.result_acked = true;
            }
        }
        Tick::Resend(resend)
    }

    /// Offers unanswered for their child's RTO go again; after `retries` the child is
    /// missing.
    fn resend_offers(&mut self, now_ms: u64, retries: u32, resend: &mut Vec<(Peer, Vec<u8>)>) {
        for c in &mut self.children {
            let rto = c.rto_ms;
            if let ChildState::Offered {
                initiator,
                packet,
                sent_at,
                tries,
                prune_sig: None,
                ..
            } = &mut c.state
            {
                if now_ms >= *sent_at + rto {
                    if *tries >= retries {
                        c.state = ChildState::Missing {
                            why: NO_ANSWER.into(),
                            initiator: initiator.take(),
                        };
                        c.given_up_at = Some(now_ms);
                    } else {
                        *tries += 1;
                        *sent_at = now_ms;
                        resend.push((Peer::Addr(c.addr), packet.clone()));
                    }
                }
            }
        }
    }
}
