#![allow(clippy::unwrap_used, clippy::expect_used)]

//! A slow primary is passed over (`rebalance.rs`); a pipeline of equal links is left alone.

use super::tests::{dl, events, quiet, File};
use super::*;

fn feed(d: &mut Download, parent: ParentId, blocks: std::ops::Range<u32>) {
    for i in blocks {
        d.on_have(parent, i).unwrap();
    }
}

/// Runs `windows` rate windows in which parents 1 (primary) and 2 gain `gain1` and `gain2`
/// blocks, parent 2 starting `lead` blocks ahead; returns the events and the first parent.
fn windows(cfg: Config, windows: u64, gain1: u32, gain2: u32, lead: u32) -> (Vec<Event>, u32) {
    let f = File::new(1000);
    let mut d = dl(&f, Policy::RarestFirst, cfg);
    d.add_parent(1).unwrap();
    d.add_parent(2).unwrap();
    feed(&mut d, 2, 0..lead);
    let _ = d.poll_requests(0);
    let (mut a, mut b) = (0, lead);
    let mut seen = Vec::new();
    for w in 1..=windows {
        feed(&mut d, 1, a..a + gain1);
        feed(&mut d, 2, b..b + gain2);
        a += gain1;
        b += gain2;
        let _ = d.poll_requests(w * RATE_WINDOW_MS);
        seen.extend(
            events(&mut d)
                .into_iter()
                .filter(|e| !matches!(e, Event::Cancel { .. })),
        );
    }
    let first = d.stats().parents.first().map(|p| p.parent).unwrap();
    (seen, first)
}

fn primary_first() -> Config {
    Config {
        primary_first: true,
        pass_over_slow_primary: true,
        ..quiet()
    }
}

#[test]
fn a_primary_far_slower_than_another_parent_is_passed_over() {
    // One window is not enough; the second in a row moves parent 2 to the front.
    let (seen, first) = windows(primary_first(), u64::from(SLOW_WINDOWS) - 1, 4, 40, 0);
    assert_eq!((seen, first), (vec![], 1));
    let (seen, first) = windows(primary_first(), u64::from(SLOW_WINDOWS), 4, 40, 0);
    assert_eq!(seen, vec![Event::Preferred(2)]);
    assert_eq!(first, 2, "parent 2 is asked first from now on");
}

#[test]
fn equal_rates_a_complete_primary_or_no_primary_first_keep_the_primary() {
    // A pipeline: the grandparent is ahead, both gain the same.
    let (seen, first) = windows(primary_first(), 5, 30, 30, 40);
    assert_eq!((seen, first), (vec![], 1));
    // Too few blocks gained to judge a rate.
    let (seen, _) = windows(primary_first(), 5, 0, MIN_WINDOW_BLOCKS - 1, 0);
    assert_eq!(seen, vec![]);
    // Without primary_first there is no main feed to move; and the rule can be off.
    let no_main_feed = Config {
        pass_over_slow_primary: true,
        ..quiet()
    };
    let (seen, _) = windows(no_main_feed, 5, 4, 40, 0);
    assert_eq!(seen, vec![]);
    let off = Config {
        pass_over_slow_primary: false,
        ..primary_first()
    };
    let (seen, _) = windows(off, 5, 4, 40, 0);
    assert_eq!(seen, vec![]);
    // A primary that holds everything gains nothing but is not behind anyone.
    let f = File::new(64);
    let mut d = dl(&f, Policy::RarestFirst, primary_first());
    d.add_parent(1).unwrap();
    d.add_parent(2).unwrap();
    d.on_advert(1, &BitSet::full(64)).unwrap();
    let _ = d.poll_requests(0);
    for w in 1..=5 {
        feed(&mut d, 2, (w - 1) as u32 * 10..w as u32 * 10);
        let _ = d.poll_requests(w * RATE_WINDOW_MS);
    }
    assert!(!events(&mut d).contains(&Event::Preferred(2)));
}
