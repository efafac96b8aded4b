#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use super::*;
use crate::push::manifest::build_manifest;

const BS: u32 = 4096;

pub(super) struct File {
    pub data: Vec<u8>,
    pub m: Manifest,
}

impl File {
    pub fn new(blocks: u32) -> File {
        let size = u64::from(blocks) * u64::from(BS) - 100;
        let data: Vec<u8> = (0..size).map(|i| (i * 31 + i / 4093) as u8).collect();
        let m = build_manifest("f", &data[..], size, 0o644, BS, "/srv/f").unwrap();
        File { data, m }
    }

    pub fn block(&self, i: u32) -> Vec<u8> {
        let start = (i * BS) as usize;
        let end = (start + BS as usize).min(self.data.len());
        self.data[start..end].to_vec()
    }
}

/// No endgame, no hedging, the same window for every parent.
pub(super) fn quiet() -> Config {
    Config {
        endgame_blocks: 0,
        hedge_after_ms: None,
        secondary_depth: 4,
        ..Config::default()
    }
}

pub(super) fn dl(f: &File, policy: Policy, cfg: Config) -> Download {
    Download::with_config(&f.m, policy, cfg, 7, false).unwrap()
}

pub(super) fn events(d: &mut Download) -> Vec<Event> {
    std::iter::from_fn(|| d.poll_event()).collect()
}

/// Serves every request at once with the parent's answer (None: no answer); returns the
/// requests per parent. Stores verified blocks.
pub(super) fn run(
    d: &mut Download,
    now: u64,
    mut answer: impl FnMut(ParentId, u32) -> Option<Vec<u8>>,
) -> BTreeMap<ParentId, Vec<u32>> {
    let mut asked: BTreeMap<ParentId, Vec<u32>> = BTreeMap::new();
    for _ in 0..10_000 {
        let reqs = d.poll_requests(now);
        if reqs.is_empty() {
            break;
        }
        for (p, i) in reqs {
            asked.entry(p).or_default().push(i);
            if let Some(bytes) = answer(p, i) {
                if d.on_block(now, p, i, &bytes) == BlockOutcome::Verified {
                    assert!(d.stored(i));
                }
            }
        }
    }
    asked
}

#[test]
fn single_parent_completes_and_advertises_each_block_once() {
    let f = File::new(20);
    let mut d = dl(&f, Policy::RarestFirst, Config::default());
    d.add_parent(1).unwrap();
    d.on_advert(1, &BitSet::full(20)).unwrap();
    let first = d.poll_requests(0);
    assert_eq!(first.len(), 4, "pipeline depth");
    for (p, i) in first {
        assert_eq!(d.on_block(0, p, i, &f.block(i)), BlockOutcome::Verified);
        assert!(d.check_serve(i).is_err(), "not served before it is stored");
        assert!(d.stored(i));
        d.check_serve(i).unwrap();
    }
    run(&mut d, 1, |_, i| Some(f.block(i)));
    assert!(d.complete());
    assert_eq!(d.progress(), (20, 20));
    assert_eq!(d.failed(), None);
    let mut haves: Vec<u32> = events(&mut d)
        .into_iter()
        .map(|e| match e {
            Event::Have(i) => i,
            other => panic!("unexpected event {other:?}"),
        })
        .collect();
    haves.sort_unstable();
    assert_eq!(haves, (0..20).collect::<Vec<_>>());
    let s = d.stats();
    assert_eq!(s.bytes, f.data.len() as u64);
    assert_eq!(s.parents[0].blocks, 20);
    assert!(d.poll_requests(2).is_empty());
}

#[test]
fn first_fit_asks_lowest_missing_block_per_parent() {
    let f = File::new(20);
    let mut d = dl(&f, Policy::FirstFit, quiet());
    d.add_parent(1).unwrap();
    d.add_parent(2).unwrap();
    let mut odd = BitSet::new(20);
    for i in (1..20).step_by(2) {
        odd.insert(i);
    }
    d.on_advert(1, &BitSet::full(20)).unwrap();
    d.on_advert(2, &odd).unwrap();
    let reqs = d.poll_requests(0);
    let from = |p: ParentId| -> Vec<u32> {
        reqs.iter()
            .filter(|(q, _)| *q == p)
            .map(|&(_, i)| i)
            .collect()
    };
    let mut all: Vec<u32> = reqs.iter().map(|&(_, i)| i).collect();
    all.sort_unstable();
    all.dedup();
    assert_eq!(all.len(), 8, "distinct blocks: {reqs:?}");
    assert!(
        from(2).iter().all(|i| i % 2 == 1),
        "parent 2 only has odd blocks"
    );
    assert_eq!(all, (0..8).collect::<Vec<_>>(), "lowest indices first");
}

