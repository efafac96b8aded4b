//! The mergeable `audit fleet` partial ([`AuditPart`]) and its final form ([`AuditAnswer`]);
//! the bounds are in the docs of [`super`].

use std::cmp::Ordering;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{MAX_AUDIT_ARGV, MAX_AUDIT_FIELD, MAX_AUDIT_KEYS, MAX_AUDIT_LIMIT};
use crate::agg::nodelist::{cut_str, NodeList};
use crate::agg::MAX_NODE_NAME;
use crate::audit::AuditRecord;

/// One returned record: the fields a review needs, each cut to [`MAX_AUDIT_FIELD`] bytes,
/// with the node that wrote it and whether that node's chain verified.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditRow {
    /// The node whose log holds the record.
    pub node: String,
    /// Whether that node's whole log verified (hash chain, `seq`, rotated files).
    pub chain_verified: bool,
    /// Position in that node's log.
    pub seq: u64,
    /// RFC 3339 UTC time.
    pub ts: String,
    /// Event kind, e.g. `session.deny`.
    pub event: String,
    /// `allow`, `deny`, `ok` or `error`.
    pub result: Option<String>,
    /// Stable reason code.
    pub reason: Option<String>,
    /// Reason text.
    pub reason_text: Option<String>,
    /// Slice.
    pub slice: Option<String>,
    /// Principal.
    pub principal: Option<String>,
    /// Signer key fingerprint.
    pub key_fp: Option<String>,
    /// Session id, hex.
    pub session_id: Option<String>,
    /// Client address at the entry node.
    pub client_addr: Option<String>,
    /// Operation.
    pub op: Option<String>,
    /// Operation arguments (at most [`MAX_AUDIT_ARGV`]).
    pub argv: Vec<String>,
}

fn cut(s: &str) -> String {
    cut_str(s, MAX_AUDIT_FIELD).to_string()
}

/// A count key as kept: cut to [`MAX_AUDIT_FIELD`] bytes.
pub(super) fn cut_key(s: &str) -> String {
    cut(s)
}

fn cut_opt(s: &Option<String>) -> Option<String> {
    s.as_deref().map(cut)
}

impl AuditRow {
    /// The row of a record read from a log (the node and chain flag are set by the node's
    /// partial).
    pub fn of(r: &AuditRecord) -> AuditRow {
        AuditRow {
            node: String::new(),
            chain_verified: false,
            seq: r.seq,
            ts: cut(&r.ts),
            event: cut(&r.event),
            result: cut_opt(&r.result),
            reason: r.reason.as_ref().map(|x| cut(&x.code)),
            reason_text: r.reason.as_ref().map(|x| cut(&x.text)),
            slice: cut_opt(&r.slice),
            principal: cut_opt(&r.principal),
            key_fp: cut_opt(&r.key_fp),
            session_id: cut_opt(&r.session_id),
            client_addr: cut_opt(&r.client_addr),
            op: cut_opt(&r.op),
            argv: r
                .argv
                .iter()
                .flatten()
                .take(MAX_AUDIT_ARGV)
                .map(String::as_str)
                .map(cut)
                .collect(),
        }
    }

    fn within_bounds(&self) -> bool {
        let opts = [
            &self.result,
            &self.reason,
            &self.reason_text,
            &self.slice,
            &self.principal,
            &self.key_fp,
            &self.session_id,
            &self.client_addr,
            &self.op,
        ];
        self.node.len() <= MAX_NODE_NAME
            && self.ts.len() <= MAX_AUDIT_FIELD
            && self.event.len() <= MAX_AUDIT_FIELD
            && opts
                .into_iter()
                .all(|o| o.as_ref().is_none_or(|s| s.len() <= MAX_AUDIT_FIELD))
            && self.argv.len() <= MAX_AUDIT_ARGV
            && self.argv.iter().all(|a| a.len() <= MAX_AUDIT_FIELD)
    }
}

/// Newest first: time descending, then node name, then `seq` descending.
fn newest_first(a: &AuditRow, b: &AuditRow) -> Ordering {
    b.ts.cmp(&a.ts)
        .then_with(|| a.node.cmp(&b.node))
        .then_with(|| b.seq.cmp(&a.seq))
}

/// Counts by key: at most [`MAX_AUDIT_KEYS`] keys (the largest counts, ties by key), the
/// rest summed in `other`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Counts {
    /// `(key, count)`, largest count first, ties by key.
    pub keys: Vec<(String, u64)>,
    /// The sum of the counts of keys not kept.
    pub other: u64,
}

impl Counts {
    /// Counts from a map (cut to the bound).
    pub(super) fn from_map(map: BTreeMap<String, u64>, other: u64) -> Counts {
        let mut c = Counts {
            keys: map.into_iter().collect(),
            other,
        };
        c.bound();
        c
    }

    /// Sorts and keeps the bound, summing what is cut into `other`.
    fn bound(&mut self) {
        self.keys
            .sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        if self.keys.len() > MAX_AUDIT_KEYS {
            let cut = self.keys[MAX_AUDIT_KEYS..]
                .iter()
                .fold(0u64, |t, (_, n)| t.saturating_add(*n));
            self.other = self.other.saturating_add(cut);
            self.keys.truncate(MAX_AUDIT_KEYS);
        }
    }

