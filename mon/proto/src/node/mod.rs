//! The server core: one MON node as a sans-IO state machine.
//!
//! The driver feeds it packets ([`Node::handle_packet`]), local operation results
//! ([`Node::handle_local`]) and timer expiries ([`Node::handle_timeout`]), each with `now`
//! (unix ms), and drains [`Output`]s in order with [`Node::poll_output`]. Audit records and
//! replay-journal lines come out *before* the actions they guard; the driver makes them
//! durable before it performs any later output.
//!
//! `Node` holds what is node-wide (keys, known nodes and roster, policies, membership,
//! replay cache, counters, the output queue) and routes each packet, local result, driver
//! report and timer to the session it concerns. A session is its own machine,
//! `session::Session` (in `session/`: its overlay children, their answers, its operations
//! and result, its push part): the node looks it up once and lends it a
//! `session::Ctx` (settings, output queue, counters, roster, membership) borrowed from its
//! own fields. Admission (`join.rs`) builds sessions; gossip (`gossip.rs`) is node-wide.

mod advertise;
mod audit_ev;
mod budget;
mod config;
mod found_down;
mod gossip;
mod join;
mod output;
mod runs;
mod session;
pub(crate) use join::deny_signed_data;

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;

use mon_keys::known_nodes::{KnownNodes, Trust};
use mon_keys::nodekey::NodeKey;
use mon_policy::SlicePolicy;
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;

use crate::agg::Local;
use crate::audit::{AuditEvent, JunkSummarizer};
use crate::membership::{MemberId, MemberView, Membership};
use crate::replay::ReplayCache;
use crate::roster::Roster;
use crate::wire::packet::{Packet, MAX_STREAM_PACKET};
use crate::wire::session::SessionHash;

pub use crate::refusal::{RETRY_LATER_CODES, STORAGE_UNAVAILABLE};
pub use config::{
    NodeConfig, DEFAULT_GO_WAIT_MS, DEFAULT_MAX_INTERACTIVE_PER_KEY, DEFAULT_MAX_RUNS,
    DEFAULT_MAX_SESSIONS, DEFAULT_MAX_SESSIONS_PER_KEY, DEFAULT_MAX_SESSIONS_PER_SLICE,
};
pub use output::{Output, Peer, RunRequest, StreamSent};
pub use runs::RUNS_BUSY;
pub use session::push::{PushIoError, PUSH_COND_INDEX};
pub use session::SessionSummary;

/// Counters for `mon members` / metrics.
#[derive(Clone, Debug, Default)]
pub struct Counters {
    /// Packets that did not decode.
    pub junk: u64,
    /// Gossip messages dropped (untrusted key, stale, replayed, bad signature).
    pub gossip_dropped: u64,
    /// Sessions accepted.
    pub sessions_accepted: u64,
    /// Sessions denied.
    pub sessions_denied: u64,
    /// Sealed frames rejected.
    pub frames_rejected: u64,
    /// Members dropped because a reloaded known_nodes no longer trusts them.
    pub members_untrusted: u64,
    /// Follow-up Commands refused before anything ran: not an interactive session (also
    /// counted in `junk`), bad signature, `seq` replayed or reordered below the window.
    pub commands_refused: u64,
    /// Follow-up Commands accepted (each then runs, or is denied by the policy).
    pub commands_accepted: u64,
    /// The last accepted Command again (its result is sent again; nothing runs).
    pub commands_duplicate: u64,
    /// Sessions dropped because their parent's go never came within the join window.
    pub sessions_no_go: u64,
    /// The last accepted Command again whose result was not sent again: within an RTO of the
    /// last resend, or past [`crate::timing::DUPLICATE_RESENDS`] for that Command.
    pub commands_duplicate_dropped: u64,
    /// Runs cancelled before they answered: a newer Command of their interactive session
    /// began, or their session was cancelled.
    pub runs_cancelled: u64,
    /// Execs and greps refused because [`NodeConfig::max_runs`] of them already ran here
    /// ([`RUNS_BUSY`]).
    pub runs_refused: u64,
    /// Operations of a session's signed body not started because their go came after the
    /// session's own deadline ([`crate::timing::own_ops_deadline_ms`], `session-op-expired`).
    pub ops_expired: u64,
    /// Commands from a former first parent dropped before their signature check: a `seq`
    /// this node already answered it, or one not above the session's current command (see
    /// `session/reoffer.rs`).
    pub former_commands_dropped: u64,
}

