//! The driver's file operations for a push, reported back to the node: the temporary file
//! created, a block written or read, a block sent, the file committed.

use super::state::Land;
use super::{send_on, PushIoError};
use crate::agg::Local;
use crate::audit::{EventKind, Outcome};
use crate::node::Node;
use crate::push::msg::PushMsg;
use crate::wire::session::SessionHash;

impl Node {
    /// The driver created (or failed to create) the temporary file.
    pub fn push_landed(&mut self, now_ms: u64, hash: SessionHash, r: Result<(), PushIoError>) {
        let Some(p) = self.sessions.get_mut(&hash).and_then(|s| s.push.as_mut()) else {
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
            Err(e) => self.push_fail(now_ms, hash, &e.code, &e.text),
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
        let Some(p) = self.sessions.get_mut(&hash).and_then(|s| s.push.as_mut()) else {
            return;
        };
        if p.land != Land::Ready {
            return;
        }
        match r {
            Ok(()) => {
                p.dl.stored(index);
                self.push_pump(now_ms, hash);
            }
            Err(e) => self.push_fail(now_ms, hash, &e.code, &e.text),
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
        let me = self.cfg.name.clone();
        let Some(p) = self.sessions.get_mut(&hash).and_then(|s| s.push.as_mut()) else {
            return;
        };
        p.sending = p.sending.saturating_sub(1);
        let bytes = match r {
            // Served blocks are verified again: a file changed behind our back is not sent.
            Ok(b) if crate::push::verify_block(&p.manifest, index, &b).is_ok() => b,
            Ok(_) | Err(_) => {
                self.push_pump(now_ms, hash);
                return;
            }
        };
        #[cfg(feature = "fault-injection")]
        let bytes = {
            let mut b = bytes;
            if self.cfg.corrupt_serve {
                if let Some(x) = b.first_mut() {
                    *x ^= 0xff;
                }
            }
            b
        };
        let mut first = false;
        if let Some(l) = p.children.get_mut(child as usize) {
            if l.alive {
                first = !l.audited;
                l.audited = true;
                send_on(
                    &mut self.out,
                    &me,
                    hash,
                    l,
                    &PushMsg::Block(index, bytes),
                    now_ms,
                    true,
                );
                p.sending += 1;
            }
        }
        if first {
            let name = p
                .children
                .get(child as usize)
                .map(|l| l.name.clone())
                .unwrap_or_default();
            let ev = self
                .session_audit(&hash, EventKind::PushServe, Outcome::Allow)
                .peer(name);
            self.audit(ev);
        }
        self.push_pump(now_ms, hash);
    }

    /// A block handed over with [`Output::SendStream`](crate::node::Output::SendStream) `sent` was written to its socket.
    pub fn push_sent(&mut self, now_ms: u64, hash: SessionHash) {
        if let Some(p) = self.sessions.get_mut(&hash).and_then(|s| s.push.as_mut()) {
            p.sending = p.sending.saturating_sub(1);
        }
        self.push_pump(now_ms, hash);
    }

    /// The driver committed the file (or could not).
    pub fn push_committed(&mut self, now_ms: u64, hash: SessionHash, r: Result<(), PushIoError>) {
        let Some(p) = self.sessions.get_mut(&hash).and_then(|s| s.push.as_mut()) else {
            return;
        };
        if p.land != Land::Committing {
            return;
        }
        match r {
            Ok(()) => {
                p.land = Land::Done;
                let bytes = p.manifest.size;
                let dest = p.dest.clone();
                let ms = now_ms.saturating_sub(p.started_ms);
                let ev = self
                    .session_audit(&hash, EventKind::PushDone, Outcome::Ok)
                    .op(format!("push {dest}"))
                    .count(bytes)
                    .duration_ms(ms);
                self.audit(ev);
                self.push_local(now_ms, hash, Local::Present);
            }
            Err(e) => self.push_fail(now_ms, hash, &e.code, &e.text),
        }
    }
}
