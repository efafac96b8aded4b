//! Property tests: for every operation, merging the nodes' partials in any tree shape and any
//! order gives the answer computed directly over all node values (the ground truth).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use mon_proto::agg::{Answer, Bucket, ExecOutcome, Local, Partial, Query, CLIENT};
use proptest::prelude::*;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn name(i: usize) -> String {
    // Not in index order, so name order differs from insertion order.
    format!("n{:03}", (i * 37) % 1000)
}

/// Merges the partials pairwise in a random order: any binary tree, any argument order.
fn random_merge(q: &Query, mut pool: Vec<Partial>, seed: u64) -> Partial {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    if pool.is_empty() {
        return Partial::empty(q);
    }
    while pool.len() > 1 {
        let i = rng.gen_range(0..pool.len());
        let mut a = pool.swap_remove(i);
        let j = rng.gen_range(0..pool.len());
        let b = pool.swap_remove(j);
        a.merge(b).unwrap();
        pool.push(a);
    }
    pool.pop().unwrap()
}

fn locals(q: &Query, values: &[f64]) -> Vec<Partial> {
    values
        .iter()
        .enumerate()
        .map(|(i, v)| Partial::from_local(q, &name(i), Local::Value(*v)))
        .collect()
}

/// Values with many ties: small integers and halves.
fn tied_values() -> impl Strategy<Value = Vec<f64>> {
    prop::collection::vec((-4i32..8).prop_map(|v| f64::from(v) / 2.0), 0..80)
}

fn any_values() -> impl Strategy<Value = Vec<f64>> {
    prop::collection::vec(-1e6f64..1e6, 0..80)
}

