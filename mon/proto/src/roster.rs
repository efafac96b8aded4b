//! The roster: every node named in `known_nodes`, in a fixed order, so a session can carry a
//! bitmap of the nodes it reached (OR-merged up the tree, one bit per node). The client, which
//! has the same `known_nodes`, then names every node that was *not* reached — down, cut off,
//! or missed by the overlay — instead of silently counting fewer. A digest of the roster
//! travels with the bitmap; bitmaps built from different rosters are not merged.

use std::collections::HashMap;
use std::sync::OnceLock;

use mon_keys::known_nodes::KnownNodes;
use sha2::{Digest, Sha256};

/// Largest roster a bitmap is kept for (bits).
pub const MAX_ROSTER: usize = 100_000;

/// Node names in a fixed order.
#[derive(Clone, Debug, Default)]
pub struct Roster {
    names: Vec<String>,
    index: HashMap<String, usize>,
    digest: [u8; 32],
    /// The roster's ring order (see [`Roster::ring_successor`]), built on first use.
    ring: OnceLock<RingOrder>,
}

/// The roster in ring order: `order[k]` is the index of the k-th name on the ring, `pos[i]`
/// the place of name `i` on it.
#[derive(Clone, Debug, Default)]
struct RingOrder {
    order: Vec<usize>,
    pos: Vec<usize>,
}

impl Roster {
    /// The first name of every non-revoked, non-pattern `known_nodes` entry, sorted.
    pub fn from_known(known: &KnownNodes) -> Roster {
        let mut names: Vec<String> = known
            .entries()
            .filter(|e| !e.is_revoked())
            .filter_map(|e| e.names().next().map(str::to_string))
            .filter(|n| !n.contains(['*', '?']))
            .collect();
        names.sort();
        names.dedup();
        names.truncate(MAX_ROSTER);
        Roster::from_names(names)
    }

    /// A roster of these (sorted, distinct) names.
    pub fn from_names(names: Vec<String>) -> Roster {
        let mut h = Sha256::new();
        h.update(b"MON-roster-v1\0");
        for n in &names {
            h.update((n.len() as u32).to_be_bytes());
            h.update(n.as_bytes());
        }
        let index = names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.clone(), i))
            .collect();
        Roster {
            names,
            index,
            digest: h.finalize().into(),
            ring: OnceLock::new(),
        }
    }

    /// The name after `name` on the roster's ring: every name ordered by
    /// SHA-256(`MON-roster-ring-v1`, name), the same order on every node with this roster,
    /// unrelated to the names' order (nodes named alike, often racked alike, are not
    /// neighbours). `None` for a name not on the roster or a roster of one.
    ///
    /// Unlike the membership's ring, which only holds the nodes gossip hears of, this one
    /// holds the nodes that are down too: a session offered to each node's roster successor
    /// finds the nodes that are down while the overlay spreads, in parallel, instead of in
    /// the entry node's sweep once the overlay has answered.
    pub fn ring_successor(&self, name: &str) -> Option<&str> {
        let &i = self.index.get(name)?;
        if self.names.len() < 2 {
            return None;
        }
        let ring = self.ring.get_or_init(|| self.ring_order());
        let p = *ring.pos.get(i)?;
        let next = *ring.order.get((p + 1) % ring.order.len())?;
        self.names.get(next).map(String::as_str)
    }

    fn ring_order(&self) -> RingOrder {
        let mut keyed: Vec<([u8; 32], usize)> = self
            .names
            .iter()
            .enumerate()
            .map(|(i, n)| {
                let mut h = Sha256::new();
                h.update(b"MON-roster-ring-v1\0");
                h.update(n.as_bytes());
                (h.finalize().into(), i)
            })
            .collect();
        keyed.sort_unstable();
        let order: Vec<usize> = keyed.into_iter().map(|(_, i)| i).collect();
        let mut pos = vec![0; order.len()];
        for (k, &i) in order.iter().enumerate() {
            pos[i] = k;
        }
        RingOrder { order, pos }
    }

    /// Digest identifying the roster.
    pub fn digest(&self) -> [u8; 32] {
        self.digest
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// Whether `name` is on the roster.
    pub fn contains(&self, name: &str) -> bool {
        self.index.contains_key(name)
    }

    /// An all-zero bitmap.
    pub fn empty_bitmap(&self) -> Vec<u8> {
        vec![0u8; self.names.len().div_ceil(8)]
    }

    /// Sets `name`'s bit (no effect for a name not on the roster).
    pub fn mark(&self, bitmap: &mut [u8], name: &str) {
        if let Some(&i) = self.index.get(name) {
            if let Some(b) = bitmap.get_mut(i / 8) {
                *b |= 1 << (i % 8);
            }
        }
    }

    /// Whether `name`'s bit is set (false for a name not on the roster).
    pub fn is_marked(&self, bitmap: &[u8], name: &str) -> bool {
        self.index
            .get(name)
            .and_then(|&i| bitmap.get(i / 8).map(|b| b & (1 << (i % 8)) != 0))
            .unwrap_or(false)
    }

    /// ORs `other` into `bitmap`; false when the lengths differ (not merged).
    pub fn merge(bitmap: &mut [u8], other: &[u8]) -> bool {
        if bitmap.len() != other.len() {
            return false;
        }
        for (a, b) in bitmap.iter_mut().zip(other) {
            *a |= *b;
        }
        true
    }

    /// Names whose bit is clear and that `want` selects.
    pub fn unreached<'a>(
        &'a self,
        bitmap: &[u8],
        want: impl Fn(&str) -> bool + 'a,
    ) -> Vec<&'a str> {
        self.names
            .iter()
            .enumerate()
            .filter(|(i, _)| bitmap.get(i / 8).is_none_or(|b| b & (1 << (i % 8)) == 0))
            .map(|(_, n)| n.as_str())
            .filter(|n| want(n))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mark_merge_unreached() {
        let r = Roster::from_names(vec!["a".into(), "b".into(), "c".into()]);
        let mut x = r.empty_bitmap();
        let mut y = r.empty_bitmap();
        r.mark(&mut x, "a");
        r.mark(&mut y, "c");
        r.mark(&mut y, "zz");
        assert!(Roster::merge(&mut x, &y));
        assert_eq!(r.unreached(&x, |_| true), vec!["b"]);
        assert_eq!(r.unreached(&x, |n| n != "b"), Vec::<&str>::new());
        assert!(!Roster::merge(&mut x, &[0u8; 5]));
        let r2 = Roster::from_names(vec!["a".into(), "b".into()]);
        assert_ne!(r.digest(), r2.digest());
    }

    #[test]
    fn the_ring_visits_every_name_once() {
        let names: Vec<String> = (0..50).map(|i| format!("n{i:03}")).collect();
        let r = Roster::from_names(names.clone());
        let mut seen = vec!["n000"];
        let mut at = "n000";
        for _ in 1..names.len() {
            at = r.ring_successor(at).unwrap_or("none");
            assert!(!seen.contains(&at), "{at} twice");
            seen.push(at);
        }
        assert_eq!(r.ring_successor(at), Some("n000"));
        // Not the names' own order.
        assert_ne!(r.ring_successor("n000"), Some("n001"));
        assert_eq!(r.ring_successor("zz"), None);
        assert_eq!(
            Roster::from_names(vec!["a".into()]).ring_successor("a"),
            None
        );
    }
}
