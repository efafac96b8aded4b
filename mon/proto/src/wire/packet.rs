//! Node-to-node and client-to-node packets.
//!
//! Every UDP datagram and every message on a stream (u32 BE length prefix) is one CBOR
//! [`Packet`]. Link traffic after the handshake travels in [`Packet::Sealed`], whose frame
//! decrypts to one CBOR [`Inner`].
//!
//! ```text
//! Packet::Gossip   { signed: bstr(CBOR GossipBody), sig: bstr(64) }      node key over
//!                  "MON-gossip-v1\0" || signed
//! Packet::Session  { session: SignedSession, parent: tstr, e_p: bstr(32),
//!                    parent_sig: bstr(64)?, level: u16, budget_ms: u32 }
//! Packet::SessionOk{ session_hash: bstr(32), child: tstr, e_c: bstr(32), sig: bstr(64),
//!                    confirm: bstr }
//! Packet::Prune    { session_hash, child, answered: bstr(32), sig: bstr(64) }   node key over
//!                  "MON-prune-v1\0" || session_hash || SHA-256(the Session packet answered)
//! Packet::Deny     { session_hash, child, code: tstr, text: tstr, sig: bstr(64) }  node key
//!                  over "MON-deny-v1\0" || session_hash || code
//! Packet::Sealed   { session_hash, from: tstr, frame: bstr }
//! ```

use serde::{Deserialize, Serialize};

use super::session::{SessionHash, SignedSession, SESSION_VERSION};
use super::{decode_strict, encode, DecodeError};
use crate::agg::Partial;
use crate::membership::{GossipMsg, MemberId};

/// Largest datagram MON sends or accepts; bigger messages go over a stream.
pub const MAX_DATAGRAM: usize = 1200;
/// Largest packet accepted on a stream.
pub const MAX_STREAM_PACKET: usize = 16 * 1024 * 1024;
/// Longest node name.
pub const MAX_NODE_NAME: usize = 255;
/// Domain separator for gossip signatures.
pub const GOSSIP_DOMAIN: &[u8] = b"MON-gossip-v1\0";
/// Domain separator for deny signatures.
pub const DENY_DOMAIN: &[u8] = b"MON-deny-v1\0";
/// Domain separator for prune signatures.
pub const PRUNE_DOMAIN: &[u8] = b"MON-prune-v1\0";

/// The signed part of a gossip message.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GossipBody {
    /// Must be [`SESSION_VERSION`].
    pub v: u32,
    /// Who sends it (its key signs it).
    pub from: MemberId,
    /// The sender's random node id.
    pub node_id: u64,
    /// Sender's clock, unix ms; strictly increasing per sender.
    pub ts_ms: u64,
    /// Ping or Pong.
    pub msg: GossipMsg,
}

/// One message on the wire.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum Packet {
    /// Membership gossip, signed by the sender's node key.
    Gossip {
        /// CBOR [`GossipBody`], as signed.
        #[serde(with = "serde_bytes")]
        signed: Vec<u8>,
        /// Node-key signature.
        sig: serde_bytes::ByteArray<64>,
    },
    /// Join a session's overlay (the paper's Session message, plus the hop handshake's
    /// first step).
    Session {
        /// The user-signed session.
        session: SignedSession,
        /// Parent node name, or `@client` on the first hop.
        parent: String,
        /// Parent's ephemeral X25519 key (equal to `client_eph` on the first hop).
        e_p: serde_bytes::ByteArray<32>,
        /// Parent's node signature over (session_hash, e_p, child name); absent on the first hop.
        parent_sig: Option<serde_bytes::ByteArray<64>>,
        /// Parent's level (client = 0).
        level: u16,
        /// Milliseconds the child has to answer with its subtree's result.
        budget_ms: u32,
    },
    /// The child accepted: its half of the handshake.
    SessionOk {
        /// Session.
        session_hash: serde_bytes::ByteArray<32>,
        /// Child node name.
        child: String,
        /// Child's ephemeral X25519 key.
        e_c: serde_bytes::ByteArray<32>,
        /// Child's node signature over the transcript.
        sig: serde_bytes::ByteArray<64>,
        /// Key confirmation.
        #[serde(with = "serde_bytes")]
        confirm: Vec<u8>,
        /// The child accepted the sender as an *extra* DAG parent: it sends its result to
        /// its first parent, not to this one.
        extra: bool,
    },
    /// The child is already in the overlay; signed so nobody can forge prunes.
    Prune {
        /// Session.
        session_hash: serde_bytes::ByteArray<32>,
        /// Child node name.
        child: String,
        /// SHA-256 of the Session packet this answers.
        answered: serde_bytes::ByteArray<32>,
        /// Node-key signature.
        sig: serde_bytes::ByteArray<64>,
    },
    /// The child refuses the session (policy, freshness, replay…).
    Deny {
        /// Session.
        session_hash: serde_bytes::ByteArray<32>,
        /// Child node name.
        child: String,
        /// Stable reason code.
        code: String,
        /// Human-readable reason.
        text: String,
        /// Node-key signature over [`DENY_DOMAIN`] || session_hash || code.
        sig: serde_bytes::ByteArray<64>,
    },
    /// Encrypted link traffic.
    Sealed {
        /// Session.
        session_hash: serde_bytes::ByteArray<32>,
        /// Sender's name (`@client` from the client).
        from: String,
        /// Channel (0 datagrams, 1 the stream).
        channel: u8,
        /// Sealed frame (counter || ciphertext).
        #[serde(with = "serde_bytes")]
        frame: Vec<u8>,
    },
}

