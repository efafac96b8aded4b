//! The signed session: the user-signed CBOR body that makes servers build an overlay and run
//! operations, and its SSHSIG.
//!
//! ```text
//! SignedSession = { v: 1, body: bstr (CBOR SessionBody), sshsig: bstr (raw SSHSIG blob) }
//! session_hash  = SHA-256("MON-session-v1\0" || body)
//! ```
//! The signature covers exactly the `body` bytes as received; servers verify those bytes and
//! never re-encode them.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{decode_strict, encode, DecodeError};
use crate::agg::Query;

/// Protocol version of the session body and envelope.
pub const SESSION_VERSION: u32 = 1;
/// Largest accepted encoded `SignedSession` (the body carries push manifests).
pub const MAX_SIGNED_SESSION_LEN: usize = 256 * 1024;
/// Largest accepted body.
pub const MAX_BODY_LEN: usize = MAX_SIGNED_SESSION_LEN - 2048;
/// Largest accepted SSHSIG blob (an Ed25519 SSHSIG is under 200 bytes).
pub const MAX_SSHSIG_LEN: usize = 1024;
/// Domain separator of the session hash.
pub const SESSION_HASH_DOMAIN: &[u8] = b"MON-session-v1\0";
/// At most this many operations in one session.
pub const MAX_OPS: usize = 16;
/// At most this many target patterns.
pub const MAX_TARGETS: usize = 256;
/// Longest slice, principal or target pattern.
pub const MAX_NAME_LEN: usize = 256;
/// Largest fanout a session may ask for.
pub const MAX_FANOUT: u16 = 64;
/// Most parents per node a DAG session may ask for.
pub const MAX_PARENTS: u8 = 16;
/// Largest number of blocks in one push manifest (its home: [`crate::push::geometry`]).
pub use crate::push::geometry::MAX_BLOCKS;

/// The name of a session: SHA-256 over the domain separator and the body bytes.
pub type SessionHash = [u8; 32];

/// Computes the session hash of body bytes.
pub fn session_hash(body: &[u8]) -> SessionHash {
    let mut h = Sha256::new();
    h.update(SESSION_HASH_DOMAIN);
    h.update(body);
    h.finalize().into()
}

/// Overlay algorithm chosen by the client.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OverlayKind {
    /// Random tree: each node forwards to `fanout` members of its partial view.
    Random,
    /// Random for the first `stage_one_hops`, then local list left/right, then view.
    Twostage,
    /// Levels; a node accepts extra parents of smaller level up to `max_parents`.
    Dag,
}

impl OverlayKind {
    /// The CLI spelling.
    pub fn as_str(&self) -> &'static str {
        match self {
            OverlayKind::Random => "random",
            OverlayKind::Twostage => "twostage",
            OverlayKind::Dag => "dag",
        }
    }
}

/// How the overlay is built.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OverlaySpec {
    /// The algorithm.
    pub kind: OverlayKind,
    /// Children per node; 0 means the server's adaptive default.
    pub fanout: u16,
    /// Parents per node in a DAG (1 = tree).
    pub max_parents: u8,
    /// Hops of the random first stage in a two-stage tree.
    pub stage_one_hops: u8,
    /// Nodes deeper than this do not forward.
    pub max_depth: u8,
}

/// A file pushed to every node (issue: software push).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// File name as given by the user (informational).
    pub name: String,
    /// Size in bytes.
    pub size: u64,
    /// Unix mode bits of the landed file.
    pub mode: u32,
    /// Block size in bytes.
    pub block_size: u32,
    /// BLAKE3 hash of every block, in order.
    pub blocks: Vec<serde_bytes::ByteArray<32>>,
    /// Absolute destination path on every node.
    pub dest: String,
    /// `--where RES OP VALUE`: the file lands only on nodes where the condition holds; the
    /// others still take part in the DAG as relays and report themselves skipped. Absent from
    /// the encoding when there is no condition.
    #[serde(default, rename = "where", skip_serializing_if = "Option::is_none")]
    pub cond: Option<crate::agg::Where>,
}

