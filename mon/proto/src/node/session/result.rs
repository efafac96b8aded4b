//! A session's channel-0 link traffic and its operations: frames from the parent (go,
//! result acknowledgement, cancel) and from children (their subtree results), and running
//! this node's operations once the go came (an `Exec`/`Grep` is audited before its `Run`
//! goes out, and its end before its partial counts). Finishing is in `aggregate.rs`.

use mon_keys::hop::CLIENT_NAME;

use crate::agg::{Local, Partial, Query};

use crate::wire::packet::{Inner, SubtreeResult};
use crate::wire::session::SessionHash;

use super::{sealed, ChildState, Ctx, Session};
use crate::node::{Node, Output, Peer, RunRequest};

/// Why a child that never answered the Session (retransmissions included) is missing.
pub(in crate::node) const NO_ANSWER: &str = "no answer (node down?)";

/// A channel-0 frame on one of a session's links, once [`Session::open_link_frame`] looked
/// at it.
pub(in crate::node) enum Opened {
    /// From the first parent (or the client continuing on its stream): the plaintext.
    Parent(Vec<u8>),
    /// From a linked child: the plaintext.
    Child(Vec<u8>),
    /// An extra parent proved key possession: its go is recorded.
    ExtraGo,
    /// From an extra parent, but it did not open: dropped, not counted.
    ExtraForged,
    /// From a first parent this node left (see `reoffer.rs`): the plaintext.
    Former(Vec<u8>),
    /// From nobody the session knows, or it did not open.
    Rejected,
}

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
        let (from_parent, plain) = match s.open_link_frame(from, sender, frame) {
            Opened::Parent(b) => (true, b),
            Opened::Child(b) => (false, b),
            Opened::ExtraGo => {
                self.authenticated = true;
                if s.push.is_some() {
                    self.push_idle_takeover(now_ms, hash);
                }
                return;
            }
            Opened::ExtraForged => return,
            Opened::Former(b) => {
                if let Some((s, mut cx)) = self.session_cx(&hash) {
                    s.answer_former_parent(hash, sender, &b, &mut cx);
                }
                return;
            }
            Opened::Rejected => {
                self.counters.frames_rejected += 1;
                return;
            }
        };
        self.authenticated = true;
        let Ok(inner) = Inner::from_bytes(&plain) else {
            self.counters.frames_rejected += 1;
            return;
        };
        self.on_link_inner(now_ms, from, hash, sender, from_parent, inner);
    }

    /// What an opened channel-0 frame says, by who sent it.
    fn on_link_inner(
        &mut self,
        now_ms: u64,
        from: Peer,
        hash: SessionHash,
        sender: &str,
        from_parent: bool,
        inner: Inner,
    ) {
        match (from_parent, inner) {
            (true, Inner::Go) => self.on_go(now_ms, hash),
            (true, ack @ (Inner::ResultAck | Inner::CommandAck(_))) => {
                if let Some(s) = self.sessions.get_mut(&hash) {
                    // Only the acknowledgement of the command this session is on stops the
                    // retransmission of its result (a stale one of an earlier command not).
                    if ack.acked_seq() == Some(s.cmd_seq()) {
                        s.result_acked = true;
                    }
                }
            }
            (true, Inner::Cancel) => {
                if let Some((s, mut cx)) = self.session_cx(&hash) {
                    s.finish_by = now_ms;
                    s.cancel_runs(now_ms, hash, "the session was cancelled", &mut cx);
                }
                self.try_finish(now_ms, hash);
            }
            (false, Inner::Result(r)) => self.on_child_result(now_ms, hash, sender, r),
            (true, Inner::Command(c)) => self.on_command(now_ms, from, hash, c),
            (false, Inner::Command(_)) => {
                // Commands only come down the overlay: one from a child runs nothing.
                self.counters.commands_refused += 1;
                self.counters.frames_rejected += 1;
            }
            _ => self.counters.frames_rejected += 1,
        }
    }

    /// The first parent's go: this node's operations start (a push session's landing).
    pub(in crate::node) fn on_go(&mut self, now_ms: u64, hash: SessionHash) {
        let Some((s, mut cx)) = self.session_cx(&hash) else {
            return;
        };
        match s.take_go(now_ms, hash, &mut cx) {
            Go::Ignored => return,
            // A push session's one operation (count) is this node's landing of the file.
            Go::Push => {
                s.push_start(now_ms, hash, &mut cx);
                return;
            }
            Go::Started => {}
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
        let Some((s, mut cx)) = self.session_cx(&hash) else {
            return;
        };
        if s.local_result(now_ms, index, local, &mut cx) {
            self.try_finish(now_ms, hash);
        }
    }

    fn on_child_result(&mut self, now_ms: u64, hash: SessionHash, child: &str, r: SubtreeResult) {
        let Some((s, mut cx)) = self.session_cx(&hash) else {
            return;
        };
        if s.child_result(hash, child, r, &mut cx) {
            self.try_finish(now_ms, hash);
        }
    }
}

