//! Channel-1 frames on push links: opening them under the right link's key, and what a
//! parent's or a child's message does.

use super::super::ChildState;
use super::state::Land;
use crate::audit::{EventKind, Outcome};
use crate::node::{Node, Output};
use crate::push::manifest::block_offset;
use crate::push::msg::PushMsg;
use crate::push::serve::PRIMARY_WEIGHT;
use crate::push::{BitSet, BlockOutcome};
use crate::wire::session::SessionHash;

impl Node {
    /// A channel-1 frame.
    pub(in crate::node) fn handle_push_frame(
        &mut self,
        now_ms: u64,
        hash: SessionHash,
        sender: &str,
        frame: &[u8],
    ) {
        let Some(p) = self.sessions.get_mut(&hash).and_then(|s| s.push.as_mut()) else {
            return;
        };
        // A node may be both our parent and our child (extra links may form cycles): try
        // each link of that name; a frame opens under one key only.
        let mut opened = None;
        for (i, l) in p.parents.iter_mut().enumerate() {
            if l.alive && l.name == sender {
                if let Ok(b) = l.opener.open(frame) {
                    l.heard = now_ms;
                    opened = Some((true, i, b));
                    break;
                }
            }
        }
        if opened.is_none() {
            for (i, l) in p.children.iter_mut().enumerate() {
                if l.alive && l.name == sender {
                    if let Ok(b) = l.opener.open(frame) {
                        l.heard = now_ms;
                        opened = Some((false, i, b));
                        break;
                    }
                }
            }
        }
        let Some((from_parent, i, plain)) = opened else {
            self.counters.frames_rejected += 1;
            return;
        };
        self.authenticated = true;
        let Ok(msg) = PushMsg::from_bytes(&plain) else {
            self.counters.frames_rejected += 1;
            return;
        };
        // A dropped parent kept for keepalives only: nothing else it says matters.
        if from_parent && p.parents.get(i).is_some_and(|l| !l.data) {
            return;
        }
        let id = i as u32;
        if from_parent {
            self.on_parent_msg(now_ms, hash, id, msg);
        } else {
            self.on_child_msg(now_ms, hash, id, msg);
        }
        self.push_pump(now_ms, hash);
        // A child's Finished may release our result.
        self.try_finish(now_ms, hash);
    }

    fn on_parent_msg(&mut self, now_ms: u64, hash: SessionHash, id: u32, msg: PushMsg) {
        let Some(p) = self.sessions.get_mut(&hash).and_then(|s| s.push.as_mut()) else {
            return;
        };
        let mut adopt = false;
        let mut leave = false;
        let violation = match msg {
            PushMsg::Advert(bytes) => {
                let n = p.dl.progress().1;
                match BitSet::from_bytes(n, &bytes) {
                    Ok(b) => p.dl.on_advert(id, &b).err().map(|e| e.to_string()),
                    Err(e) => Some(e.to_string()),
                }
            }
            PushMsg::Have(i) => p.dl.on_have(id, i).err().map(|e| e.to_string()),
            PushMsg::Block(index, bytes) => {
                if p.land != Land::Ready {
                    return;
                }
                match p.dl.on_block(now_ms, id, index, &bytes) {
                    BlockOutcome::Verified => {
                        let offset = block_offset(p.manifest.block_size, index);
                        self.out.push_back(Output::PushWrite {
                            session: hash,
                            index,
                            offset,
                            bytes,
                        });
                    }
                    // The scheduler dropped the parent (Event::ParentDropped follows).
                    BlockOutcome::Corrupt(_) => {}
                    BlockOutcome::Duplicate | BlockOutcome::Unexpected => {}
                }
                None
            }
            PushMsg::Adopt => {
                adopt = true;
                None
            }
            PushMsg::Leave => {
                leave = true;
                None
            }
            PushMsg::Ping => None,
            other => Some(format!("{other:?} is not a parent's message")),
        };
        if let Some(v) = violation {
            self.push_drop_parent(now_ms, hash, id, "protocol", &v);
        } else if adopt {
            self.push_on_adopt(now_ms, hash, id);
        } else if leave {
            self.push_parent_left(hash, id);
        }
    }

    fn push_drop_parent(
        &mut self,
        now_ms: u64,
        hash: SessionHash,
        id: u32,
        code: &str,
        text: &str,
    ) {
        let me = self.cfg.name.clone();
        let Some(p) = self.sessions.get_mut(&hash).and_then(|s| s.push.as_mut()) else {
            return;
        };
        let Some(l) = p.parents.get_mut(id as usize) else {
            return;
        };
        // "Nothing more from you": it must not hold its result waiting for us.
        super::send_on(
            &mut self.out,
            &me,
            hash,
            l,
            &PushMsg::Finished,
            now_ms,
            false,
        );
        l.alive = false;
        let name = l.name.clone();
        p.dl.remove_parent(id);
        let ev = self
            .session_audit(&hash, EventKind::PushDeny, Outcome::Deny)
            .peer(name)
            .reason(code, text);
        self.audit(ev);
    }

    fn on_child_msg(&mut self, now_ms: u64, hash: SessionHash, id: u32, msg: PushMsg) {
        let me = self.cfg.name.clone();
        let Some(s) = self.sessions.get_mut(&hash) else {
            return;
        };
        let result_out = s.result_packet.is_some();
        let Some(p) = s.push.as_mut() else {
            return;
        };
        let refusal = match msg {
            PushMsg::Request(i) => match p.dl.check_serve(i) {
                Ok(()) => p
                    .serve
                    .request(id, i)
                    .err()
                    .map(|e| (e.code(), e.to_string())),
                Err(e) => Some(("not-held", e.to_string())),
            },
            PushMsg::Cancel(i) => {
                p.serve.cancel(id, i);
                None
            }
            PushMsg::Primary => {
                p.serve.set_weight(id, PRIMARY_WEIGHT);
                // Adopt its subtree's result if ours is not out yet.
                let name = p.children.get(id as usize).map(|l| l.name.clone());
                if let (Some(name), false) = (name, result_out) {
                    if let Some(c) = s.children.iter_mut().find(|c| c.name == name) {
                        if let ChildState::Extra { .. } = c.state {
                            let old = std::mem::replace(&mut c.state, ChildState::Pruned);
                            if let ChildState::Extra { sealer, opener } = old {
                                c.state = ChildState::Linked {
                                    sealer,
                                    opener,
                                    result: None,
                                };
                            }
                        }
                    }
                }
                None
            }
            PushMsg::Prefer => {
                p.serve.set_weight(id, PRIMARY_WEIGHT);
                None
            }
            PushMsg::Progress(n) => {
                if let Some(l) = p.children.get_mut(id as usize) {
                    l.progress = n;
                }
                None
            }
            PushMsg::Finished => {
                if let Some(l) = p.children.get_mut(id as usize) {
                    l.finished = true;
                }
                p.serve.remove_child(id);
                None
            }
            PushMsg::Ping => None,
            other => Some(("protocol", format!("{other:?} is not a child's message"))),
        };
        let _ = now_ms;
        if let Some((code, text)) = refusal {
            if let Some(l) = p.children.get_mut(id as usize) {
                l.alive = false;
                let name = l.name.clone();
                p.serve.remove_child(id);
                let _ = me;
                let ev = self
                    .session_audit(&hash, EventKind::PushDeny, Outcome::Deny)
                    .peer(name)
                    .reason(code, text);
                self.audit(ev);
            }
        }
    }
}
