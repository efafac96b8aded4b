//! Overlay construction (paper §2.2) with the hop handshake: Session in, SessionOk / Prune /
//! Deny out; children chosen by the session's overlay algorithm.
//!
//! A Session goes through [`Node::admit`](admit.rs) once: it decides, in one place, whether
//! the session runs (an [`admit::Admitted`] handed to `start_session`, the boundary with the
//! session itself), is answered again (a duplicate, a Prune), or is refused with a
//! [`crate::refusal::Refusal`] — and whether that refusal is audited or junk (counted and
//! summarised per source, never one record per packet). `handle_session` below only carries
//! the decision out.
//!
//! - `admit.rs`: the admission steps, in order (screening, parent authentication, the
//!   session checks, the shares, the replay cache, the handshake);
//! - `outcome.rs`: what admission decides ([`admit::Admission`]) and how a refusal is
//!   recorded and answered;
//! - `proof.rs`: whether a parent node proves its known_nodes key;
//! - `limits.rs`: the session table's shares and the per-key audit budget;
//! - `duplicate.rs`: a Session for a session already running here (retransmission, extra
//!   parent);
//! - `reparent.rs`: an interactive session's entry node re-offering it to a node cut off
//!   from it (the node takes the entry as its first parent);
//! - `start.rs`: `start_session`, the admitted session's state and its first child offers;
//! - `link.rs`: the child side of the hop handshake (SessionOk and channels);
//! - `answer.rs`: the signed Deny and Prune answers.

mod admit;
mod answer;
mod duplicate;
mod limits;
mod link;
mod outcome;
mod proof;
mod reparent;
mod start;

use sha2::{Digest, Sha256};

use super::{Node, Peer};
use crate::wire::packet::{Packet, DENY_DOMAIN, PRUNE_DOMAIN};
use crate::wire::session::SessionHash;
use outcome::{Admission, Incoming};

pub(super) use limits::{KeyMinute, RecentSet};

pub(super) fn sha256(b: &[u8]) -> [u8; 32] {
    Sha256::digest(b).into()
}

pub(super) fn prune_signed_data(hash: &SessionHash, answered: &[u8; 32]) -> Vec<u8> {
    let mut m = PRUNE_DOMAIN.to_vec();
    m.extend_from_slice(hash);
    m.extend_from_slice(answered);
    m
}

pub(crate) fn deny_signed_data(hash: &SessionHash, code: &str) -> Vec<u8> {
    let mut m = DENY_DOMAIN.to_vec();
    m.extend_from_slice(hash);
    m.extend_from_slice(code.as_bytes());
    m
}

impl Node {
    /// A Session packet: admitted and started, answered again, or refused (see the module
    /// docs).
    pub(super) fn handle_session(
        &mut self,
        now_ms: u64,
        from: Peer,
        packet: Packet,
        raw: &[u8],
        node_stream: bool,
    ) {
        let Some(incoming) = Incoming::new(from, packet, raw, node_stream) else {
            return;
        };
        match self.admit(now_ms, incoming) {
            Admission::Admitted(a) => self.accept(now_ms, *a),
            Admission::Duplicate(inc) => self.duplicate_session(now_ms, &inc),
            Admission::Prune { to, hash, answered } => self.send_prune(to, hash, answered),
            Admission::Ignored { from, why } => self.ignore(now_ms, from, why),
            Admission::Refused(r) => self.refuse(now_ms, *r),
            Admission::Dropped => {}
        }
    }
}
