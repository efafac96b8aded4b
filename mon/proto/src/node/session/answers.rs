//! A child's answer to our Session offer: SessionOk (the hop handshake completes, the child
//! gets its go, a push link opens), Prune (it is in the session already) or Deny.

use super::{sealed, Child, ChildState};
use crate::node::join::{deny_signed_data, prune_signed_data};
use crate::node::{Node, Peer};
use crate::push::msg::PUSH_CHANNEL;
use crate::wire::packet::{Inner, Packet};
use crate::wire::session::SessionHash;
use mon_keys::hop::ChildHello;
use mon_keys::nodekey::verify_node_sig;

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
        let me = self.cfg.name.clone();
        let Some(s) = self.sessions.get_mut(&hash) else {
            return;
        };
        let is_push = s.push.is_some();
        let mut push_link = None;
        let Some(c) = s.children.iter_mut().find(|c| c.name == child) else {
            return;
        };
        // Nothing about the child changes until its answer has verified: a forged or
        // corrupted SessionOk is dropped and leaves the offer (and its initiator) as it was.
        let mut forged = false;
        match &mut c.state {
            ChildState::Offered { initiator, .. } => {
                let Some(init) = initiator.as_deref() else {
                    return;
                };
                let finished = <[u8; 16]>::try_from(confirm.as_slice())
                    .ok()
                    .and_then(|confirm| {
                        let hello = ChildHello {
                            e_c: *e_c,
                            sig: *sig,
                            confirm,
                        };
                        init.finish(&hash, &me, &c.name, &c.key, &hello).ok()
                    });
                match finished {
                    Some(mut keys) => {
                        let Ok((mut sealer, opener)) = keys.channel(0) else {
                            c.state = ChildState::Missing {
                                why: "handshake failed".into(),
                            };
                            return;
                        };
                        if is_push {
                            match keys.channel(u64::from(PUSH_CHANNEL)) {
                                Ok(k) => push_link = Some((c.name.clone(), c.addr, k, !extra)),
                                Err(_) => {
                                    c.state = ChildState::Missing {
                                        why: "handshake failed".into(),
                                    };
                                    return;
                                }
                            }
                        }
                        let go = sealed(hash, &me, &mut sealer, &Inner::Go);
                        #[cfg(feature = "fault-injection")]
                        let go = go.filter(|_| !(is_push && !extra && self.cfg.no_push_go));
                        c.state = if extra {
                            ChildState::Extra { sealer, opener }
                        } else {
                            ChildState::Linked {
                                sealer,
                                opener,
                                result: None,
                            }
                        };
                        if let Some(p) = go {
                            let to = Peer::Addr(c.addr);
                            self.send(to, &p);
                        }
                    }
                    None => forged = true,
                }
            }
            ChildState::Linked {
                sealer,
                result: None,
                ..
            } => {
                // Our Go may have been lost: send another one.
                let go = sealed(hash, &me, sealer, &Inner::Go);
                #[cfg(feature = "fault-injection")]
                let go = go.filter(|_| !(is_push && self.cfg.no_push_go));
                if let Some(p) = go {
                    let to = Peer::Addr(c.addr);
                    self.send(to, &p);
                }
            }
            _ => {}
        }
        if forged {
            self.counters.frames_rejected += 1;
            return;
        }
        if let Some((name, addr, k, primary)) = push_link {
            self.push_add_child(now_ms, hash, &name, Peer::Addr(addr), k, primary);
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

    /// Checks the signatures of the Prunes that settled children of `hash`: a valid one
    /// makes the child `Pruned`; a forged one is dropped (the offer stands and is
    /// retransmitted). Returns whether one was forged. Prunes are most of a session's
    /// messages and arrive while the set-up wave is busiest; their signatures are checked
    /// here, once per node when its subtree has answered, instead.
    pub(in crate::node) fn check_prunes(&mut self, hash: SessionHash) -> bool {
        let Some(s) = self.sessions.get_mut(&hash) else {
            return false;
        };
        let mut forged = false;
        for c in &mut s.children {
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
            if verify_node_sig(&c.key, &prune_signed_data(&hash, packet_hash), &sig).is_ok() {
                c.state = ChildState::Pruned;
            } else {
                forged = true;
            }
        }
        if forged {
            self.counters.frames_rejected += 1;
        }
        forged
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
