//! Channel-1 frames on push links: opening them under the right link's key, and what a
//! parent's or a child's message does.

use std::collections::VecDeque;

use super::super::{ChildState, Ctx, Session};
use super::state::{Land, PushState};
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
        let Some((s, mut cx)) = self.session_cx(&hash) else {
            return;
        };
        match s.push_frame(now_ms, hash, sender, frame, &mut cx) {
            PushFrame::Dropped => {}
            PushFrame::Opened => self.authenticated = true,
            PushFrame::Handled { adopt } => {
                self.authenticated = true;
                if let Some(id) = adopt {
                    self.push_on_adopt(now_ms, hash, id);
                }
                self.push_pump(now_ms, hash);
                // A child's Finished may release our result.
                self.try_finish(now_ms, hash);
            }
        }
    }
}

/// What a channel-1 frame came to.
enum PushFrame {
    /// It did not open (or the session has no push part).
    Dropped,
    /// It opened (its sender is authenticated) but says nothing to act on.
    Opened,
    /// Its message was handled; `adopt`: the parent link that asks for adoption (the node
    /// offers it the session). The push is pumped next.
    Handled { adopt: Option<u32> },
}

impl Session {
    /// Opens a channel-1 frame from `sender` and hands its message to the parent or child
    /// link it came on.
    fn push_frame(
        &mut self,
        now_ms: u64,
        hash: SessionHash,
        sender: &str,
        frame: &[u8],
        cx: &mut Ctx<'_>,
    ) -> PushFrame {
        let Some(p) = self.push.as_mut() else {
            return PushFrame::Dropped;
        };
        let Some((from_parent, i, plain)) = p.open_frame(now_ms, sender, frame) else {
            cx.counters.frames_rejected += 1;
            return PushFrame::Dropped;
        };
        let Ok(msg) = PushMsg::from_bytes(&plain) else {
            cx.counters.frames_rejected += 1;
            return PushFrame::Opened;
        };
        // A dropped parent kept for keepalives only: nothing else it says matters.
        if from_parent && p.parents.get(i).is_some_and(|l| !l.data) {
            return PushFrame::Opened;
        }
        let id = i as u32;
        let adopt = if from_parent {
            self.on_parent_push_msg(now_ms, hash, id, msg, cx)
        } else {
            self.on_child_push_msg(id, msg, cx);
            false
        };
        PushFrame::Handled {
            adopt: adopt.then_some(id),
        }
    }

    /// A message from parent link `id`. Returns whether it asks for adoption.
    fn on_parent_push_msg(
        &mut self,
        now_ms: u64,
        hash: SessionHash,
        id: u32,
        msg: PushMsg,
        cx: &mut Ctx<'_>,
    ) -> bool {
        let Some(p) = self.push.as_mut() else {
            return false;
        };
        match p.parent_msg(now_ms, hash, id, msg, cx.out) {
            ParentMsg::Done => {}
            ParentMsg::Violation(v) => self.drop_push_parent(now_ms, hash, id, &v, cx),
            ParentMsg::Adopt => return true,
            ParentMsg::Leave => self.push_parent_left(id),
        }
        false
    }

    /// Parent link `id` broke the protocol (`text`): it is told we want nothing more, leaves
    /// the download, and is audited (`push.deny`, code `protocol`).
    fn drop_push_parent(
        &mut self,
        now_ms: u64,
        hash: SessionHash,
        id: u32,
        text: &str,
        cx: &mut Ctx<'_>,
    ) {
        let Some(p) = self.push.as_mut() else {
            return;
        };
        let Some(l) = p.parents.get_mut(id as usize) else {
            return;
        };
        // "Nothing more from you": it must not hold its result waiting for us.
        let finished = PushMsg::Finished;
        super::send_on(cx.out, &cx.cfg.name, hash, l, &finished, now_ms, None);
        l.alive = false;
        let name = l.name.clone();
        p.dl.remove_parent(id);
        let ev = self
            .audit_event(EventKind::PushDeny, Outcome::Deny)
            .peer(name)
            .reason("protocol", text);
        cx.out.push_back(Output::Audit(Box::new(ev)));
    }

    /// A message from child link `id`; a protocol violation is audited (`push.deny`).
    fn on_child_push_msg(&mut self, id: u32, msg: PushMsg, cx: &mut Ctx<'_>) {
        // Per-node reports name roster nodes only: what a relay keeps stays within the roster.
        let msg = match msg {
            PushMsg::Ended(mut list) => {
                list.retain(|e| cx.roster.contains(&e.node));
                PushMsg::Ended(list)
            }
            m => m,
        };
        let Some((name, code, text)) = self.child_push_msg(id, msg) else {
            return;
        };
        let ev = self
            .audit_event(EventKind::PushDeny, Outcome::Deny)
            .peer(name)
            .reason(code, text);
        cx.out.push_back(Output::Audit(Box::new(ev)));
    }
}

/// What a parent's push message asks of the node.
enum ParentMsg {
    /// Handled (or nothing to do).
    Done,
    /// It broke the protocol: the parent is dropped.
    Violation(String),
    /// It lost every parent and asks us to adopt it (offer it the session, so that we
    /// become one of its extra parents).
    Adopt,
    /// It failed and serves nothing more.
    Leave,
}

