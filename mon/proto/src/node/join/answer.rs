//! The signed answers a node gives a Session it does not take: a Deny (code and text, signed
//! over the code) and a Prune (signed over the packet it answers).

use mon_keys::hop::CLIENT_NAME;

use super::super::{Node, Peer};
use super::{deny_signed_data, prune_signed_data};
use crate::wire::packet::Packet;
use crate::wire::session::SessionHash;

/// `s` cut to at most `max` bytes at a character boundary (the limits of
/// [`Packet::from_bytes`] are in bytes; a reason may quote user input of any script).
fn cut_bytes(s: &str, max: usize) -> String {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

impl Node {
    /// Drops a session accepted in a batch whose records could not be written (the driver
    /// withheld that batch's packets) and tells its parent why, with a signed Deny.
    pub fn abort_session(&mut self, hash: SessionHash, code: &str, text: &str) {
        if let Some(s) = self.sessions.remove(&hash) {
            self.counters.sessions_denied += 1;
            // A client's datagram source is not proven: it hears the refusal on its stream.
            if !(s.parent.name == CLIENT_NAME && matches!(s.parent.peer, Peer::Addr(_))) {
                self.send_deny(s.parent.peer, hash, code, text);
            }
        }
    }

    pub(super) fn send_prune(&mut self, to: Peer, hash: SessionHash, answered: [u8; 32]) {
        let sig = self.key.sign(&prune_signed_data(&hash, &answered));
        let p = Packet::Prune {
            session_hash: hash.into(),
            child: self.cfg.name.clone(),
            answered: answered.into(),
            sig: sig.into(),
        };
        self.send(to, &p);
    }

    pub(in super::super) fn send_deny(
        &mut self,
        to: Peer,
        hash: SessionHash,
        code: &str,
        text: &str,
    ) {
        let code = cut_bytes(code, 64);
        let sig = self.key.sign(&deny_signed_data(&hash, &code));
        let p = Packet::Deny {
            session_hash: hash.into(),
            child: self.cfg.name.clone(),
            code,
            text: cut_bytes(text, 1024),
            sig: sig.into(),
        };
        self.send(to, &p);
    }
}
