//! The roster nodes this node found down: it offered them a session and, retransmissions
//! included, they never answered. Its next sessions then also offer the node after them on
//! the roster's ring (see `session/children.rs`), so that a run of consecutive dead nodes on
//! that ring is found while the overlay spreads, not in the entry node's sweep after it.

use std::collections::HashMap;

/// How long a node found down stays remembered, ms, unless found down again (each session
/// that offers it again and gets no answer renews it).
pub(crate) const FOUND_DOWN_MS: u64 = 10 * 60_000;
/// Most names remembered (the oldest go first).
const MAX_FOUND_DOWN: usize = 256;

/// Names found down, with when.
#[derive(Debug, Default)]
pub(crate) struct FoundDown {
    at: HashMap<String, u64>,
}

impl FoundDown {
    /// `name` did not answer any of our offers at `now_ms`.
    pub(crate) fn note(&mut self, name: &str, now_ms: u64) {
        if !self.at.contains_key(name) && self.at.len() >= MAX_FOUND_DOWN {
            let oldest = self
                .at
                .iter()
                .min_by_key(|(n, t)| (**t, (*n).clone()))
                .map(|(n, _)| n.clone());
            if let Some(n) = oldest {
                self.at.remove(&n);
            }
        }
        self.at.insert(name.to_string(), now_ms);
    }

    /// `name` answered an offer: it is up.
    pub(crate) fn clear(&mut self, name: &str) {
        self.at.remove(name);
    }

    /// Whether `name` was found down within [`FOUND_DOWN_MS`] before `now_ms`.
    pub(crate) fn is_down(&self, name: &str, now_ms: u64) -> bool {
        self.at
            .get(name)
            .is_some_and(|t| now_ms.saturating_sub(*t) < FOUND_DOWN_MS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembered_until_it_answers_or_expires() {
        let mut d = FoundDown::default();
        d.note("a", 1_000);
        assert!(d.is_down("a", 1_000 + FOUND_DOWN_MS - 1));
        assert!(!d.is_down("a", 1_000 + FOUND_DOWN_MS));
        assert!(!d.is_down("b", 1_000));
        d.clear("a");
        assert!(!d.is_down("a", 2_000));
    }

    #[test]
    fn bounded_oldest_first() {
        let mut d = FoundDown::default();
        for i in 0..(MAX_FOUND_DOWN as u64 + 10) {
            d.note(&format!("n{i}"), i);
        }
        assert_eq!(d.at.len(), MAX_FOUND_DOWN);
        assert!(!d.is_down("n0", 500));
        assert!(d.is_down(&format!("n{}", MAX_FOUND_DOWN + 9), 500));
    }
}