/// One MON node.
pub struct Node {
    cfg: NodeConfig,
    key: NodeKey,
    known: Arc<KnownNodes>,
    roster: Arc<Roster>,
    policies: HashMap<String, Arc<SlicePolicy>>,
    membership: Membership,
    replay: ReplayCache,
    sessions: HashMap<SessionHash, session::Session>,
    gossip_last_ts: HashMap<String, u64>,
    rng: ChaCha20Rng,
    out: VecDeque<Output>,
    junk: JunkSummarizer,
    counters: Counters,
    last_gossip_ts: u64,
    /// Why this node's audit log or replay journal cannot take records now: new sessions are
    /// refused with [`STORAGE_UNAVAILABLE`] until it can (issue 10, part 4).
    storage_down: Option<String>,
    /// Sessions whose refusal was audited lately: the same bytes sent again (a replay of a
    /// captured session) are junk, not another record (issue 10, part 4).
    denied_recent: join::RecentSet,
    /// The packet being handled authenticated its sender (see [`Node::take_authenticated`]).
    authenticated: bool,
    /// Per key: what its verified sessions wrote to the audit log in the current minute.
    audit_per_key: HashMap<String, join::KeyMinute>,
    /// Runs handed to the driver and not answered yet.
    runs: runs::RunTable,
    /// Roster nodes our offers found down lately.
    found_down: found_down::FoundDown,
}

/// Refusals of one key's verified sessions audited per minute (each record carries the
/// signed body, up to 256 KiB); further ones that minute are junk: answered, counted and
/// summarised per source, never one record each (a low-rights key asking for what it may
/// not do would otherwise fill the disk, and a full disk refuses every user).
pub const AUDITED_REFUSALS_PER_KEY: usize = 60;

/// Bytes of accepted sessions (the signed body and signature each `session.accept` record
/// carries) one key may have audited per minute on a node: about 6,000 plain counts a
/// minute (100 a second), or 32 sessions at the largest size a Session may have. Beyond it a
/// new session is refused as `busy-key` (retry later) and costs nothing durable, so a key
/// with few rights cannot fill the disk (and so refuse every user) with padded sessions.
pub const AUDITED_SESSION_BYTES_PER_KEY: usize = 8 << 20;

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("name", &self.cfg.name)
            .field("sessions", &self.sessions.len())
            .finish_non_exhaustive()
    }
}

impl Node {
    /// A node with its key, the trusted node list, a replay cache (possibly loaded from the
    /// journal) and a seed for its random choices.
    pub fn new(
        cfg: NodeConfig,
        key: NodeKey,
        known: Arc<KnownNodes>,
        replay: ReplayCache,
        node_id: u64,
        seed: [u8; 32],
    ) -> Node {
        let roster = Arc::new(Roster::from_known(&known));
        Node::with_roster(cfg, key, known, roster, replay, node_id, seed)
    }

    /// As [`Node::new`], with the roster of `known` already built, so that many nodes in one
    /// process (the simulator) share one copy instead of building one each.
    pub fn with_roster(
        cfg: NodeConfig,
        key: NodeKey,
        known: Arc<KnownNodes>,
        roster: Arc<Roster>,
        replay: ReplayCache,
        node_id: u64,
        seed: [u8; 32],
    ) -> Node {
        let me = MemberId {
            name: cfg.name.clone(),
            addr: cfg.listen,
            key: key.public(),
        };
        let mseed = u64::from_le_bytes([
            seed[0], seed[1], seed[2], seed[3], seed[4], seed[5], seed[6], seed[7],
        ]);
        let membership = Membership::new(me, node_id, cfg.membership.clone(), mseed ^ 0x9e37);
        Node {
            cfg,
            key,
            roster,
            known,
            policies: HashMap::new(),
            membership,
            replay,
            sessions: HashMap::new(),
            gossip_last_ts: HashMap::new(),
            rng: ChaCha20Rng::from_seed(seed),
            out: VecDeque::new(),
            junk: JunkSummarizer::new(),
            counters: Counters::default(),
            last_gossip_ts: 0,
            storage_down: None,
            denied_recent: join::RecentSet::default(),
            authenticated: false,
            audit_per_key: HashMap::new(),
            runs: runs::RunTable::default(),
            found_down: found_down::FoundDown::default(),
        }
    }