/// What the first parent's go did.
pub(in crate::node) enum Go {
    /// Nothing: a go came before, or the operations already started.
    Ignored,
    /// A push session: the node starts its landing.
    Push,
    /// The operations were started (or evaluated at once).
    Started,
}

impl Session {
    /// Opens a channel-0 `frame` that `sender` sent from `from` with the key of the link it
    /// claims: the first parent, the client continuing on its stream (a client that sent its
    /// Session in a datagram continues on its TCP stream; a frame sealed with the first hop's
    /// key proves the stream is the client's, and the result goes there), a linked child, or
    /// an extra DAG parent (they only serve blocks; their frames just prove key possession,
    /// enough to take over from a first parent lost before its go).
    pub(in crate::node) fn open_link_frame(
        &mut self,
        from: Peer,
        sender: &str,
        frame: &[u8],
    ) -> Opened {
        let opened = if self.parent.name == sender && self.parent.peer == from {
            self.parent.opener.open(frame).ok().map(Opened::Parent)
        } else if sender == CLIENT_NAME
            && self.parent.name == CLIENT_NAME
            && matches!((self.parent.peer, from), (Peer::Addr(_), Peer::Client(..)))
        {
            let opened = self.parent.opener.open(frame).ok();
            if opened.is_some() {
                self.parent.peer = from;
            }
            opened.map(Opened::Parent)
        } else if let Some(c) = self.children.iter_mut().find(|c| c.name == sender) {
            match &mut c.state {
                ChildState::Linked { opener, .. } => opener.open(frame).ok().map(Opened::Child),
                _ => None,
            }
        } else if let Some(p) = self
            .former_parents
            .iter_mut()
            .find(|p| p.link.name == sender && p.link.peer == from)
        {
            p.link.opener.open(frame).ok().map(Opened::Former)
        } else if let Some(p) = self.extra_parents.iter_mut().find(|p| p.name == sender) {
            if p.opener.open(frame).is_err() {
                return Opened::ExtraForged;
            }
            p.go = true;
            return Opened::ExtraGo;
        } else {
            None
        };
        opened.unwrap_or(Opened::Rejected)
    }

    /// The first parent's go arrived.
    pub(in crate::node) fn take_go(
        &mut self,
        now_ms: u64,
        hash: SessionHash,
        cx: &mut Ctx<'_>,
    ) -> Go {
        if self.parent.go {
            return Go::Ignored;
        }
        self.parent.go = true;
        if self.local_started {
            return Go::Ignored;
        }
        self.local_started = true;
        if self.push.is_some() {
            return Go::Push;
        }
        // An interactive session's children linked before our go got none (see
        // [`Session::go_for_child`]): they get it now.
        if self.cmd.is_some() {
            self.go_to_linked_children(hash, cx);
        }
        self.start_ops(now_ms, hash, cx);
        Go::Started
    }

