//! How a node splits its time budget between its own answer and its children, and how many
//! children it offers the session to.

use crate::membership::default_fanout_with_ring;

/// Budget a push session's node keeps back from its children, ms (per hop of the chain).
const PUSH_HOP_MARGIN_MS: u32 = 1_000;
/// Budget a query session's child gets less than its parent's: covers one round trip (a
/// PlanetLab-like tail of ~250 ms) plus processing at both ends (see [`split_budget`]).
const QUERY_HOP_MARGIN_MS: u32 = 300;

/// How a node with `budget` ms splits it: (answer the parent after, children's budget).
///
/// Queries: answer at 90 % of the budget; children get the budget minus a hop margin `m`
/// (300 ms, or 20 % + 20 ms of a budget under 1.4 s). A child that receives the Session `d` ms
/// later answers at `d + 0.9 (b − m)`, so its answer reaches us `0.9 m − 2d` before our own
/// deadline, whatever `b`: the margin covers a round trip up to 270 ms. The budget shrinks
/// linearly with depth: a geometric split (80 % per level) cut the deep trees of large
/// systems short (10 s × 0.8^16 ≈ 0.28 s at level 16, less than a far round trip plus one
/// retransmission). A short `--timeout` keeps the geometric split, so that a few levels fit.
/// Pushes: a push's first-parent tree is a long chain, with a larger fixed margin per hop.
pub(crate) fn split_budget(budget: u32, push: bool) -> (u64, u32) {
    if push {
        (
            u64::from(budget.saturating_sub(PUSH_HOP_MARGIN_MS / 2)),
            budget.saturating_sub(PUSH_HOP_MARGIN_MS),
        )
    } else {
        (
            u64::from(budget) * 9 / 10,
            budget.saturating_sub((budget / 5 + 20).min(QUERY_HOP_MARGIN_MS)),
        )
    }
}

/// Random children a node at `level` offers a session to under the adaptive default, in a
/// system of about `n` live nodes (ring neighbours come on top).
///
/// The first levels expand the tree: the entry node (level 1) offers
/// [`ENTRY_FANOUT_FACTOR`] × `k` children (`k = default_fanout_with_ring(n)`), the next levels
/// `k` each, so that `4k · k^(L−1)` reaches `n` after `L = 1 + ⌈ln(n / 4k) / ln k⌉` levels.
/// The entry's few extra offers (~0.3 ms of CPU each on a server) save about one level
/// everywhere below, one round trip on the slowest path. Past that level nearly every node already
/// has the session and almost every random offer is a duplicate (an offer, a Prune, three
/// signatures and a key exchange for nothing); those nodes offer LATE_FANOUT random children and
/// rely on their ring neighbours, and on the entry's sweep, for the last few nodes.
pub(crate) fn adaptive_fanout(n: usize, level: u16) -> usize {
    let k = default_fanout_with_ring(n);
    let entry = k * ENTRY_FANOUT_FACTOR;
    if level <= 1 {
        return entry;
    }
    let rest = (n.max(2) as f64 / entry as f64).max(1.0);
    let expand = 1 + (rest.ln() / (k.max(2) as f64).ln()).ceil() as u16;
    if level <= expand.saturating_add(EXPAND_MARGIN) {
        k
    } else {
        LATE_FANOUT.min(k)
    }
}

/// The entry node's random children under the adaptive default, in multiples of `k`
/// (see [`adaptive_fanout`]).
const ENTRY_FANOUT_FACTOR: usize = 4;

/// Levels past the expansion phase that still use the full fanout.
const EXPAND_MARGIN: u16 = 0;
/// Random children of a node past the expansion phase.
const LATE_FANOUT: usize = 1;

#[cfg(test)]
mod tests {
    use super::{adaptive_fanout, split_budget};
    use crate::membership::default_fanout_with_ring;

    #[test]
    fn full_fanout_while_the_tree_expands_then_one() {
        for n in [12usize, 300, 1_000, 10_000] {
            let k = default_fanout_with_ring(n);
            // The entry node offers 4k; its children's subtrees must reach n before the
            // fanout drops.
            assert_eq!(adaptive_fanout(n, 1), 4 * k, "n {n}");
            let mut reach = (4 * k) as f64;
            let mut level = 2u16;
            while adaptive_fanout(n, level) == k {
                reach *= k as f64;
                level += 1;
                assert!(level < 100);
            }
            assert!(reach >= n as f64, "n {n}: k {k}, reach {reach}");
            // No level more than needed.
            assert!(
                reach / (k as f64) < n as f64 || level == 2,
                "n {n}: {level}"
            );
            assert_eq!(adaptive_fanout(n, level), 1, "n {n}");
            assert_eq!(adaptive_fanout(n, 40), 1, "n {n}");
        }
    }

    /// Budgets down a chain of `levels` query hops from `root`.
    fn chain(root: u32, levels: usize) -> Vec<u32> {
        let mut b = vec![root];
        for _ in 0..levels {
            let last = *b.last().unwrap_or(&0);
            b.push(split_budget(last, false).1);
        }
        b
    }

    #[test]
    fn deep_trees_keep_most_of_a_long_timeout() {
        // The client's default 10 s: level 18 (10,000 nodes over PlanetLab-like latencies)
        // still has seconds, where the old 80 % split left 10 s × 0.8^18 ≈ 0.18 s.
        let b = chain(10_000, 18);
        assert!(b[18] >= 4_000, "{b:?}");
    }

    #[test]
    fn a_child_answers_before_its_parent_with_a_round_trip_to_spare() {
        for root in [200u32, 500, 1_000, 1_399, 1_400, 3_000, 10_000, 60_000] {
            let b = chain(root, 30);
            for w in b.windows(2) {
                let (parent_answer, child_budget) = split_budget(w[0], false);
                if child_budget < 50 {
                    break; // no children are offered below 50 ms
                }
                let (child_answer, _) = split_budget(child_budget, false);
                // One-way delay the margin absorbs (each way), at least 10 ms for any budget,
                // and 135 ms once the linear split applies.
                let spare = parent_answer - child_answer;
                let want = if w[0] >= 1_400 { 270 } else { 20 };
                assert!(
                    spare >= want,
                    "budget {} -> {}: spare {spare}",
                    w[0],
                    child_budget
                );
            }
        }
    }

    #[test]
    fn short_timeouts_still_fit_a_few_levels() {
        // --timeout 1: at least 4 levels get a budget of 50 ms or more.
        let b = chain(1_000, 4);
        assert!(b[4] >= 50, "{b:?}");
    }

    #[test]
    fn pushes_keep_a_fixed_margin_per_hop() {
        let (answer, child) = split_budget(60_000, true);
        assert_eq!((answer, child), (59_500, 59_000));
        assert_eq!(split_budget(500, true).1, 0);
    }
}