/// Independent check of a histogram: B equal-width buckets over [min, max], each count equal
/// to the number of values inside its bounds.
fn check_histo(buckets: &[Bucket], values: &[f64], b: u32) {
    if values.is_empty() {
        assert!(buckets.is_empty());
        return;
    }
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if min == max {
        assert_eq!(buckets.len(), 1);
        assert_eq!(buckets[0].count, values.len() as u64);
        return;
    }
    assert_eq!(buckets.len(), b as usize);
    assert_eq!(buckets[0].lo, min);
    assert_eq!(buckets[buckets.len() - 1].hi, max);
    let width = (max - min) / f64::from(b);
    for (i, bk) in buckets.iter().enumerate() {
        assert!((bk.hi - bk.lo - width).abs() <= 1e-9 * (1.0 + width.abs()));
        let last = i + 1 == buckets.len();
        let truth = values
            .iter()
            .filter(|&&v| v >= bk.lo && (v < bk.hi || (last && v <= bk.hi)))
            .count() as u64;
        assert_eq!(bk.count, truth, "bucket {i} {bk:?}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn count_any_order(n in 0usize..100, seed: u64) {
        let q = Query::Count;
        let pool = (0..n).map(|i| Partial::from_local(&q, &name(i), Local::Present)).collect();
        prop_assert_eq!(random_merge(&q, pool, seed).finish(&q), Answer::Count(n as u64));
    }

    #[test]
    fn avg_matches_direct_mean(values in any_values(), seed: u64) {
        let q = Query::Avg { res: "load".into() };
        let a = random_merge(&q, locals(&q, &values), seed).finish(&q);
        let Answer::Avg { mean, n } = a else { panic!() };
        prop_assert_eq!(n, values.len() as u64);
        if values.is_empty() {
            prop_assert_eq!(mean, None);
        } else {
            let truth = values.iter().sum::<f64>() / values.len() as f64;
            let m = mean.unwrap();
            prop_assert!((m - truth).abs() <= 1e-9 * (1.0 + truth.abs()), "{} vs {}", m, truth);
        }
    }

    #[test]
    fn top_matches_direct_sort(values in tied_values(), n in 1u32..12, seed: u64) {
        let q = Query::Top { n, res: "load".into() };
        let a = random_merge(&q, locals(&q, &values), seed).finish(&q);
        let mut truth: Vec<(String, f64)> =
            values.iter().enumerate().map(|(i, v)| (name(i), *v)).collect();
        truth.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        truth.truncate(n as usize);
        prop_assert_eq!(a, Answer::Top(truth));
    }

    #[test]
    fn histo_exact_matches_direct_count(values in tied_values(), b in 1u32..12, seed: u64, seed2: u64) {
        let q = Query::Histo { res: "load".into(), buckets: b };
        let a = random_merge(&q, locals(&q, &values), seed).finish(&q);
        let other = random_merge(&q, locals(&q, &values), seed2).finish(&q);
        prop_assert_eq!(&a, &other);
        let Answer::Histo { buckets, approximate } = a else { panic!() };
        prop_assert!(!approximate);
        // Normalise -0.0 like the aggregate does.
        let values: Vec<f64> = values.iter().map(|v| if *v == 0.0 { 0.0 } else { *v }).collect();
        check_histo(&buckets, &values, b);
    }

    #[test]
    fn histo_any_values_exact(values in any_values(), b in 1u32..20, seed: u64) {
        let q = Query::Histo { res: "load".into(), buckets: b };
        let Answer::Histo { buckets, .. } = random_merge(&q, locals(&q, &values), seed).finish(&q)
            else { panic!() };
        check_histo(&buckets, &values, b);
    }

    #[test]
    fn filter_matches_direct_selection(values in tied_values(), t in -2i32..4, seed: u64) {
        let t = f64::from(t) / 2.0;
        let q = Query::Filter { res: "load".into(), op: mon_proto::agg::CmpOp::Ge, value: t };
        let a = random_merge(&q, locals(&q, &values), seed).finish(&q);
        let mut truth: Vec<String> = values
            .iter()
            .enumerate()
            .filter(|(_, v)| **v >= t)
            .map(|(i, _)| name(i))
            .collect();
        truth.sort();
        prop_assert_eq!(a, Answer::Filter(truth));
    }

    #[test]
    fn grep_matches_direct_selection(matched in prop::collection::vec(any::<bool>(), 0..80), seed: u64) {
        let q = Query::Grep { word: "w".into(), file: "/f".into() };
        let pool = matched
            .iter()
            .enumerate()
            .map(|(i, m)| Partial::from_local(&q, &name(i), Local::Matched(*m)))
            .collect();
        let a = random_merge(&q, pool, seed).finish(&q);
        let mut truth: Vec<String> =
            matched.iter().enumerate().filter(|(_, m)| **m).map(|(i, _)| name(i)).collect();
        truth.sort();
        prop_assert_eq!(a, Answer::Filter(truth));
    }

    #[test]
    fn exec_groups_match_direct_grouping(kinds in prop::collection::vec(0u8..6, 0..80), seed: u64) {
        let q = Query::Exec { argv: vec!["x".into()], shell: false, timeout_s: 5, where_: None };
        let outcome = |k: u8| ExecOutcome {
            exit: if k == 5 { None } else { Some(i32::from(k % 2)) },
            signal: if k == 5 { Some(9) } else { None },
            stdout: format!("out{}", k / 2),
            stderr: String::new(),
            timed_out: k == 5,
            truncated: false,
        };
        let pool = kinds
            .iter()
            .enumerate()
            .map(|(i, k)| {
                let l = if *k == 4 { Local::Skipped } else { Local::Exec(outcome(*k)) };
                Partial::from_local(&q, &name(i), l)
            })
            .collect();
        let p = random_merge(&q, pool, seed);
        prop_assert_eq!(p.coverage().answered, kinds.len() as u64);
        prop_assert_eq!(p.coverage().skipped, kinds.iter().filter(|k| **k == 4).count() as u64);
        let Answer::Exec(groups) = p.finish(&q) else { panic!() };
        let mut truth: BTreeMap<ExecOutcome, Vec<String>> = BTreeMap::new();
        for (i, k) in kinds.iter().enumerate() {
            if *k != 4 {
                truth.entry(outcome(*k)).or_default().push(name(i));
            }
        }
        prop_assert_eq!(groups.len(), truth.len());
        for w in groups.windows(2) {
            prop_assert!(w[0].nodes.len() >= w[1].nodes.len());
        }
        for g in groups {
            let o = ExecOutcome {
                exit: g.outcome.exit,
                signal: g.outcome.signal,
                stdout: g.outcome.stdout.clone(),
                stderr: g.outcome.stderr.clone(),
                timed_out: g.outcome.timed_out,
                truncated: g.outcome.truncated,
            };
            let mut want = truth.get(&o).cloned().unwrap_or_default();
            want.sort();
            prop_assert_eq!(g.nodes, want);
        }
    }

    /// A real tree: each node merges its children's partials (in random order) into its own;
    /// depth and topology equal those of the tree.
    #[test]
    fn depth_and_topology_of_random_trees(parents in prop::collection::vec(any::<prop::sample::Index>(), 0..60), seed: u64) {
        // Node 0 is the entry node; node i > 0 has parent parents[i-1] among 0..i.
        let n = parents.len() + 1;
        let parent: Vec<Option<usize>> = (0..n)
            .map(|i| if i == 0 { None } else { Some(parents[i - 1].index(i)) })
            .collect();
        let mut children = vec![Vec::new(); n];
        for (i, p) in parent.iter().enumerate() {
            if let Some(p) = p { children[*p].push(i); }
        }
        let mut level = vec![0u32; n];
        for i in 1..n { level[i] = level[parent[i].unwrap()] + 1; }
        let mut rng = ChaCha8Rng::seed_from_u64(seed);

        for q in [Query::Depth, Query::Topology] {
            // Children have larger indices: aggregate bottom-up.
            let mut partials: Vec<Option<Partial>> = vec![None; n];
            for i in (0..n).rev() {
                let local = match q {
                    Query::Depth => Local::Present,
                    _ => Local::Topology { parent: parent[i].map(name) },
                };
                let mut own = Partial::from_local(&q, &name(i), local);
                let mut kids = children[i].clone();
                kids.shuffle(&mut rng);
                for c in kids {
                    let mut p = partials[c].take().unwrap();
                    p.add_depth_level();
                    own.merge(p).unwrap();
                }
                partials[i] = Some(own);
            }
            let root = partials[0].take().unwrap();
            prop_assert_eq!(root.coverage().answered, n as u64);
            match q {
                Query::Depth => {
                    let truth = level.iter().max().unwrap() + 1;
                    prop_assert_eq!(root.finish(&q), Answer::Depth(truth));
                }
                _ => {
                    let mut truth: Vec<(String, String)> = parent
                        .iter()
                        .enumerate()
                        .map(|(i, p)| (p.map_or(CLIENT.to_string(), name), name(i)))
                        .collect();
                    truth.sort();
                    prop_assert_eq!(root.finish(&q), Answer::Topology(truth));
                }
            }
        }
    }
}

/// Beyond 4,096 distinct values the histogram is approximate, bounded, independent of the
/// merge order, keeps exact min, max and count, and each count is off only by values within 1%
/// of a bucket bound.
#[test]
fn histo_switches_to_bounded_approximation() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let values: Vec<f64> = (0..6000).map(|_| rng.gen_range(-50.0..1000.0)).collect();
    let b = 20;
    let q = Query::Histo {
        res: "x".into(),
        buckets: b,
    };
    let p1 = random_merge(&q, locals(&q, &values), 1);
    let p2 = random_merge(&q, locals(&q, &values), 2);
    let len = p1.encoded_len_hint();
    assert!(len < 6300 * 12, "approximate partial too large: {len}");
    let a1 = p1.finish(&q);
    assert_eq!(a1, p2.finish(&q));
    assert!(a1.is_approximate());
    let Answer::Histo { buckets, .. } = a1 else {
        panic!()
    };
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    assert_eq!(buckets.len(), b as usize);
    assert_eq!(buckets[0].lo, min);
    assert_eq!(buckets[b as usize - 1].hi, max);
    assert_eq!(
        buckets.iter().map(|b| b.count).sum::<u64>(),
        values.len() as u64
    );
    let near = |bound: f64| {
        values
            .iter()
            .filter(|v| (**v - bound).abs() <= 0.011 * v.abs() + 1e-9)
            .count() as u64
    };
    for (i, bk) in buckets.iter().enumerate() {
        let last = i + 1 == buckets.len();
        let truth = values
            .iter()
            .filter(|&&v| v >= bk.lo && (v < bk.hi || (last && v <= bk.hi)))
            .count() as u64;
        let slack = near(bk.lo) + near(bk.hi);
        assert!(
            bk.count.abs_diff(truth) <= slack,
            "bucket {i}: {} vs {truth} (slack {slack})",
            bk.count
        );
    }
}

/// Exactly 4,096 distinct values stay exact.
#[test]
fn histo_stays_exact_at_the_cap() {
    let values: Vec<f64> = (0..4096).map(f64::from).collect();
    let q = Query::Histo {
        res: "x".into(),
        buckets: 4,
    };
    let a = random_merge(&q, locals(&q, &values), 3).finish(&q);
    assert!(!a.is_approximate());
    let Answer::Histo { buckets, .. } = a else {
        panic!()
    };
    check_histo(&buckets, &values, 4);
}
