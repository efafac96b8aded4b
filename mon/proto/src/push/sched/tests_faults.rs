#![allow(clippy::unwrap_used, clippy::expect_used)]

//! Faults: corrupt blocks, lost parents, timeouts, promotion of the next parent.

use super::tests::{dl, events, quiet, run, File};
use super::*;
use crate::push::manifest::BlockError;

#[test]
fn corrupt_block_drops_parent_and_is_fetched_elsewhere() {
    let f = File::new(16);
    let mut d = dl(&f, Policy::RarestFirst, quiet());
    d.add_parent(1).unwrap();
    d.add_parent(2).unwrap();
    d.on_advert(1, &BitSet::full(16)).unwrap();
    d.on_advert(2, &BitSet::full(16)).unwrap();
    let reqs = d.poll_requests(0);
    let (_, bad) = *reqs.iter().find(|r| r.0 == 1).unwrap();
    let mut bytes = f.block(bad);
    bytes[0] ^= 0xff;
    assert_eq!(
        d.on_block(0, 1, bad, &bytes),
        BlockOutcome::Corrupt(BlockError::Hash { index: bad })
    );
    assert!(d.check_serve(bad).is_err());
    let ev = events(&mut d);
    assert!(
        matches!(
            &ev[..],
            [
                Event::ParentDropped { parent: 1, reason: DropReason::Corrupt { index, .. } },
                Event::PrimaryChanged(2),
            ] if *index == bad
        ),
        "{ev:?}"
    );
    assert_eq!(d.add_parent(1), Err(AddParentError::Dropped(1)));
    assert_eq!(d.on_have(1, 0), Err(PeerError::UnknownParent(1)));
    // blocks still outstanding at parent 1 are gone with it; parent 2 delivers everything
    let mut from_two = Vec::new();
    for (p, i) in reqs.iter().filter(|r| r.0 == 2) {
        assert_eq!(d.on_block(0, *p, *i, &f.block(*i)), BlockOutcome::Verified);
        d.stored(*i);
    }
    let asked = run(&mut d, 1, |p, i| {
        assert_eq!(p, 2);
        from_two.push(i);
        Some(f.block(i))
    });
    assert!(asked[&2].contains(&bad), "the corrupt block is refetched");
    assert!(d.complete());
    assert_eq!(d.stats().corrupt, 1);
    assert_eq!(d.stats().dropped_parents, 1);
}

#[test]
fn wrong_length_block_is_corrupt() {
    let f = File::new(4);
    let mut d = dl(&f, Policy::FirstFit, quiet());
    d.add_parent(1).unwrap();
    d.on_advert(1, &BitSet::full(4)).unwrap();
    let reqs = d.poll_requests(0);
    let (p, i) = reqs[0];
    let mut b = f.block(i);
    b.push(0);
    assert!(matches!(
        d.on_block(0, p, i, &b),
        BlockOutcome::Corrupt(BlockError::Length { .. })
    ));
    assert!(d.failed().is_some(), "the only parent was dropped");
}

#[test]
fn losing_one_parent_mid_way_completes_from_the_other() {
    let f = File::new(40);
    let mut d = dl(&f, Policy::RarestFirst, Config::default());
    d.add_parent(1).unwrap();
    d.add_parent(2).unwrap();
    d.on_advert(1, &BitSet::full(40)).unwrap();
    d.on_advert(2, &BitSet::full(40)).unwrap();
    // a few rounds where parent 1 answers and parent 2 sits on its requests
    for _ in 0..3 {
        for (p, i) in d.poll_requests(0) {
            if p == 1 {
                assert_eq!(d.on_block(0, p, i, &f.block(i)), BlockOutcome::Verified);
                d.stored(i);
            }
        }
    }
    let (have, _) = d.progress();
    assert!(have > 0 && have < 40);
    assert!(d.remove_parent(2));
    assert!(!d.remove_parent(2));
    assert_eq!(d.failed(), None);
    let asked = run(&mut d, 1, |_, i| Some(f.block(i)));
    assert!(asked.keys().all(|&p| p == 1));
    assert!(d.complete());
    assert_eq!(d.stats().lost_parents, 1);
}

#[test]
fn losing_all_parents_fails_with_reason() {
    let f = File::new(10);
    let mut d = dl(&f, Policy::RarestFirst, Config::default());
    assert_eq!(d.failed(), None, "no parent yet: waiting, not failed");
    d.add_parent(1).unwrap();
    d.add_parent(2).unwrap();
    d.on_advert(1, &BitSet::full(10)).unwrap();
    let (p, i) = d.poll_requests(0)[0];
    assert_eq!(d.on_block(0, p, i, &f.block(i)), BlockOutcome::Verified);
    d.stored(i);
    d.remove_parent(1);
    d.remove_parent(2);
    let r = d.failed().unwrap();
    assert_eq!(
        r,
        FailReason::LostAllParents {
            missing: 9,
            total: 10,
            lost: 2,
            dropped: 0
        }
    );
    assert_eq!(r.code(), "lost-all-parents");
    assert!(r.to_string().contains("9 of 10 blocks missing"));
    assert!(d.poll_requests(1).is_empty());
}

