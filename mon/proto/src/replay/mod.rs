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

use sha2::{Digest as _, Sha256};

use crate::refusal::Refusal;
use crate::verify::Limits;
use crate::wire::session::SessionHash;

/// New sessions a second that one key can sustain indefinitely (the per-key cap is sized so).
pub const KEY_RATE_PER_S: u64 = 25;

/// Limits of the cache.
#[derive(Clone, Debug)]
pub struct ReplayConfig {
    /// Most sessions remembered at once.
    pub max_entries: usize,
    /// Most sessions remembered per signing key.
    pub max_per_key: usize,
    /// Most sessions remembered per slice (default: half of `max_entries`, so one slice's
    /// keys can never take the whole cache).
    pub max_per_slice: usize,
    /// Clock skew allowance in ms (retention is `expires_at + skew`).
    pub skew_ms: u64,
}

impl ReplayConfig {
    /// Caps for sessions checked under `limits`: the per-key cap holds [`KEY_RATE_PER_S`]
    /// sessions a second over the longest retention, the global cap eight such keys, the
    /// per-slice cap half the global cap (four such keys).
    pub fn for_limits(limits: &Limits) -> ReplayConfig {
        let retention_s = limits
            .max_join_window_ms
            .saturating_add(limits.skew_ms.saturating_mul(2))
            / 1000;
        let per_key = usize::try_from(KEY_RATE_PER_S.saturating_mul(retention_s.max(1)))
            .unwrap_or(usize::MAX);
        let max_entries = per_key.saturating_mul(8);
        ReplayConfig {
            max_entries,
            max_per_key: per_key,
            max_per_slice: max_entries / 2,
            skew_ms: limits.skew_ms,
        }
    }
}

impl Default for ReplayConfig {
    fn default() -> Self {
        ReplayConfig::for_limits(&Limits::default())
    }
}

/// 16 bytes of a SHA-256 digest.
type Digest16 = [u8; 16];

#[derive(Clone, Debug)]
struct Entry {
    /// Digest of (key, session id): the equivocation index.
    id: Digest16,
    /// Digest of the key: the per-key count.
    owner: Digest16,
    /// Digest of the slice: the per-slice count (`None`: read from a journal line written
    /// before slices were recorded; counts against no slice).
    slice: Option<Digest16>,
    retain_until: u64,
}

fn digest16(parts: &[&[u8]]) -> Digest16 {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_be_bytes());
        h.update(p);
    }
    let d = h.finalize();
    let mut out = [0u8; 16];
    out.copy_from_slice(&d[..16]);
    out
}

fn owner_digest(key_fp: &str) -> Digest16 {
    digest16(&[b"mon-replay-key", key_fp.as_bytes()])
}

fn slice_digest(slice: &str) -> Digest16 {
    digest16(&[b"mon-replay-slice", slice.as_bytes()])
}

fn id_digest(key_fp: &str, session_id: &[u8; 16]) -> Digest16 {
    digest16(&[b"mon-replay-id", key_fp.as_bytes(), session_id])
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
    /// Same key and session id, different body.
    #[error("session id reused with a different body (equivocation)")]
    Equivocation,
    /// The cache holds `cap` live sessions: a capacity limit, not a policy decision.
    #[error(
        "this node remembers {cap} live sessions, its limit (a capacity limit, not the policy): \
         retry in {retry_s} s"
    )]
    Full {
        /// The global cap.
        cap: usize,
        /// Seconds until the first entry expires.
        retry_s: u64,
    },
    /// This key holds `cap` live sessions: a rate limit, not a policy decision.
    #[error(
        "key {key_fp} has {cap} live sessions on this node, the per-key limit (a rate limit, \
         not the policy): retry in {retry_s} s"
    )]
    KeyFull {
        /// The key.
        key_fp: String,
        /// The per-key cap.
        cap: usize,
        /// Seconds until one of the key's entries expires (at most).
        retry_s: u64,
    },
    /// This slice holds `cap` live sessions: its share of the cache, not a policy decision.
    #[error(
        "slice {slice} has {cap} live sessions on this node, the share of one slice (a \
         capacity limit, not the policy): retry in {retry_s} s"
    )]
    SliceFull {
        /// The slice.
        slice: String,
        /// The per-slice cap.
        cap: usize,
        /// Seconds until one of the slice's entries expires (at most).
        retry_s: u64,
    },
    /// The node lost its replay state and refuses sessions issued before it can be sure.
    #[error("session issued before this node's replay floor (replay state was lost)")]
    BeforeFloor,
}

