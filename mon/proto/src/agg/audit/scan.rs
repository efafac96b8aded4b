//! [`AuditScan`]: one node's pass over its own log (the driver feeds it every record, in log
//! order), turned into the node's [`AuditPart`].

use std::collections::{BTreeMap, VecDeque};

use super::part::{AuditPart, AuditRow, Counts};
use super::{AuditFilter, MAX_AUDIT_KEYS};
use crate::agg::nodelist::NodeList;
use crate::audit::AuditRecord;

/// While scanning, a count map may grow to this many keys before it is cut to
/// [`MAX_AUDIT_KEYS`] (the cut ones summed in `other`).
const SCAN_KEYS: usize = 16 * MAX_AUDIT_KEYS;

/// One node's scan of its log: the matching records counted, the newest kept, and whether
/// the chain verified.
#[derive(Clone, Debug, PartialEq)]
pub struct AuditScan {
    filter: AuditFilter,
    matched: u64,
    by_event: BTreeMap<String, u64>,
    event_other: u64,
    by_principal: BTreeMap<String, u64>,
    principal_other: u64,
    newest: VecDeque<AuditRow>,
    broken: Option<String>,
}

/// Adds one to `key`'s count, cutting the map (the smallest counts) when it grows too large.
fn count(map: &mut BTreeMap<String, u64>, other: &mut u64, key: &str) {
    if let Some(n) = map.get_mut(key) {
        *n = n.saturating_add(1);
        return;
    }
    map.insert(super::part::cut_key(key), 1);
    if map.len() > SCAN_KEYS {
        let c = Counts::from_map(std::mem::take(map), 0);
        *other = other.saturating_add(c.other);
        *map = c.keys.into_iter().collect();
    }
}

impl AuditScan {
    /// A scan for `filter` (validated by the query).
    pub fn new(filter: AuditFilter) -> AuditScan {
        AuditScan {
            filter,
            matched: 0,
            by_event: BTreeMap::new(),
            event_other: 0,
            by_principal: BTreeMap::new(),
            principal_other: 0,
            newest: VecDeque::new(),
            broken: None,
        }
    }

    /// One record of the log, in log order (oldest first): counted and kept if it matches.
    pub fn offer(&mut self, r: &AuditRecord) {
        if !self.filter.matches(r) {
            return;
        }
        self.matched = self.matched.saturating_add(1);
        count(&mut self.by_event, &mut self.event_other, &r.event);
        if let Some(p) = &r.principal {
            count(&mut self.by_principal, &mut self.principal_other, p);
        }
        self.newest.push_back(AuditRow::of(r));
        if self.newest.len() > self.filter.limit as usize {
            self.newest.pop_front();
        }
    }

    /// The chain did not verify (the first reason given is kept).
    pub fn chain_broken(&mut self, why: impl Into<String>) {
        if self.broken.is_none() {
            self.broken = Some(why.into());
        }
    }

    /// Whether the chain verified so far.
    pub fn chain_verified(&self) -> bool {
        self.broken.is_none()
    }

    /// Why the chain did not verify, if it did not.
    pub fn broken_reason(&self) -> Option<&str> {
        self.broken.as_deref()
    }

    /// The number of matching records.
    pub fn matched(&self) -> u64 {
        self.matched
    }

    /// The node's partial: its records named `node` and flagged with its chain.
    pub(crate) fn into_part(self, node: &str) -> AuditPart {
        let verified = self.broken.is_none();
        let mut part = AuditPart::empty(self.filter.limit);
        part.matched = self.matched;
        part.by_event = Counts::from_map(self.by_event, self.event_other);
        part.by_principal = Counts::from_map(self.by_principal, self.principal_other);
        let mut by_node = BTreeMap::new();
        if self.matched > 0 {
            by_node.insert(node.to_string(), self.matched);
        }
        part.by_node = Counts::from_map(by_node, 0);
        let mut rows: Vec<AuditRow> = self.newest.into_iter().collect();
        for r in &mut rows {
            r.node = node.to_string();
            r.chain_verified = verified;
        }
        part.merge_records(rows);
        match self.broken {
            None => part.chain_ok = 1,
            Some(why) => {
                let mut l = NodeList::default();
                l.push(node, &why);
                part.chain_broken = l;
            }
        }
        part
    }
}
