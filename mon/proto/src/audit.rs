//! The tamper-evident audit log, sans-IO part: record types, the hash chain, verification and
//! the junk summariser.
//!
//! A server builds an [`AuditEvent`], seals it with [`Chain::seal`] (which assigns `seq` and
//! `prev` and computes `hash`) and appends the line to `STATE_DIR/audit.jsonl` (the file side is
//! `mon::auditlog`). [`verify_lines`] / [`Verifier`] check a whole log; [`AuditRecord`] reads
//! lines back for display and export. The exact line format and hash definition are in the
//! [`chain`] module docs and in docs/protocol.md ("Audit log format").
//!
//! This module reads no clock and no randomness: `ts` and the `log_id` bytes are passed in.

pub mod chain;
mod event;
mod json;
mod junk;
mod record;
mod verify;

pub use chain::{
    record_hash, split_hash, Chain, ChainStateError, FORMAT_VERSION, GENESIS_PREV, MAX_LINE_BYTES,
};
pub use event::{AuditEvent, EventKind, Outcome, Reason};
pub use junk::{
    JunkSummarizer, DEFAULT_MAX_SOURCES, JUNK_INTERVAL_MS, JUNK_OVERFLOW_REASON, JUNK_REASON,
};
pub use record::{AuditRecord, RecordError};
pub use verify::{verify_lines, BreakKind, ChainBreak, FirstRecord, Verifier, VerifySummary};
