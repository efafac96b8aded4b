//! Push DAG shapes for the simulation. Node 0 is the source; `parents[i]` lists node `i`'s
//! parents, its first (tree) parent first. Every parent has a smaller index, so the graph is
//! acyclic.

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// A push DAG shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// A tree: node `i`'s parent is `(i - 1) / fanout` (breadth first).
    Tree {
        /// Children per node.
        fanout: u32,
    },
    /// Levels of `width` nodes under the source; every node takes up to `parents` parents
    /// from the level above (spread so out-degrees stay balanced).
    Layered {
        /// Nodes per level.
        width: u32,
        /// Parents per node.
        parents: u32,
    },
    /// Nodes in a line; node `i` takes the `parents` nodes before it (`i-1` first). Every
    /// node but the last few uploads, and the first-parent tree is a chain.
    Staircase {
        /// Parents per node.
        parents: u32,
    },
    /// Node `i` takes up to `parents` random earlier nodes whose out-degree is below
    /// `max_out` (the source included).
    RandomDag {
        /// Parents per node.
        parents: u32,
        /// Largest out-degree.
        max_out: u32,
    },
}

impl Shape {
    /// A short label for tables.
    pub fn label(&self) -> String {
        match self {
            Shape::Tree { fanout } => format!("tree/{fanout}"),
            Shape::Layered { width, parents } => format!("layered w{width} p{parents}"),
            Shape::Staircase { parents } => format!("staircase p{parents}"),
            Shape::RandomDag { parents, max_out } => format!("random p{parents} out{max_out}"),
        }
    }
}

/// Parents of the source (node 0) and `receivers` receivers.
pub fn build(shape: Shape, receivers: u32, seed: u64) -> Vec<Vec<u32>> {
    let n = receivers + 1;
    let mut parents: Vec<Vec<u32>> = vec![Vec::new(); n as usize];
    match shape {
        Shape::Tree { fanout } => tree(&mut parents, fanout),
        Shape::Layered { width, parents: k } => layered(&mut parents, width, k),
        Shape::Staircase { parents: k } => staircase(&mut parents, k),
        Shape::RandomDag {
            parents: k,
            max_out,
        } => random_dag(&mut parents, k, max_out, seed),
    }
    parents
}

/// Node `i` hangs off node `(i - 1) / fanout`.
fn tree(parents: &mut [Vec<u32>], fanout: u32) {
    let f = fanout.max(1);
    for (i, p) in parents.iter_mut().enumerate().skip(1) {
        p.push((i as u32 - 1) / f);
    }
}

/// Levels of `width` nodes; each node takes `k` parents from the level above, starting at
/// its own position.
fn layered(parents: &mut [Vec<u32>], width: u32, k: u32) {
    let n = parents.len() as u32;
    let w = width.max(1);
    let mut above: Vec<u32> = vec![0];
    let mut next = 1;
    while next < n {
        let level: Vec<u32> = (next..(next + w).min(n)).collect();
        for (j, &node) in level.iter().enumerate() {
            let take = (k.max(1) as usize).min(above.len());
            for t in 0..take {
                let parent = above[(j + t) % above.len()];
                parents[node as usize].push(parent);
            }
        }
        next += level.len() as u32;
        above = level;
    }
}

/// Node `i` takes the `k` nodes just before it as parents.
fn staircase(parents: &mut [Vec<u32>], k: u32) {
    for (i, p) in parents.iter_mut().enumerate().skip(1) {
        let i = i as u32;
        for back in 1..=k.max(1).min(i) {
            p.push(i - back);
        }
    }
}

/// Node `i` takes `k` random earlier nodes with fewer than `max_out` children as parents.
fn random_dag(parents: &mut [Vec<u32>], k: u32, max_out: u32, seed: u64) {
    let n = parents.len() as u32;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut out = vec![0u32; n as usize];
    for i in 1..n {
        let mut open: Vec<u32> = (0..i).filter(|&c| out[c as usize] < max_out).collect();
        if open.is_empty() {
            // every earlier node is full: take the least loaded (keeps the DAG connected)
            open = (0..i).collect();
            open.sort_by_key(|&c| out[c as usize]);
            open.truncate(1);
        }
        open.shuffle(&mut rng);
        for &c in open.iter().take(k.max(1) as usize) {
            parents[i as usize].push(c);
            out[c as usize] += 1;
        }
    }
}

/// Number of nodes with at least one child (nodes that upload).
pub fn uploaders(parents: &[Vec<u32>]) -> usize {
    let mut has_child = vec![false; parents.len()];
    for ps in parents {
        for &p in ps {
            if let Some(h) = has_child.get_mut(p as usize) {
                *h = true;
            }
        }
    }
    has_child.iter().filter(|&&h| h).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acyclic_and_rooted(ps: &[Vec<u32>]) -> bool {
        ps.first().is_some_and(|p| p.is_empty())
            && ps
                .iter()
                .enumerate()
                .skip(1)
                .all(|(i, p)| !p.is_empty() && p.iter().all(|&q| (q as usize) < i))
    }

    #[test]
    fn shapes_are_rooted_dags_with_the_asked_degrees() {
        for shape in [
            Shape::Tree { fanout: 3 },
            Shape::Layered {
                width: 4,
                parents: 3,
            },
            Shape::Staircase { parents: 3 },
            Shape::RandomDag {
                parents: 3,
                max_out: 3,
            },
        ] {
            let ps = build(shape, 20, 1);
            assert_eq!(ps.len(), 21);
            assert!(acyclic_and_rooted(&ps), "{shape:?}: {ps:?}");
            assert!(ps.iter().all(|p| p.len() <= 3));
        }
        let stair = build(Shape::Staircase { parents: 3 }, 20, 0);
        assert_eq!(stair[5], vec![4, 3, 2]);
        assert_eq!(stair[1], vec![0]);
        assert_eq!(uploaders(&stair), 20, "all but the last node upload");
        let tree = build(Shape::Tree { fanout: 3 }, 20, 0);
        assert_eq!(
            uploaders(&tree),
            7,
            "a fanout-3 tree leaves most nodes idle"
        );
    }
}