    /// Adds the other side's counts key by key.
    fn merge(&mut self, b: Counts) {
        let mut map: BTreeMap<String, u64> = BTreeMap::new();
        for (k, n) in self.keys.drain(..).chain(b.keys) {
            let e = map.entry(k).or_default();
            *e = e.saturating_add(n);
        }
        self.keys = map.into_iter().collect();
        self.other = self.other.saturating_add(b.other);
        self.bound();
    }

    fn check(&self) -> Result<(), &'static str> {
        if self.keys.len() > MAX_AUDIT_KEYS {
            return Err("audit counts with too many keys");
        }
        if self.keys.iter().any(|(k, _)| k.len() > MAX_AUDIT_FIELD) {
            return Err("audit count key too long");
        }
        Ok(())
    }

    /// The sum of every count, kept or not.
    pub fn total(&self) -> u64 {
        self.keys
            .iter()
            .fold(self.other, |t, (_, n)| t.saturating_add(*n))
    }
}

/// The `audit fleet` partial of a subtree.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditPart {
    /// The query's `limit`.
    pub(crate) limit: u32,
    /// Matching records, all nodes.
    pub(crate) matched: u64,
    pub(crate) by_event: Counts,
    pub(crate) by_principal: Counts,
    pub(crate) by_node: Counts,
    /// The newest matching records, newest first, at most `limit`.
    pub(crate) records: Vec<AuditRow>,
    /// Nodes whose chain verified.
    pub(crate) chain_ok: u64,
    /// Nodes whose chain did not verify, with why.
    pub(crate) chain_broken: NodeList,
}

impl AuditPart {
    /// The partial of an empty subtree for `limit`.
    pub fn empty(limit: u32) -> AuditPart {
        AuditPart {
            limit,
            matched: 0,
            by_event: Counts::default(),
            by_principal: Counts::default(),
            by_node: Counts::default(),
            records: Vec::new(),
            chain_ok: 0,
            chain_broken: NodeList::default(),
        }
    }

    /// Checks the bounds of a partial received from the network.
    pub(crate) fn check(&self) -> Result<(), &'static str> {
        if self.limit == 0 || self.limit > MAX_AUDIT_LIMIT {
            return Err("audit limit out of range");
        }
        if self.records.len() > self.limit as usize {
            return Err("more audit records than the limit");
        }
        if !self.records.iter().all(AuditRow::within_bounds) {
            return Err("audit record field too long");
        }
        self.by_event.check()?;
        self.by_principal.check()?;
        self.by_node.check()?;
        self.chain_broken.check()
    }

    /// Whether `b` answers the same query (same limit).
    pub(crate) fn same_limit(&self, b: &AuditPart) -> bool {
        self.limit == b.limit
    }

    /// Merges `b` (checked, same limit): counts add, records keep the newest `limit`.
    pub(crate) fn merge(&mut self, b: AuditPart) {
        self.matched = self.matched.saturating_add(b.matched);
        self.by_event.merge(b.by_event);
        self.by_principal.merge(b.by_principal);
        self.by_node.merge(b.by_node);
        self.merge_records(b.records);
        self.chain_ok = self.chain_ok.saturating_add(b.chain_ok);
        self.chain_broken.merge(b.chain_broken);
    }

    /// Adds records, keeping the newest `limit` (one per node and `seq`).
    pub(super) fn merge_records(&mut self, rows: Vec<AuditRow>) {
        self.records.extend(rows);
        self.records.sort_by(newest_first);
        self.records
            .dedup_by(|x, y| x.node == y.node && x.seq == y.seq && x.ts == y.ts);
        self.records.truncate(self.limit as usize);
    }

    /// Approximate encoded size, bytes.
    pub(crate) fn len_hint(&self) -> usize {
        let counts = |c: &Counts| 8 + c.keys.iter().map(|(k, _)| k.len() + 10).sum::<usize>();
        let row = |r: &AuditRow| {
            let opt = |o: &Option<String>| o.as_ref().map_or(1, |s| s.len() + 2);
            40 + r.node.len()
                + r.ts.len()
                + r.event.len()
                + [
                    &r.result,
                    &r.reason,
                    &r.reason_text,
                    &r.slice,
                    &r.principal,
                    &r.key_fp,
                    &r.session_id,
                    &r.client_addr,
                    &r.op,
                ]
                .into_iter()
                .map(opt)
                .sum::<usize>()
                + r.argv.iter().map(|a| a.len() + 2).sum::<usize>()
        };
        32 + counts(&self.by_event)
            + counts(&self.by_principal)
            + counts(&self.by_node)
            + self.records.iter().map(row).sum::<usize>()
            + self.chain_broken.len_hint()
    }

    /// The final answer.
    pub fn finish(self) -> AuditAnswer {
        AuditAnswer {
            matched: self.matched,
            by_event: self.by_event,
            by_principal: self.by_principal,
            by_node: self.by_node,
            records: self.records,
            chain_ok: self.chain_ok,
            chain_broken: self.chain_broken,
        }
    }
}

/// The answer of `audit fleet`.
#[derive(Clone, Debug, PartialEq)]
pub struct AuditAnswer {
    /// Matching records over every node that answered.
    pub matched: u64,
    /// Counts by event kind.
    pub by_event: Counts,
    /// Counts by principal (records without one are not counted here).
    pub by_principal: Counts,
    /// Counts by node.
    pub by_node: Counts,
    /// The newest matching records, newest first.
    pub records: Vec<AuditRow>,
    /// Nodes whose chain verified.
    pub chain_ok: u64,
    /// Nodes whose chain did not verify, with why.
    pub chain_broken: NodeList,
}
