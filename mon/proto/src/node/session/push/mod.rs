//! The push data plane inside a node: channel-1 link traffic, the download and the serve
//! queue, file I/O requests to the driver, and the node's done/failed report (see
//! docs/protocol.md, "Push").

use std::collections::VecDeque;

use crate::agg::{Local, Partial, Query};
use crate::audit::{EventKind, Outcome};
use crate::node::{Node, Output, Peer};
use crate::push::msg::{PushMsg, PUSH_CHANNEL};
use crate::push::serve::{PRIMARY_WEIGHT, SECONDARY_WEIGHT};
use crate::wire::packet::Packet;
use crate::wire::session::SessionHash;
use state::{Land, PLink};

mod cond;
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

/// Seals `m` on link `l` and queues it for the link's stream.
fn send_on(
    out: &mut VecDeque<Output>,
    me: &str,
    hash: SessionHash,
    l: &mut PLink,
    m: &PushMsg,
    now_ms: u64,
    block: bool,
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
        sent: block.then_some(hash),
    });
}

impl Node {
    /// The first parent's go arrived: create the landing.
    pub(in crate::node) fn push_start(&mut self, now_ms: u64, hash: SessionHash) {
        let Some(p) = self.sessions.get_mut(&hash).and_then(|s| s.push.as_mut()) else {
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
        if !self.push_cond_start(now_ms, hash) {
            self.push_create(hash);
        }
    }

    /// Asks the driver for the session's file: a landing beneath the push dir if this node
    /// lands it, else a relay-only store.
    pub(in crate::node) fn push_create(&mut self, hash: SessionHash) {
        let Some(s) = self.sessions.get(&hash) else {
            return;
        };
        let Some(p) = s.push.as_ref() else {
            return;
        };
        let relay_only = !matches!(cond::finish(s.targeted, &p.cond), cond::Finish::Commit);
        self.out.push_back(Output::PushLand {
            session: hash,
            dest: p.dest.clone(),
            push_dir: p.push_dir.clone(),
            run_as: s.run_as.clone(),
            relay_only,
            size: p.manifest.size,
        });
    }

    /// The local part failed: drop the temporary file, report, close our children's links
    /// (they look to their other parents).
    fn push_fail(&mut self, now_ms: u64, hash: SessionHash, code: &str, text: &str) {
        let Some(p) = self.sessions.get_mut(&hash).and_then(|s| s.push.as_mut()) else {
            return;
        };
        if p.finished() {
            return;
        }
        p.land = Land::Failed;
        tracing::debug!(code, text, "push: local part failed");
        // Children take blocks elsewhere; the links stay up (keepalives) because those whose
        // first parent we are still send us their results.
        let me = self.cfg.name.clone();
        for (i, l) in p.children.iter_mut().enumerate() {
            p.serve.remove_child(i as u32);
            send_on(&mut self.out, &me, hash, l, &PushMsg::Leave, now_ms, false);
        }
        let dest = p.dest.clone();
        self.out.push_back(Output::PushDrop { session: hash });
        let ev = self
            .session_audit(&hash, EventKind::PushDone, Outcome::Error)
            .op(format!("push {dest}"))
            .reason(code, text);
        self.audit(ev);
        self.push_local(now_ms, hash, Local::Failed(format!("{code}: {text}")));
    }

    fn push_local(&mut self, now_ms: u64, hash: SessionHash, local: Local) {
        let name = self.cfg.name.clone();
        if let Some(p) = self.sessions.get_mut(&hash).and_then(|s| s.push.as_mut()) {
            for l in &mut p.parents {
                send_on(
                    &mut self.out,
                    &name,
                    hash,
                    l,
                    &PushMsg::Finished,
                    now_ms,
                    false,
                );
            }
        }
        if let Some(s) = self.sessions.get_mut(&hash) {
            let targeted = s.targeted;
            if let Some(slot) = s.local.get_mut(0) {
                if slot.is_none() {
                    *slot = Some(if targeted {
                        Partial::from_local(&Query::Count, &name, local)
                    } else {
                        Partial::empty(&Query::Count)
                    });
                }
            }
        }
        self.try_finish(now_ms, hash);
    }

    /// Moves everything along: scheduler events, requests, serving, completion; then what
    /// the session's push part asked of the node, in this order: `push.deny` audits for
    /// dropped parents, a new first parent, an adoption request, an idle takeover, a relay's
    /// local result, a failure.
    pub(in crate::node) fn push_pump(&mut self, now_ms: u64, hash: SessionHash) {
        let Some((s, cx)) = self.session_cx(&hash) else {
            return;
        };
        let Some(step) = s.pump_push(now_ms, hash, cx.cfg.name.as_str(), cx.out) else {
            return;
        };
        for (peer, code, text) in step.audits {
            let ev = self
                .session_audit(&hash, EventKind::PushDeny, Outcome::Deny)
                .peer(peer)
                .reason(code, text);
            self.audit(ev);
        }
        // Results go to the new first parent from now on.
        if let Some(name) = step.new_primary {
            if let Some(s) = self.sessions.get_mut(&hash) {
                if let Some(pos) = s.extra_parents.iter().position(|x| x.name == name) {
                    s.promote_extra_parent(pos, true);
                }
            }
        }
        if step.ask_adoption {
            self.push_ask_adoption(now_ms, hash);
        }
        self.push_idle_takeover(now_ms, hash);
        if let Some(local) = step.relay_done {
            self.push_local(now_ms, hash, local);
        }
        if let Some((code, text)) = step.fail {
            self.push_fail(now_ms, hash, &code, &text);
        }
    }

    /// The parent side of a new push link (after the child's SessionOk).
    pub(in crate::node) fn push_add_child(
        &mut self,
        now_ms: u64,
        hash: SessionHash,
        name: &str,
        peer: Peer,
        keys: (mon_keys::frame::Sealer, mon_keys::frame::Opener),
        primary: bool,
    ) {
        let me = self.cfg.name.clone();
        let Some(p) = self.sessions.get_mut(&hash).and_then(|s| s.push.as_mut()) else {
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
        tracing::debug!(child = name, id, primary, "push: child linked");
        let mut l = PLink::new(name.to_string(), peer, keys.0, keys.1, now_ms);
        let advert = PushMsg::Advert(p.dl.bitmap().to_bytes());
        send_on(&mut self.out, &me, hash, &mut l, &advert, now_ms, false);
        p.children.push(l);
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
        let Some(p) = self.sessions.get_mut(&hash).and_then(|s| s.push.as_mut()) else {
            return;
        };
        let id = p.parents.len() as u32;
        let orphan = p.orphan_since.is_some();
        if p.dl.add_parent(id).is_ok() {
            tracing::debug!(parent = name, id, orphan, "push: parent linked");
            let mut l = PLink::new(name.to_string(), peer, keys.0, keys.1, now_ms);
            // A late extra parent of a node already done must not wait for it.
            if p.finished() {
                let me = self.cfg.name.clone();
                send_on(
                    &mut self.out,
                    &me,
                    hash,
                    &mut l,
                    &PushMsg::Finished,
                    now_ms,
                    false,
                );
            }
            p.parents.push(l);
            if orphan {
                self.push_relinked(now_ms, hash, id);
            }
        }
    }

    /// The client of a push session whose entry we are went away.
    pub(in crate::node) fn push_client_gone(&mut self, now_ms: u64, hash: SessionHash) {
        if let Some(p) = self.sessions.get_mut(&hash).and_then(|s| s.push.as_mut()) {
            for (i, l) in p.parents.iter_mut().enumerate() {
                if l.alive && matches!(l.peer, Peer::Client(..)) {
                    l.alive = false;
                    p.dl.remove_parent(i as u32);
                }
            }
        }
        self.push_pump(now_ms, hash);
    }
}
