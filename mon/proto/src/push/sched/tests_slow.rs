#![allow(clippy::unwrap_used, clippy::expect_used)]

//! Issue 13 (a slow host among fast ones), receiver side: the other parents are asked for
//! blocks only while the primary is far slower than they are, and a deep queue at a parent
//! that keeps delivering is not hedged (a copy would take the receiver's own link twice).

use super::tests::{dl, quiet, File};
use super::*;

fn asked(reqs: &[(ParentId, u32)], p: ParentId) -> usize {
    reqs.iter().filter(|r| r.0 == p).count()
}

#[test]
fn other_parents_are_asked_only_while_the_primary_is_far_slower() {
    let f = File::new(200);
    let cfg = Config {
        primary_first: true,
        ..quiet()
    };
    let mut d = dl(&f, Policy::RarestFirst, cfg);
    d.add_parent(1).unwrap();
    d.add_parent(2).unwrap();
    let mut few = BitSet::new(200);
    for i in 0..4 {
        few.insert(i);
    }
    d.on_advert(1, &few).unwrap();
    d.on_advert(2, &BitSet::full(200)).unwrap();
    // Nothing is known of their rates yet: the primary is asked, the other one waits.
    let reqs = d.poll_requests(0);
    assert_eq!((asked(&reqs, 1), asked(&reqs, 2)), (4, 0), "{reqs:?}");
    // One rate window later: the primary gained 4 blocks, the other parent 200. It is asked
    // for what the primary lacks.
    let reqs = d.poll_requests(RATE_WINDOW_MS);
    assert!(asked(&reqs, 2) > 0, "{reqs:?}");
    assert!(reqs.iter().all(|&(p, i)| p == 1 || i >= 4), "{reqs:?}");
}

#[test]
fn a_primary_that_keeps_pace_is_not_bypassed() {
    let f = File::new(400);
    let cfg = Config {
        primary_first: true,
        ..quiet()
    };
    let mut d = dl(&f, Policy::RarestFirst, cfg);
    d.add_parent(1).unwrap();
    d.add_parent(2).unwrap();
    let _ = d.poll_requests(0);
    // A pipeline: both parents gain about as many blocks per window, parent 2 a little ahead.
    let (mut a, mut b) = (0u32, 10u32);
    for i in 0..b {
        d.on_have(2, i).unwrap();
    }
    for w in 1..=5u64 {
        for i in a..a + 30 {
            d.on_have(1, i).unwrap();
        }
        for i in b..b + 30 {
            d.on_have(2, i).unwrap();
        }
        a += 30;
        b += 30;
        let reqs = d.poll_requests(w * RATE_WINDOW_MS);
        assert_eq!(asked(&reqs, 2), 0, "window {w}: {reqs:?}");
    }
}

#[test]
fn a_parent_that_keeps_delivering_is_not_hedged() {
    let f = File::new(64);
    let cfg = Config {
        endgame_blocks: 0,
        hedge_after_ms: Some(500),
        depth: 2,
        ..Config::default()
    };
    let mut d = dl(&f, Policy::RarestFirst, cfg);
    d.add_parent(1).unwrap();
    d.add_parent(2).unwrap();
    let mut two = BitSet::new(64);
    two.insert(5);
    two.insert(6);
    d.on_advert(1, &two).unwrap();
    let mut r = d.poll_requests(0);
    r.sort_unstable();
    assert_eq!(r, vec![(1, 5), (1, 6)]);
    d.on_advert(2, &two).unwrap();
    // Parent 1 works through its queue: block 5 after 400 ms.
    assert_eq!(d.on_block(400, 1, 5, &f.block(5)), BlockOutcome::Verified);
    assert!(d.stored(5));
    assert!(
        d.poll_requests(600).is_empty(),
        "block 6 waits 600 ms, but its parent delivered 200 ms ago"
    );
    // Silent for the hedging delay: now it is hedged.
    assert_eq!(d.poll_requests(900), vec![(2, 6)]);
}
