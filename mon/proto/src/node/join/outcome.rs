//! What admission decides about one Session ([`Admission`]), and carrying it out: an admitted
//! session is audited, answered with its SessionOk and started; a refusal is recorded the way
//! `admit` chose ([`Record`]: junk or audited) and answered with a signed Deny; a packet
//! ignored is only counted.
//!
//! Order: audit records come out before the answer they explain (the driver makes them
//! durable before it sends anything later).

use std::net::IpAddr;

use mon_keys::frame::{Opener, Sealer};
use mon_keys::hop::CLIENT_NAME;

use super::super::audit_ev::EvExt;
use super::super::{Node, Output, Peer};
use super::sha256;
use crate::audit::{AuditEvent, EventKind, Outcome};
use crate::refusal::Refusal;
use crate::verify::Verified;
use crate::wire::packet::Packet;
use crate::wire::session::{SessionHash, SignedSession};

/// A Session packet as it arrived.
#[derive(Debug)]
pub(super) struct Incoming {
    /// Where it came from.
    pub from: Peer,
    /// It came over a stream opened with the node preamble.
    pub node_stream: bool,
    /// The user-signed session.
    pub session: SignedSession,
    /// The parent's name (`@client` on the first hop).
    pub parent: String,
    /// The parent's ephemeral key.
    pub e_p: [u8; 32],
    /// The parent's hop signature (absent on the first hop).
    pub parent_sig: Option<[u8; 64]>,
    /// The parent's level.
    pub level: u16,
    /// What the parent gives us to answer.
    pub budget_ms: u32,
    /// The session's hash.
    pub hash: SessionHash,
    /// SHA-256 of the packet's bytes (a Prune names it).
    pub answered: [u8; 32],
    /// A client's Session in a datagram (see [`Node::admit`]).
    pub udp_client: bool,
}

impl Incoming {
    /// The Session in `packet` (None for any other packet).
    pub fn new(from: Peer, packet: Packet, raw: &[u8], node_stream: bool) -> Option<Incoming> {
        let Packet::Session {
            session,
            parent,
            e_p,
            parent_sig,
            level,
            budget_ms,
        } = packet
        else {
            return None;
        };
        Some(Incoming {
            from,
            node_stream,
            hash: session.hash(),
            answered: sha256(raw),
            udp_client: parent == CLIENT_NAME && matches!(from, Peer::Addr(_)),
            session,
            parent,
            e_p: *e_p,
            parent_sig: parent_sig.map(|s| *s),
            level,
            budget_ms,
        })
    }

    /// Ignored as junk: no answer, counted and summarised per source.
    pub fn junk(&self) -> Admission {
        Admission::Ignored {
            from: self.from,
            why: Ignore::Junk,
        }
    }

    /// Refused with `refusal`, recorded as `record`.
    pub fn refused(&self, refusal: Refusal, text: String, record: Record) -> Admission {
        Admission::Refused(Box::new(Refused {
            to: self.from,
            hash: self.hash,
            refusal,
            text,
            record,
        }))
    }

    /// Refused as junk (`answer`: the sender hears the code).
    pub fn refused_junk(&self, refusal: Refusal, text: String, answer: bool) -> Admission {
        self.refused(refusal, text, Record::Junk { answer })
    }
}

/// What [`Node::admit`] decided about one Session.
pub(super) enum Admission {
    /// It runs: everything `start_session` needs.
    Admitted(Box<Admitted>),
    /// The session runs here already: a retransmission or another parent's offer.
    Duplicate(Box<Incoming>),
    /// It ran here before: answered with a Prune.
    Prune {
        /// The sender.
        to: Peer,
        /// The session.
        hash: SessionHash,
        /// Hash of the packet answered.
        answered: [u8; 32],
    },
    /// Not answered; only counted.
    Ignored {
        /// The sender.
        from: Peer,
        /// How it is counted.
        why: Ignore,
    },
    /// Refused with a code.
    Refused(Box<Refused>),
    /// Nothing to do (its link keys could not be derived).
    Dropped,
}

/// How a Session that gets no answer is counted.
#[derive(Debug, Clone, Copy)]
pub(super) enum Ignore {
    /// From a sender that authenticated as nothing this node answers: counted as junk and
    /// summarised per source.
    Junk,
    /// From a node that does not prove its key: counted as refused and summarised per source.
    UnprovenParent,
    /// A Session on a path none takes (a node's name on a client's stream): counted as junk.
    Stray,
}

/// A Session refused with a code.
pub(super) struct Refused {
    /// Whom the Deny goes to.
    pub to: Peer,
    /// The session.
    pub hash: SessionHash,
    /// Why.
    pub refusal: Refusal,
    /// The human text.
    pub text: String,
    /// How it is recorded.
    pub record: Record,
}

