//! Capped lists of `(node, reason)`: nodes that failed, were denied, or are missing.

use serde::{Deserialize, Serialize};

use super::{MAX_NODE_NAME, NODE_LIST_CAP, REASON_CAP};

/// One node and why it is listed.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct NodeNote {
    /// Node name.
    pub node: String,
    /// Why (cut to [`REASON_CAP`] bytes).
    pub reason: String,
}

/// A list of nodes with reasons: at most [`NODE_LIST_CAP`] entries (the smallest node names,
/// one per node), sorted by name, plus the exact number of entries ever added (`total`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct NodeList {
    entries: Vec<NodeNote>,
    total: u64,
}

/// Cuts a string to at most `max` bytes at a character boundary.
pub(crate) fn cut_str(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

impl NodeList {
    /// The kept entries, sorted by node name.
    pub fn entries(&self) -> &[NodeNote] {
        &self.entries
    }

    /// The number of entries ever added (≥ `entries().len()`).
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Whether nothing was added.
    pub fn is_empty(&self) -> bool {
        self.total == 0 && self.entries.is_empty()
    }

    /// Adds one node.
    pub(crate) fn push(&mut self, node: &str, reason: &str) {
        let one = NodeList {
            entries: vec![NodeNote {
                node: cut_str(node, MAX_NODE_NAME).to_string(),
                reason: cut_str(reason, REASON_CAP).to_string(),
            }],
            total: 1,
        };
        self.merge(one);
    }

    /// Adds several nodes with the same reason (one merge, however many nodes).
    pub(crate) fn push_all<'a>(&mut self, nodes: impl IntoIterator<Item = &'a str>, reason: &str) {
        let reason = cut_str(reason, REASON_CAP);
        let mut more = NodeList::default();
        for node in nodes {
            more.entries.push(NodeNote {
                node: cut_str(node, MAX_NODE_NAME).to_string(),
                reason: reason.to_string(),
            });
            more.total = more.total.saturating_add(1);
        }
        self.merge(more);
    }

    /// Removes the kept entries `drop` selects; the total shrinks by as many.
    pub(crate) fn remove_where(&mut self, mut drop: impl FnMut(&str) -> bool) {
        let before = self.entries.len();
        self.entries.retain(|e| !drop(&e.node));
        let removed = (before - self.entries.len()) as u64;
        self.total = self.total.saturating_sub(removed);
    }

    /// Checks the limits of a list received from the network.
    pub(crate) fn check(&self) -> Result<(), &'static str> {
        if self.entries.len() > NODE_LIST_CAP {
            return Err("node list longer than its cap");
        }
        if (self.entries.len() as u64) > self.total {
            return Err("node list total smaller than its entries");
        }
        if self
            .entries
            .iter()
            .any(|e| e.node.len() > MAX_NODE_NAME || e.reason.len() > REASON_CAP)
        {
            return Err("node name or reason too long");
        }
        Ok(())
    }

    /// Union: sorted by name, one entry per node (the smallest reason), the first
    /// [`NODE_LIST_CAP`] kept; totals add.
    pub(crate) fn merge(&mut self, other: NodeList) {
        self.total = self.total.saturating_add(other.total);
        self.entries.extend(other.entries);
        self.entries.sort();
        self.entries.dedup_by(|b, a| a.node == b.node);
        if self.entries.len() <= NODE_LIST_CAP {
            // Nothing was ever cut: the deduplicated list is exact (a node reported by
            // several parents counts once).
            self.total = self.entries.len() as u64;
        }
        self.entries.truncate(NODE_LIST_CAP);
    }

    /// Approximate encoded size, bytes.
    pub(crate) fn len_hint(&self) -> usize {
        12 + self
            .entries
            .iter()
            .map(|e| e.node.len() + e.reason.len() + 4)
            .sum::<usize>()
    }
}
