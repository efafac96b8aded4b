#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;

use proptest::prelude::*;

use super::tests::File;
use super::*;

const BLOCKS: u32 = 12;

#[derive(Clone, Debug)]
enum Bytes {
    Good,
    Flipped,
    Short,
    Long,
}

#[derive(Clone, Debug)]
enum Op {
    Add(u32),
    Remove(u32),
    Advert(u32, u16),
    AdvertWrongLength(u32),
    Have(u32, u32),
    Poll(u64),
    Timeout(u64),
    Block(u32, u32, Bytes),
    AnswerOldest(u32),
    Stored(u32),
    Drain,
}

fn op() -> impl Strategy<Value = Op> {
    let parent = 0u32..5;
    let index = 0u32..BLOCKS + 2;
    let bytes = prop_oneof![
        6 => Just(Bytes::Good),
        1 => Just(Bytes::Flipped),
        1 => Just(Bytes::Short),
        1 => Just(Bytes::Long)
    ];
    prop_oneof![
        2 => parent.clone().prop_map(Op::Add),
        1 => parent.clone().prop_map(Op::Remove),
        2 => (parent.clone(), any::<u16>()).prop_map(|(p, m)| Op::Advert(p, m)),
        1 => parent.clone().prop_map(Op::AdvertWrongLength),
        2 => (parent.clone(), index.clone()).prop_map(|(p, i)| Op::Have(p, i)),
        3 => (0u64..3000).prop_map(Op::Poll),
        1 => (0u64..40_000).prop_map(Op::Timeout),
        3 => (parent.clone(), index.clone(), bytes).prop_map(|(p, i, b)| Op::Block(p, i, b)),
        4 => parent.prop_map(Op::AnswerOldest),
        3 => index.prop_map(Op::Stored),
        1 => Just(Op::Drain),
    ]
}

fn config() -> impl Strategy<Value = (Policy, Config)> {
    (
        prop_oneof![Just(Policy::FirstFit), Just(Policy::RarestFirst)],
        1u8..6,
        0u8..6,
        any::<bool>(),
        0u32..13,
        prop::option::of(0u64..5000),
        prop::option::of(1u32..4),
    )
        .prop_map(
            |(policy, depth, secondary_depth, primary_first, endgame_blocks, hedge, strikes)| {
                (
                    policy,
                    Config {
                        depth,
                        request_timeout_ms: 10_000,
                        max_strikes: strikes,
                        endgame_blocks,
                        hedge_after_ms: hedge,
                        secondary_depth,
                        primary_first,
                        pass_over_slow_primary: primary_first,
                    },
                )
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    /// Random adverts, blocks (good and bad), removals and timeouts never panic, never let an
    /// unverified block count as held, and never exceed a parent's window.
    #[test]
    fn scheduler_invariants(
        (policy, cfg) in config(),
        seed in any::<u64>(),
        ops in prop::collection::vec(op(), 1..200),
    ) {
        let f = File::new(BLOCKS);
        let depth = cfg.depth;
        let mut d = Download::with_config(&f.m, policy, cfg, seed, false).unwrap();
        let mut now = 0u64;
        let mut verified = BTreeSet::new();
        let mut stored = BTreeSet::new();
        let mut issued: Vec<(ParentId, u32)> = Vec::new();
        for op in ops {
            match op {
                Op::Add(p) => { let _ = d.add_parent(p); }
                Op::Remove(p) => { d.remove_parent(p); }
                Op::Advert(p, mask) => {
                    let mut b = BitSet::new(BLOCKS);
                    for i in 0..BLOCKS {
                        if mask & (1 << i) != 0 { b.insert(i); }
                    }
                    let _ = d.on_advert(p, &b);
                }
                Op::AdvertWrongLength(p) => {
                    prop_assert!(d.on_advert(p, &BitSet::full(BLOCKS + 1)).is_err());
                }
                Op::Have(p, i) => {
                    let r = d.on_have(p, i);
                    if i >= BLOCKS { prop_assert!(r.is_err()); }
                }
                Op::Poll(dt) => {
                    now += dt;
                    for (p, i) in d.poll_requests(now) {
                        prop_assert!(i < BLOCKS);
                        prop_assert!(!d.bitmap().get(i), "asked for a held block");
                        prop_assert!(d.stats().parents.iter().any(|s| s.parent == p));
                        issued.push((p, i));
                    }
                }
                Op::Timeout(dt) => { now += dt; d.handle_timeout(now); }
                Op::Block(p, i, kind) => {
                    let mut bytes = if i < BLOCKS { f.block(i) } else { vec![0; 10] };
                    match kind {
                        Bytes::Good => {}
                        Bytes::Flipped => if let Some(b) = bytes.first_mut() { *b ^= 1 },
                        Bytes::Short => { bytes.pop(); }
                        Bytes::Long => bytes.push(0),
                    }
                    let good = matches!(kind, Bytes::Good) && i < BLOCKS;
                    let outcome = d.on_block(now, p, i, &bytes);
                    if outcome == BlockOutcome::Verified {
                        prop_assert!(good, "a bad block verified");
                        verified.insert(i);
                    }
                    if matches!(outcome, BlockOutcome::Corrupt(_)) {
                        prop_assert!(!good);
                        prop_assert!(d.add_parent(p).is_err(), "dropped parent re-added");
                    }
                }
                Op::AnswerOldest(p) => {
                    if let Some(pos) = issued.iter().position(|r| r.0 == p) {
                        let (_, i) = issued.remove(pos);
                        if d.on_block(now, p, i, &f.block(i)) == BlockOutcome::Verified {
                            verified.insert(i);
                            prop_assert!(d.stored(i));
                            stored.insert(i);
                        }
                    }
                }
                Op::Stored(i) => {
                    if d.stored(i) {
                        prop_assert!(verified.contains(&i), "stored an unverified block");
                        stored.insert(i);
                    }
                }
                Op::Drain => {
                    while let Some(e) = d.poll_event() {
                        if let Event::Have(i) = e {
                            prop_assert!(stored.contains(&i));
                        }
                    }
                }
            }
            for s in d.stats().parents {
                prop_assert!(s.outstanding <= u32::from(depth));
            }
            for i in 0..BLOCKS {
                if d.check_serve(i).is_ok() {
                    prop_assert!(stored.contains(&i), "serving an unstored block");
                }
            }
            if d.complete() {
                prop_assert_eq!(stored.len() as u32, BLOCKS);
            }
            prop_assert_eq!(d.progress().0 as usize, stored.len());
        }
    }
}
