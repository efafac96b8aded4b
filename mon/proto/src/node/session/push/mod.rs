//! The push data plane inside a node: channel-1 link traffic, the download and the serve
//! queue, file I/O requests to the driver, and the node's done/failed report (see
//! docs/protocol.md, "Push").
//!
//! Each event (a driver's report, a frame, a timer) enters as a `Node` method that looks the
//! session up once ([`Node::session_cx`]) and hands the `Ctx` to `Session`/`PushState`
//! methods; what needs the node itself (offering the session to a new child, a go that
//! starts the push, finishing the result, the next pump) runs after them, in the order the
//! original event would have done it. Audit records go to the output before the actions
//! they guard.

use std::collections::VecDeque;

use super::{Ctx, Session};
use crate::agg::{Local, Partial, Query};
use crate::audit::{EventKind, Outcome};
use crate::node::{Node, Output, Peer};
use crate::push::msg::{PushMsg, PUSH_CHANNEL};
use crate::push::serve::{PRIMARY_WEIGHT, SECONDARY_WEIGHT};
use crate::wire::packet::Packet;
use crate::wire::session::SessionHash;
use pump::PumpStep;
use state::{Land, PLink};

mod cond;
mod ends;
mod frames;
mod io;
mod live;
mod pump;
pub(in crate::node) mod state;

pub use cond::PUSH_COND_INDEX;

/// A file operation the driver could not do, reported back to the node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PushIoError {
    /// Stable reason code (`no-space`, `permission`, `io`, …).
    pub code: String,
    /// What happened, for the user.
    pub text: String,
}

/// Seals `m` on link `l` and queues it for the link's stream; a block for child link
/// `block` is reported written ([`crate::node::StreamSent`]).
fn send_on(
    out: &mut VecDeque<Output>,
    me: &str,
    hash: SessionHash,
    l: &mut PLink,
    m: &PushMsg,
    now_ms: u64,
    block: Option<u32>,
) {
    if !l.alive {
        return;
    }
    let Ok(frame) = l.sealer.seal(&m.to_bytes()) else {
        l.alive = false;
        return;
    };
    l.sent = now_ms;
    let p = Packet::Sealed {
        session_hash: hash.into(),
        from: me.to_string(),
        channel: PUSH_CHANNEL,
        frame,
    };
    out.push_back(Output::SendStream {
        to: l.peer,
        bytes: p.to_bytes(),
        sent: block.map(|child| crate::node::StreamSent {
            session: hash,
            child,
        }),
    });
}

impl Node {
    /// Moves everything along: scheduler events, requests, serving, completion; then what
    /// the session's push part asked of the node, in this order: `push.deny` audits for
    /// dropped parents, a new first parent, an adoption request, an idle takeover, a relay's
    /// local result, a failure.
    pub(in crate::node) fn push_pump(&mut self, now_ms: u64, hash: SessionHash) {
        let Some((s, mut cx)) = self.session_cx(&hash) else {
            return;
        };
        let Some(mut step) = s.pump_push(now_ms, hash, cx.cfg.name.as_str(), cx.out) else {
            return;
        };
        if s.apply_pump_step(now_ms, hash, &mut step, &mut cx) {
            // An extra parent took over as the first one: its go starts the push.
            self.on_go(now_ms, hash);
        }
        if let Some(local) = step.relay_done {
            self.push_local(now_ms, hash, local);
        }
        if let Some((code, text)) = step.fail {
            self.push_fail(now_ms, hash, &code, &text);
        }
    }

    /// The local part failed (see [`Session::push_fail`]), then the result may go up.
    fn push_fail(&mut self, now_ms: u64, hash: SessionHash, code: &str, text: &str) {
        let Some((s, mut cx)) = self.session_cx(&hash) else {
            return;
        };
        if s.push_fail(now_ms, hash, code, text, &mut cx) {
            self.try_finish(now_ms, hash);
        }
    }

