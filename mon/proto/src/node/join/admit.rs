//! Admission: one Session packet in, one [`Admission`] out. The steps run in the order of
//! the security brief's checks, cheapest and least trusting first, and each may end it:
//!
//! 1. screening: a client's datagram on a node stream or seen before, a node that cannot
//!    make its records durable, a session already running (a duplicate), one that ran before
//!    (a Prune);
//! 2. strict decoding of the body and parent authentication (the first-hop key, or the
//!    parent node's hop signature from an address its known_nodes line lists);
//! 3. the session checks ([`verify_session`]: policy, signature, freshness, targeting,
//!    run-as);
//! 4. the shares: the session table's (per node, key, slice) and the key's audit budget;
//! 5. the replay cache, journaled before acting; then the hop handshake.
//!
//! The junk-versus-audited decision is made here and nowhere else: a refusal is audited only
//! when the session's signature verified with a key the slice lists, it was not refused
//! lately, and its key has audited refusals left this minute ([`Record`]). A client's
//! datagram is never answered or audited before it checks out (its source is not proven):
//! every refusal on that path is junk with no answer, and the client, hearing nothing, sends
//! the Session over its stream, where refusals are explained.
//!
//! Side effects kept in order: the parent's proof authenticates the stream, the table's share
//! check may drop a lingering session, the audit budget and the replay cache are charged, and
//! the replay journal line comes out before anything the session does.

use std::net::IpAddr;

use mon_keys::hop::CLIENT_NAME;
use mon_policy::SlicePolicy;

use super::super::audit_ev::EvExt;
use super::super::{Node, Output, Peer};
use super::link::{Handshake, Link};
use super::outcome::{Admission, Admitted, Ignore, Incoming, Record};
use crate::audit::{AuditEvent, EventKind};
use crate::refusal::Refusal;
use crate::replay::{ReplayError, Seen};
use crate::verify::{verify_session, Context, Denied, Verified};
use crate::wire::session::SessionBody;

/// What the steps after screening establish.
struct Granted {
    verified: Verified,
    client_addr: Option<IpAddr>,
    link: Link,
}

impl Node {
    /// Decides what becomes of one Session (see the module docs).
    pub(super) fn admit(&mut self, now_ms: u64, inc: Incoming) -> Admission {
        if let Err(early) = self.screen(&inc) {
            return early;
        }
        if self.sessions.contains_key(&inc.hash) {
            return Admission::Duplicate(Box::new(inc));
        }
        let g = match self.grant(now_ms, &inc) {
            Ok(g) => g,
            Err(a) => return a,
        };
        Admission::Admitted(Box::new(Admitted {
            verified: g.verified,
            signed: inc.session,
            parent: inc.parent,
            from: inc.from,
            client_addr: g.client_addr,
            sealer: g.link.sealer,
            opener: g.link.opener,
            push_keys: g.link.push_keys,
            session_ok: g.link.session_ok,
            parent_level: inc.level,
            budget_ms: inc.budget_ms,
        }))
    }

    /// Steps 2–5 for a session not running here.
    fn grant(&mut self, now_ms: u64, inc: &Incoming) -> Result<Granted, Admission> {
        self.not_run_before(inc)?;
        let body = self.decode_body(inc)?;
        let client_addr = self.authenticate_parent(inc, &body)?;
        // Fail closed: no session runs whose records cannot be made durable (a parent node
        // hears it once it has proved its key).
        self.storage_up(inc)?;
        let policy = self.policies.get(&body.slice).cloned();
        let verified = self.check_session(now_ms, inc, client_addr, policy.as_deref())?;
        self.charge_shares(now_ms, inc, &verified, policy.as_deref())?;
        self.record_replay(now_ms, inc, &body, &verified)?;
        let link = self.handshake(inc, &body, &verified)?;
        Ok(Granted {
            verified,
            client_addr,
            link,
        })
    }