impl ReplayError {
    /// The session refusal it is.
    pub fn refusal(&self) -> Refusal {
        match self {
            ReplayError::Equivocation => Refusal::Equivocation,
            ReplayError::Full { .. } => Refusal::ReplayCacheFull,
            ReplayError::KeyFull { .. } => Refusal::ReplayCacheKeyFull,
            ReplayError::SliceFull { .. } => Refusal::ReplayCacheSliceFull,
            ReplayError::BeforeFloor => Refusal::ReplayFloor,
        }
    }

    /// Stable reason code ([`Refusal::code`]).
    pub fn code(&self) -> &'static str {
        self.refusal().code()
    }
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
        let secs = |until: u64| until.saturating_sub(now_ms).div_ceil(1000).max(1);
        // The slice's share first: a slice at its share hears so, not that the node is full.
        let slice_d = slice_digest(slice);
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
        let owner = owner_digest(key_fp);
        if self.per_key.get(&owner).copied().unwrap_or(0) >= self.config.max_per_key {
            let first = self.first_expiry(|e| e.owner == owner, now_ms);
            return Err(ReplayError::KeyFull {
                key_fp: key_fp.to_string(),
                cap: self.config.max_per_key,
                retry_s: secs(first),
            });
        }
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

fn line(hash: &SessionHash, e: &Entry) -> String {
    let mut l = format!(
        "{} {} {} {}",
        hex(hash),
        e.retain_until,
        hex(&e.owner),
        hex(&e.id)
    );
    if let Some(s) = e.slice {
        l.push(' ');
        l.push_str(&hex(&s));
    }
    l
}

