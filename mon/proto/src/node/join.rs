//! Overlay construction (paper §2.2) with the hop handshake: Session in, SessionOk / Prune /
//! Deny out; children chosen by the session's overlay algorithm.

use std::sync::Arc;

use mon_keys::hop::{self, CLIENT_NAME};
use mon_keys::known_nodes::Trust;
use sha2::{Digest, Sha256};

use super::audit_ev::EvExt;
use super::budget::split_budget;
use super::session::push::state::{PushState, EXTRA_OFFER_DELAY_MS};
use super::session::{ParentLink, Session};
use super::{Node, Output, Peer};
use crate::audit::{EventKind, Outcome};
use crate::push::msg::{expand_dest, PUSH_CHANNEL};
use crate::push::Download;
use crate::replay::Seen;
use crate::verify::{verify_session, Context, Denied, Verified};
use crate::wire::packet::{Packet, DENY_DOMAIN, PRUNE_DOMAIN};
use crate::wire::session::{OverlayKind, SessionBody, SessionHash, SignedSession};

pub(super) fn sha256(b: &[u8]) -> [u8; 32] {
    Sha256::digest(b).into()
}

pub(super) fn prune_signed_data(hash: &SessionHash, answered: &[u8; 32]) -> Vec<u8> {
    let mut m = PRUNE_DOMAIN.to_vec();
    m.extend_from_slice(hash);
    m.extend_from_slice(answered);
    m
}