    /// Step 1: what is settled before the body is looked at.
    fn screen(&mut self, inc: &Incoming) -> Result<(), Admission> {
        // A client may send its Session in a datagram while its TCP connection opens (one
        // round trip saved). A node's stream never carries a client's Session, and its
        // claimed address is not proven: nothing is answered there.
        if inc.udp_client && inc.node_stream {
            return Err(inc.junk());
        }
        if inc.udp_client
            && !self.sessions.contains_key(&inc.hash)
            && self.replay.contains(&inc.hash)
        {
            return Err(inc.junk());
        }
        // Fail closed (issue 10, part 4): a node that cannot make its records durable tells
        // a client on its stream at once (before the replay cache: a datagram of the same
        // session may have been taken and dropped when the failure was found).
        if self.storage_down.is_some() && inc.parent == CLIENT_NAME {
            if inc.udp_client {
                return Err(inc.junk());
            }
            return self.storage_up(inc);
        }
        Ok(())
    }

    /// A session that ran here before and whose state is gone is never re-run. The Prune
    /// goes back on a client's own stream, or to a node that proves its key; anyone else (a
    /// replay from an unproven address) gets nothing.
    fn not_run_before(&self, inc: &Incoming) -> Result<(), Admission> {
        if !self.replay.contains(&inc.hash) {
            return Ok(());
        }
        let client_stream = inc.parent == CLIENT_NAME && matches!(inc.from, Peer::Client(..));
        if client_stream || self.proves_key(inc) {
            return Err(Admission::Prune {
                to: inc.from,
                hash: inc.hash,
                answered: inc.answered,
            });
        }
        Err(inc.junk())
    }

    /// Strict decoding of the body (needed to authenticate the first hop). A refusal is
    /// answered on a client's own stream, or to a parent that proves its key.
    fn decode_body(&self, inc: &Incoming) -> Result<SessionBody, Admission> {
        let e = match SessionBody::from_bytes(&inc.session.body) {
            Ok(b) => return Ok(b),
            Err(e) => e,
        };
        if inc.udp_client {
            return Err(inc.junk());
        }
        let answer = match inc.from {
            Peer::Client(..) => inc.parent == CLIENT_NAME,
            // A node's Deny goes only to a parent that proves its key.
            Peer::Addr(_) if !self.proves_key(inc) => return Err(inc.junk()),
            Peer::Addr(_) => true,
        };
        Err(inc.refused_junk(Refusal::from(&e), e.to_string(), answer))
    }

    /// Parent authentication: the client's address at the entry node (None after a node).
    fn authenticate_parent(
        &mut self,
        inc: &Incoming,
        body: &SessionBody,
    ) -> Result<Option<IpAddr>, Admission> {
        match (inc.parent.as_str(), inc.from) {
            (CLIENT_NAME, from) => client_parent(inc, from, body),
            (_, Peer::Addr(_)) => self.node_parent(inc),
            _ => Err(Admission::Ignored {
                from: inc.from,
                why: Ignore::Stray,
            }),
        }
    }

    /// A node parent must prove its key. An unauthenticated sender is not answered, nor may
    /// it write one audit record per datagram: it is counted and summarised per source.
    fn node_parent(&mut self, inc: &Incoming) -> Result<Option<IpAddr>, Admission> {
        if !self.proves_key(inc) {
            return Err(Admission::Ignored {
                from: inc.from,
                why: Ignore::UnprovenParent,
            });
        }
        self.authenticated = true;
        Ok(None)
    }

    /// Refused while this node cannot make its records durable.
    fn storage_up(&self, inc: &Incoming) -> Result<(), Admission> {
        let Some(why) = &self.storage_down else {
            return Ok(());
        };
        let text = format!(
            "{} cannot write its audit log or replay journal ({why}); it refuses sessions until \
             its operator frees space or repairs the disk",
            self.cfg.name
        );
        Err(inc.refused(Refusal::StorageUnavailable, text, Record::Unwritable))
    }