fn parse_line(text: &str) -> Option<(SessionHash, Entry)> {
    let f: Vec<&str> = text.split(' ').collect();
    if let [a, b, c, d, s] = f.as_slice() {
        return Some((
            unhex::<32>(a)?,
            Entry {
                retain_until: b.parse().ok()?,
                owner: unhex::<16>(c)?,
                id: unhex::<16>(d)?,
                slice: Some(unhex::<16>(s)?),
            },
        ));
    }
    let [a, b, c, d] = f.as_slice() else {
        return None;
    };
    let h = unhex::<32>(a)?;
    if let Ok(until) = b.parse::<u64>() {
        // The previous format: no slice digest.
        return Some((
            h,
            Entry {
                retain_until: until,
                owner: unhex::<16>(c)?,
                id: unhex::<16>(d)?,
                slice: None,
            },
        ));
    }
    // The older format: session id and key fingerprint in the clear.
    let sid = unhex::<16>(b)?;
    let until: u64 = c.parse().ok()?;
    if d.is_empty() || d.len() > 128 {
        return None;
    }
    Some((
        h,
        Entry {
            retain_until: until,
            owner: owner_digest(d),
            id: id_digest(d, &sid),
            slice: None,
        },
    ))
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
            max_per_slice: usize::MAX,
            skew_ms: 1000,
        }
    }

    #[test]
    fn new_then_again_never_rerun() {
        let mut c = ReplayCache::new(cfg(10, 10));
        let r = c.check_and_insert(0, &[1; 32], &[1; 16], "k", "s", 0, 5000);
        assert_eq!(r, Ok(Seen::New));
        let r = c.check_and_insert(10, &[1; 32], &[1; 16], "k", "s", 0, 5000);
        assert_eq!(r, Ok(Seen::Again));
    }

    #[test]
    fn same_id_other_body_is_equivocation() {
        let mut c = ReplayCache::new(cfg(10, 10));
        c.check_and_insert(0, &[1; 32], &[1; 16], "k", "s", 0, 5000)
            .unwrap();
        let r = c.check_and_insert(0, &[2; 32], &[1; 16], "k", "s", 0, 5000);
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
            match c.check_and_insert(0, &h, &id, key, "s", 0, 60_000) {
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
            c.check_and_insert(1, &h0, &id0, "a", "s", 0, 60_000),
            Ok(Seen::Again)
        );
        // After expiry (expires_at + skew) room frees up.
        let r = c.check_and_insert(62_000, &[9; 32], &[9; 16], "a", "s", 61_000, 70_000);
        assert_eq!(r, Ok(Seen::New));
        assert_eq!(c.len(), 1);
    }

    #[test]
    fn journal_round_trip_survives_restart() {
        let mut c = ReplayCache::new(cfg(10, 10));
        c.check_and_insert(0, &[1; 32], &[1; 16], "SHA256:x", "s", 0, 5000)
            .unwrap();
        c.check_and_insert(0, &[2; 32], &[2; 16], "SHA256:y", "s", 0, 100)
            .unwrap();
        let text = c.drain_journal().join("\n") + "\ntorn-li";
        let (mut c2, bad) = ReplayCache::load(cfg(10, 10), &text, 2000);
        assert_eq!(bad, vec![3]);
        assert_eq!(c2.len(), 1, "expired entry dropped");
        assert_eq!(
            c2.check_and_insert(2001, &[1; 32], &[1; 16], "SHA256:x", "s", 0, 5000),
            Ok(Seen::Again)
        );
        assert_eq!(c2.snapshot_lines().len(), 1);
    }

    #[test]
    fn session_ids_are_per_key() {
        let mut c = ReplayCache::new(cfg(10, 10));
        // Mallory registers the session id alice is about to use: alice is not refused.
        c.check_and_insert(0, &[1; 32], &[7; 16], "SHA256:mallory", "s", 0, 5000)
            .unwrap();
        let r = c.check_and_insert(0, &[2; 32], &[7; 16], "SHA256:alice", "s", 0, 5000);
        assert_eq!(r, Ok(Seen::New));
        // Alice's own id with another body is equivocation.
        let r = c.check_and_insert(0, &[3; 32], &[7; 16], "SHA256:alice", "s", 0, 5000);
        assert_eq!(r, Err(ReplayError::Equivocation));
    }

    /// One key starting 20 sessions a second for three hours, each with the longest join
    /// window and `issued_at` a full skew ahead (the longest retention), is never refused,
    /// and the cache stays within its per-key cap.
    #[test]
    fn one_key_sustains_twenty_sessions_a_second() {
        let limits = Limits::default();
        let cfg = ReplayConfig::for_limits(&limits);
        let mut c = ReplayCache::new(cfg.clone());
        let mut most = 0;
        for i in 0..(3 * 3600 * 20u64) {
            let now = 1_000_000 + i * 50;
            let issued = now + limits.skew_ms;
            let expires = issued + limits.max_join_window_ms;
            let mut h = [0u8; 32];
            h[..8].copy_from_slice(&i.to_be_bytes());
            let mut id = [0u8; 16];
            id[..8].copy_from_slice(&i.to_be_bytes());
            let r = c.check_and_insert(now, &h, &id, "SHA256:monitor", "s", issued, expires);
            assert_eq!(r, Ok(Seen::New), "session {i} refused");
            most = most.max(c.len());
        }
        assert!(most <= cfg.max_per_key, "{most} > {}", cfg.max_per_key);
        c.drain_journal();
    }

    #[test]
    fn refusals_say_it_is_a_limit_and_when_to_retry() {
        let mut c = ReplayCache::new(cfg(100, 2));
        c.check_and_insert(0, &[1; 32], &[1; 16], "k", "s", 0, 9_000)
            .unwrap();
        c.check_and_insert(0, &[2; 32], &[2; 16], "k", "s", 0, 20_000)
            .unwrap();
        let e = c
            .check_and_insert(500, &[3; 32], &[3; 16], "k", "s", 0, 9_000)
            .unwrap_err();
        assert_eq!(e.code(), "replay-cache-key-full");
        let text = e.to_string();
        // The first of the key's entries goes at 9 000 + skew 1 000 ms.
        assert!(text.contains("retry in 10 s"), "{text}");
        assert!(text.contains("not the policy"), "{text}");
        let mut c = ReplayCache::new(cfg(1, 10));
        c.check_and_insert(0, &[1; 32], &[1; 16], "a", "s", 0, 4_000)
            .unwrap();
        let e = c
            .check_and_insert(0, &[2; 32], &[2; 16], "b", "s", 0, 4_000)
            .unwrap_err();
        assert_eq!(e.code(), "replay-cache-full");
        assert!(e.to_string().contains("retry in 5 s"), "{e}");
    }

    /// One slice's keys fill only the slice's share: another slice's user is still admitted,
    /// and the share survives a restart from the journal.
    #[test]
    fn one_slice_cannot_fill_the_cache() {
        let limits = Limits::default();
        let d = ReplayConfig::for_limits(&limits);
        assert_eq!(d.max_per_slice, d.max_entries / 2);
        let cfg = ReplayConfig {
            max_entries: 8,
            max_per_key: 2,
            max_per_slice: 4,
            skew_ms: 1000,
        };
        let mut c = ReplayCache::new(cfg.clone());
        let mut refused = Vec::new();
        for i in 0..8u8 {
            let key = format!("SHA256:k{}", i / 2);
            match c.check_and_insert(
                0,
                &[i; 32],
                &[i; 16],
                &key,
                "other",
                0,
                4_000 + u64::from(i),
            ) {
                Ok(Seen::New) => {}
                Err(e) => refused.push(e),
                Ok(Seen::Again) => panic!("not seen before"),
            }
        }
        assert_eq!(c.len(), 4);
        assert_eq!(refused.len(), 4);
        let e = &refused[0];
        assert_eq!(e.code(), "replay-cache-slice-full");
        assert!(e.to_string().contains("slice other"), "{e}");
        assert!(e.to_string().contains("retry in 5 s"), "{e}");
        assert!(e.to_string().contains("not the policy"), "{e}");
        assert_eq!(
            c.check_and_insert(0, &[20; 32], &[20; 16], "SHA256:alice", "mine", 0, 4_000),
            Ok(Seen::New)
        );
        // Reloaded from the journal, the slice still holds its share.
        let text = c.drain_journal().join("\n");
        let (mut c2, bad) = ReplayCache::load(cfg, &text, 0);
        assert!(bad.is_empty());
        assert_eq!(
            c2.check_and_insert(0, &[30; 32], &[30; 16], "SHA256:k9", "other", 0, 4_000)
                .map_err(|e| e.code()),
            Err("replay-cache-slice-full")
        );
        // After the slice's entries expire, it is admitted again.
        assert_eq!(
            c2.check_and_insert(
                5_100,
                &[30; 32],
                &[30; 16],
                "SHA256:k9",
                "other",
                5_000,
                9_000
            ),
            Ok(Seen::New)
        );
    }

    #[test]
    fn older_journal_lines_are_read() {
        let old = format!("{} {} 5000 SHA256:x\n", hex(&[1; 32]), hex(&[1; 16]));
        // The previous format (no slice digest) too.
        let prev = format!(
            "{} 5000 {} {}\n",
            hex(&[3; 32]),
            hex(&owner_digest("SHA256:x")),
            hex(&id_digest("SHA256:x", &[3; 16]))
        );
        let old = old + &prev;
        let (mut c, bad) = ReplayCache::load(cfg(10, 10), &old, 10);
        assert_eq!(c.len(), 2);
        assert_eq!(
            c.check_and_insert(11, &[4; 32], &[3; 16], "SHA256:x", "s", 0, 4000),
            Err(ReplayError::Equivocation)
        );
        assert!(bad.is_empty());
        assert_eq!(
            c.check_and_insert(11, &[1; 32], &[1; 16], "SHA256:x", "s", 0, 4000),
            Ok(Seen::Again)
        );
        assert_eq!(
            c.check_and_insert(11, &[2; 32], &[1; 16], "SHA256:x", "s", 0, 4000),
            Err(ReplayError::Equivocation)
        );
    }

    #[test]
    fn floor_refuses_older_sessions() {
        let mut c = ReplayCache::new(cfg(10, 10));
        c.set_floor(1000);
        assert_eq!(
            c.check_and_insert(0, &[1; 32], &[1; 16], "k", "s", 999, 5000),
            Err(ReplayError::BeforeFloor)
        );
        assert_eq!(
            c.check_and_insert(0, &[1; 32], &[1; 16], "k", "s", 1000, 5000),
            Ok(Seen::New)
        );
    }
}