    /// This node's name.
    pub fn name(&self) -> &str {
        &self.cfg.name
    }

    /// Installs the current slice policies (the driver reloads them from disk).
    pub fn set_policies(&mut self, policies: HashMap<String, Arc<SlicePolicy>>) {
        self.policies = policies;
    }

    /// The driver's audit log or replay journal failed (`Some(why)`: new sessions are refused
    /// with [`STORAGE_UNAVAILABLE`]) or takes records again (`None`).
    pub fn set_storage_failure(&mut self, why: Option<String>) {
        self.storage_down = why;
    }

    /// Installs a reloaded known_nodes list. Members it no longer trusts (a key now
    /// `@revoked`, a line removed or changed) leave the membership tables at once, so no new
    /// session is offered to them.
    pub fn set_known_nodes(&mut self, known: Arc<KnownNodes>) {
        self.roster = Arc::new(Roster::from_known(&known));
        self.known = known;
        let known = self.known.clone();
        let gone = self
            .membership
            .retain_trusted(&|id: &MemberId| Self::trusted(&known, id));
        self.counters.members_untrusted += gone as u64;
    }

    /// Adds join addresses (`--join`).
    pub fn join(&mut self, addrs: &[SocketAddr], now_ms: u64) {
        for a in addrs {
            if *a != self.cfg.listen {
                self.membership.add_seed(*a, now_ms);
            }
        }
        self.pump_gossip(now_ms);
    }

    /// The partial view, for `mon members`.
    pub fn members(&self, now_ms: u64) -> Vec<MemberView> {
        self.membership.view(now_ms)
    }

    /// Estimated number of live nodes.
    pub fn size_estimate(&self) -> usize {
        self.membership.size_estimate()
    }

    /// Counters.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// Number of sessions in memory.
    pub fn session_count(&self) -> usize {
        self.sessions.len()
    }

    /// Whether known_nodes trusts `id`.
    fn trusted(known: &KnownNodes, id: &MemberId) -> bool {
        matches!(
            known.check(&id.name, Some(id.addr.ip()), &id.key),
            Trust::Trusted
        )
    }

    /// Whether a gossip entry about a third party may be used: known_nodes trusts it, its IP
    /// is specified (`0.0.0.0` reaches no one) and, when the lines for that name and key list
    /// addresses, its address is one of them (a member cannot steer others' offers for a
    /// name to an address of its choosing).
    fn trusted_entry(known: &KnownNodes, id: &MemberId) -> bool {
        if id.addr.ip().is_unspecified() || !Self::trusted(known, id) {
            return false;
        }
        let ip = id.addr.ip().to_canonical();
        let mut listed = false;
        for e in known.entries_named(&id.name).filter(|e| e.key() == &id.key) {
            for a in e.ips() {
                if a.to_canonical() == ip {
                    return true;
                }
                listed = true;
            }
        }
        !listed
    }

    /// Whether the last packet given to [`Node::handle_packet`] proved who sent it: a
    /// verified session, a valid hop signature, or a sealed frame that opened. The driver
    /// stops counting such a stream against its source address's unauthenticated streams.
    pub fn take_authenticated(&mut self) -> bool {
        std::mem::take(&mut self.authenticated)
    }

    /// Handles one received packet.
    pub fn handle_packet(&mut self, now_ms: u64, from: Peer, bytes: &[u8]) {
        self.handle_packet_via(now_ms, from, bytes, false);
    }

    /// A packet that came on a stream a node opened: `from` is the listen address the
    /// stream's preamble claims, which nothing has proven. Such a stream never carries a
    /// client's Session (clients open client streams), so one is dropped as junk: the claimed
    /// address is never the target of an answer to something unauthenticated.
    pub fn handle_stream_packet(&mut self, now_ms: u64, from: Peer, bytes: &[u8]) {
        self.handle_packet_via(now_ms, from, bytes, true);
    }

