//! The replay cache: every session a node has accepted, by `session_hash`, kept until a replay
//! of it would fail the freshness check anyway (`expires_at + skew`).
//!
//! Rules (security brief, check 9): a new hash is recorded; the same hash again is *seen* (the
//! caller attaches the sender as an extra DAG parent or prunes it, and never re-runs the
//! operations); the same `session_id` with a different body is equivocation and rejected.
//! Memory is bounded by a global cap and a per-key cap; when full, new sessions are refused —
//! entries are never evicted before they expire, so a flood cannot make a node forget.
//!
//! Persistence is the caller's: every insertion appends a line to a journal
//! ([`ReplayCache::drain_journal`]) that the driver writes and fsyncs *before* acting on the
//! session; on start the journal is loaded with [`ReplayCache::load`]. Journal line format:
//! `<session_hash hex> <session_id hex> <retain_until unix ms> <key fingerprint>`.

use std::collections::{BTreeSet, HashMap};

use crate::wire::session::SessionHash;

/// Limits of the cache.
#[derive(Clone, Debug)]
pub struct ReplayConfig {
    /// Most sessions remembered at once.
    pub max_entries: usize,
    /// Most sessions remembered per signing key.
    pub max_per_key: usize,
    /// Clock skew allowance in ms (retention is `expires_at + skew`).
    pub skew_ms: u64,
}

impl Default for ReplayConfig {
    fn default() -> Self {
        ReplayConfig {
            max_entries: 100_000,
            max_per_key: 2_000,
            skew_ms: 300_000,
        }
    }
}

#[derive(Clone, Debug)]
struct Entry {
    session_id: [u8; 16],
    key_fp: String,
    retain_until: u64,
}

/// Outcome of [`ReplayCache::check_and_insert`] for an acceptable session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Seen {
    /// First time: recorded; run the operations.
    New,
    /// Already accepted: attach as extra parent or prune; never re-run.
    Again,
}

/// Why a session was refused by the replay cache.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReplayError {
    /// Same session id, different body.
    #[error("session id reused with a different body (equivocation)")]
    Equivocation,
    /// The cache holds `cap` live sessions.
    #[error("replay cache full ({cap} live sessions): refusing new sessions until some expire")]
    Full {
        /// The global cap.
        cap: usize,
    },
    /// This key holds `cap` live sessions.
    #[error("key {key_fp} has {cap} live sessions, the per-key limit")]
    KeyFull {
        /// The key.
        key_fp: String,
        /// The per-key cap.
        cap: usize,
    },
    /// The node lost its replay state and refuses sessions issued before it can be sure.
    #[error("session issued before this node's replay floor (replay state was lost)")]
    BeforeFloor,
}

impl ReplayError {
    /// Stable reason code.
    pub fn code(&self) -> &'static str {
        match self {
            ReplayError::Equivocation => "equivocation",
            ReplayError::Full { .. } => "replay-cache-full",
            ReplayError::KeyFull { .. } => "replay-cache-key-full",
            ReplayError::BeforeFloor => "replay-floor",
        }
    }
}

/// The cache. See the module docs.
#[derive(Debug)]
pub struct ReplayCache {
    config: ReplayConfig,
    by_hash: HashMap<SessionHash, Entry>,
    by_id: HashMap<[u8; 16], SessionHash>,
    per_key: HashMap<String, usize>,
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
            by_id: HashMap::new(),
            per_key: HashMap::new(),
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
    /// `expires_at` is the body's join deadline (unix ms).
    pub fn check_and_insert(
        &mut self,
        now_ms: u64,
        hash: &SessionHash,
        session_id: &[u8; 16],
        key_fp: &str,
        issued_at: u64,
        expires_at: u64,
    ) -> Result<Seen, ReplayError> {
        self.expire(now_ms);
        if self.by_hash.contains_key(hash) {
            return Ok(Seen::Again);
        }
        if self.by_id.contains_key(session_id) {
            return Err(ReplayError::Equivocation);
        }
        if issued_at < self.floor_ms {
            return Err(ReplayError::BeforeFloor);
        }
        if self.by_hash.len() >= self.config.max_entries {
            return Err(ReplayError::Full {
                cap: self.config.max_entries,
            });
        }
        if self.per_key.get(key_fp).copied().unwrap_or(0) >= self.config.max_per_key {
            return Err(ReplayError::KeyFull {
                key_fp: key_fp.to_string(),
                cap: self.config.max_per_key,
            });
        }
        let retain_until = expires_at.saturating_add(self.config.skew_ms);
        self.journal.push(format!(
            "{} {} {} {}",
            hex(hash),
            hex(session_id),
            retain_until,
            key_fp
        ));
        self.insert(*hash, *session_id, key_fp.to_string(), retain_until);
        Ok(Seen::New)
    }

    fn insert(
        &mut self,
        hash: SessionHash,
        session_id: [u8; 16],
        key_fp: String,
        retain_until: u64,
    ) {
        *self.per_key.entry(key_fp.clone()).or_insert(0) += 1;
        self.by_id.insert(session_id, hash);
        self.expiry.insert((retain_until, hash));
        self.by_hash.insert(
            hash,
            Entry {
                session_id,
                key_fp,
                retain_until,
            },
        );
    }

