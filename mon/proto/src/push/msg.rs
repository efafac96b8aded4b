//! Push link messages: what travels in sealed frames on hop channel 1 ([`PUSH_CHANNEL`]) of
//! a push session's parent↔child links, always over the TCP stream (in order, reliable).
//!
//! ```text
//! parent → child: Advert(bitmap)  the blocks held, once when the link opens
//!                 Have(index)     one more block held (verified and stored)
//!                 Block(index, bytes)
//!                 Adopt           "I lost every parent": offer me the session, so that
//!                                 you become my (extra) parent
//!                 Leave           "my push failed, I serve nothing more": take blocks
//!                                 elsewhere; if I am your first parent, your result still
//!                                 comes to me (the link stays up for keepalives)
//! child → parent: Request(index) / Cancel(index)
//!                 Progress(n)     to the first parent, at most once a second when it
//!                                 changed: n nodes of my result subtree (me included) have
//!                                 finished their part; the entry node's reaches the client,
//!                                 which shows nodes complete / nodes in the session
//!                 Ended(ends)     to the first parent, with each Progress when it has
//!                                 news, at once when the sender's own part is over
//!                                 (before Finished) and before its result: the nodes of
//!                                 my result subtree that finished since my last report,
//!                                 each once (done, skipped, or failed with a short code),
//!                                 at most [`MAX_ENDS_PER_MSG`] per message, the rest in
//!                                 the next (see [`super::ends`]); the client shows each
//!                                 node done or failed as it happens
//!                 Primary         "you are now my first parent": serve me with the primary
//!                                 weight and expect my subtree's result
//!                 Prefer          serve me with the primary weight; my subtree's result
//!                                 still goes to my first parent (sent when the first
//!                                 parent was dropped for a corrupt block: it stays the
//!                                 result parent, the link only carries keepalives)
//!                 Finished        to every parent: my part is over (landed, relayed,
//!                                 skipped or failed), I request nothing more. A parent
//!                                 holds its own result while a live child link has not
//!                                 said this, so that a node that lost its first parent
//!                                 and downloads from its others is not cut off by a
//!                                 session that ends around it; also sent to a parent
//!                                 the child drops (a corrupt block, a protocol violation)
//! both:           Ping            keepalive, every second when nothing else was sent;
//!                                 a link on which nothing arrived for
//!                                 [`LINK_SILENT_MS`] is lost
//! ```

use serde::{Deserialize, Serialize};

use super::ends::{self, NodeEnd};
use crate::wire::{decode_strict, encode, DecodeError};

pub use super::ends::MAX_ENDS_PER_MSG;

/// Hop channel that carries push traffic (channel 0 carries the session's datagrams).
pub const PUSH_CHANNEL: u8 = 1;
/// Largest block a push may use (the push geometry's [`super::geometry::MAX_BLOCK_SIZE`]).
pub use super::geometry::MAX_BLOCK_SIZE as MAX_PUSH_BLOCK;
/// Largest encoded push message (its home: [`super::geometry`]).
pub use super::geometry::MAX_PUSH_MSG;
/// Keepalive interval on push links, ms.
pub const PING_MS: u64 = 1_000;
/// Progress reports go up at most this often, ms.
pub const PROGRESS_MS: u64 = 1_000;
/// A push link from which nothing (no frame of any kind) arrived for this long is considered
/// lost, ms. Generous on purpose: on a loaded machine a node's loop may stall for seconds
/// (CPU starvation, a slow `fsync`), and a stalled peer is not a dead one. A dead peer is
/// usually noticed much sooner by the transport (its stream is refused or reset:
/// [`crate::node::Node::push_peer_down`]).
pub const LINK_SILENT_MS: u64 = 20_000;