#[test]
fn request_timeouts_reissue_elsewhere_and_accept_late_answers() {
    let f = File::new(30);
    let cfg = Config {
        request_timeout_ms: 1000,
        ..quiet()
    };
    let mut d = dl(&f, Policy::FirstFit, cfg);
    d.add_parent(1).unwrap();
    d.on_advert(1, &BitSet::full(30)).unwrap();
    let silent = d.poll_requests(0);
    assert_eq!(silent, vec![(1, 0), (1, 1), (1, 2), (1, 3)]);
    assert_eq!(d.poll_timeout(), Some(1000));
    d.add_parent(2).unwrap();
    d.on_advert(2, &BitSet::full(30)).unwrap();
    let busy = d.poll_requests(10);
    assert_eq!(busy, vec![(2, 4), (2, 5), (2, 6), (2, 7)]);
    d.handle_timeout(999);
    assert_eq!(d.stats().timeouts, 0, "not yet");
    d.handle_timeout(1000);
    assert_eq!(d.stats().timeouts, 4);
    assert_eq!(
        events(&mut d),
        (0..4)
            .map(|index| Event::Cancel { parent: 1, index })
            .collect::<Vec<_>>(),
        "timed-out requests are cancelled at the parent"
    );
    for (p, i) in busy {
        assert_eq!(d.on_block(1000, p, i, &f.block(i)), BlockOutcome::Verified);
        d.stored(i);
    }
    let mut again = d.poll_requests(1000);
    again.sort_unstable();
    assert_eq!(
        again,
        vec![(1, 8), (2, 0), (2, 1), (2, 2), (2, 3)],
        "timed-out blocks go to parent 2; parent 1's window shrinks to one"
    );
    // a late answer from parent 1 is still accepted, and parent 2's copy cancelled
    assert_eq!(d.on_block(1001, 1, 0, &f.block(0)), BlockOutcome::Verified);
    d.stored(0);
    assert!(events(&mut d).contains(&Event::Cancel {
        parent: 2,
        index: 0
    }));
    assert_eq!(d.on_block(1002, 2, 0, &f.block(0)), BlockOutcome::Duplicate);
    for &(p, i) in &again {
        if i != 0 {
            assert_eq!(d.on_block(1002, p, i, &f.block(i)), BlockOutcome::Verified);
            d.stored(i);
        }
    }
    run(&mut d, 1003, |_, i| Some(f.block(i)));
    assert!(d.complete());
}

#[test]
fn silent_parent_is_dropped_after_max_strikes() {
    let f = File::new(30);
    let cfg = Config {
        request_timeout_ms: 1000,
        max_strikes: Some(3),
        ..quiet()
    };
    let mut d = dl(&f, Policy::RarestFirst, cfg);
    d.add_parent(1).unwrap();
    d.on_advert(1, &BitSet::full(30)).unwrap();
    let mut t = 0;
    let mut rounds = 0;
    while d.failed().is_none() && rounds < 10 {
        let reqs = d.poll_requests(t);
        assert!(
            !reqs.is_empty(),
            "blocks held only by the silent parent are re-asked"
        );
        t = d.poll_timeout().unwrap();
        d.handle_timeout(t);
        rounds += 1;
    }
    assert_eq!(rounds, 3);
    let ev = events(&mut d);
    assert_eq!(
        ev.last(),
        Some(&Event::ParentDropped {
            parent: 1,
            reason: DropReason::Unresponsive { timeouts: 6 }
        })
    );
    assert_eq!(ev.len(), 7, "six cancels, then the drop: {ev:?}");
    assert!(matches!(
        d.failed(),
        Some(FailReason::LostAllParents { dropped: 1, .. })
    ));
}

#[test]
fn promotion_event_when_the_primary_goes() {
    let f = File::new(8);
    let mut d = dl(&f, Policy::RarestFirst, quiet());
    d.add_parent(5).unwrap();
    d.add_parent(6).unwrap();
    d.add_parent(7).unwrap();
    d.remove_parent(6);
    assert_eq!(d.poll_event(), None, "a secondary going changes nothing");
    d.remove_parent(5);
    assert_eq!(d.poll_event(), Some(Event::PrimaryChanged(7)));
    d.remove_parent(7);
    assert_eq!(d.poll_event(), None);
}
