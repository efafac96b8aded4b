//! The driver's file operations for a push, reported back to the node: the temporary file
//! created, a block written or read, a block sent, the file committed.

use std::collections::VecDeque;

use super::super::{Ctx, Session};
use super::state::{Land, PushState};
use super::{send_on, PushIoError};
use crate::agg::Local;
use crate::audit::{EventKind, Outcome};
use crate::node::{Node, Output};
use crate::push::msg::PushMsg;
use crate::wire::session::SessionHash;

impl Node {
    /// The driver created (or failed to create) the temporary file.
    pub fn push_landed(&mut self, now_ms: u64, hash: SessionHash, r: Result<(), PushIoError>) {
        let Some((s, mut cx)) = self.session_cx(&hash) else {
            return;
        };
        let Some(p) = s.push.as_mut() else {
            return;
        };
        if p.land != Land::Creating {
            return;
        }
        match r {
            Ok(()) => {
                tracing::debug!("push: temporary file ready");
                p.land = Land::Ready;
                self.push_pump(now_ms, hash);
            }
            Err(e) => {
                if s.push_fail(now_ms, hash, &e.code, &e.text, &mut cx) {
                    self.try_finish(now_ms, hash);
                }
            }
        }
    }

    /// The driver wrote a verified block (or could not).
    pub fn push_stored(
        &mut self,
        now_ms: u64,
        hash: SessionHash,
        index: u32,
        r: Result<(), PushIoError>,
    ) {
        let Some((s, mut cx)) = self.session_cx(&hash) else {
            return;
        };
        let Some(p) = s.push.as_mut() else {
            return;
        };
        if p.land != Land::Ready {
            return;
        }
        match r {
            Ok(()) => {
                if p.dl.stored(index) {
                    p.serve.received(now_ms);
                }
                self.push_pump(now_ms, hash);
            }
            Err(e) => {
                if s.push_fail(now_ms, hash, &e.code, &e.text, &mut cx) {
                    self.try_finish(now_ms, hash);
                }
            }
        }
    }

    /// The driver read a block a child asked for.
    pub fn push_block_read(
        &mut self,
        now_ms: u64,
        hash: SessionHash,
        child: u32,
        index: u32,
        r: Result<Vec<u8>, PushIoError>,
    ) {
        let Some((s, cx)) = self.session_cx(&hash) else {
            return;
        };
        let Some(p) = s.push.as_mut() else {
            return;
        };
        p.sending = p.sending.saturating_sub(1);
        let first = match r {
            // Served blocks are verified again: a file changed behind our back is not sent.
            Ok(b) if crate::push::verify_block(&p.manifest, index, &b).is_ok() => {
                #[cfg(feature = "fault-injection")]
                let b = {
                    let mut b = b;
                    if cx.cfg.corrupt_serve {
                        if let Some(x) = b.first_mut() {
                            *x ^= 0xff;
                        }
                    }
                    b
                };
                let (me, out) = (cx.cfg.name.as_str(), &mut *cx.out);
                p.serve_block(now_ms, hash, child, index, b, me, out)
            }
            // Nothing goes to the socket: the child's sending slot is free again.
            Ok(_) | Err(_) => {
                p.serve.not_sent(child);
                None
            }
        };
        if let Some(name) = first {
            let ev = s
                .audit_event(EventKind::PushServe, Outcome::Allow)
                .peer(name);
            cx.out.push_back(Output::Audit(Box::new(ev)));
        }
        self.push_pump(now_ms, hash);
    }

    /// A block handed over with [`Output::SendStream`] `sent` was written to its socket.
    pub fn push_sent(&mut self, now_ms: u64, sent: crate::node::StreamSent) {
        let hash = sent.session;
        if let Some(p) = self.sessions.get_mut(&hash).and_then(|s| s.push.as_mut()) {
            p.sending = p.sending.saturating_sub(1);
            p.serve.sent(sent.child, now_ms);
        }
        self.push_pump(now_ms, hash);
    }

    /// The driver committed the file (or could not).
    pub fn push_committed(&mut self, now_ms: u64, hash: SessionHash, r: Result<(), PushIoError>) {
        let Some((s, mut cx)) = self.session_cx(&hash) else {
            return;
        };
        if s.push.as_ref().is_none_or(|p| p.land != Land::Committing) {
            return;
        }
        match r {
            Ok(()) => {
                s.push_done(now_ms, hash, &mut cx);
                self.try_finish(now_ms, hash);
            }
            Err(e) => {
                if s.push_fail(now_ms, hash, &e.code, &e.text, &mut cx) {
                    self.try_finish(now_ms, hash);
                }
            }
        }
    }
}

impl Session {
    /// The file is committed at DEST: the landing is done, audited (`push.done`) before the
    /// local result goes in.
    fn push_done(&mut self, now_ms: u64, hash: SessionHash, cx: &mut Ctx<'_>) {
        let Some(p) = self.push.as_mut() else {
            return;
        };
        p.land = Land::Done;
        let bytes = p.manifest.size;
        let dest = p.dest.clone();
        let ms = now_ms.saturating_sub(p.started_ms);
        let ev = self
            .audit_event(EventKind::PushDone, Outcome::Ok)
            .op(format!("push {dest}"))
            .count(bytes)
            .duration_ms(ms);
        cx.out.push_back(Output::Audit(Box::new(ev)));
        self.push_local(now_ms, hash, Local::Present, cx);
    }
}

impl PushState {
    /// Sends block `index` to child link `child` (if still alive). Returns the child's name
    /// when it is the first block it gets (its `push.serve` record).
    #[allow(clippy::too_many_arguments)] // one block, its link, and where it goes
    fn serve_block(
        &mut self,
        now_ms: u64,
        hash: SessionHash,
        child: u32,
        index: u32,
        bytes: Vec<u8>,
        me: &str,
        out: &mut VecDeque<Output>,
    ) -> Option<String> {
        let Some(l) = self.children.get_mut(child as usize).filter(|l| l.alive) else {
            self.serve.not_sent(child);
            return None;
        };
        let first = !l.audited;
        l.audited = true;
        send_on(
            out,
            me,
            hash,
            l,
            &PushMsg::Block(index, bytes),
            now_ms,
            Some(child),
        );
        self.sending += 1;
        first.then(|| l.name.clone())
    }
}