/// The body the user signs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionBody {
    /// Must be [`SESSION_VERSION`].
    pub v: u32,
    /// SSHSIG namespace, the operation class (`mon-query@mon`, …).
    pub ns: String,
    /// Random per session; a second body with the same id is equivocation.
    pub session_id: serde_bytes::ByteArray<16>,
    /// The slice whose policy decides.
    pub slice: String,
    /// The principal the user claims; absent: servers find it by key.
    pub principal: Option<String>,
    /// `SHA256:…` fingerprint of the signing key; must match the SSHSIG's key.
    pub key_fp: String,
    /// Unix ms when the client made the session.
    pub issued_at: u64,
    /// Unix ms after which no node may join (the join deadline).
    pub expires_at: u64,
    /// How long the session may run, in seconds.
    pub max_lifetime_s: u32,
    /// Query deadline the client waits for, in ms; parents derive their deadlines from it.
    pub timeout_ms: u32,
    /// The client's X25519 key for the first hop.
    pub client_eph: serde_bytes::ByteArray<32>,
    /// Ephemeral Ed25519 key that signs follow-up commands.
    pub cmd_key: serde_bytes::ByteArray<32>,
    /// Node name patterns that execute (`*` all); others relay only.
    pub targets: Vec<String>,
    /// How to build the overlay.
    pub overlay: OverlaySpec,
    /// The operations, run once per node in order.
    pub ops: Vec<Query>,
    /// For push sessions, the file.
    pub push: Option<Manifest>,
    /// An interactive session (`mon shell`): after the first result every node keeps the
    /// session's overlay (parent, children, link keys) and runs follow-up
    /// [`Command`](super::command::Command)s signed by `cmd_key`, until the signed lifetime
    /// or the idle timeout ([`crate::timing::SESSION_IDLE_MS`]). Absent from the encoding
    /// when false, so a one-shot body encodes as before.
    #[serde(default, skip_serializing_if = "is_false")]
    pub interactive: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl SessionBody {
    /// Encodes the body as CBOR (the bytes that get signed).
    pub fn to_bytes(&self) -> Vec<u8> {
        encode(self)
    }

    /// Decodes and validates a body.
    pub fn from_bytes(bytes: &[u8]) -> Result<SessionBody, DecodeError> {
        let body: SessionBody = decode_strict("session body", bytes, MAX_BODY_LEN)?;
        body.validate()?;
        Ok(body)
    }

    /// Range checks on every field, in this order (the first failure is reported).
    pub fn validate(&self) -> Result<(), DecodeError> {
        if self.v != SESSION_VERSION {
            return Err(DecodeError::Version {
                what: "session body",
                got: self.v,
                want: SESSION_VERSION,
            });
        }
        self.check_names()
            .and_then(|()| self.check_times_and_targets())
            .and_then(|()| self.check_overlay())
            .and_then(|()| self.check_work())
            .map_err(|detail| DecodeError::Invalid {
                what: "session body",
                detail,
            })
    }

    /// Namespace, slice, principal and key fingerprint: present, bounded, well-formed.
    fn check_names(&self) -> Result<(), String> {
        if self.ns.len() > MAX_NAME_LEN || self.slice.is_empty() || self.slice.len() > MAX_NAME_LEN
        {
            return Err("namespace or slice is empty or too long".into());
        }
        if !self
            .slice
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        {
            return Err(format!(
                "slice name {:?} has invalid characters",
                self.slice
            ));
        }
        if let Some(p) = &self.principal {
            if p.is_empty() || p.len() > MAX_NAME_LEN {
                return Err("principal is empty or too long".into());
            }
        }
        if self.key_fp.len() > 128 {
            return Err("key fingerprint too long".into());
        }
        Ok(())
    }

    /// The join deadline is not before the issue time; 1..=MAX_TARGETS bounded patterns.
    fn check_times_and_targets(&self) -> Result<(), String> {
        if self.expires_at < self.issued_at {
            return Err("join deadline before issue time".into());
        }
        if self.targets.is_empty() || self.targets.len() > MAX_TARGETS {
            return Err(format!("{} target patterns", self.targets.len()));
        }
        if self
            .targets
            .iter()
            .any(|t| t.is_empty() || t.len() > MAX_NAME_LEN)
        {
            return Err("empty or too long target pattern".into());
        }
        Ok(())
    }

    /// Overlay fanout and parent count within their bounds.
    fn check_overlay(&self) -> Result<(), String> {
        let o = &self.overlay;
        if o.fanout > MAX_FANOUT || o.max_parents == 0 || o.max_parents > MAX_PARENTS {
            return Err(format!(
                "overlay fanout {} / max parents {} out of range",
                o.fanout, o.max_parents
            ));
        }
        Ok(())
    }

    /// At least one operation or a push, at most MAX_OPS operations, each valid.
    fn check_work(&self) -> Result<(), String> {
        if self.ops.is_empty() && self.push.is_none() {
            return Err("no operations".into());
        }
        if self.ops.len() > MAX_OPS {
            return Err(format!("{} operations, at most {MAX_OPS}", self.ops.len()));
        }
        for (i, q) in self.ops.iter().enumerate() {
            q.validate()
                .map_err(|e| format!("operation {}: {e}", i + 1))?;
        }
        if let Some(m) = &self.push {
            if self.interactive {
                return Err("a push session cannot be interactive".into());
            }
            m.validate()?;
        }
        Ok(())
    }
}

