//! Follow-up commands on an established session, signed by the session's ephemeral command
//! key (`cmd_key` in the body), with a strictly increasing `seq`.
//!
//! ```text
//! Command     = { v: 1, session_hash: bstr(32), seq: u64, issued_at: u64 (unix ms),
//!                 ops: bstr (CBOR [Query…]), sig: bstr(64) }
//! signed data = "MON-command-v1\0" || session_hash || seq (u64 BE) || issued_at (u64 BE) || ops
//! ```
//! The `ops` bytes are signed as received and decoded only after the signature checks. A
//! Command with no operations is a cancel (`mon shell`'s Ctrl-C): every node stops the
//! previous command's runs still in flight and answers with an empty result.

use serde::{Deserialize, Serialize};

use super::session::{SessionHash, MAX_OPS, SESSION_VERSION};
use super::{decode_strict, encode, DecodeError};
use crate::agg::Query;

/// Largest accepted encoded command.
pub const MAX_COMMAND_LEN: usize = 64 * 1024;
/// Stable reason code of a follow-up Command refused because this server does not run
/// follow-up Commands yet (the interactive-session issue adds them, checked against the
/// session's `cmd_key`, which the body keeps for it). Such a frame runs nothing and counts as
/// junk (summarised per source at most once a minute, never one audit record per frame).
pub const COMMAND_UNSUPPORTED: &str = "command-unsupported";
/// Domain separator of the command signature.
pub const COMMAND_DOMAIN: &[u8] = b"MON-command-v1\0";

/// A follow-up command.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Command {
    /// Must be [`SESSION_VERSION`].
    pub v: u32,
    /// The session this command belongs to.
    pub session_hash: serde_bytes::ByteArray<32>,
    /// Strictly increasing per session, starting at 1.
    pub seq: u64,
    /// Unix ms when the client issued it.
    pub issued_at: u64,
    /// CBOR-encoded `[Query…]`, exactly as signed.
    #[serde(with = "serde_bytes")]
    pub ops: Vec<u8>,
    /// Ed25519 signature by the session's `cmd_key` over [`Command::signed_data`].
    pub sig: serde_bytes::ByteArray<64>,
}

impl Command {
    /// The bytes the command key signs.
    pub fn signed_data(
        session_hash: &SessionHash,
        seq: u64,
        issued_at: u64,
        ops: &[u8],
    ) -> Vec<u8> {
        let mut m = Vec::with_capacity(COMMAND_DOMAIN.len() + 48 + ops.len());
        m.extend_from_slice(COMMAND_DOMAIN);
        m.extend_from_slice(session_hash);
        m.extend_from_slice(&seq.to_be_bytes());
        m.extend_from_slice(&issued_at.to_be_bytes());
        m.extend_from_slice(ops);
        m
    }

    /// Builds and signs a command; `sign` signs with the command key.
    pub fn new(
        session_hash: &SessionHash,
        seq: u64,
        issued_at: u64,
        ops: &[Query],
        sign: impl FnOnce(&[u8]) -> [u8; 64],
    ) -> Command {
        let ops = encode(&ops);
        let sig = sign(&Self::signed_data(session_hash, seq, issued_at, &ops));
        Command {
            v: SESSION_VERSION,
            session_hash: (*session_hash).into(),
            seq,
            issued_at,
            ops,
            sig: sig.into(),
        }
    }

    /// Encodes for the wire.
    pub fn to_bytes(&self) -> Vec<u8> {
        encode(self)
    }

    /// Decodes with limits; the signature is not checked here.
    pub fn from_bytes(bytes: &[u8]) -> Result<Command, DecodeError> {
        let c: Command = decode_strict("command", bytes, MAX_COMMAND_LEN)?;
        c.check()?;
        Ok(c)
    }

    /// The envelope checks of [`Command::from_bytes`] (version, size of the operations), for
    /// a command decoded as part of a sealed message.
    pub fn check(&self) -> Result<(), DecodeError> {
        if self.v != SESSION_VERSION {
            return Err(DecodeError::Version {
                what: "command",
                got: self.v,
                want: SESSION_VERSION,
            });
        }
        if self.ops.len() > MAX_COMMAND_LEN {
            return Err(DecodeError::TooLarge {
                what: "command operations",
                len: self.ops.len(),
                max: MAX_COMMAND_LEN,
            });
        }
        Ok(())
    }

    /// Checks the signature with `verify(cmd_key, data, sig)` and the sequence number against
    /// the last accepted one, then decodes the operations.
    pub fn open(
        &self,
        cmd_key: &[u8; 32],
        last_seq: u64,
        verify: impl FnOnce(&[u8; 32], &[u8], &[u8; 64]) -> bool,
    ) -> Result<Vec<Query>, CommandError> {
        let data = Self::signed_data(&self.session_hash, self.seq, self.issued_at, &self.ops);
        if !verify(cmd_key, &data, &self.sig) {
            return Err(CommandError::BadSignature);
        }
        if self.seq <= last_seq {
            return Err(CommandError::Replayed {
                seq: self.seq,
                last: last_seq,
            });
        }
        let ops: Vec<Query> = decode_strict("command ops", &self.ops, MAX_COMMAND_LEN)?;
        check_ops(&ops)?;
        Ok(ops)
    }
}

/// A command's operations: at most MAX_OPS of them, each valid. None: a cancel (the
/// previous command's runs stop on every node; nothing runs).
fn check_ops(ops: &[Query]) -> Result<(), CommandError> {
    let invalid = |detail: String| {
        CommandError::Decode(DecodeError::Invalid {
            what: "command",
            detail,
        })
    };
    if ops.len() > MAX_OPS {
        return Err(invalid(format!("{} operations", ops.len())));
    }
    for (i, q) in ops.iter().enumerate() {
        q.validate()
            .map_err(|e| invalid(format!("operation {}: {e}", i + 1)))?;
    }
    Ok(())
}

/// Why a follow-up command was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CommandError {
    /// Not signed by the session's command key.
    #[error("command signature does not verify with the session's command key")]
    BadSignature,
    /// `seq` did not increase.
    #[error("command seq {seq} is not above the last accepted seq {last} (replay)")]
    Replayed {
        /// The seq received.
        seq: u64,
        /// The last accepted seq.
        last: u64,
    },
    /// Malformed command.
    #[error(transparent)]
    Decode(#[from] DecodeError),
}

impl CommandError {
    /// Stable reason code.
    pub fn code(&self) -> &'static str {
        match self {
            CommandError::BadSignature => "bad-command-signature",
            CommandError::Replayed { .. } => "command-replay",
            CommandError::Decode(d) => d.code(),
        }
    }
}