/// How a refusal is recorded: decided once, in [`Node::admit`].
pub(super) enum Record {
    /// Junk (issue 10, part 4): refused before the signature verified, for a share of the
    /// session table, beyond its key's audited refusals this minute, or refused already;
    /// counted and summarised per source at most once a minute, never one audit record per
    /// packet. The sender hears why only where that costs nothing durable (`answer`: a
    /// client on its own stream, a parent that proved its node key).
    Junk {
        /// Whether the Deny is sent.
        answer: bool,
    },
    /// Counted and answered, nothing written: the node cannot make records durable.
    Unwritable,
    /// The key holder's own refusal: these records, then the Deny.
    Audited(Vec<AuditEvent>),
}

/// A session admitted: everything `start_session` needs.
pub(super) struct Admitted {
    /// The checks' result.
    pub verified: Verified,
    /// The signed session.
    pub signed: SignedSession,
    /// The parent's name.
    pub parent: String,
    /// The parent's address.
    pub from: Peer,
    /// The client's address, at the entry node.
    pub client_addr: Option<IpAddr>,
    /// The link's channel 0.
    pub sealer: Sealer,
    /// The link's channel 0.
    pub opener: Opener,
    /// The push channel, for a push.
    pub push_keys: Option<(Sealer, Opener)>,
    /// Our SessionOk, kept to answer a retransmission.
    pub session_ok: Vec<u8>,
    /// The parent's level.
    pub parent_level: u16,
    /// What the parent gives us to answer.
    pub budget_ms: u32,
}

impl Node {
    /// An admitted session: audited, answered with its SessionOk, started.
    pub(super) fn accept(&mut self, now_ms: u64, mut a: Admitted) {
        self.counters.sessions_accepted += 1;
        let hash = a.verified.hash;
        let ev = self.accept_event(&a);
        self.audit(ev);
        self.out.push_back(Output::Send {
            to: a.from,
            bytes: a.session_ok.clone(),
        });
        let (from, push_keys) = (a.from, a.push_keys.take());
        self.start_session(now_ms, a);
        if let Some(k) = push_keys {
            let name = self
                .sessions
                .get(&hash)
                .map(|s| s.parent.name.clone())
                .unwrap_or_default();
            self.push_add_parent(now_ms, hash, &name, from, k);
        }
    }

    /// The `session.accept` record: the principal, the deciding policy line, and the
    /// client's address (at the entry) or the parent's.
    fn accept_event(&self, a: &Admitted) -> AuditEvent {
        let v = &a.verified;
        let ev = self
            .session_event(
                EventKind::SessionAccept,
                Outcome::Allow,
                &v.hash,
                Some(&v.body),
                &a.signed,
            )
            .principal_opt(v.principal.as_deref())
            .policy(v.policy_file.as_deref(), v.policy_line);
        match (a.client_addr, a.from) {
            (Some(ip), _) => ev.client_addr(ip.to_string()),
            (None, Peer::Addr(addr)) => ev.peer(addr.to_string()),
            (None, Peer::Client(..)) => ev,
        }
    }

    /// A refused session: recorded as `admit` chose, then answered (unless junk that costs
    /// an answer).
    pub(super) fn refuse(&mut self, now_ms: u64, r: Refused) {
        self.counters.sessions_denied += 1;
        match r.record {
            Record::Junk { answer } => {
                self.counters.junk += 1;
                self.junk.note(r.to.ip(), now_ms);
                if !answer {
                    return;
                }
            }
            Record::Unwritable => {}
            Record::Audited(events) => {
                for ev in events {
                    self.audit(ev);
                }
            }
        }
        self.send_deny(r.to, r.hash, r.refusal.code(), &r.text);
    }

    /// A Session not answered: counted (and its source summarised).
    pub(super) fn ignore(&mut self, now_ms: u64, from: Peer, why: Ignore) {
        match why {
            Ignore::Junk => {
                self.counters.junk += 1;
                self.junk.note(from.ip(), now_ms);
            }
            Ignore::UnprovenParent => {
                self.counters.sessions_denied += 1;
                self.junk.note(from.ip(), now_ms);
            }
            Ignore::Stray => self.counters.junk += 1,
        }
    }

    /// The record of a refusal audited as `kind` (`session.deny`, `replay.reject`) with the
    /// decoded body.
    pub(super) fn refusal_event(
        &self,
        kind: EventKind,
        inc: &Incoming,
        body: &crate::wire::session::SessionBody,
        refusal: Refusal,
        text: &str,
    ) -> AuditEvent {
        self.session_event(kind, Outcome::Deny, &inc.hash, Some(body), &inc.session)
            .reason(refusal.code(), text)
    }
}