impl PushState {
    /// Opens a channel-1 frame from `sender`: (from a parent, link index, plaintext). A node
    /// may be both our parent and our child (extra links may form cycles): each link of that
    /// name is tried; a frame opens under one key only.
    fn open_frame(
        &mut self,
        now_ms: u64,
        sender: &str,
        frame: &[u8],
    ) -> Option<(bool, usize, Vec<u8>)> {
        let parents = self
            .parents
            .iter_mut()
            .enumerate()
            .map(|(i, l)| (true, i, l));
        let children = self
            .children
            .iter_mut()
            .enumerate()
            .map(|(i, l)| (false, i, l));
        for (from_parent, i, l) in parents.chain(children) {
            if l.alive && l.name == sender {
                if let Ok(b) = l.opener.open(frame) {
                    l.heard = now_ms;
                    return Some((from_parent, i, b));
                }
            }
        }
        None
    }

    /// A message from parent link `id`: adverts, haves and blocks go to the download (a
    /// verified block is written, `PushWrite`).
    fn parent_msg(
        &mut self,
        now_ms: u64,
        hash: SessionHash,
        id: u32,
        msg: PushMsg,
        out: &mut VecDeque<Output>,
    ) -> ParentMsg {
        let violation = match msg {
            PushMsg::Advert(bytes) => {
                let n = self.dl.progress().1;
                match BitSet::from_bytes(n, &bytes) {
                    Ok(b) => self.dl.on_advert(id, &b).err().map(|e| e.to_string()),
                    Err(e) => Some(e.to_string()),
                }
            }
            PushMsg::Have(i) => self.dl.on_have(id, i).err().map(|e| e.to_string()),
            PushMsg::Block(index, bytes) => {
                if self.land == Land::Ready {
                    self.block(now_ms, hash, id, index, bytes, out);
                }
                None
            }
            PushMsg::Adopt => return ParentMsg::Adopt,
            PushMsg::Leave => return ParentMsg::Leave,
            PushMsg::Ping => None,
            other => Some(format!("{other:?} is not a parent's message")),
        };
        violation.map_or(ParentMsg::Done, ParentMsg::Violation)
    }

    /// A block from parent `id`: written when it verifies.
    fn block(
        &mut self,
        now_ms: u64,
        hash: SessionHash,
        id: u32,
        index: u32,
        bytes: Vec<u8>,
        out: &mut VecDeque<Output>,
    ) {
        match self.dl.on_block(now_ms, id, index, &bytes) {
            BlockOutcome::Verified => {
                let offset = block_offset(self.manifest.block_size, index);
                out.push_back(Output::PushWrite {
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
    }

    /// What a child's message refuses: (reason code, text), or `None`.
    fn child_msg(&mut self, id: u32, msg: PushMsg) -> Option<(&'static str, String)> {
        match msg {
            PushMsg::Request(i) => match self.dl.check_serve(i) {
                Ok(()) => self
                    .serve
                    .request(id, i)
                    .err()
                    .map(|e| (e.code(), e.to_string())),
                Err(e) => Some(("not-held", e.to_string())),
            },
            PushMsg::Cancel(i) => {
                self.serve.cancel(id, i);
                None
            }
            PushMsg::Primary | PushMsg::Prefer => {
                self.serve.set_weight(id, PRIMARY_WEIGHT);
                None
            }
            PushMsg::Progress(n) => {
                if let Some(l) = self.children.get_mut(id as usize) {
                    l.progress = n;
                }
                None
            }
            PushMsg::Ended(list) => {
                // Bounded by the decoder; each node once per session.
                self.ends.merge(list);
                None
            }
            PushMsg::Finished => {
                if let Some(l) = self.children.get_mut(id as usize) {
                    l.finished = true;
                }
                self.serve.remove_child(id);
                None
            }
            PushMsg::Ping => None,
            other => Some(("protocol", format!("{other:?} is not a child's message"))),
        }
    }
}

impl Session {
    /// A message from push child link `id`. A child that makes us its first parent
    /// (`Primary`) has its subtree's result adopted if ours is not out yet. A refused one
    /// loses its link: returns (its name, reason code, text) for the `push.deny` record.
    fn child_push_msg(&mut self, id: u32, msg: PushMsg) -> Option<(String, &'static str, String)> {
        let result_out = self.result_packet.is_some();
        let p = self.push.as_mut()?;
        let primary = matches!(msg, PushMsg::Primary);
        let refusal = p.child_msg(id, msg);
        if primary && !result_out {
            if let Some(name) = p.children.get(id as usize).map(|l| l.name.clone()) {
                self.adopt_result_of(&name);
            }
        }
        let (code, text) = refusal?;
        let p = self.push.as_mut()?;
        let l = p.children.get_mut(id as usize)?;
        l.alive = false;
        let name = l.name.clone();
        p.serve.remove_child(id);
        Some((name, code, text))
    }

    /// The extra child `name` took us as its first parent: its result comes to us now.
    fn adopt_result_of(&mut self, name: &str) {
        let Some(c) = self.children.iter_mut().find(|c| c.name == name) else {
            return;
        };
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
