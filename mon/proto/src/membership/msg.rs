//! Wire types of the gossip membership protocol (paper §2.1).
//!
//! These are plain serde structs; the envelope layer (signature, timestamp, replay check, CBOR
//! encoding, size limits) wraps them. Everything in here is a *hint* from an authenticated peer:
//! the state machine re-checks every third-party entry against the trust callback.
//!
//! Field names are one letter on the wire (CBOR maps repeat them in every entry); the key is
//! a CBOR byte string. One entry with a short name costs about 75 bytes (32 of them the key).

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

/// Identity of a MON server as it appears in membership: its `known_nodes` name, the address
/// its server listens on, and its Ed25519 node public key.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct MemberId {
    /// Node name (unique in `known_nodes`).
    #[serde(rename = "n")]
    pub name: String,
    /// Listening address (UDP control port).
    #[serde(rename = "a")]
    pub addr: SocketAddr,
    /// Ed25519 node public key.
    #[serde(rename = "k", with = "serde_bytes")]
    pub key: [u8; 32],
}

/// One membership entry carried in a [`Ping`] or [`Pong`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Who the entry is about.
    #[serde(rename = "i")]
    pub id: MemberId,
    /// That node's random node id (left/right split of the local list, ring order).
    #[serde(rename = "d")]
    pub node_id: u64,
    /// Milliseconds since the sender last had evidence (direct or relayed) that the node was
    /// alive. Zero for a node that the sender heard from just now.
    #[serde(rename = "g")]
    pub age_ms: u64,
}

/// Periodic probe sent to a random view member (or a seed while the view is empty).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ping {
    /// Random nonce echoed in the [`Pong`]; matches the round trip for the RTT estimate.
    #[serde(rename = "n")]
    pub nonce: u64,
    /// The sender's random node id.
    #[serde(rename = "s")]
    pub sender_node_id: u64,
    /// Random entries from the sender's partial view (they may enter the receiver's view).
    #[serde(rename = "e")]
    pub entries: Vec<Entry>,
    /// Structure hints that feed only the receiver's ring table and size estimator, never its
    /// partial view: the entries nearest to the receiver's node id and entries with small node
    /// ids (see the module documentation). Absent on the wire when empty.
    #[serde(rename = "x", default, skip_serializing_if = "Vec::is_empty")]
    pub aux: Vec<Entry>,
}

/// Answer to a [`Ping`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pong {
    /// The nonce of the [`Ping`] answered.
    #[serde(rename = "n")]
    pub nonce: u64,
    /// The sender's random node id.
    #[serde(rename = "s")]
    pub sender_node_id: u64,
    /// Random entries from the sender's partial view.
    #[serde(rename = "e")]
    pub entries: Vec<Entry>,
    /// Structure hints, as in [`Ping::aux`].
    #[serde(rename = "x", default, skip_serializing_if = "Vec::is_empty")]
    pub aux: Vec<Entry>,
}

/// A membership message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum GossipMsg {
    /// Probe.
    #[serde(rename = "P")]
    Ping(Ping),
    /// Answer to a probe.
    #[serde(rename = "Q")]
    Pong(Pong),
}

impl GossipMsg {
    /// The sender's node id.
    pub fn sender_node_id(&self) -> u64 {
        match self {
            GossipMsg::Ping(p) => p.sender_node_id,
            GossipMsg::Pong(p) => p.sender_node_id,
        }
    }

    /// The nonce.
    pub fn nonce(&self) -> u64 {
        match self {
            GossipMsg::Ping(p) => p.nonce,
            GossipMsg::Pong(p) => p.nonce,
        }
    }

    /// View entries carried.
    pub fn entries(&self) -> &[Entry] {
        match self {
            GossipMsg::Ping(p) => &p.entries,
            GossipMsg::Pong(p) => &p.entries,
        }
    }

    /// Structure hints carried.
    pub fn aux(&self) -> &[Entry] {
        match self {
            GossipMsg::Ping(p) => &p.aux,
            GossipMsg::Pong(p) => &p.aux,
        }
    }

    /// `true` for a [`Ping`].
    pub fn is_ping(&self) -> bool {
        matches!(self, GossipMsg::Ping(_))
    }
}