#[test]
fn rarest_first_asks_full_parent_for_blocks_only_it_has() {
    let f = File::new(64);
    let mut d = dl(&f, Policy::RarestFirst, quiet());
    d.add_parent(1).unwrap();
    d.add_parent(2).unwrap();
    let mut low = BitSet::new(64);
    for i in 0..32 {
        low.insert(i);
    }
    d.on_advert(1, &BitSet::full(64)).unwrap();
    d.on_advert(2, &low).unwrap();
    let reqs = d.poll_requests(0);
    assert_eq!(reqs.len(), 8);
    for (p, i) in &reqs {
        match p {
            1 => assert!(
                *i >= 32,
                "parent 1 asked for block {i} that parent 2 also has"
            ),
            _ => assert!(*i < 32),
        }
    }
    // random tie-break: not simply the lowest indices
    let mine: Vec<u32> = reqs.iter().filter(|r| r.0 == 1).map(|r| r.1).collect();
    assert_ne!(mine, vec![32, 33, 34, 35]);
}

#[test]
fn two_parents_share_the_blocks() {
    let f = File::new(64);
    for policy in [Policy::FirstFit, Policy::RarestFirst] {
        let mut d = dl(&f, policy, quiet());
        d.add_parent(1).unwrap();
        d.add_parent(2).unwrap();
        d.on_advert(1, &BitSet::full(64)).unwrap();
        d.on_advert(2, &BitSet::full(64)).unwrap();
        let asked = run(&mut d, 0, |_, i| Some(f.block(i)));
        assert!(d.complete());
        let a = &asked[&1];
        let b = &asked[&2];
        assert!(a.len() < 64 && b.len() < 64, "{policy:?}: {a:?} / {b:?}");
        assert_eq!(
            a.len() + b.len(),
            64,
            "no block asked twice outside the endgame"
        );
        let s = d.stats();
        assert_eq!(s.parents.iter().map(|p| p.blocks).sum::<u32>(), 64);
    }
}

#[test]
fn endgame_duplicates_last_blocks_and_cancels_the_loser() {
    let f = File::new(6);
    let cfg = Config {
        endgame_blocks: 6,
        hedge_after_ms: None,
        depth: 2,
        ..Config::default()
    };
    let mut d = dl(&f, Policy::RarestFirst, cfg);
    d.add_parent(1).unwrap();
    d.add_parent(2).unwrap();
    d.on_advert(1, &BitSet::full(6)).unwrap();
    let first = d.poll_requests(0);
    assert_eq!(first.len(), 2);
    d.on_advert(2, &BitSet::full(6)).unwrap();
    let second = d.poll_requests(0);
    assert_eq!(second.len(), 2);
    let dup: Vec<u32> = d.poll_requests(0).iter().map(|r| r.1).collect();
    assert!(dup.is_empty(), "windows full");
    // parent 2 answers; its freed slots take the remaining fresh blocks, then duplicates
    for (p, i) in &second {
        assert_eq!(d.on_block(0, *p, *i, &f.block(*i)), BlockOutcome::Verified);
        d.stored(*i);
    }
    let third = d.poll_requests(0);
    assert!(third.iter().all(|r| r.0 == 2));
    for (p, i) in &third {
        d.on_block(0, *p, *i, &f.block(*i));
        d.stored(*i);
    }
    let dups = d.poll_requests(0);
    assert!(!dups.is_empty());
    assert!(dups
        .iter()
        .all(|r| r.0 == 2 && first.iter().any(|f| f.1 == r.1)));
    let (p, i) = dups[0];
    assert_eq!(d.on_block(0, p, i, &f.block(i)), BlockOutcome::Verified);
    d.stored(i);
    let ev = events(&mut d);
    assert!(ev.contains(&Event::Cancel {
        parent: 1,
        index: i
    }));
    assert_eq!(
        d.on_block(0, 1, i, &f.block(i)),
        BlockOutcome::Duplicate,
        "the cancelled copy arriving anyway"
    );
    assert!(d.stats().hedges >= 1);
}

#[test]
fn hedging_duplicates_an_old_request() {
    let f = File::new(64);
    let cfg = Config {
        endgame_blocks: 0,
        hedge_after_ms: Some(500),
        depth: 1,
        ..Config::default()
    };
    let mut d = dl(&f, Policy::RarestFirst, cfg);
    d.add_parent(1).unwrap();
    d.add_parent(2).unwrap();
    let mut one = BitSet::new(64);
    one.insert(5);
    d.on_advert(1, &one).unwrap();
    let r = d.poll_requests(0);
    assert_eq!(r, vec![(1, 5)]);
    d.on_advert(2, &one).unwrap();
    assert!(d.poll_requests(100).is_empty(), "too young to hedge");
    assert_eq!(d.poll_timeout(), Some(500));
    assert_eq!(d.poll_requests(500), vec![(2, 5)]);
    assert_eq!(d.on_block(600, 2, 5, &f.block(5)), BlockOutcome::Verified);
    assert!(events(&mut d).contains(&Event::Cancel {
        parent: 1,
        index: 5
    }));
}