impl Packet {
    /// Encodes for the wire.
    pub fn to_bytes(&self) -> Vec<u8> {
        encode(self)
    }

    /// Decodes one packet with the given size limit.
    pub fn from_bytes(bytes: &[u8], max: usize) -> Result<Packet, DecodeError> {
        let p: Packet = decode_strict("packet", bytes, max)?;
        if let Packet::Session { session, .. } = &p {
            session.check()?;
        }
        let name_ok = |n: &str| !n.is_empty() && n.len() <= MAX_NODE_NAME;
        let ok = match &p {
            Packet::Gossip { .. } => true,
            Packet::Session { parent, .. } => name_ok(parent),
            Packet::SessionOk { child, confirm, .. } => name_ok(child) && confirm.len() <= 64,
            Packet::Prune { child, .. } => name_ok(child),
            Packet::Deny {
                child, code, text, ..
            } => name_ok(child) && code.len() <= 64 && text.len() <= 1024,
            Packet::Sealed { from, .. } => name_ok(from),
        };
        if !ok {
            return Err(DecodeError::Invalid {
                what: "packet",
                detail: "name or field length out of range".into(),
            });
        }
        Ok(p)
    }

    /// The session this packet belongs to, if any.
    pub fn session_hash(&self) -> Option<SessionHash> {
        match self {
            Packet::Gossip { .. } => None,
            Packet::Session { session, .. } => Some(session.hash()),
            Packet::SessionOk { session_hash, .. }
            | Packet::Prune { session_hash, .. }
            | Packet::Deny { session_hash, .. }
            | Packet::Sealed { session_hash, .. } => Some(**session_hash),
        }
    }
}

/// What travels inside a sealed frame.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum Inner {
    /// The parent's first frame: proves it holds e_p's secret; the child may now execute.
    Go,
    /// A follow-up command, signed by the session's command key.
    Command(super::command::Command),
    /// A subtree's result, child to first parent.
    Result(SubtreeResult),
    /// The parent received the result of the session's own operations (`seq` 0).
    ResultAck,
    /// The parent received the result of follow-up Command `seq` (≥ 1) of an interactive
    /// session: an acknowledgement of another command's result stops nothing.
    CommandAck(u64),
    /// The client or a parent gives up on the session: stop work, discard state.
    Cancel,
}

impl Inner {
    /// The acknowledgement of the result of command `seq` (0: the session's own operations,
    /// encoded as before follow-up Commands: `"ResultAck"`).
    pub fn ack(seq: u64) -> Inner {
        if seq == 0 {
            Inner::ResultAck
        } else {
            Inner::CommandAck(seq)
        }
    }

    /// The command whose result this acknowledges, if it is an acknowledgement.
    pub fn acked_seq(&self) -> Option<u64> {
        match self {
            Inner::ResultAck => Some(0),
            Inner::CommandAck(seq) => Some(*seq),
            _ => None,
        }
    }

    /// Encodes.
    pub fn to_bytes(&self) -> Vec<u8> {
        encode(self)
    }

    /// Decodes a decrypted frame.
    pub fn from_bytes(bytes: &[u8]) -> Result<Inner, DecodeError> {
        let inner: Inner = decode_strict("sealed message", bytes, MAX_STREAM_PACKET)?;
        if let Inner::Command(c) = &inner {
            c.check()?;
        }
        Ok(inner)
    }
}

/// The aggregated result of a subtree, for every operation of the session.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubtreeResult {
    /// Nodes in the subtree that relayed only (outside `targets`).
    pub relayed: u64,
    /// One partial per operation, in session order; each carries its answered count and
    /// its failed, denied and missing node lists.
    pub partials: Vec<Partial>,
    /// Digest of the roster the bitmap is built on (see [`crate::roster`]); absent when
    /// subtrees disagreed on it.
    pub roster: Option<serde_bytes::ByteArray<32>>,
    /// One bit per roster node: the nodes that took part in the session in this subtree.
    #[serde(with = "serde_bytes")]
    pub reached: Vec<u8>,
    /// The entry node's partial view, in answer to `mon members` (a session with
    /// `max_depth` 1); empty otherwise.
    pub members: Vec<crate::membership::MemberView>,
    /// In an interactive session, the `seq` of the follow-up Command this answers (0, absent
    /// from the encoding: the session's own operations).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub seq: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Version check helper so the constant is used by every envelope.
pub const PACKET_VERSION: u32 = SESSION_VERSION;
