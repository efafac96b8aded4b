//! Summarising undecodable traffic so that junk cannot fill the disk.
//!
//! Each source gets a window that opens with its first junk packet and closes
//! [`JUNK_INTERVAL_MS`] later; when it closes, [`JunkSummarizer::drain`] emits one
//! `junk.summary` record with the count, and the source is forgotten until its next packet.
//! Consecutive summaries for one source are therefore at least a minute apart. At most
//! `max_sources` sources are tracked at once; packets from further sources go to one overflow
//! bucket, summarised the same way (without `peer`). Memory is bounded by `max_sources`.

use std::collections::BTreeMap;
use std::net::IpAddr;

use super::event::{AuditEvent, EventKind, Outcome};

/// The summary interval per source: one minute.
pub const JUNK_INTERVAL_MS: u64 = 60_000;

/// Sources tracked at once by [`JunkSummarizer::new`].
pub const DEFAULT_MAX_SOURCES: usize = 1024;

/// Stable reason code of a per-source junk summary.
pub const JUNK_REASON: &str = "undecodable";
/// Stable reason code of the overflow bucket's summary.
pub const JUNK_OVERFLOW_REASON: &str = "undecodable_overflow";

#[derive(Debug, Clone, Copy)]
struct Window {
    opened_ms: u64,
    count: u64,
}

/// Counts undecodable packets per source and turns them into at most one `junk.summary` event
/// per source per minute. Sans-IO: the caller passes `now_ms` (unix ms) and appends the drained
/// events to the audit log.
#[derive(Debug)]
pub struct JunkSummarizer {
    max_sources: usize,
    sources: BTreeMap<IpAddr, Window>,
    overflow: Option<Window>,
    /// The latest time seen; windows never open before it, so a clock that steps back cannot
    /// shorten the interval between two summaries.
    latest_ms: u64,
}

impl Default for JunkSummarizer {
    fn default() -> Self {
        JunkSummarizer::new()
    }
}

impl JunkSummarizer {
    /// Tracks up to [`DEFAULT_MAX_SOURCES`] sources.
    pub fn new() -> JunkSummarizer {
        JunkSummarizer::with_max_sources(DEFAULT_MAX_SOURCES)
    }

    /// Tracks up to `max_sources` sources at once (0: everything goes to the overflow bucket).
    pub fn with_max_sources(max_sources: usize) -> JunkSummarizer {
        JunkSummarizer {
            max_sources,
            sources: BTreeMap::new(),
            overflow: None,
            latest_ms: 0,
        }
    }

    /// Counts one undecodable packet from `source` at `now_ms`.
    pub fn note(&mut self, source: IpAddr, now_ms: u64) {
        self.latest_ms = self.latest_ms.max(now_ms);
        let opened_ms = self.latest_ms;
        let source = source.to_canonical();
        if let Some(w) = self.sources.get_mut(&source) {
            w.count = w.count.saturating_add(1);
        } else if self.sources.len() < self.max_sources {
            self.sources.insert(
                source,
                Window {
                    opened_ms,
                    count: 1,
                },
            );
        } else {
            let w = self.overflow.get_or_insert(Window {
                opened_ms,
                count: 0,
            });
            w.count = w.count.saturating_add(1);
        }
    }

    /// Number of sources currently tracked (at most `max_sources`).
    pub fn tracked_sources(&self) -> usize {
        self.sources.len()
    }

    /// When the next summary falls due (to arm a timer), if anything is pending.
    pub fn next_due_ms(&self) -> Option<u64> {
        self.sources
            .values()
            .chain(self.overflow.iter())
            .map(|w| w.opened_ms.saturating_add(JUNK_INTERVAL_MS))
            .min()
    }

    /// Emits a summary for every window open for at least a minute at `now_ms`, and forgets
    /// those sources. Events come in source-address order, the overflow bucket last.
    pub fn drain(&mut self, now_ms: u64) -> Vec<AuditEvent> {
        self.latest_ms = self.latest_ms.max(now_ms);
        let due = |w: &Window| now_ms >= w.opened_ms.saturating_add(JUNK_INTERVAL_MS);
        let mut out = Vec::new();
        let ready: Vec<IpAddr> = self
            .sources
            .iter()
            .filter(|(_, w)| due(w))
            .map(|(ip, _)| *ip)
            .collect();
        for ip in ready {
            if let Some(w) = self.sources.remove(&ip) {
                out.push(source_summary(ip, w, now_ms));
            }
        }
        if let Some(w) = self.overflow.filter(due) {
            self.overflow = None;
            out.push(overflow_summary(w, self.max_sources, now_ms));
        }
        out
    }

    /// Emits every pending summary now, due or not (at shutdown, before `server.stop`).
    pub fn flush(&mut self, now_ms: u64) -> Vec<AuditEvent> {
        let mut out: Vec<AuditEvent> = std::mem::take(&mut self.sources)
            .into_iter()
            .map(|(ip, w)| source_summary(ip, w, now_ms))
            .collect();
        if let Some(w) = self.overflow.take() {
            out.push(overflow_summary(w, self.max_sources, now_ms));
        }
        out
    }
}

fn seconds_since(w: Window, now_ms: u64) -> u64 {
    now_ms.saturating_sub(w.opened_ms) / 1000
}

fn source_summary(ip: IpAddr, w: Window, now_ms: u64) -> AuditEvent {
    let text = format!(
        "{} undecodable packet(s) from {ip} in the last {} s",
        w.count,
        seconds_since(w, now_ms)
    );
    summary(JUNK_REASON, text, w).peer(ip.to_string())
}

fn overflow_summary(w: Window, max_sources: usize, now_ms: u64) -> AuditEvent {
    let text = format!(
        "{} undecodable packet(s) in the last {} s from sources beyond the {max_sources} tracked individually",
        w.count,
        seconds_since(w, now_ms)
    );
    summary(JUNK_OVERFLOW_REASON, text, w)
}

/// A `junk-summary` event: `reason` with its `text`, counting the window's packets.
fn summary(reason: &str, text: String, w: Window) -> AuditEvent {
    AuditEvent::new(EventKind::JunkSummary)
        .result(Outcome::Error)
        .reason(reason, text)
        .count(w.count)
}
