//! The replay cache: every session a node has accepted, by `session_hash`, kept until a replay
//! of it would fail the freshness check anyway (`expires_at + skew`).
//!
//! Rules (security brief, check 9): a new hash is recorded; the same hash again is *seen* (the
//! caller attaches the sender as an extra DAG parent or prunes it, and never re-runs the
//! operations); the same `session_id` *of the same key* with a different body is equivocation
//! and rejected (a session id is the signer's: one user cannot pre-register another user's id).
//! Memory is bounded by a global cap, a per-slice cap and a per-key cap; when full, new
//! sessions are refused — entries are never evicted before they expire, so a flood cannot make
//! a node forget. The per-slice cap (half the global cap by default) keeps the keys of one
//! slice (a slice admin may list any number) from filling the cache and locking every other
//! slice's users out.
//!
//! Entries are compact: the session hash, its retention time and three 16-byte digests (of the
//! key, of the slice, and of key and session id); about 180 bytes of memory each with the
//! indexes. The
//! per-key cap is sized from the session limits ([`ReplayConfig::for_limits`]): one key can
//! start [`KEY_RATE_PER_S`] new sessions a second for ever, since no entry is kept longer
//! than the longest retention (`max_join_window + 2 × skew`: `issued_at` may be `skew` ahead).
//! With the default limits (600 s window, 300 s skew) that is 30,000 entries per key (≈ 5 MB)
//! and 240,000 in all (≈ 40 MB), at most 120,000 of them of one slice.
//!
//! Persistence is the caller's: every insertion appends a line to a journal
//! ([`ReplayCache::drain_journal`]) that the driver writes and fsyncs *before* acting on the
//! session; on start the journal is loaded with [`ReplayCache::load`]. Journal line format:
//! `<session_hash hex> <retain_until unix ms> <key digest hex> <key+session id digest hex>
//! <slice digest hex>` (older journals are read too: the same without the slice digest, whose
//! entries count against no slice's share, and
//! `<session_hash hex> <session_id hex> <retain_until> <key fingerprint>`).

use std::collections::{BTreeSet, HashMap, HashSet};

use crate::wire::session::SessionHash;

mod config;
mod error;
mod journal;

pub use config::{ReplayConfig, KEY_RATE_PER_S};
pub use error::ReplayError;
use journal::{id_digest, line, owner_digest, parse_line, slice_digest, Digest16, Entry};

/// Outcome of [`ReplayCache::check_and_insert`] for an acceptable session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Seen {
    /// First time: recorded; run the operations.
    New,
    /// Already accepted: attach as extra parent or prune; never re-run.
    Again,
}

/// Entries looked at to find when a full key's or slice's first entry expires (beyond: the longest
/// retention is named instead).
const RETRY_SCAN: usize = 4096;

/// The cache. See the module docs.
#[derive(Debug)]
pub struct ReplayCache {
    config: ReplayConfig,
    by_hash: HashMap<SessionHash, Entry>,
    by_id: HashSet<Digest16>,
    per_key: HashMap<Digest16, usize>,
    per_slice: HashMap<Digest16, usize>,
    expiry: BTreeSet<(u64, SessionHash)>,
    floor_ms: u64,
    journal: Vec<String>,
}

impl ReplayCache {
    /// An empty cache.
    pub fn new(config: ReplayConfig) -> Self {
        ReplayCache {
            config,
            by_hash: HashMap::new(),
            by_id: HashSet::new(),
            per_key: HashMap::new(),
            per_slice: HashMap::new(),
            expiry: BTreeSet::new(),
            floor_ms: 0,
            journal: Vec::new(),
        }
    }

    /// Refuse sessions issued before `floor_ms` (used when a node that ran before lost its
    /// replay state: floor = start + skew).
    pub fn set_floor(&mut self, floor_ms: u64) {
        self.floor_ms = floor_ms;
    }

    /// Number of live entries.
    pub fn len(&self) -> usize {
        self.by_hash.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.by_hash.is_empty()
    }

    /// Whether this session hash was accepted already (cheap check before signature work).
    pub fn contains(&self, hash: &SessionHash) -> bool {
        self.by_hash.contains_key(hash)
    }

    /// Checks a fresh, verified session against the cache and records it if new.
    /// `expires_at` is the body's join deadline (unix ms); `slice` the body's slice.
    #[allow(clippy::too_many_arguments)]
    pub fn check_and_insert(
        &mut self,
        now_ms: u64,
        hash: &SessionHash,
        session_id: &[u8; 16],
        key_fp: &str,
        slice: &str,
        issued_at: u64,
        expires_at: u64,
    ) -> Result<Seen, ReplayError> {
        self.expire(now_ms);
        if self.by_hash.contains_key(hash) {
            return Ok(Seen::Again);
        }
        let id = id_digest(key_fp, session_id);
        if self.by_id.contains(&id) {
            return Err(ReplayError::Equivocation);
        }
        if issued_at < self.floor_ms {
            return Err(ReplayError::BeforeFloor);
        }
        let slice_d = slice_digest(slice);
        let owner = owner_digest(key_fp);
        self.check_room(now_ms, slice, slice_d, key_fp, owner)?;
        let retain_until = expires_at.saturating_add(self.config.skew_ms);
        let e = Entry {
            id,
            owner,
            slice: Some(slice_d),
            retain_until,
        };
        self.journal.push(line(hash, &e));
        self.insert(*hash, e);
        Ok(Seen::New)
    }