impl Manifest {
    /// Range and consistency checks.
    pub fn validate(&self) -> Result<(), String> {
        // Block size and count: the push geometry, which keeps every block decodable.
        let want =
            crate::push::geometry::check(self.size, self.block_size).map_err(|e| e.to_string())?;
        if self.blocks.len() as u64 != want {
            return Err(format!(
                "manifest lists {} blocks, size {} needs {want} (at most {MAX_BLOCKS})",
                self.blocks.len(),
                self.size
            ));
        }
        if !self.dest.starts_with('/') || self.dest.len() > 4096 || self.dest.contains('\0') {
            return Err("destination must be an absolute path".into());
        }
        if self.mode > 0o7777 {
            return Err(format!("mode {:o} out of range", self.mode));
        }
        if let Some(w) = &self.cond {
            crate::agg::check_resource_name(&w.res).map_err(|e| format!("where: {e}"))?;
            if !w.value.is_finite() {
                return Err("where: the value must be a finite number".into());
            }
        }
        Ok(())
    }
}

/// A session body as received, with its signature: the unit that travels down the overlay.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedSession {
    /// Must be [`SESSION_VERSION`].
    pub v: u32,
    /// The CBOR body bytes, exactly as signed.
    #[serde(with = "serde_bytes")]
    pub body: Vec<u8>,
    /// Raw SSHSIG blob over `body`.
    #[serde(with = "serde_bytes")]
    pub sshsig: Vec<u8>,
}

impl SignedSession {
    /// Encodes for the wire.
    pub fn to_bytes(&self) -> Vec<u8> {
        encode(self)
    }

    /// Decodes with size limits and version check (the body is decoded separately).
    pub fn from_bytes(bytes: &[u8]) -> Result<SignedSession, DecodeError> {
        let s: SignedSession = decode_strict("signed session", bytes, MAX_SIGNED_SESSION_LEN)?;
        s.check()?;
        Ok(s)
    }

    /// The envelope checks of [`SignedSession::from_bytes`] (version, body and signature
    /// sizes), for an envelope decoded as part of a larger message.
    pub fn check(&self) -> Result<(), DecodeError> {
        if self.v != SESSION_VERSION {
            return Err(DecodeError::Version {
                what: "signed session",
                got: self.v,
                want: SESSION_VERSION,
            });
        }
        if self.body.len() > MAX_BODY_LEN {
            return Err(DecodeError::TooLarge {
                what: "session body",
                len: self.body.len(),
                max: MAX_BODY_LEN,
            });
        }
        if self.sshsig.len() > MAX_SSHSIG_LEN {
            return Err(DecodeError::TooLarge {
                what: "session signature",
                len: self.sshsig.len(),
                max: MAX_SSHSIG_LEN,
            });
        }
        Ok(())
    }

    /// The session's name.
    pub fn hash(&self) -> SessionHash {
        session_hash(&self.body)
    }
}