    /// Evaluates what this node knows at once (count, depth, topology; everything is empty
    /// on a node outside `targets`) and asks the driver to run the rest; an `Exec`, `Grep` or
    /// `Audit` (the audit log read) is audited (`op.start`) before its `Run`.
    pub(super) fn start_ops(&mut self, now_ms: u64, hash: SessionHash, cx: &mut Ctx<'_>) {
        let timeout_ms = self.finish_by.saturating_sub(now_ms);
        let me = cx.cfg.name.as_str();
        let seq = self.cmd_seq();
        // The session's own operations are due by the signed body's `issued_at` plus its
        // timeout, a Command's by its own signed `issued_at` plus the same (the client waits
        // that long for each): a Command held back and handed over later (by a compromised
        // relay, to a node that joined late) starts nothing either.
        let b = &self.body;
        let issued_at = match self.cmd.as_ref().and_then(|c| c.last.as_deref()) {
            Some(c) if seq > 0 => c.issued_at,
            _ => b.issued_at,
        };
        let deadline =
            crate::timing::own_ops_deadline_ms(issued_at, b.timeout_ms, cx.cfg.limits.skew_ms);
        let expired = now_ms > deadline;
        for (i, q) in self.ops.iter().enumerate() {
            if let Some(p) = self.known_at_once(q, me) {
                self.local[i] = Some(p);
                continue;
            }
            if expired {
                self.local[i] = Some(self.op_expired(q, now_ms, deadline, cx));
                continue;
            }
            let heavy = matches!(q, Query::Exec { .. } | Query::Grep { .. } | Query::Audit(_));
            if heavy && cx.runs.heavy() >= cx.cfg.max_runs {
                self.local[i] = Some(self.runs_busy(q, cx));
                continue;
            }
            if heavy {
                cx.out.push_back(Output::Audit(Box::new(self.op_event(q))));
            }
            let index = super::command::run_index(seq, i);
            cx.runs.start(hash, index, heavy);
            cx.out.push_back(Output::Run(RunRequest {
                session: hash,
                index,
                query: self.scoped(q),
                run_as: self.run_as.clone(),
                grep_paths: self.grep_paths.clone(),
                timeout_ms,
            }));
        }
    }

    /// The operation as this node runs it: an audit read sees only the records of the
    /// session's own slice (a slice's audit grant never opens another slice's records).
    fn scoped(&self, q: &Query) -> Query {
        match q {
            Query::Audit(f) => {
                let mut f = f.clone();
                f.slice = Some(self.body.slice.clone());
                Query::Audit(f)
            }
            q => q.clone(),
        }
    }

    /// The partial of `q` this node has without running anything, if any.
    fn known_at_once(&self, q: &Query, me: &str) -> Option<Partial> {
        if !self.targeted {
            return Some(Partial::empty(q));
        }
        match q {
            Query::Count | Query::Depth => Some(Partial::from_local(q, me, Local::Present)),
            Query::Topology => {
                let parent = (self.parent.name != CLIENT_NAME).then(|| self.parent.name.clone());
                Some(Partial::from_local(q, me, Local::Topology { parent }))
            }
            _ => None,
        }
    }

    /// Operation `index` finished locally (audited, `op.end`, when it is an `Exec`, `Grep`
    /// or `Audit`). Returns whether it counted (false: no such operation, or already in).
    pub(in crate::node) fn local_result(
        &mut self,
        now_ms: u64,
        index: usize,
        local: Local,
        cx: &mut Ctx<'_>,
    ) -> bool {
        let (seq, index) = super::command::split_run_index(index);
        if seq != self.cmd_seq() {
            // A run of an earlier command of an interactive session, finished late.
            return false;
        }
        let Some(q) = self.ops.get(index) else {
            return false;
        };
        if self.local.get(index).is_none_or(Option::is_some) {
            return false;
        }
        if matches!(q, Query::Exec { .. } | Query::Grep { .. } | Query::Audit(_)) {
            let ev = self.op_end_event(q, &local, now_ms);
            cx.out.push_back(Output::Audit(Box::new(ev)));
        }
        let p = Partial::from_local(q, &cx.cfg.name, local);
        self.local[index] = Some(p);
        true
    }

    /// A linked child's subtree result: acknowledged, and kept when it has one partial per
    /// operation (else the child is missing). Returns whether the child is one of ours.
    pub(in crate::node) fn child_result(
        &mut self,
        hash: SessionHash,
        child: &str,
        r: SubtreeResult,
        cx: &mut Ctx<'_>,
    ) -> bool {
        let nops = self.ops.len();
        let seq = self.cmd_seq();
        let Some(c) = self.children.iter_mut().find(|c| c.name == child) else {
            return false;
        };
        if let ChildState::Linked { sealer, result, .. } = &mut c.state {
            if let Some(p) = sealed(hash, &cx.cfg.name, sealer, &Inner::ack(r.seq)) {
                let to = Peer::Addr(c.addr);
                if result.is_none() && r.seq == seq {
                    if r.partials.len() == nops {
                        *result = Some(r);
                    } else {
                        c.state = ChildState::Missing {
                            why: "malformed result".into(),
                            initiator: None,
                        };
                    }
                }
                cx.out.push_back(Output::Send {
                    to,
                    bytes: p.to_bytes(),
                });
            }
        }
        true
    }
}