/// One push link message (the plaintext of a channel-1 frame).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum PushMsg {
    /// The blocks the parent holds ([`crate::push::BitSet::to_bytes`]).
    Advert(#[serde(with = "serde_bytes")] Vec<u8>),
    /// The parent now holds this block.
    Have(u32),
    /// Please send this block.
    Request(u32),
    /// Drop the queued request for this block.
    Cancel(u32),
    /// A block's bytes.
    Block(u32, #[serde(with = "serde_bytes")] Vec<u8>),
    /// The sender's first parent is gone: the receiver is now its first parent.
    Primary,
    /// Keepalive.
    Ping,
    /// Nodes of the sender's result subtree that finished their part (landed, relayed,
    /// skipped or failed). For display only.
    Progress(u64),
    /// Serve the sender with the primary weight, without taking over its result.
    Prefer,
    /// The sender (a parent) lost every parent: offer it the session as an extra parent.
    Adopt,
    /// The sender (a parent) failed and serves nothing more.
    Leave,
    /// The sender (a child) finished its part and requests nothing more.
    Finished,
    /// Nodes of the sender's result subtree that finished their part since its last report,
    /// each once, at most [`MAX_ENDS_PER_MSG`] (checked by [`PushMsg::from_bytes`]). For
    /// display only.
    Ended(Vec<NodeEnd>),
}

impl PushMsg {
    /// Encodes.
    pub fn to_bytes(&self) -> Vec<u8> {
        encode(self)
    }

    /// Decodes strictly; an `Ended` report outside its bounds ([`ends::check`]) is
    /// malformed.
    pub fn from_bytes(bytes: &[u8]) -> Result<PushMsg, DecodeError> {
        let m = decode_strict("push message", bytes, MAX_PUSH_MSG)?;
        if let PushMsg::Ended(list) = &m {
            ends::check(list).map_err(|e| DecodeError::Malformed {
                what: "push message",
                detail: e.to_string(),
            })?;
        }
        Ok(m)
    }
}

/// Expands `{node}` in a push destination to this node's name (all nodes of a testbed share
/// one file system; deployments may also name files per node). Returns `None` when the name
/// could not be a single path component.
pub fn expand_dest(dest: &str, node: &str) -> Option<String> {
    if !dest.contains("{node}") {
        return Some(dest.to_string());
    }
    if node.is_empty() || node == "." || node == ".." || node.contains(['/', '\0']) {
        return None;
    }
    Some(dest.replace("{node}", node))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::push::ends::End;

    #[test]
    fn round_trip_and_strict() {
        for m in [
            PushMsg::Advert(vec![1, 2]),
            PushMsg::Have(3),
            PushMsg::Request(4),
            PushMsg::Cancel(5),
            PushMsg::Block(6, vec![7; 100]),
            PushMsg::Primary,
            PushMsg::Ping,
            PushMsg::Progress(7),
            PushMsg::Prefer,
            PushMsg::Adopt,
            PushMsg::Leave,
            PushMsg::Finished,
            PushMsg::Ended(vec![
                NodeEnd {
                    node: "n1".into(),
                    end: End::Done,
                },
                NodeEnd {
                    node: "n2".into(),
                    end: End::Skipped,
                },
                NodeEnd {
                    node: "n3".into(),
                    end: End::Failed("no-space".into()),
                },
            ]),
        ] {
            let b = m.to_bytes();
            assert_eq!(PushMsg::from_bytes(&b).unwrap(), m);
            let mut t = b.clone();
            t.push(0);
            assert!(PushMsg::from_bytes(&t).is_err());
        }
    }

    fn ended(n: usize, node: &str, end: End) -> Vec<u8> {
        let list = (0..n)
            .map(|_| NodeEnd {
                node: node.into(),
                end: end.clone(),
            })
            .collect();
        // Encoded directly: the decoder must not trust the sender to respect the bounds.
        PushMsg::Ended(list).to_bytes()
    }

    #[test]
    fn an_ended_report_outside_its_bounds_is_refused() {
        assert!(PushMsg::from_bytes(&ended(MAX_ENDS_PER_MSG, "n1", End::Done)).is_ok());
        let too_many = PushMsg::from_bytes(&ended(MAX_ENDS_PER_MSG + 1, "n1", End::Done));
        assert!(
            matches!(&too_many, Err(DecodeError::Malformed { detail, .. }) if detail.contains("257 nodes")),
            "{too_many:?}"
        );
        assert!(PushMsg::from_bytes(&ended(1, "", End::Done)).is_err());
        let long = "x".repeat(crate::agg::MAX_NODE_NAME + 1);
        assert!(PushMsg::from_bytes(&ended(1, &long, End::Done)).is_err());
        for code in ["", "No-Space", "a b", &"c".repeat(33)] {
            let b = ended(1, "n1", End::Failed(code.into()));
            assert!(PushMsg::from_bytes(&b).is_err(), "{code:?}");
        }
        // Garbage in place of a report: an error, never a panic.
        let mut b = ended(3, "n1", End::Done);
        for cut in 0..b.len() {
            let _ = PushMsg::from_bytes(&b[..cut]);
        }
        b.truncate(b.len() - 1);
        assert!(PushMsg::from_bytes(&b).is_err());
    }

    #[test]
    fn dest_expansion() {
        assert_eq!(expand_dest("/a/{node}/f", "n1").unwrap(), "/a/n1/f");
        assert_eq!(expand_dest("/a/f", "..").unwrap(), "/a/f");
        assert!(expand_dest("/a/{node}/f", "..").is_none());
        assert!(expand_dest("/a/{node}/f", "x/y").is_none());
    }
}