/// `s` cut to at most `max` bytes at a character boundary (the limits of
/// [`Packet::from_bytes`] are in bytes; a reason may quote user input of any script).
fn cut_bytes(s: &str, max: usize) -> String {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

pub(crate) fn deny_signed_data(hash: &SessionHash, code: &str) -> Vec<u8> {
    let mut m = DENY_DOMAIN.to_vec();
    m.extend_from_slice(hash);
    m.extend_from_slice(code.as_bytes());
    m
}

/// What one key's verified sessions wrote to the audit log in one minute (issue 10: a
/// listed key's sessions, refused or accepted, write at a bounded rate).
#[derive(Debug)]
pub(crate) struct KeyMinute {
    start: u64,
    refusals: usize,
    accepted_bytes: usize,
}

impl KeyMinute {
    fn new(start: u64) -> KeyMinute {
        KeyMinute {
            start,
            refusals: 0,
            accepted_bytes: 0,
        }
    }
}

/// Session hashes whose refusal was audited lately, oldest forgotten first.
#[derive(Debug, Default)]
pub(super) struct RecentSet {
    set: std::collections::HashSet<SessionHash>,
    order: std::collections::VecDeque<SessionHash>,
}

impl RecentSet {
    /// Hashes remembered at once (32 bytes each, twice).
    const CAP: usize = 4096;

    /// Remembers `h`; false if it was already there.
    fn insert(&mut self, h: SessionHash) -> bool {
        if !self.set.insert(h) {
            return false;
        }
        self.order.push_back(h);
        if self.order.len() > Self::CAP {
            if let Some(old) = self.order.pop_front() {
                self.set.remove(&old);
            }
        }
        true
    }
}

impl Node {
    /// The key known_nodes pins for `name` at `ip`.
    pub(super) fn node_key_for(&self, name: &str, ip: std::net::IpAddr) -> Option<[u8; 32]> {
        self.known
            .entries_named(name)
            .map(|e| *e.key())
            .find(|k| matches!(self.known.check(name, Some(ip), k), Trust::Trusted))
    }

    /// Whether the node `parent` at `from` proves the key known_nodes pins for it: its
    /// signature over this hop (session, `e_p`, our name), from an address its known_nodes
    /// line lists (any address when the line lists none). A hop signature can be replayed, so
    /// the address is what tells the node's own offer from a copy sent from elsewhere. A
    /// client, or an address with no trusted key for `parent`, proves nothing.
    fn parent_proves_key(
        &self,
        parent: &str,
        from: Peer,
        hash: &SessionHash,
        e_p: &[u8; 32],
        parent_sig: Option<&[u8; 64]>,
    ) -> bool {
        let Peer::Addr(addr) = from else {
            return false;
        };
        if parent == CLIENT_NAME {
            return false;
        }
        let Some(k) = self.node_key_for(parent, addr.ip()) else {
            return false;
        };
        let listed = |e: &mon_keys::known_nodes::KnownNode| {
            *e.key() == k && {
                let mut ips = e.ips().peekable();
                ips.peek().is_none() || ips.any(|ip| ip.to_canonical() == addr.ip().to_canonical())
            }
        };
        if !self.known.entries_named(parent).any(listed) {
            return false;
        }
        parent_sig.is_some_and(|sig| {
            hop::verify_parent_signature(&k, hash, e_p, &self.cfg.name, sig).is_ok()
        })
    }

    /// A Session from a sender that authenticated as nothing this node answers: no answer,
    /// no audit record; counted and summarised per source.
    fn unanswered(&mut self, now_ms: u64, from: Peer) {
        self.counters.junk += 1;
        self.junk.note(from.ip(), now_ms);
    }

    pub(super) fn handle_session(
        &mut self,
        now_ms: u64,
        from: Peer,
        packet: Packet,
        raw: &[u8],
        node_stream: bool,
    ) {
        let Packet::Session {
            session,
            parent,
            e_p,
            parent_sig,
            level,
            budget_ms,
        } = packet
        else {
            return;
        };
        let hash = session.hash();
        let answered = sha256(raw);
        // A client may send its Session in a datagram while its TCP connection opens (one
        // round trip saved). The source address of a datagram is not proven, so on this
        // path nothing is answered or audited before the session checks out: every refusal
        // is junk (counted, summarised per source), and the client, hearing nothing, sends
        // the Session over its stream, where refusals are explained and audited.
        let udp_client = parent == CLIENT_NAME && matches!(from, Peer::Addr(_));
        // A node's stream never carries a client's Session, and its claimed address is not
        // proven: nothing is answered there.
        if udp_client && node_stream {
            return self.udp_client_junk(now_ms, from);
        }
        if udp_client && !self.sessions.contains_key(&hash) && self.replay.contains(&hash) {
            return self.udp_client_junk(now_ms, from);
        }

        // Fail closed (issue 10, part 4): a node that cannot make its records durable tells
        // a client on its stream at once (before the replay cache: a datagram of the same
        // session may have been taken and dropped when the failure was found).
        if self.storage_down.is_some() && parent == CLIENT_NAME {
            if udp_client {
                return self.udp_client_junk(now_ms, from);
            }
            return self.refuse_storage_down(from, hash);
        }

        if self.sessions.contains_key(&hash) {
            self.duplicate_session(
                now_ms,
                from,
                hash,
                &parent,
                &e_p,
                parent_sig.as_deref(),
                level,
                answered,
            );
            return;
        }
        if self.replay.contains(&hash) {
            // Ran here before and its state is gone: never re-run. The Prune goes back on a
            // client's own stream, or to a node that proves its key; anyone else (a replay
            // from an unproven address) gets nothing.
            let client_stream = parent == CLIENT_NAME && matches!(from, Peer::Client(..));
            if client_stream
                || self.parent_proves_key(&parent, from, &hash, &e_p, parent_sig.as_deref())
            {
                self.send_prune(from, hash, answered);
            } else {
                self.unanswered(now_ms, from);
            }
            return;
        }

        // 1. strict decoding of the body (needed to authenticate the first hop).
        let body = match SessionBody::from_bytes(&session.body) {
            Ok(b) => b,
            Err(_) if udp_client => return self.udp_client_junk(now_ms, from),
            // A node's Deny goes only to a parent that proves its key.
            Err(_)
                if matches!(from, Peer::Addr(_))
                    && !self.parent_proves_key(
                        &parent,
                        from,
                        &hash,
                        &e_p,
                        parent_sig.as_deref(),
                    ) =>
            {
                return self.unanswered(now_ms, from);
            }
            Err(e) => {
                // Answered on a client's own stream, or to a parent that proves its key.
                let answer = match from {
                    Peer::Client(..) => parent == CLIENT_NAME,
                    // The arm above kept only parents that prove their key.
                    Peer::Addr(_) => true,
                };
                let text = e.to_string();
                return self.refuse_unverified(now_ms, from, hash, e.code(), &text, answer);
            }
        };
        // 2. parent authentication.
        let client_addr = match (parent.as_str(), from) {
            (CLIENT_NAME, Peer::Client(_, ip)) => {
                if *e_p != *body.client_eph {
                    return self.refuse_unverified(
                        now_ms,
                        from,
                        hash,
                        "parent-auth",
                        "first-hop key differs from the session's client_eph",
                        true,
                    );
                }
                Some(ip)
            }
            (CLIENT_NAME, Peer::Addr(addr)) => {
                // Push sessions need the client's stream (it serves the file's blocks).
                if *e_p != *body.client_eph || body.push.is_some() {
                    return self.udp_client_junk(now_ms, from);
                }
                Some(addr.ip())
            }
            (name, Peer::Addr(addr)) if name != CLIENT_NAME => {
                if !self.parent_proves_key(name, from, &hash, &e_p, parent_sig.as_deref()) {
                    // Unauthenticated sender: do not answer it, and do not let it write one
                    // audit record per datagram: it is counted and summarised per source.
                    self.counters.sessions_denied += 1;
                    self.junk.note(addr.ip(), now_ms);
                    return;
                }
                self.authenticated = true;
                None
            }
            _ => {
                self.counters.junk += 1;
                return;
            }
        };

        // Fail closed: no session runs whose records cannot be made durable (a parent node
        // hears it once it has proved its key).
        if self.storage_down.is_some() {
            return self.refuse_storage_down(from, hash);
        }

        // 3–8.
        let policy = self.policies.get(&body.slice).cloned();
        let ctx = Context {
            now_ms,
            node: &self.cfg.name,
            client_addr,
            policy: policy.as_deref(),
            limits: &self.cfg.limits,
        };
        let verified = match verify_session(&ctx, &session) {
            Ok(v) => v,
            Err(_) if udp_client => return self.udp_client_junk(now_ms, from),
            // Its signature never verified (undecodable, unknown key, bad signature): junk,
            // explained to the client on its stream or to the parent, never audited.
            Err(d) if !d.verified => {
                return self.refuse_unverified(now_ms, from, hash, &d.code, &d.text, true);
            }
            // The same signed session refused again (a captured one replayed): junk.
            Err(d) if !self.denied_recent.insert(hash) => {
                return self.refuse_unverified(now_ms, from, hash, &d.code, &d.text, true);
            }
            // Beyond its key's audited refusals this minute: junk too.
            Err(d) if !self.refusal_audited(now_ms, d.key_fp.as_deref()) => {
                return self.refuse_unverified(now_ms, from, hash, &d.code, &d.text, true);
            }
            Err(d) => {
                self.deny_verified(now_ms, from, &session, *d, client_addr, &parent);
                return;
            }
        };
        // The session table's shares, charged only now that the signature has verified.
        let full = self.table_refusal(&verified.key_fp, &verified.body.slice);
        // `from=` trusts the client's address: such sessions come over TCP only.
        if udp_client
            && (full.is_some()
                || policy.as_deref().is_some_and(|p| {
                    p.restricts_client_address(verified.principal.as_deref().unwrap_or_default())
                }))
        {
            return self.udp_client_junk(now_ms, from);
        }
        if let Some((code, text)) = full {
            // A full table or share costs nothing durable: one record per refused packet
            // would let a flood fill the disk. The sender hears the code (exit 4, retry).
            return self.refuse_unverified(now_ms, from, hash, code, &text, true);
        }
        // The audit record of an accepted session carries its signed bytes: one key's are
        // bounded per minute (padded sessions cannot fill the disk).
        let audited = session.body.len() + session.sshsig.len();
        if !self.accept_audited(now_ms, &verified.key_fp, audited) {
            let text = format!(
                "this node audited {} MiB of key {}'s sessions in the last minute, the share of one key (a capacity limit, not the policy: retry in a minute)",
                super::AUDITED_SESSION_BYTES_PER_KEY >> 20,
                verified.key_fp
            );
            return self.refuse_unverified(now_ms, from, hash, "busy-key", &text, true);
        }
        // 9. replay cache, journaled before acting.
        match self.replay.check_and_insert(
            now_ms,
            &hash,
            &verified.body.session_id,
            &verified.key_fp,
            &verified.body.slice,
            verified.body.issued_at,
            verified.body.expires_at,
        ) {
            // Only a session admitted (its shares charged, its id new) authenticates its
            // stream: one refused for a limit, or seen before, proves nothing worth a stream
            // slot beyond its address's share.
            Ok(Seen::New) => self.authenticated = true,
            Ok(Seen::Again) if udp_client => return self.udp_client_junk(now_ms, from),
            Ok(Seen::Again) => {
                self.send_prune(from, hash, answered);
                return;
            }
            Err(_) if udp_client => return self.udp_client_junk(now_ms, from),
            Err(e) => {
                self.counters.sessions_denied += 1;
                let ev = self
                    .session_event(
                        EventKind::ReplayReject,
                        Outcome::Deny,
                        &hash,
                        Some(&body),
                        &session,
                    )
                    .reason(e.code(), e.to_string());
                self.audit(ev);
                self.send_deny(from, hash, e.code(), &e.to_string());
                return;
            }
        }
        let lines = self.replay.drain_journal();
        self.out.push_back(Output::Journal(lines));

        // 11. handshake (child side).
        let (hello, mut keys) = match hop::respond(
            &mut self.rng,
            &self.key,
            &hash,
            &e_p,
            &parent,
            &self.cfg.name,
        ) {
            Ok(x) => x,
            Err(_) if udp_client => return self.udp_client_junk(now_ms, from),
            Err(e) => {
                self.deny(
                    now_ms,
                    from,
                    hash,
                    Some(&body),
                    &session,
                    "handshake",
                    &e.to_string(),
                );
                return;
            }
        };
        self.counters.sessions_accepted += 1;
        let mut ev = self
            .session_event(
                EventKind::SessionAccept,
                Outcome::Allow,
                &hash,
                Some(&body),
                &session,
            )
            .principal_opt(verified.principal.as_deref())
            .policy(verified.policy_file.as_deref(), verified.policy_line);
        if let Some(ip) = client_addr {
            ev = ev.client_addr(ip.to_string());
        } else if let Peer::Addr(a) = from {
            ev = ev.peer(a.to_string());
        }
        self.audit(ev);

        let ok = Packet::SessionOk {
            session_hash: hash.into(),
            child: self.cfg.name.clone(),
            e_c: hello.e_c.into(),
            sig: hello.sig.into(),
            confirm: hello.confirm.to_vec(),
            extra: false,
        };
        let Ok((sealer, opener)) = keys.channel(0) else {
            return;
        };
        let push_keys = if verified.body.push.is_some() {
            let Ok(k) = keys.channel(u64::from(PUSH_CHANNEL)) else {
                return;
            };
            Some(k)
        } else {
            None
        };
        let ok_bytes = ok.to_bytes();
        self.out.push_back(Output::Send {
            to: from,
            bytes: ok_bytes.clone(),
        });
        self.start_session(
            now_ms, verified, session, parent, from, sealer, opener, ok_bytes, level, budget_ms,
        );
        if let Some(k) = push_keys {
            let name = self
                .sessions
                .get(&hash)
                .map(|s| s.parent.name.clone())
                .unwrap_or_default();
            self.push_add_parent(now_ms, hash, &name, from, k);
        }
    }

    /// A Session refused before its signature verified, or because the table is full (issue
    /// 10, part 4): junk, counted and summarised per source at most once a minute, never one
    /// audit record per packet. The sender hears why only where that costs nothing durable
    /// (`answer`: a client on its own stream, a parent that proved its node key).
    fn refuse_unverified(
        &mut self,
        now_ms: u64,
        from: Peer,
        hash: SessionHash,
        code: &str,
        text: &str,
        answer: bool,
    ) {
        self.counters.junk += 1;
        self.counters.sessions_denied += 1;
        self.junk.note(from.ip(), now_ms);
        if answer {
            self.send_deny(from, hash, code, text);
        }
    }

    /// Whether a refusal of a verified session of `key_fp` may still be audited this minute
    /// ([`super::AUDITED_REFUSALS_PER_KEY`]); counts it.
    fn refusal_audited(&mut self, now_ms: u64, key_fp: Option<&str>) -> bool {
        let Some(k) = key_fp else {
            return true;
        };
        let m = self.key_minute(now_ms, k);
        m.refusals += 1;
        m.refusals <= super::AUDITED_REFUSALS_PER_KEY
    }

    /// Whether key `k` may have `bytes` more of accepted sessions audited this minute
    /// ([`super::AUDITED_SESSION_BYTES_PER_KEY`]); charges them when it may.
    fn accept_audited(&mut self, now_ms: u64, k: &str, bytes: usize) -> bool {
        let m = self.key_minute(now_ms, k);
        if m.accepted_bytes.saturating_add(bytes) > super::AUDITED_SESSION_BYTES_PER_KEY {
            return false;
        }
        m.accepted_bytes += bytes;
        true
    }

    /// Key `k`'s current minute of audit records.
    fn key_minute(&mut self, now_ms: u64, k: &str) -> &mut KeyMinute {
        const MINUTE_MS: u64 = 60_000;
        // Keys are verified ones (listed in a policy); forget finished minutes now and then.
        if self.audit_per_key.len() >= 4096 {
            self.audit_per_key
                .retain(|_, m| now_ms.saturating_sub(m.start) < MINUTE_MS);
        }
        let m = self
            .audit_per_key
            .entry(k.to_string())
            .or_insert_with(|| KeyMinute::new(now_ms));
        if now_ms.saturating_sub(m.start) >= MINUTE_MS {
            *m = KeyMinute::new(now_ms);
        }
        m
    }

    /// A session refused because this node's records cannot be made durable now.
    fn refuse_storage_down(&mut self, from: Peer, hash: SessionHash) {
        let why = self.storage_down.clone().unwrap_or_default();
        let text = format!(
            "{} cannot write its audit log or replay journal ({why}); it refuses sessions until \
             its operator frees space or repairs the disk",
            self.cfg.name
        );
        self.counters.sessions_denied += 1;
        self.send_deny(from, hash, super::STORAGE_UNAVAILABLE, &text);
    }

    /// Why the session table has no room for one more session of `key_fp` in `slice`, if it
    /// has none. Finished sessions kept only to answer stragglers make room first.
    fn table_refusal(&mut self, key_fp: &str, slice: &str) -> Option<(&'static str, String)> {
        const RETRY: &str = "a capacity limit, not the policy: retry in a few seconds";
        if self.sessions.len() >= self.cfg.max_sessions {
            let lingering = self
                .sessions
                .iter()
                .filter_map(|(h, s)| s.forget_at.map(|f| (f, *h)))
                .min();
            if let Some((_, h)) = lingering {
                if let Some(s) = self.sessions.remove(&h) {
                    if s.push.is_some() {
                        self.out.push_back(Output::PushDrop { session: h });
                    }
                }
            }
        }
        if self.sessions.len() >= self.cfg.max_sessions {
            let n = self.cfg.max_sessions;
            return Some((
                "busy",
                format!("this node runs {n} sessions, its limit ({RETRY})"),
            ));
        }
        let running = self.sessions.values().filter(|s| s.forget_at.is_none());
        let (mut of_key, mut of_slice) = (0, 0);
        for s in running {
            of_key += usize::from(s.key_fp == key_fp);
            of_slice += usize::from(s.body.slice == slice);
        }
        if of_key >= self.cfg.max_sessions_per_key {
            return Some((
                "busy-key",
                format!("this node runs {of_key} sessions of key {key_fp}, the share of one key ({RETRY})"),
            ));
        }
        if of_slice >= self.cfg.max_sessions_per_slice {
            return Some((
                "busy-slice",
                format!("this node runs {of_slice} sessions of slice {slice}, the share of one slice ({RETRY})"),
            ));
        }
        None
    }

    /// A client's Session datagram this node does not take (see `handle_session`).
    fn udp_client_junk(&mut self, now_ms: u64, from: Peer) {
        self.counters.junk += 1;
        if let Peer::Addr(a) = from {
            self.junk.note(a.ip(), now_ms);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn start_session(
        &mut self,
        now_ms: u64,
        v: Verified,
        signed: SignedSession,
        parent_name: String,
        from: Peer,
        sealer: mon_keys::frame::Sealer,
        opener: mon_keys::frame::Opener,
        session_ok: Vec<u8>,
        parent_level: u16,
        budget_ms: u32,
    ) {
        let body = Arc::new(v.body);
        let (push_dir, allow_setid) = (v.push_dir, v.allow_setid);
        // The signed lifetime bounds everything the session does here (its operations get
        // at most the time left until `finish_by`), whatever timeout the body asks for.
        let lifetime_ms = u32::try_from(u64::from(body.max_lifetime_s) * 1000).unwrap_or(u32::MAX);
        let budget = budget_ms.min(body.timeout_ms).min(lifetime_ms).max(100);
        let (answer_in, child_budget_ms) = split_budget(budget, body.push.is_some());
        let finish_by = now_ms + answer_in;
        let level = parent_level.saturating_add(1);
        let mut s = Session {
            local: vec![None; body.ops.len()],
            body: body.clone(),
            signed,
            principal: v.principal,
            key_fp: v.key_fp,
            run_as: v.run_as,
            grep_paths: v.grep_paths,
            targeted: v.targeted,
            level,
            parent: ParentLink {
                name: parent_name,
                peer: from,
                sealer,
                opener,
                go: false,
                session_ok,
            },
            extra_parents: Vec::new(),
            children: Vec::new(),
            local_started: false,
            started_ms: now_ms,
            go_by: now_ms
                + self
                    .cfg
                    .go_wait_ms
                    .min(body.expires_at.saturating_sub(body.issued_at).max(1000)),
            finish_by,
            result_packet: None,
            result_sent_at: 0,
            result_tries: 0,
            result_acked: false,
            forget_at: None,
            client_gone: false,
            swept: false,
            rto_ms: self.cfg.rto_ms,
            push: None,
        };
        if let Some(m) = &body.push {
            let dest = expand_dest(&m.dest, &self.cfg.name).unwrap_or_default();
            let seed = rand::RngCore::next_u64(&mut self.rng);
            let cfg = crate::push::Config {
                primary_first: self.cfg.push_primary_first,
                ..crate::push::Config::for_block_size(m.block_size)
            };
            let Ok(dl) = Download::with_config(m, self.cfg.push_policy, cfg, seed, false) else {
                return;
            };
            let mut ps = PushState::new(m.clone(), dest, dl, now_ms);
            ps.push_dir = push_dir;
            ps.allow_setid = allow_setid;
            s.push = Some(Box::new(ps));
        }
        let max_depth = if body.overlay.max_depth == 0 {
            u16::MAX
        } else {
            u16::from(body.overlay.max_depth)
        };
        if let (Some(p), true) = (s.push.as_mut(), level < max_depth && child_budget_ms >= 50) {
            // The staircase: the first ring successor takes us as its first parent at once;
            // the next ones get the session a little later, by when the chain has usually
            // reached them, so they take us as an extra parent.
            let mut succ = self.push_successors(
                now_ms,
                &v.hash,
                &s.parent.name,
                usize::from(body.overlay.max_parents.max(1)),
            );
            if succ.is_empty() {
                succ = self.pick_children(now_ms, &body, level, &s.parent.name, v.max_fanout);
                succ.truncate(1);
            }
            let mut it = succ.into_iter();
            if let Some(first) = it.next() {
                if let Some(c) =
                    self.offer(now_ms, &v.hash, &s.signed, level, child_budget_ms, &first)
                {
                    s.children.push(c);
                }
            }
            for (k, m) in it.enumerate() {
                p.deferred
                    .push((m, now_ms + EXTRA_OFFER_DELAY_MS * (k as u64 + 1)));
            }
        } else if level < max_depth && child_budget_ms >= 50 {
            let picks = self.pick_children(now_ms, &body, level, &s.parent.name, v.max_fanout);
            for m in picks {
                if let Some(c) = self.offer(now_ms, &v.hash, &s.signed, level, child_budget_ms, &m)
                {
                    s.children.push(c);
                }
            }
        }
        self.sessions.insert(v.hash, s);
    }

    #[allow(clippy::too_many_arguments)]
    fn duplicate_session(
        &mut self,
        now_ms: u64,
        from: Peer,
        hash: SessionHash,
        parent: &str,
        e_p: &[u8; 32],
        parent_sig: Option<&[u8; 64]>,
        level: u16,
        answered: [u8; 32],
    ) {
        let Some(s) = self.sessions.get(&hash) else {
            return;
        };
        // A retransmission from a parent we already answered, from where it was answered
        // (for a client: a stream from the address its Session came from, as when its
        // datagram arrived before its stream): answer again. A replay from anywhere else
        // gets nothing unless the sender proves a node key (below).
        let same_client = parent == CLIENT_NAME
            && matches!(from, Peer::Client(_, ip) if ip == s.parent.peer.ip());
        let answered_before = if s.parent.name == parent {
            Some((s.parent.peer == from || same_client, &s.parent.session_ok))
        } else {
            s.extra_parents
                .iter()
                .find(|p| p.name == parent)
                .map(|p| (p.peer == from, &p.session_ok))
        };
        match answered_before {
            Some((true, ok)) => {
                let b = ok.clone();
                self.out.push_back(Output::Send { to: from, bytes: b });
                return;
            }
            // That parent's offer, copied to us from elsewhere.
            Some((false, _)) => return self.unanswered(now_ms, from),
            None => {}
        }
        let dag = s.body.overlay.kind == OverlayKind::Dag;
        let room = 1 + s.extra_parents.len() < usize::from(s.body.overlay.max_parents);
        // Push: data only flows towards nodes that miss blocks, so a cycle of extra links is
        // harmless (results still go up the first-parent tree); no level rule, but no extra
        // parent once the file is complete.
        let push = s.push.as_ref().map(|p| !p.dl.complete() && !p.finished());
        let acceptable = match push {
            Some(wanted) => wanted,
            None => dag && level < s.level,
        };
        // Only a node that proves its key (a DAG's or a push's other parent, or a node that
        // offers a session we are in already) gets an answer: a SessionOk or a Prune.
        if !self.parent_proves_key(parent, from, &hash, e_p, parent_sig) {
            return self.unanswered(now_ms, from);
        }
        self.authenticated = true;
        if room && acceptable {
            if let Ok((hello, mut keys)) =
                hop::respond(&mut self.rng, &self.key, &hash, e_p, parent, &self.cfg.name)
            {
                let ok = Packet::SessionOk {
                    session_hash: hash.into(),
                    child: self.cfg.name.clone(),
                    e_c: hello.e_c.into(),
                    sig: hello.sig.into(),
                    confirm: hello.confirm.to_vec(),
                    extra: true,
                };
                let bytes = ok.to_bytes();
                let Ok((sealer, opener)) = keys.channel(0) else {
                    return;
                };
                let push_keys = match push {
                    Some(_) => match keys.channel(u64::from(PUSH_CHANNEL)) {
                        Ok(k) => Some(k),
                        Err(_) => return,
                    },
                    None => None,
                };
                self.out.push_back(Output::Send {
                    to: from,
                    bytes: bytes.clone(),
                });
                if let Some(k) = push_keys {
                    self.push_add_parent(now_ms, hash, parent, from, k);
                }
                if let Some(s) = self.sessions.get_mut(&hash) {
                    s.extra_parents.push(ParentLink {
                        name: parent.to_string(),
                        peer: from,
                        sealer,
                        opener,
                        go: false,
                        session_ok: bytes,
                    });
                }
                return;
            }
        }
        self.send_prune(from, hash, answered);
    }

    /// Drops a session accepted in a batch whose records could not be written (the driver
    /// withheld that batch's packets) and tells its parent why, with a signed Deny.
    pub fn abort_session(&mut self, hash: SessionHash, code: &str, text: &str) {
        if let Some(s) = self.sessions.remove(&hash) {
            self.counters.sessions_denied += 1;
            // A client's datagram source is not proven: it hears the refusal on its stream.
            if !(s.parent.name == CLIENT_NAME && matches!(s.parent.peer, Peer::Addr(_))) {
                self.send_deny(s.parent.peer, hash, code, text);
            }
        }
    }

    fn send_prune(&mut self, to: Peer, hash: SessionHash, answered: [u8; 32]) {
        let sig = self.key.sign(&prune_signed_data(&hash, &answered));
        let p = Packet::Prune {
            session_hash: hash.into(),
            child: self.cfg.name.clone(),
            answered: answered.into(),
            sig: sig.into(),
        };
        self.send(to, &p);
    }

    pub(super) fn send_deny(&mut self, to: Peer, hash: SessionHash, code: &str, text: &str) {
        let code = cut_bytes(code, 64);
        let sig = self.key.sign(&deny_signed_data(&hash, &code));
        let p = Packet::Deny {
            session_hash: hash.into(),
            child: self.cfg.name.clone(),
            code,
            text: cut_bytes(text, 1024),
            sig: sig.into(),
        };
        self.send(to, &p);
    }

    #[allow(clippy::too_many_arguments)]
    fn deny(
        &mut self,
        _now_ms: u64,
        from: Peer,
        hash: SessionHash,
        body: Option<&SessionBody>,
        signed: &SignedSession,
        code: &str,
        text: &str,
    ) {
        self.counters.sessions_denied += 1;
        let ev = self
            .session_event(EventKind::SessionDeny, Outcome::Deny, &hash, body, signed)
            .reason(code, text);
        self.audit(ev);
        self.send_deny(from, hash, code, text);
    }

    fn deny_verified(
        &mut self,
        _now_ms: u64,
        from: Peer,
        signed: &SignedSession,
        d: Denied,
        client_addr: Option<std::net::IpAddr>,
        parent: &str,
    ) {
        self.counters.sessions_denied += 1;
        let mut ev = self
            .session_event(
                EventKind::SessionDeny,
                Outcome::Deny,
                &d.hash,
                d.body.as_ref(),
                signed,
            )
            .reason(&d.code, &d.text)
            .principal_opt(d.principal.as_deref())
            .policy(d.policy_file.as_deref(), d.policy_line);
        if let Some(ip) = client_addr {
            ev = ev.client_addr(ip.to_string());
        } else {
            ev = ev.peer(parent);
        }
        self.audit(ev);
        if let Some(b) = d.body.as_ref().filter(|b| b.push.is_some()) {
            let ev = self
                .session_event(EventKind::PushDeny, Outcome::Deny, &d.hash, Some(b), signed)
                .reason(&d.code, &d.text);
            self.audit(ev);
        }
        self.send_deny(from, d.hash, &d.code, &d.text);
    }
}