    /// Whether a new entry fits: the slice's share first (a slice at its share hears so, not
    /// that the node is full), then the whole cache, then the key's share; a refusal says
    /// when to retry.
    fn check_room(
        &self,
        now_ms: u64,
        slice: &str,
        slice_d: Digest16,
        key_fp: &str,
        owner: Digest16,
    ) -> Result<(), ReplayError> {
        let secs = |until: u64| until.saturating_sub(now_ms).div_ceil(1000).max(1);
        if self.per_slice.get(&slice_d).copied().unwrap_or(0) >= self.config.max_per_slice {
            let first = self.first_expiry(|e| e.slice == Some(slice_d), now_ms);
            return Err(ReplayError::SliceFull {
                slice: slice.to_string(),
                cap: self.config.max_per_slice,
                retry_s: secs(first),
            });
        }
        if self.by_hash.len() >= self.config.max_entries {
            let first = self.expiry.first().map_or(now_ms, |(u, _)| *u);
            return Err(ReplayError::Full {
                cap: self.config.max_entries,
                retry_s: secs(first),
            });
        }
        if self.per_key.get(&owner).copied().unwrap_or(0) >= self.config.max_per_key {
            let first = self.first_expiry(|e| e.owner == owner, now_ms);
            return Err(ReplayError::KeyFull {
                key_fp: key_fp.to_string(),
                cap: self.config.max_per_key,
                retry_s: secs(first),
            });
        }
        Ok(())
    }

    /// When the first entry matching `which` expires (among the first [`RETRY_SCAN`]; beyond:
    /// the last retention of all).
    fn first_expiry(&self, which: impl Fn(&Entry) -> bool, now_ms: u64) -> u64 {
        self.expiry
            .iter()
            .take(RETRY_SCAN)
            .find(|(_, h)| self.by_hash.get(h).is_some_and(&which))
            .map(|(u, _)| *u)
            .or_else(|| self.expiry.last().map(|(u, _)| *u))
            .unwrap_or(now_ms)
    }

    fn insert(&mut self, hash: SessionHash, e: Entry) {
        *self.per_key.entry(e.owner).or_insert(0) += 1;
        if let Some(s) = e.slice {
            *self.per_slice.entry(s).or_insert(0) += 1;
        }
        self.by_id.insert(e.id);
        self.expiry.insert((e.retain_until, hash));
        self.by_hash.insert(hash, e);
    }

    /// Forgets sessions whose replays would now fail freshness.
    pub fn expire(&mut self, now_ms: u64) {
        while let Some(&(until, hash)) = self.expiry.first() {
            if until >= now_ms {
                break;
            }
            self.expiry.pop_first();
            if let Some(e) = self.by_hash.remove(&hash) {
                self.by_id.remove(&e.id);
                if let Some(n) = self.per_key.get_mut(&e.owner) {
                    *n = n.saturating_sub(1);
                    if *n == 0 {
                        self.per_key.remove(&e.owner);
                    }
                }
                if let Some(s) = e.slice {
                    if let Some(n) = self.per_slice.get_mut(&s) {
                        *n = n.saturating_sub(1);
                        if *n == 0 {
                            self.per_slice.remove(&s);
                        }
                    }
                }
            }
        }
    }

    /// Journal lines recorded since the last call; the driver appends and fsyncs them before
    /// acting on the sessions they record.
    pub fn drain_journal(&mut self) -> Vec<String> {
        std::mem::take(&mut self.journal)
    }

    /// All live entries as journal lines (for compaction: the driver rewrites the journal
    /// atomically with these).
    pub fn snapshot_lines(&self) -> Vec<String> {
        self.expiry
            .iter()
            .filter_map(|(_, h)| self.by_hash.get(h).map(|e| line(h, e)))
            .collect()
    }

    /// Rebuilds a cache from journal text. Expired entries are dropped. Lines that do not
    /// parse are reported by number (a torn last line after a crash is expected; it recorded
    /// a session that was never acted on).
    pub fn load(config: ReplayConfig, journal: &str, now_ms: u64) -> (ReplayCache, Vec<usize>) {
        let mut cache = ReplayCache::new(config);
        let mut bad = Vec::new();
        for (i, text) in journal.lines().enumerate() {
            if text.trim().is_empty() {
                continue;
            }
            match parse_line(text) {
                Some((h, e)) => {
                    if e.retain_until >= now_ms && !cache.by_hash.contains_key(&h) {
                        cache.insert(h, e);
                    }
                }
                None => bad.push(i + 1),
            }
        }
        (cache, bad)
    }
}

#[cfg(test)]
mod tests;
