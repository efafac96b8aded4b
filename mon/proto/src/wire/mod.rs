//! The wire codec: CBOR encodings of every message MON sends, decoded strictly.
//!
//! Strict means: a size limit checked before decoding, no unknown fields
//! (`deny_unknown_fields`), a bounded nesting depth, an exact version, and no trailing bytes.
//! Signed bytes are verified as received and never re-encoded before verification.

pub mod command;
pub mod packet;
pub mod session;

use serde::{de::DeserializeOwned, Serialize};

/// Maximum nesting depth accepted by the CBOR decoder.
pub const MAX_NESTING: usize = 32;

/// Why bytes from the network were rejected before any semantic check.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    /// The input is larger than the limit for its kind.
    #[error("{what} is {len} bytes, more than the limit of {max}")]
    TooLarge {
        /// Which kind of message.
        what: &'static str,
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The CBOR did not decode into the expected structure.
    #[error("malformed {what}: {detail}")]
    Malformed {
        /// Which kind of message.
        what: &'static str,
        /// The decoder's complaint.
        detail: String,
    },
    /// Bytes follow the encoded value.
    #[error("{what} has {extra} trailing bytes")]
    TrailingBytes {
        /// Which kind of message.
        what: &'static str,
        /// How many bytes were left over.
        extra: usize,
    },
    /// The version field is not one this build speaks.
    #[error("{what} has unsupported version {got} (this build speaks {want})")]
    Version {
        /// Which kind of message.
        what: &'static str,
        /// The version received.
        got: u32,
        /// The version expected.
        want: u32,
    },
    /// A field value is out of its allowed range.
    #[error("{what}: {detail}")]
    Invalid {
        /// Which kind of message.
        what: &'static str,
        /// What is wrong.
        detail: String,
    },
}

impl DecodeError {
    /// A stable reason code for audit records and counters.
    pub fn code(&self) -> &'static str {
        match self {
            DecodeError::TooLarge { .. } => "too-large",
            DecodeError::Malformed { .. } => "malformed",
            DecodeError::TrailingBytes { .. } => "trailing-bytes",
            DecodeError::Version { .. } => "bad-version",
            DecodeError::Invalid { .. } => "invalid-field",
        }
    }
}

/// Decodes exactly one CBOR value of type `T` from `bytes`, with a size limit, a nesting limit
/// and no trailing bytes.
pub fn decode_strict<T: DeserializeOwned>(
    what: &'static str,
    bytes: &[u8],
    max: usize,
) -> Result<T, DecodeError> {
    if bytes.len() > max {
        return Err(DecodeError::TooLarge {
            what,
            len: bytes.len(),
            max,
        });
    }
    let mut rest = bytes;
    let value: T =
        ciborium::de::from_reader_with_recursion_limit(&mut rest, MAX_NESTING).map_err(|e| {
            DecodeError::Malformed {
                what,
                detail: e.to_string(),
            }
        })?;
    if !rest.is_empty() {
        return Err(DecodeError::TrailingBytes {
            what,
            extra: rest.len(),
        });
    }
    Ok(value)
}

/// Encodes a value as CBOR. Encoding into a `Vec` cannot fail for MON's types; an error here
/// is a bug, reported rather than panicking.
pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    if let Err(e) = ciborium::ser::into_writer(value, &mut out) {
        // Only possible with a Serialize impl that fails on its own; MON's types do not.
        debug_assert!(false, "CBOR encoding failed: {e}");
        out.clear();
    }
    out
}