#[test]
fn secondary_parents_get_a_smaller_window_and_primary_first_spares_them() {
    let f = File::new(64);
    let cfg = Config {
        secondary_depth: 1,
        ..quiet()
    };
    let mut d = dl(&f, Policy::RarestFirst, cfg.clone());
    for p in [1, 2, 3] {
        d.add_parent(p).unwrap();
        d.on_advert(p, &BitSet::full(64)).unwrap();
    }
    let reqs = d.poll_requests(0);
    let count = |p: ParentId| reqs.iter().filter(|r| r.0 == p).count();
    assert_eq!((count(1), count(2), count(3)), (4, 1, 1));

    // primary-first: secondaries are only asked for blocks the primary lacks
    let mut d = dl(
        &f,
        Policy::RarestFirst,
        Config {
            primary_first: true,
            ..cfg
        },
    );
    let mut four = BitSet::new(64);
    for i in 0..4 {
        four.insert(i);
    }
    d.add_parent(1).unwrap();
    d.add_parent(2).unwrap();
    d.on_advert(1, &four).unwrap();
    d.on_advert(2, &BitSet::full(64)).unwrap();
    let reqs = d.poll_requests(0);
    assert_eq!(
        reqs.len(),
        4,
        "the primary's pace is not known yet: {reqs:?}"
    );
    // a rate window later the primary is far behind the other parent (tests_slow.rs)
    let t = RATE_WINDOW_MS;
    let mut reqs = d.poll_requests(t);
    assert_eq!(reqs.len(), 1);
    assert!(reqs.iter().all(|&(p, i)| p == 2 && i >= 4), "{reqs:?}");
    let (_, at_two) = reqs[0];
    // the primary gets that block too: once it has a free slot and nothing new, the block
    // is duplicated to it without waiting for the hedging delay
    d.on_have(1, at_two).unwrap();
    reqs = vec![(1, 0)];
    let (p, i) = reqs[0];
    assert_eq!(d.on_block(t + 1, p, i, &f.block(i)), BlockOutcome::Verified);
    assert_eq!(d.poll_requests(t + 1), vec![(1, at_two)]);
}

#[test]
fn source_holds_everything_and_serves() {
    let f = File::new(5);
    let mut d = Download::new(&f.m, Policy::RarestFirst, 1, true).unwrap();
    assert!(d.complete());
    assert!(d.poll_requests(0).is_empty());
    assert_eq!(d.failed(), None);
    d.check_serve(4).unwrap();
    assert_eq!(
        d.check_serve(5),
        Err(ServeRefusal::OutOfRange {
            index: 5,
            blocks: 5
        })
    );
    assert_eq!(d.bitmap().count(), 5);
    let mut r = Download::new(&f.m, Policy::RarestFirst, 1, false).unwrap();
    assert_eq!(r.check_serve(0), Err(ServeRefusal::NotHeld(0)));
    assert!(!r.stored(0), "stored without verification is refused");
    assert!(r.poll_event().is_none());
}

#[test]
fn unrequested_and_unknown_blocks_are_not_accepted() {
    let f = File::new(8);
    let mut d = dl(&f, Policy::FirstFit, quiet());
    assert_eq!(d.on_block(0, 9, 0, &f.block(0)), BlockOutcome::Unexpected);
    d.add_parent(1).unwrap();
    d.on_advert(1, &BitSet::full(8)).unwrap();
    assert_eq!(d.on_block(0, 1, 7, &f.block(7)), BlockOutcome::Unexpected);
    assert_eq!(d.on_block(0, 1, 99, &[]), BlockOutcome::Unexpected);
    assert!(!d.stored(7));
    assert_eq!(d.stats().unexpected, 3);
}

#[test]
fn advert_errors_are_reported() {
    let f = File::new(8);
    let mut d = dl(&f, Policy::FirstFit, quiet());
    assert_eq!(
        d.on_advert(1, &BitSet::full(8)),
        Err(PeerError::UnknownParent(1))
    );
    d.add_parent(1).unwrap();
    assert_eq!(d.add_parent(1), Err(AddParentError::Duplicate(1)));
    assert_eq!(
        d.on_advert(1, &BitSet::full(9)),
        Err(PeerError::BitmapLength { got: 9, want: 8 })
    );
    assert_eq!(
        d.on_have(1, 8),
        Err(PeerError::IndexOutOfRange {
            index: 8,
            blocks: 8
        })
    );
    for p in 2..=MAX_LIVE_PARENTS as u32 {
        d.add_parent(p).unwrap();
    }
    assert_eq!(d.add_parent(1000), Err(AddParentError::TooMany));
}

#[test]
fn empty_file_is_complete_at_once_and_bad_geometry_is_an_error() {
    let m = build_manifest("e", std::io::empty(), 0, 0o644, BS, "/e").unwrap();
    let d = Download::new(&m, Policy::FirstFit, 0, false).unwrap();
    assert!(d.complete());
    let mut bad = File::new(3).m;
    bad.blocks.pop();
    assert!(Download::new(&bad, Policy::FirstFit, 0, false).is_err());
    bad.block_size = 0;
    assert!(Download::new(&bad, Policy::FirstFit, 0, false).is_err());
}

#[test]
fn policy_spellings() {
    for p in [Policy::FirstFit, Policy::RarestFirst] {
        assert_eq!(Policy::parse(p.as_str()), Some(p));
    }
    assert_eq!(Policy::parse("fastest"), None);
    assert_eq!(Policy::default(), Policy::RarestFirst);
}
