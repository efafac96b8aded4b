#![allow(clippy::unwrap_used)]
use super::journal::hex;
use super::*;
use crate::verify::Limits;

fn cfg(max: usize, per_key: usize) -> ReplayConfig {
    ReplayConfig {
        max_entries: max,
        max_per_key: per_key,
        max_per_slice: usize::MAX,
        skew_ms: 1000,
    }
}

#[test]
fn new_then_again_never_rerun() {
    let mut c = ReplayCache::new(cfg(10, 10));
    let r = c.check_and_insert(0, &[1; 32], &[1; 16], "k", "s", 0, 5000);
    assert_eq!(r, Ok(Seen::New));
    let r = c.check_and_insert(10, &[1; 32], &[1; 16], "k", "s", 0, 5000);
    assert_eq!(r, Ok(Seen::Again));
}

#[test]
fn same_id_other_body_is_equivocation() {
    let mut c = ReplayCache::new(cfg(10, 10));
    c.check_and_insert(0, &[1; 32], &[1; 16], "k", "s", 0, 5000)
        .unwrap();
    let r = c.check_and_insert(0, &[2; 32], &[1; 16], "k", "s", 0, 5000);
    assert_eq!(r, Err(ReplayError::Equivocation));
}

#[test]
fn flood_is_refused_not_evicted() {
    let mut c = ReplayCache::new(cfg(100, 60));
    let mut refused_key = 0;
    let mut refused_full = 0;
    for i in 0..300u32 {
        let mut h = [0u8; 32];
        h[..4].copy_from_slice(&i.to_be_bytes());
        let mut id = [0u8; 16];
        id[..4].copy_from_slice(&i.to_be_bytes());
        let key = if i < 150 { "a" } else { "b" };
        match c.check_and_insert(0, &h, &id, key, "s", 0, 60_000) {
            Ok(Seen::New) => {}
            Err(ReplayError::KeyFull { .. }) => refused_key += 1,
            Err(ReplayError::Full { .. }) => refused_full += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(c.len(), 100);
    assert!(refused_key > 0 && refused_full > 0);
    // The very first session is still remembered: a replay of it is caught.
    let mut h0 = [0u8; 32];
    h0[..4].copy_from_slice(&0u32.to_be_bytes());
    let id0 = [0u8; 16];
    assert_eq!(
        c.check_and_insert(1, &h0, &id0, "a", "s", 0, 60_000),
        Ok(Seen::Again)
    );
    // After expiry (expires_at + skew) room frees up.
    let r = c.check_and_insert(62_000, &[9; 32], &[9; 16], "a", "s", 61_000, 70_000);
    assert_eq!(r, Ok(Seen::New));
    assert_eq!(c.len(), 1);
}

#[test]
fn journal_round_trip_survives_restart() {
    let mut c = ReplayCache::new(cfg(10, 10));
    c.check_and_insert(0, &[1; 32], &[1; 16], "SHA256:x", "s", 0, 5000)
        .unwrap();
    c.check_and_insert(0, &[2; 32], &[2; 16], "SHA256:y", "s", 0, 100)
        .unwrap();
    let text = c.drain_journal().join("\n") + "\ntorn-li";
    let (mut c2, bad) = ReplayCache::load(cfg(10, 10), &text, 2000);
    assert_eq!(bad, vec![3]);
    assert_eq!(c2.len(), 1, "expired entry dropped");
    assert_eq!(
        c2.check_and_insert(2001, &[1; 32], &[1; 16], "SHA256:x", "s", 0, 5000),
        Ok(Seen::Again)
    );
    assert_eq!(c2.snapshot_lines().len(), 1);
}

#[test]
fn session_ids_are_per_key() {
    let mut c = ReplayCache::new(cfg(10, 10));
    // Mallory registers the session id alice is about to use: alice is not refused.
    c.check_and_insert(0, &[1; 32], &[7; 16], "SHA256:mallory", "s", 0, 5000)
        .unwrap();
    let r = c.check_and_insert(0, &[2; 32], &[7; 16], "SHA256:alice", "s", 0, 5000);
    assert_eq!(r, Ok(Seen::New));
    // Alice's own id with another body is equivocation.
    let r = c.check_and_insert(0, &[3; 32], &[7; 16], "SHA256:alice", "s", 0, 5000);
    assert_eq!(r, Err(ReplayError::Equivocation));
}

/// One key starting 20 sessions a second for three hours, each with the longest join
/// window and `issued_at` a full skew ahead (the longest retention), is never refused,
/// and the cache stays within its per-key cap.
#[test]
fn one_key_sustains_twenty_sessions_a_second() {
    let limits = Limits::default();
    let cfg = ReplayConfig::for_limits(&limits);
    let mut c = ReplayCache::new(cfg.clone());
    let mut most = 0;
    for i in 0..(3 * 3600 * 20u64) {
        let now = 1_000_000 + i * 50;
        let issued = now + limits.skew_ms;
        let expires = issued + limits.max_join_window_ms;
        let mut h = [0u8; 32];
        h[..8].copy_from_slice(&i.to_be_bytes());
        let mut id = [0u8; 16];
        id[..8].copy_from_slice(&i.to_be_bytes());
        let r = c.check_and_insert(now, &h, &id, "SHA256:monitor", "s", issued, expires);
        assert_eq!(r, Ok(Seen::New), "session {i} refused");
        most = most.max(c.len());
    }
    assert!(most <= cfg.max_per_key, "{most} > {}", cfg.max_per_key);
    c.drain_journal();
}

#[test]
fn refusals_say_it_is_a_limit_and_when_to_retry() {
    let mut c = ReplayCache::new(cfg(100, 2));
    c.check_and_insert(0, &[1; 32], &[1; 16], "k", "s", 0, 9_000)
        .unwrap();
    c.check_and_insert(0, &[2; 32], &[2; 16], "k", "s", 0, 20_000)
        .unwrap();
    let e = c
        .check_and_insert(500, &[3; 32], &[3; 16], "k", "s", 0, 9_000)
        .unwrap_err();
    assert_eq!(e.code(), "replay-cache-key-full");
    let text = e.to_string();
    // The first of the key's entries goes at 9 000 + skew 1 000 ms.
    assert!(text.contains("retry in 10 s"), "{text}");
    assert!(text.contains("not the policy"), "{text}");
    let mut c = ReplayCache::new(cfg(1, 10));
    c.check_and_insert(0, &[1; 32], &[1; 16], "a", "s", 0, 4_000)
        .unwrap();
    let e = c
        .check_and_insert(0, &[2; 32], &[2; 16], "b", "s", 0, 4_000)
        .unwrap_err();
    assert_eq!(e.code(), "replay-cache-full");
    assert!(e.to_string().contains("retry in 5 s"), "{e}");
}

/// One slice's keys fill only the slice's share: another slice's user is still admitted,
/// and the share survives a restart from the journal.
#[test]
fn one_slice_cannot_fill_the_cache() {
    let limits = Limits::default();
    let d = ReplayConfig::for_limits(&limits);
    assert_eq!(d.max_per_slice, d.max_entries / 2);
    let cfg = ReplayConfig {
        max_entries: 8,
        max_per_key: 2,
        max_per_slice: 4,
        skew_ms: 1000,
    };
    let mut c = ReplayCache::new(cfg.clone());
    let mut refused = Vec::new();
    for i in 0..8u8 {
        let key = format!("SHA256:k{}", i / 2);
        match c.check_and_insert(
            0,
            &[i; 32],
            &[i; 16],
            &key,
            "other",
            0,
            4_000 + u64::from(i),
        ) {
            Ok(Seen::New) => {}
            Err(e) => refused.push(e),
            Ok(Seen::Again) => panic!("not seen before"),
        }
    }
    assert_eq!(c.len(), 4);
    assert_eq!(refused.len(), 4);
    let e = &refused[0];
    assert_eq!(e.code(), "replay-cache-slice-full");
    assert!(e.to_string().contains("slice other"), "{e}");
    assert!(e.to_string().contains("retry in 5 s"), "{e}");
    assert!(e.to_string().contains("not the policy"), "{e}");
    assert_eq!(
        c.check_and_insert(0, &[20; 32], &[20; 16], "SHA256:alice", "mine", 0, 4_000),
        Ok(Seen::New)
    );
    // Reloaded from the journal, the slice still holds its share.
    let text = c.drain_journal().join("\n");
    let (mut c2, bad) = ReplayCache::load(cfg, &text, 0);
    assert!(bad.is_empty());
    assert_eq!(
        c2.check_and_insert(0, &[30; 32], &[30; 16], "SHA256:k9", "other", 0, 4_000)
            .map_err(|e| e.code()),
        Err("replay-cache-slice-full")
    );
    // After the slice's entries expire, it is admitted again.
    assert_eq!(
        c2.check_and_insert(
            5_100,
            &[30; 32],
            &[30; 16],
            "SHA256:k9",
            "other",
            5_000,
            9_000
        ),
        Ok(Seen::New)
    );
}

#[test]
fn older_journal_lines_are_read() {
    let old = format!("{} {} 5000 SHA256:x\n", hex(&[1; 32]), hex(&[1; 16]));
    // The previous format (no slice digest) too.
    let prev = format!(
        "{} 5000 {} {}\n",
        hex(&[3; 32]),
        hex(&owner_digest("SHA256:x")),
        hex(&id_digest("SHA256:x", &[3; 16]))
    );
    let old = old + &prev;
    let (mut c, bad) = ReplayCache::load(cfg(10, 10), &old, 10);
    assert_eq!(c.len(), 2);
    assert_eq!(
        c.check_and_insert(11, &[4; 32], &[3; 16], "SHA256:x", "s", 0, 4000),
        Err(ReplayError::Equivocation)
    );
    assert!(bad.is_empty());
    assert_eq!(
        c.check_and_insert(11, &[1; 32], &[1; 16], "SHA256:x", "s", 0, 4000),
        Ok(Seen::Again)
    );
    assert_eq!(
        c.check_and_insert(11, &[2; 32], &[1; 16], "SHA256:x", "s", 0, 4000),
        Err(ReplayError::Equivocation)
    );
}

#[test]
fn floor_refuses_older_sessions() {
    let mut c = ReplayCache::new(cfg(10, 10));
    c.set_floor(1000);
    assert_eq!(
        c.check_and_insert(0, &[1; 32], &[1; 16], "k", "s", 999, 5000),
        Err(ReplayError::BeforeFloor)
    );
    assert_eq!(
        c.check_and_insert(0, &[1; 32], &[1; 16], "k", "s", 1000, 5000),
        Ok(Seen::New)
    );
}