    /// Steps 3–8: the session checks. A refusal is audited only if the signature verified,
    /// the same session was not refused lately (a captured one replayed), and the key has
    /// audited refusals left this minute; else it is junk, still explained to the client on
    /// its stream or to the parent.
    fn check_session(
        &mut self,
        now_ms: u64,
        inc: &Incoming,
        client_addr: Option<IpAddr>,
        policy: Option<&SlicePolicy>,
    ) -> Result<Verified, Admission> {
        let ctx = Context {
            now_ms,
            node: &self.cfg.name,
            client_addr,
            policy,
            limits: &self.cfg.limits,
        };
        let d = match verify_session(&ctx, &inc.session) {
            Ok(v) => return Ok(v),
            Err(d) => d,
        };
        if inc.udp_client {
            return Err(inc.junk());
        }
        if !d.verified
            || !self.denied_recent.insert(inc.hash)
            || !self.refusal_audited(now_ms, d.key_fp.as_deref())
        {
            return Err(inc.refused_junk(d.refusal, d.text, true));
        }
        Err(self.verified_refusal(inc, *d, client_addr))
    }

    /// The refusal of a session whose signature verified: its `session.deny` record (and a
    /// push's `push.deny`), with the principal, the deciding line and the client or parent.
    fn verified_refusal(
        &self,
        inc: &Incoming,
        d: Denied,
        client_addr: Option<IpAddr>,
    ) -> Admission {
        let mut events = vec![self.session_deny_event(inc, &d, client_addr)];
        if let Some(b) = d.body.as_ref().filter(|b| b.push.is_some()) {
            let ev = self
                .session_event(
                    EventKind::PushDeny,
                    crate::audit::Outcome::Deny,
                    &d.hash,
                    Some(b),
                    &inc.session,
                )
                .reason(d.refusal.code(), &d.text);
            events.push(ev);
        }
        Admission::Refused(Box::new(super::outcome::Refused {
            to: inc.from,
            hash: d.hash,
            refusal: d.refusal,
            text: d.text,
            record: Record::Audited(events),
        }))
    }

    /// The `session.deny` record of a verified refusal: the code and text, the principal,
    /// the deciding policy line, and the client's address (at the entry) or the parent.
    fn session_deny_event(
        &self,
        inc: &Incoming,
        d: &Denied,
        client_addr: Option<IpAddr>,
    ) -> AuditEvent {
        let ev = self
            .session_event(
                EventKind::SessionDeny,
                crate::audit::Outcome::Deny,
                &d.hash,
                d.body.as_ref(),
                &inc.session,
            )
            .reason(d.refusal.code(), &d.text)
            .principal_opt(d.principal.as_deref())
            .policy(d.policy_file.as_deref(), d.policy_line);
        match client_addr {
            Some(ip) => ev.client_addr(ip.to_string()),
            None => ev.peer(inc.parent.as_str()),
        }
    }

    /// The shares, charged only now that the signature has verified: the session table's
    /// (a full table or share costs nothing durable: one record per refused packet would let
    /// a flood fill the disk; the sender hears the code, exit 4), then the key's audit budget
    /// (the record of an accepted session carries its signed bytes).
    fn charge_shares(
        &mut self,
        now_ms: u64,
        inc: &Incoming,
        v: &Verified,
        policy: Option<&SlicePolicy>,
    ) -> Result<(), Admission> {
        let full = self.table_refusal(&v.key_fp, &v.body.slice, v.body.interactive);
        // `from=` trusts the client's address: such sessions come over TCP only.
        let from_restricted = || {
            policy.is_some_and(|p| {
                p.restricts_client_address(v.principal.as_deref().unwrap_or_default())
            })
        };
        if inc.udp_client && (full.is_some() || from_restricted()) {
            return Err(inc.junk());
        }
        if let Some((refusal, text)) = full {
            return Err(inc.refused_junk(refusal, text, true));
        }
        let audited = inc.session.body.len() + inc.session.sshsig.len();
        if !self.accept_audited(now_ms, &v.key_fp, audited) {
            let text = format!(
                "this node audited {} MiB of key {}'s sessions in the last minute, the share of one key (a capacity limit, not the policy: retry in a minute)",
                super::super::AUDITED_SESSION_BYTES_PER_KEY >> 20,
                v.key_fp
            );
            return Err(inc.refused_junk(Refusal::BusyKey, text, true));
        }
        Ok(())
    }