    /// The local part's result is in (see [`Session::push_local`]), then the result may go
    /// up.
    fn push_local(&mut self, now_ms: u64, hash: SessionHash, local: Local) {
        if let Some((s, mut cx)) = self.session_cx(&hash) {
            s.push_local(now_ms, hash, local, &mut cx);
        }
        self.try_finish(now_ms, hash);
    }

    /// The child side of a new push link (first or extra parent).
    pub(in crate::node) fn push_add_parent(
        &mut self,
        now_ms: u64,
        hash: SessionHash,
        name: &str,
        peer: Peer,
        keys: (mon_keys::frame::Sealer, mon_keys::frame::Opener),
    ) {
        let Some((s, mut cx)) = self.session_cx(&hash) else {
            return;
        };
        let l = PLink::new(name.to_string(), peer, keys.0, keys.1, now_ms);
        s.push_add_parent(now_ms, hash, l, &mut cx);
    }
}

impl Session {
    /// The client of this session (we are its entry) went away: the session finishes now,
    /// and a push leaves the client's links (the node pumps the push next).
    pub(in crate::node) fn client_closed(&mut self, now_ms: u64) {
        self.client_gone = true;
        self.finish_by = self.finish_by.min(now_ms);
        if let Some(p) = self.push.as_mut() {
            for (i, l) in p.parents.iter_mut().enumerate() {
                if l.alive && matches!(l.peer, Peer::Client(..)) {
                    l.alive = false;
                    p.dl.remove_parent(i as u32);
                }
            }
        }
    }

    /// The first parent's go arrived: create the landing.
    pub(in crate::node) fn push_start(&mut self, now_ms: u64, hash: SessionHash, cx: &mut Ctx<'_>) {
        let Some(p) = self.push.as_mut() else {
            return;
        };
        if p.land != Land::Idle {
            return;
        }
        p.land = Land::Creating;
        p.started_ms = now_ms;
        tracing::debug!(parents = p.parents.len(), "push: go, landing");
        // With a `--where` condition, the file is created only once the condition is known
        // (`push_cond_result`): a node that does not land creates nothing at DEST.
        if !self.push_cond_start(now_ms, hash, cx) {
            self.push_create(hash, cx);
        }
    }

    /// Asks the driver for the session's file: a landing beneath the push dir if this node
    /// lands it, else a relay-only store.
    fn push_create(&self, hash: SessionHash, cx: &mut Ctx<'_>) {
        let Some(p) = self.push.as_ref() else {
            return;
        };
        let relay_only = !matches!(cond::finish(self.targeted, &p.cond), cond::Finish::Commit);
        cx.out.push_back(Output::PushLand {
            session: hash,
            dest: p.dest.clone(),
            push_dir: p.push_dir.clone(),
            run_as: self.run_as.clone(),
            relay_only,
            size: p.manifest.size,
        });
    }

    /// The local part failed: drop the temporary file, report, close our children's links
    /// (they look to their other parents). Returns whether it failed just now (false: no
    /// push, or its part was already over).
    fn push_fail(
        &mut self,
        now_ms: u64,
        hash: SessionHash,
        code: &str,
        text: &str,
        cx: &mut Ctx<'_>,
    ) -> bool {
        let Some(p) = self.push.as_mut() else {
            return false;
        };
        if p.finished() {
            return false;
        }
        p.land = Land::Failed;
        tracing::debug!(code, text, "push: local part failed");
        // Children take blocks elsewhere; the links stay up (keepalives) because those whose
        // first parent we are still send us their results.
        let me = cx.cfg.name.as_str();
        for (i, l) in p.children.iter_mut().enumerate() {
            p.serve.remove_child(i as u32);
            send_on(cx.out, me, hash, l, &PushMsg::Leave, now_ms, None);
        }
        let dest = p.dest.clone();
        cx.out.push_back(Output::PushDrop { session: hash });
        let ev = self
            .audit_event(EventKind::PushDone, Outcome::Error)
            .op(format!("push {dest}"))
            .reason(code, text);
        cx.out.push_back(Output::Audit(Box::new(ev)));
        self.push_local(now_ms, hash, Local::Failed(format!("{code}: {text}")), cx);
        true
    }

