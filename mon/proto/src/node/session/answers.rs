//! A child's answer to our Session offer: SessionOk (the hop handshake completes, the child
//! gets its go, a push link opens), Prune (it is in the session already) or Deny.

use std::net::SocketAddr;

use mon_keys::frame::{Opener, Sealer};
use mon_keys::hop::{ChildHello, LinkKeys};
use mon_keys::nodekey::verify_node_sig;

use super::push::state::PLink;
use super::{sealed, Child, ChildState, Ctx, Session};
use crate::node::join::{deny_signed_data, prune_signed_data};
use crate::node::{Counters, Node, Output, Peer};
use crate::push::msg::PUSH_CHANNEL;
use crate::wire::packet::{Inner, Packet};
use crate::wire::session::SessionHash;

/// A push link to a child that just linked: its name, address, channel-1 keys, and whether
/// this node is its first parent.
pub(in crate::node) type PushLink = (String, SocketAddr, (Sealer, Opener), bool);

impl Node {
    pub(in crate::node) fn handle_session_ok(&mut self, now_ms: u64, _from: Peer, packet: Packet) {
        let Packet::SessionOk {
            session_hash,
            child,
            e_c,
            sig,
            confirm,
            extra,
        } = packet
        else {
            return;
        };
        let hash = *session_hash;
        self.found_down.clear(&child);
        let Some((s, mut cx)) = self.session_cx(&hash) else {
            return;
        };
        let hello = <[u8; 16]>::try_from(confirm.as_slice())
            .ok()
            .map(|confirm| ChildHello {
                e_c: *e_c,
                sig: *sig,
                confirm,
            });
        let Some(push_link) = s.child_ok(hash, &child, hello, extra, &mut cx) else {
            return;
        };
        if let Some((name, addr, k, primary)) = push_link {
            let l = PLink::new(name, Peer::Addr(addr), k.0, k.1, now_ms);
            s.push_add_child(now_ms, hash, l, primary, &mut cx);
            self.push_pump(now_ms, hash);
        }
        self.try_finish(now_ms, hash);
    }

    pub(in crate::node) fn handle_prune(&mut self, now_ms: u64, _from: Peer, packet: Packet) {
        let Packet::Prune {
            session_hash,
            child,
            answered,
            sig,
        } = packet
        else {
            return;
        };
        let hash = *session_hash;
        self.found_down.clear(&child);
        let mut forged = false;
        if let Some(c) = self.offered_child(&hash, &child) {
            let key = c.key;
            if let ChildState::Offered {
                packet_hash,
                prune_sig,
                ..
            } = &mut c.state
            {
                if *packet_hash == *answered {
                    match prune_sig {
                        // Checked in `check_prunes`, when this node is about to answer.
                        None => *prune_sig = Some(Box::new(*sig)),
                        // Another Prune while one waits for its check: check this one now,
                        // so that a forged Prune held first cannot hide the real one.
                        Some(held) if **held != *sig => {
                            let data = prune_signed_data(&hash, packet_hash);
                            if verify_node_sig(&key, &data, &sig).is_ok() {
                                c.state = ChildState::Pruned;
                            } else {
                                forged = true;
                            }
                        }
                        Some(_) => {}
                    }
                }
            }
        }
        if forged {
            self.counters.frames_rejected += 1;
        }
        self.try_finish(now_ms, hash);
    }

    pub(in crate::node) fn handle_deny(&mut self, now_ms: u64, _from: Peer, packet: Packet) {
        let Packet::Deny {
            session_hash,
            child,
            code,
            text,
            sig,
        } = packet
        else {
            return;
        };
        let hash = *session_hash;
        if let Some(c) = self.offered_child(&hash, &child) {
            if verify_node_sig(&c.key, &deny_signed_data(&hash, &code), &sig).is_ok() {
                c.state = ChildState::Denied { code, text };
            }
        }
        self.try_finish(now_ms, hash);
    }

    /// The child `name` of session `hash` while its offer is still unanswered.
    pub(in crate::node) fn offered_child(
        &mut self,
        hash: &SessionHash,
        name: &str,
    ) -> Option<&mut Child> {
        self.sessions
            .get_mut(hash)?
            .children
            .iter_mut()
            .find(|c| c.name == name && matches!(c.state, ChildState::Offered { .. }))
    }
}