    fn handle_packet_via(&mut self, now_ms: u64, from: Peer, bytes: &[u8], node_stream: bool) {
        self.authenticated = false;
        let packet = match Packet::from_bytes(bytes, MAX_STREAM_PACKET) {
            Ok(p) => p,
            Err(_) => {
                self.counters.junk += 1;
                self.junk.note(from.ip(), now_ms);
                self.drain_junk(now_ms);
                return;
            }
        };
        match packet {
            Packet::Gossip { signed, sig } => self.handle_gossip(now_ms, from, &signed, &sig),
            Packet::Session { .. } => self.handle_session(now_ms, from, packet, bytes, node_stream),
            Packet::SessionOk { .. } => self.handle_session_ok(now_ms, from, packet),
            Packet::Prune { .. } => self.handle_prune(now_ms, from, packet),
            Packet::Deny { .. } => self.handle_deny(now_ms, from, packet),
            Packet::Sealed {
                session_hash,
                from: sender,
                channel,
                frame,
            } => self.handle_sealed(now_ms, from, *session_hash, &sender, channel, &frame),
        }
        self.pump_gossip(now_ms);
    }

    /// A local operation finished (`index` [`PUSH_COND_INDEX`]: a push condition's resource).
    pub fn handle_local(&mut self, now_ms: u64, session: SessionHash, index: usize, local: Local) {
        if index == PUSH_COND_INDEX {
            self.push_cond_result(now_ms, session, local);
            return;
        }
        if !self.runs.end(session, index) {
            // Cancelled (a newer Command of its session began), or never asked for.
            return;
        }
        self.on_local(now_ms, session, index, local);
    }

    /// The client connection `id` closed: abandon its sessions.
    pub fn client_closed(&mut self, now_ms: u64, id: u64) {
        let gone: Vec<SessionHash> = self
            .sessions
            .iter()
            .filter(|(_, s)| matches!(s.parent.peer, Peer::Client(c, _) if c == id))
            .map(|(h, _)| *h)
            .collect();
        for h in gone {
            if let Some(s) = self.sessions.get_mut(&h) {
                s.client_closed(now_ms);
                if s.cmd.is_some() && s.result_packet.is_some() {
                    // An interactive session between commands: nobody will ask again.
                    s.forget_at = Some(now_ms);
                }
            }
            self.push_pump(now_ms, h);
        }
    }

    /// Timers: gossip, retransmissions, deadlines, expiry.
    pub fn handle_timeout(&mut self, now_ms: u64) {
        // Membership asks for its timer at its next Ping only; session timers (every RTO
        // during a session) need not re-run its expiry scans.
        if self.membership.poll_timeout().is_none_or(|t| now_ms >= t) {
            self.membership.handle_timeout(now_ms);
            self.forget_stale_gossip_ts(now_ms);
        }
        self.session_timers(now_ms);
        self.replay.expire(now_ms);
        self.drain_junk(now_ms);
        self.pump_gossip(now_ms);
    }

    /// The next time [`Node::handle_timeout`] must be called.
    pub fn poll_timeout(&self) -> Option<u64> {
        let mut t = match (self.membership.poll_timeout(), self.junk.next_due_ms()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        for s in self.sessions.values() {
            let st = s.next_timer();
            t = match (t, st) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
        t
    }

    /// The server is stopping: flushes pending junk summaries into the output.
    pub fn shutdown(&mut self, now_ms: u64) {
        for ev in self.junk.flush(now_ms) {
            self.out.push_back(Output::Audit(Box::new(ev)));
        }
    }

    /// The next output, in order.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    fn drain_junk(&mut self, now_ms: u64) {
        for ev in self.junk.drain(now_ms) {
            self.out.push_back(Output::Audit(Box::new(ev)));
        }
    }

    fn send(&mut self, to: Peer, p: &Packet) {
        self.out.push_back(Output::Send {
            to,
            bytes: p.to_bytes(),
        });
    }

    fn audit(&mut self, ev: AuditEvent) {
        self.out.push_back(Output::Audit(Box::new(ev)));
    }
}