    /// The local part's result: parents are told we are finished, and the push session's one
    /// operation (count) gets its slot.
    /// This node's end goes to the result parent first, so that it arrives before
    /// `Finished` (for which the parent holds its own result).
    fn push_local(&mut self, now_ms: u64, hash: SessionHash, local: Local, cx: &mut Ctx<'_>) {
        self.record_own_end(&cx.cfg.name, &local);
        self.send_push_ends(now_ms, hash, true, cx);
        let name = cx.cfg.name.as_str();
        if let Some(p) = self.push.as_mut() {
            for l in &mut p.parents {
                send_on(cx.out, name, hash, l, &PushMsg::Finished, now_ms, None);
            }
        }
        let targeted = self.targeted;
        if let Some(slot) = self.local.get_mut(0) {
            if slot.is_none() {
                *slot = Some(if targeted {
                    Partial::from_local(&Query::Count, name, local)
                } else {
                    Partial::empty(&Query::Count)
                });
            }
        }
    }

    /// What a pump asked of the session itself, in order: `push.deny` audits for dropped
    /// parents, a new first parent, an adoption request, an idle takeover. Returns whether an
    /// extra parent took over as the first one (the node then runs its go).
    fn apply_pump_step(
        &mut self,
        now_ms: u64,
        hash: SessionHash,
        step: &mut PumpStep,
        cx: &mut Ctx<'_>,
    ) -> bool {
        for (peer, code, text) in step.audits.drain(..) {
            let ev = self
                .audit_event(EventKind::PushDeny, Outcome::Deny)
                .peer(peer)
                .reason(code, text);
            cx.out.push_back(Output::Audit(Box::new(ev)));
        }
        // Results go to the new first parent from now on.
        if let Some(name) = step.new_primary.take() {
            if let Some(pos) = self.extra_parents.iter().position(|x| x.name == name) {
                self.promote_extra_parent(pos, true);
            }
        }
        if step.ask_adoption {
            if let Some(p) = self.push.as_mut() {
                p.ask_adoption(now_ms, hash, &cx.cfg.name, cx.out);
            }
        }
        self.idle_takeover(now_ms, hash, cx)
    }

    /// The parent side of a new push link `l` (after the child's SessionOk).
    pub(in crate::node) fn push_add_child(
        &mut self,
        now_ms: u64,
        hash: SessionHash,
        mut l: PLink,
        primary: bool,
        cx: &mut Ctx<'_>,
    ) {
        let Some(p) = self.push.as_mut() else {
            return;
        };
        let id = p.children.len() as u32;
        let weight = if primary {
            PRIMARY_WEIGHT
        } else {
            SECONDARY_WEIGHT
        };
        if p.serve.add_child(id, weight).is_err() {
            return;
        }
        tracing::debug!(child = l.name.as_str(), id, primary, "push: child linked");
        let advert = PushMsg::Advert(p.dl.bitmap().to_bytes());
        send_on(cx.out, &cx.cfg.name, hash, &mut l, &advert, now_ms, None);
        p.children.push(l);
    }

    /// The child side of a new push link `l` (first or extra parent).
    fn push_add_parent(&mut self, now_ms: u64, hash: SessionHash, mut l: PLink, cx: &mut Ctx<'_>) {
        let Some(p) = self.push.as_mut() else {
            return;
        };
        let id = p.parents.len() as u32;
        let orphan = p.orphan_since.is_some();
        if p.dl.add_parent(id).is_err() {
            return;
        }
        tracing::debug!(parent = l.name.as_str(), id, orphan, "push: parent linked");
        // A late extra parent of a node already done must not wait for it.
        if p.finished() {
            send_on(
                cx.out,
                &cx.cfg.name,
                hash,
                &mut l,
                &PushMsg::Finished,
                now_ms,
                None,
            );
        }
        p.parents.push(l);
        if orphan {
            self.push_relinked(now_ms, hash, id, cx);
        }
    }
}
