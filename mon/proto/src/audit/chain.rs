//! The hash chain: sealing events into lines.
//!
//! # Exact definition (format `v` = 1)
//!
//! A record is one line of UTF-8 JSON, without whitespace, ending in `\n` in the file. Its
//! fields appear in this order, absent optional fields omitted:
//! `v, log_id, seq, ts, node, event, result, reason, slice, principal, key_fp, policy_file,
//! policy_line, session_id, client_addr, peer, op, argv, exit_code, duration_ms, session_body,
//! session_sig, count, file, last_seq, last_hash, prev, hash`.
//!
//! * `log_id`: 32 lowercase hex digits (16 random bytes chosen when the log is created);
//! * `seq`: 0 for the first record, then +1 per record, no gaps;
//! * `prev`: the `hash` of the previous record; for `seq` 0 it is [`GENESIS_PREV`] (64 `0`s);
//! * `hash`: 64 lowercase hex digits, always the last field, computed as
//!
//!   `hash = hex(SHA-256(prev ‖ unhashed))`
//!
//!   where `prev` is the 64 ASCII hex characters of the `prev` field and `unhashed` is the exact
//!   line text with its trailing `,"hash":"<64 hex>"}` replaced by `}`.
//!
//! Verification therefore works on the raw line text and never re-serialises JSON. An
//! equivalent shell check of one line: `printf '%s%s' "$prev" "$unhashed" | sha256sum`.

use sha2::{Digest, Sha256};

use super::event::AuditEvent;
use super::json::ObjectWriter;

/// The format version written in `v`.
pub const FORMAT_VERSION: u64 = 1;

/// `prev` of the first record (`seq` 0): 64 ASCII zeros.
pub const GENESIS_PREV: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The longest record line accepted, in bytes (a signed push session with its manifests is the
/// largest thing a record carries). Writers, readers and the verifier all use this bound.
pub const MAX_LINE_BYTES: usize = 4 << 20;

/// Length of the fixed suffix `,"hash":"` + 64 hex + `"}`.
pub(crate) const HASH_SUFFIX_LEN: usize = 9 + 64 + 2;

/// The state needed to append the next record: which log, which `seq`, which `prev`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chain {
    log_id: String,
    next_seq: u64,
    prev: String,
}

/// A chain state given to [`Chain::resume`] that is not well formed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainStateError {
    /// `log_id` is not 32 lowercase hex digits.
    #[error("log_id must be 32 lowercase hex digits, got {0:?}")]
    LogId(String),
    /// `prev` is not 64 lowercase hex digits.
    #[error("prev must be 64 lowercase hex digits, got {0:?}")]
    Prev(String),
}

impl Chain {
    /// A new, empty log named by `log_id` (16 random bytes chosen by the caller).
    pub fn new(log_id: [u8; 16]) -> Chain {
        Chain {
            log_id: hex::encode(log_id),
            next_seq: 0,
            prev: GENESIS_PREV.to_owned(),
        }
    }

    /// Continues an existing log whose newest record has `seq = next_seq - 1` and `hash = prev`
    /// (e.g. taken from a [`VerifySummary`](super::VerifySummary)).
    pub fn resume(log_id: &str, next_seq: u64, prev: &str) -> Result<Chain, ChainStateError> {
        if !is_lower_hex(log_id, 32) {
            return Err(ChainStateError::LogId(log_id.to_owned()));
        }
        if !is_lower_hex(prev, 64) {
            return Err(ChainStateError::Prev(prev.to_owned()));
        }
        Ok(Chain {
            log_id: log_id.to_owned(),
            next_seq,
            prev: prev.to_owned(),
        })
    }

    /// The log id, 32 lowercase hex digits.
    pub fn log_id(&self) -> &str {
        &self.log_id
    }

    /// The `seq` the next sealed record gets.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// The `prev` the next sealed record gets (the newest record's `hash`).
    pub fn prev(&self) -> &str {
        &self.prev
    }

    /// Seals `ev` as the next record: returns one line of JSON without the trailing `\n`, and
    /// advances `seq` and `prev`. `ts` is RFC 3339 UTC supplied by the caller (this crate reads
    /// no clock).
    pub fn seal(&mut self, node: &str, ts: &str, ev: &AuditEvent) -> String {
        let mut w = ObjectWriter::new();
        w.u64("v", FORMAT_VERSION);
        w.str("log_id", &self.log_id);
        w.u64("seq", self.next_seq);
        w.str("ts", ts);
        w.str("node", node);
        write_event(&mut w, ev);
        w.str("prev", &self.prev);
        let unhashed = w.finish();
        let hash = record_hash(&self.prev, unhashed.as_bytes());
        let mut line = unhashed;
        line.pop(); // the closing '}'
        line.push_str(",\"hash\":\"");
        line.push_str(&hash);
        line.push_str("\"}");
        self.prev = hash;
        self.next_seq = self.next_seq.saturating_add(1);
        line
    }
}

/// Writes the fields `ev` carries, from `event` to `last_hash`, in the record's field order;
/// absent optional fields are left out.
fn write_event(w: &mut ObjectWriter, ev: &AuditEvent) {
    w.str("event", ev.event.as_str());
    w.opt_str("result", ev.result.map(|r| r.as_str()));
    w.opt_reason(
        "reason",
        ev.reason
            .as_ref()
            .map(|r| (r.code.as_str(), r.text.as_str())),
    );
    w.opt_str("slice", ev.slice.as_deref());
    w.opt_str("principal", ev.principal.as_deref());
    w.opt_str("key_fp", ev.key_fp.as_deref());
    w.opt_str("policy_file", ev.policy_file.as_deref());
    w.opt_u64("policy_line", ev.policy_line.map(u64::from));
    w.opt_str("session_id", ev.session_id.as_deref());
    w.opt_str("client_addr", ev.client_addr.as_deref());
    w.opt_str("peer", ev.peer.as_deref());
    w.opt_str("op", ev.op.as_deref());
    w.opt_str_array("argv", ev.argv.as_deref());
    w.opt_i64("exit_code", ev.exit_code);
    w.opt_u64("duration_ms", ev.duration_ms);
    w.opt_str("session_body", ev.session_body.as_deref());
    w.opt_str("session_sig", ev.session_sig.as_deref());
    w.opt_u64("count", ev.count);
    w.opt_str("file", ev.file.as_deref());
    w.opt_u64("last_seq", ev.last_seq);
    w.opt_str("last_hash", ev.last_hash.as_deref());
}

/// `hex(SHA-256(prev ‖ unhashed))`, the definition of a record's `hash`.
pub fn record_hash(prev: &str, unhashed: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(prev.as_bytes());
    h.update(unhashed);
    hex::encode(h.finalize())
}

/// Splits a line into its unhashed text (with the hash suffix replaced by `}`) and the hash it
/// claims. `None` if the line does not end in `,"hash":"<64 lowercase hex>"}`.
pub fn split_hash(line: &str) -> Option<(String, &str)> {
    let cut = line.len().checked_sub(HASH_SUFFIX_LEN)?;
    let suffix = line.get(cut..)?;
    let hash = suffix.strip_prefix(",\"hash\":\"")?.strip_suffix("\"}")?;
    if !is_lower_hex(hash, 64) {
        return None;
    }
    let mut unhashed = String::with_capacity(cut + 1);
    unhashed.push_str(line.get(..cut)?);
    unhashed.push('}');
    Some((unhashed, hash))
}

/// True if `s` is exactly `len` lowercase hex digits.
pub(crate) fn is_lower_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}