impl Session {
    /// Checks the signatures of the Prunes that settled children of `hash`: a valid one
    /// makes the child `Pruned`; a forged one is dropped (the offer stands and is
    /// retransmitted) and counted in `frames_rejected`. Returns whether one was forged.
    /// Prunes are most of a session's messages and arrive while the set-up wave is busiest;
    /// their signatures are checked here, once per node when its subtree has answered,
    /// instead.
    pub(in crate::node) fn check_prunes(
        &mut self,
        hash: &SessionHash,
        counters: &mut Counters,
    ) -> bool {
        let mut forged = false;
        for c in &mut self.children {
            let ChildState::Offered {
                packet_hash,
                prune_sig,
                ..
            } = &mut c.state
            else {
                continue;
            };
            let Some(sig) = prune_sig.take() else {
                continue;
            };
            if verify_node_sig(&c.key, &prune_signed_data(hash, packet_hash), &sig).is_ok() {
                c.state = ChildState::Pruned;
            } else {
                forged = true;
            }
        }
        if forged {
            counters.frames_rejected += 1;
        }
        forged
    }

    /// The child `child` answered our offer with a SessionOk (`hello`: its handshake, `None`
    /// when malformed). Nothing about the child changes until the answer verifies: a forged
    /// or corrupted one is counted and dropped, and leaves the offer (and its initiator) as
    /// it was. A child already linked gets its go again (ours may have been lost). A child
    /// given up for not answering is linked still while our result has not gone up.
    /// `None`: nothing more to do; else the session may finish, with the new push link.
    pub(in crate::node) fn child_ok(
        &mut self,
        hash: SessionHash,
        child: &str,
        hello: Option<ChildHello>,
        extra: bool,
        cx: &mut Ctx<'_>,
    ) -> Option<Option<PushLink>> {
        let is_push = self.push.is_some();
        let result_out = self.result_packet.is_some();
        let go = self.go_for_child();
        let me = cx.cfg.name.as_str();
        let c = self.children.iter_mut().find(|c| c.name == child)?;
        let late = matches!(c.state, ChildState::Missing { .. });
        match &mut c.state {
            ChildState::Offered { initiator, .. } | ChildState::Missing { initiator, .. }
                if !(late && result_out) =>
            {
                let init = initiator.as_deref()?;
                let keys = hello.and_then(|h| init.finish(&hash, me, &c.name, &c.key, &h).ok());
                let Some(keys) = keys else {
                    cx.counters.frames_rejected += 1;
                    return None;
                };
                return c.link(hash, keys, extra, is_push, go.as_ref(), cx);
            }
            ChildState::Linked {
                sealer,
                result: None,
                ..
            } => {
                let go = go.and_then(|go| sealed(hash, me, sealer, &go));
                #[cfg(feature = "fault-injection")]
                let go = go.filter(|_| !(is_push && cx.cfg.no_push_go));
                if let Some(p) = go {
                    let to = Peer::Addr(c.addr);
                    cx.out.push_back(Output::Send {
                        to,
                        bytes: p.to_bytes(),
                    });
                }
            }
            _ => {}
        }
        Some(None)
    }
}

impl Child {
    /// The handshake with this child completed: it becomes `Linked` (or `Extra`, when we
    /// are an extra parent) and gets its go (`go`, from [`Session::go_for_child`]; an extra
    /// parent's is always a Go: it only proves the link's keys). `None` when the link keys
    /// cannot be derived (the child is then missing).
    fn link(
        &mut self,
        hash: SessionHash,
        mut keys: LinkKeys,
        extra: bool,
        is_push: bool,
        go: Option<&Inner>,
        cx: &mut Ctx<'_>,
    ) -> Option<Option<PushLink>> {
        let handshake_failed = || ChildState::Missing {
            why: "handshake failed".into(),
            initiator: None,
        };
        let Ok((mut sealer, opener)) = keys.channel(0) else {
            self.state = handshake_failed();
            return None;
        };
        let mut push_link = None;
        if is_push {
            match keys.channel(u64::from(PUSH_CHANNEL)) {
                Ok(k) => push_link = Some((self.name.clone(), self.addr, k, !extra)),
                Err(_) => {
                    self.state = handshake_failed();
                    return None;
                }
            }
        }
        let go = if extra { Some(&Inner::Go) } else { go };
        let go = go.and_then(|go| sealed(hash, &cx.cfg.name, &mut sealer, go));
        #[cfg(feature = "fault-injection")]
        let go = go.filter(|_| !(is_push && !extra && cx.cfg.no_push_go));
        self.state = if extra {
            ChildState::Extra { sealer, opener }
        } else {
            ChildState::Linked {
                sealer,
                opener,
                result: None,
            }
        };
        if let Some(p) = go {
            cx.out.push_back(Output::Send {
                to: Peer::Addr(self.addr),
                bytes: p.to_bytes(),
            });
        }
        Some(push_link)
    }
}
