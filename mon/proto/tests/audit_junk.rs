//! Junk summariser: at most one summary per source per minute, bounded memory.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use mon_proto::audit::{
    EventKind, JunkSummarizer, JUNK_INTERVAL_MS, JUNK_OVERFLOW_REASON, JUNK_REASON,
};

fn ip(n: u32) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + n))
}

const T0: u64 = 1_700_000_000_000;

#[test]
fn one_summary_per_window_with_the_count() {
    let mut j = JunkSummarizer::new();
    for k in 0..100 {
        j.note(ip(1), T0 + k * 500); // 100 packets over 50 s
    }
    assert!(j.drain(T0 + 30_000).is_empty(), "window still open");
    assert_eq!(j.next_due_ms(), Some(T0 + JUNK_INTERVAL_MS));
    let out = j.drain(T0 + JUNK_INTERVAL_MS);
    assert_eq!(out.len(), 1);
    let ev = &out[0];
    assert_eq!(ev.event, EventKind::JunkSummary);
    assert_eq!(ev.count, Some(100));
    assert_eq!(ev.peer.as_deref(), Some("10.0.0.1"));
    assert_eq!(ev.reason.as_ref().unwrap().code, JUNK_REASON);
    assert!(
        j.drain(T0 + JUNK_INTERVAL_MS + 1).is_empty(),
        "nothing twice"
    );
    assert_eq!(j.tracked_sources(), 0, "source forgotten after its summary");
    assert_eq!(j.next_due_ms(), None);
}

#[test]
fn at_most_one_summary_per_source_per_minute_under_a_steady_flood() {
    let mut j = JunkSummarizer::new();
    let mut last_emit: BTreeMap<String, u64> = BTreeMap::new();
    let mut total_noted = 0u64;
    let mut total_counted = 0u64;
    // 3 sources, one packet each every 250 ms, draining every second, for 10 minutes.
    let mut now = T0;
    while now < T0 + 600_000 {
        for s in 1..=3 {
            j.note(ip(s), now);
            total_noted += 1;
        }
        if now % 1000 == 0 {
            for ev in j.drain(now) {
                let peer = ev.peer.clone().unwrap();
                if let Some(prev) = last_emit.insert(peer, now) {
                    assert!(
                        now - prev >= JUNK_INTERVAL_MS,
                        "two summaries within a minute"
                    );
                }
                total_counted += ev.count.unwrap();
            }
        }
        now += 250;
    }
    for ev in j.flush(now) {
        total_counted += ev.count.unwrap();
    }
    assert_eq!(
        total_counted, total_noted,
        "every packet is counted exactly once"
    );
    assert_eq!(last_emit.len(), 3);
}

#[test]
fn clock_stepping_back_does_not_shorten_the_interval() {
    let mut j = JunkSummarizer::new();
    j.note(ip(1), T0);
    assert_eq!(j.drain(T0 + JUNK_INTERVAL_MS).len(), 1);
    j.note(ip(1), T0 + 1_000); // clock went back
    assert!(j.drain(T0 + JUNK_INTERVAL_MS + 1_000).is_empty());
    assert_eq!(j.drain(T0 + 2 * JUNK_INTERVAL_MS).len(), 1);
}

#[test]
fn memory_is_bounded_and_overflow_is_counted() {
    let mut j = JunkSummarizer::with_max_sources(8);
    for n in 0..10_000 {
        j.note(ip(n), T0 + u64::from(n));
    }
    assert_eq!(j.tracked_sources(), 8);
    let out = j.drain(T0 + 10_000 + JUNK_INTERVAL_MS);
    assert_eq!(out.len(), 9, "8 sources and one overflow summary");
    let overflow = out.last().unwrap();
    assert_eq!(overflow.peer, None);
    assert_eq!(overflow.count, Some(10_000 - 8));
    assert_eq!(overflow.reason.as_ref().unwrap().code, JUNK_OVERFLOW_REASON);
    let counted: u64 = out.iter().map(|e| e.count.unwrap()).sum();
    assert_eq!(counted, 10_000);
}

#[test]
fn ipv4_mapped_ipv6_counts_as_the_ipv4_source() {
    let mut j = JunkSummarizer::new();
    j.note(ip(5), T0);
    j.note(IpAddr::V6(Ipv4Addr::from(0x0a00_0005).to_ipv6_mapped()), T0);
    j.note(IpAddr::V6(Ipv6Addr::LOCALHOST), T0);
    assert_eq!(j.tracked_sources(), 2);
    let out = j.flush(T0);
    assert_eq!(out.len(), 2);
    assert!(out
        .iter()
        .any(|e| e.peer.as_deref() == Some("10.0.0.5") && e.count == Some(2)));
}