    /// Forgets sessions whose replays would now fail freshness.
    pub fn expire(&mut self, now_ms: u64) {
        while let Some(&(until, hash)) = self.expiry.first() {
            if until >= now_ms {
                break;
            }
            self.expiry.pop_first();
            if let Some(e) = self.by_hash.remove(&hash) {
                self.by_id.remove(&e.session_id);
                if let Some(n) = self.per_key.get_mut(&e.key_fp) {
                    *n = n.saturating_sub(1);
                    if *n == 0 {
                        self.per_key.remove(&e.key_fp);
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
            .filter_map(|(_, h)| self.by_hash.get(h).map(|e| (h, e)))
            .map(|(h, e)| {
                format!(
                    "{} {} {} {}",
                    hex(h),
                    hex(&e.session_id),
                    e.retain_until,
                    e.key_fp
                )
            })
            .collect()
    }

    /// Rebuilds a cache from journal text. Expired entries are dropped. Lines that do not
    /// parse are reported by number (a torn last line after a crash is expected; it recorded
    /// a session that was never acted on).
    pub fn load(config: ReplayConfig, journal: &str, now_ms: u64) -> (ReplayCache, Vec<usize>) {
        let mut cache = ReplayCache::new(config);
        let mut bad = Vec::new();
        for (i, line) in journal.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            match parse_line(line) {
                Some((h, id, until, fp)) => {
                    if until >= now_ms && !cache.by_hash.contains_key(&h) {
                        cache.insert(h, id, fp, until);
                    }
                }
                None => bad.push(i + 1),
            }
        }
        (cache, bad)
    }
}

fn parse_line(line: &str) -> Option<(SessionHash, [u8; 16], u64, String)> {
    let mut it = line.split(' ');
    let h = unhex::<32>(it.next()?)?;
    let id = unhex::<16>(it.next()?)?;
    let until: u64 = it.next()?.parse().ok()?;
    let fp = it.next()?;
    if it.next().is_some() || fp.is_empty() || fp.len() > 128 {
        return None;
    }
    Some((h, id, until, fp.to_string()))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex<const N: usize>(s: &str) -> Option<[u8; N]> {
    if s.len() != 2 * N {
        return None;
    }
    let mut out = [0u8; N];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn cfg(max: usize, per_key: usize) -> ReplayConfig {
        ReplayConfig {
            max_entries: max,
            max_per_key: per_key,
            skew_ms: 1000,
        }
    }

    #[test]
    fn new_then_again_never_rerun() {
        let mut c = ReplayCache::new(cfg(10, 10));
        let r = c.check_and_insert(0, &[1; 32], &[1; 16], "k", 0, 5000);
        assert_eq!(r, Ok(Seen::New));
        let r = c.check_and_insert(10, &[1; 32], &[1; 16], "k", 0, 5000);
        assert_eq!(r, Ok(Seen::Again));
    }

    #[test]
    fn same_id_other_body_is_equivocation() {
        let mut c = ReplayCache::new(cfg(10, 10));
        c.check_and_insert(0, &[1; 32], &[1; 16], "k", 0, 5000)
            .unwrap();
        let r = c.check_and_insert(0, &[2; 32], &[1; 16], "k", 0, 5000);
        assert_eq!(r, Err(ReplayError::Equivocation));
    }

    #[test]
    fn flood_is_refused_not_evicted() {
        let mut c = ReplayCache::new(cfg(100, 60));
        let mut refused_key = 0;
        let mut refused_full = 0;
        for i in 0..300u32 {
            let mut h = [0u8; 32];
            h[..4].copy_from_slice(&i.to_be_bytes());
            let mut id = [0u8; 16];
            id[..4].copy_from_slice(&i.to_be_bytes());
            let key = if i < 150 { "a" } else { "b" };
            match c.check_and_insert(0, &h, &id, key, 0, 60_000) {
                Ok(Seen::New) => {}
                Err(ReplayError::KeyFull { .. }) => refused_key += 1,
                Err(ReplayError::Full { .. }) => refused_full += 1,
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(c.len(), 100);
        assert!(refused_key > 0 && refused_full > 0);
        // The very first session is still remembered: a replay of it is caught.
        let mut h0 = [0u8; 32];
        h0[..4].copy_from_slice(&0u32.to_be_bytes());
        let id0 = [0u8; 16];
        assert_eq!(
            c.check_and_insert(1, &h0, &id0, "a", 0, 60_000),
            Ok(Seen::Again)
        );
        // After expiry (expires_at + skew) room frees up.
        let r = c.check_and_insert(62_000, &[9; 32], &[9; 16], "a", 61_000, 70_000);
        assert_eq!(r, Ok(Seen::New));
        assert_eq!(c.len(), 1);
    }

    #[test]
    fn journal_round_trip_survives_restart() {
        let mut c = ReplayCache::new(cfg(10, 10));
        c.check_and_insert(0, &[1; 32], &[1; 16], "SHA256:x", 0, 5000)
            .unwrap();
        c.check_and_insert(0, &[2; 32], &[2; 16], "SHA256:y", 0, 100)
            .unwrap();
        let text = c.drain_journal().join("\n") + "\ntorn-li";
        let (mut c2, bad) = ReplayCache::load(cfg(10, 10), &text, 2000);
        assert_eq!(bad, vec![3]);
        assert_eq!(c2.len(), 1, "expired entry dropped");
        assert_eq!(
            c2.check_and_insert(2001, &[1; 32], &[1; 16], "SHA256:x", 0, 5000),
            Ok(Seen::Again)
        );
        assert_eq!(c2.snapshot_lines().len(), 1);
    }

    #[test]
    fn floor_refuses_older_sessions() {
        let mut c = ReplayCache::new(cfg(10, 10));
        c.set_floor(1000);
        assert_eq!(
            c.check_and_insert(0, &[1; 32], &[1; 16], "k", 999, 5000),
            Err(ReplayError::BeforeFloor)
        );
        assert_eq!(
            c.check_and_insert(0, &[1; 32], &[1; 16], "k", 1000, 5000),
            Ok(Seen::New)
        );
    }
}