    /// Step 9: the replay cache, journaled before acting. Only a session admitted (its
    /// shares charged, its id new) authenticates its stream: one refused for a limit, or
    /// seen before, proves nothing worth a stream slot beyond its address's share.
    fn record_replay(
        &mut self,
        now_ms: u64,
        inc: &Incoming,
        body: &SessionBody,
        v: &Verified,
    ) -> Result<(), Admission> {
        let b = &v.body;
        let seen = self.replay.check_and_insert(
            now_ms,
            &inc.hash,
            &b.session_id,
            &v.key_fp,
            &b.slice,
            b.issued_at,
            b.expires_at,
        );
        self.judge_replay(inc, body, seen)?;
        let lines = self.replay.drain_journal();
        self.out.push_back(Output::Journal(lines));
        Ok(())
    }

    /// The replay cache's verdict: a new session authenticates its stream; one seen
    /// before is answered with a Prune; a cache refusal is audited (`replay.reject`). From
    /// a datagram client, both of the latter are junk.
    fn judge_replay(
        &mut self,
        inc: &Incoming,
        body: &SessionBody,
        seen: Result<Seen, ReplayError>,
    ) -> Result<(), Admission> {
        match seen {
            Ok(Seen::New) => self.authenticated = true,
            Ok(Seen::Again) if inc.udp_client => return Err(inc.junk()),
            Ok(Seen::Again) => {
                return Err(Admission::Prune {
                    to: inc.from,
                    hash: inc.hash,
                    answered: inc.answered,
                })
            }
            Err(_) if inc.udp_client => return Err(inc.junk()),
            Err(e) => {
                let (refusal, text) = (e.refusal(), e.to_string());
                let ev = self.refusal_event(EventKind::ReplayReject, inc, body, refusal, &text);
                return Err(inc.refused(refusal, text, Record::Audited(vec![ev])));
            }
        }
        Ok(())
    }

    /// Step 11: the hop handshake (child side), our SessionOk and the link's channels.
    fn handshake(
        &mut self,
        inc: &Incoming,
        body: &SessionBody,
        v: &Verified,
    ) -> Result<Link, Admission> {
        match self.link_to_parent(inc, false, v.body.push.is_some()) {
            Handshake::Linked(link) => Ok(*link),
            Handshake::Failed(_) if inc.udp_client => Err(inc.junk()),
            Handshake::Failed(e) => {
                let (r, text) = (Refusal::Handshake, e.to_string());
                let ev = self.refusal_event(EventKind::SessionDeny, inc, body, r, &text);
                Err(inc.refused(r, text, Record::Audited(vec![ev])))
            }
            Handshake::NoChannel => Err(Admission::Dropped),
        }
    }
}

/// The client as parent: it must hold the session's client key; over a datagram (no
/// stream) never for a push, whose blocks the client serves on its stream.
fn client_parent(
    inc: &Incoming,
    from: Peer,
    body: &SessionBody,
) -> Result<Option<IpAddr>, Admission> {
    match from {
        Peer::Client(_, ip) => {
            if inc.e_p != *body.client_eph {
                let text = "first-hop key differs from the session's client_eph";
                return Err(inc.refused_junk(Refusal::ParentAuth, text.into(), true));
            }
            Ok(Some(ip))
        }
        Peer::Addr(addr) => {
            // Push sessions need the client's stream (it serves the file's blocks).
            if inc.e_p != *body.client_eph || body.push.is_some() {
                return Err(inc.junk());
            }
            Ok(Some(addr.ip()))
        }
    }
}
