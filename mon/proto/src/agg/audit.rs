//! `audit fleet`: every node's audit records reviewed through the overlay (issue 14).
//!
//! The client sends an [`AuditFilter`] (`Query::Audit`); each node's driver reads its own
//! audit log with the server's own rights, verifies its hash chain and feeds every record to
//! an [`AuditScan`], which counts the matching ones and keeps the newest. The node's partial
//! ([`AuditPart`]) and every merge of partials stay within fixed bounds, whatever the number
//! of nodes:
//!
//! - counts by event, by principal and by node: at most [`MAX_AUDIT_KEYS`] keys each (the
//!   largest counts, ties by key), the rest summed in `other` (a kept key's count is then a
//!   lower bound: a subtree may have cut it);
//! - the newest matching records: at most the filter's `limit` (≤ [`MAX_AUDIT_LIMIT`]), by
//!   time (then node name, then `seq`, newest first), each with its node name and whether that
//!   node's chain verified; every string field cut to [`MAX_AUDIT_FIELD`] bytes, at most
//!   [`MAX_AUDIT_ARGV`] arguments;
//! - the chains: the number of nodes whose chain verified, and the nodes whose did not (a
//!   node list: at most 256 names with reasons, and the exact total).
//!
//! So one node's answer is at most about 100 × 4.5 KiB of records plus 3 × 64 keys: under
//! 600 KiB, and so is every merged partial (plus its node lists).

mod filter;
mod part;
mod render;
mod scan;
#[cfg(test)]
mod tests;

pub use filter::{event_matches, AuditFilter};
pub use part::{AuditAnswer, AuditPart, AuditRow, Counts};
pub use scan::AuditScan;

/// Largest `--limit` (newest records returned).
pub const MAX_AUDIT_LIMIT: u32 = 100;
/// Default `--limit`.
pub const DEFAULT_AUDIT_LIMIT: u32 = 20;
/// Most keys kept in each count map (by event, principal, node); the rest go to `other`.
pub const MAX_AUDIT_KEYS: usize = 64;
/// Every string of a filter or of a returned record is at most this many bytes.
pub const MAX_AUDIT_FIELD: usize = 256;
/// A returned record keeps at most this many `argv` entries.
pub const MAX_AUDIT_ARGV: usize = 8;
