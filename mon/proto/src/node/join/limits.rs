//! Admission's budgets: the session table's shares (per node, key and slice), checked once a
//! session's signature has verified, and what one key's sessions may write to the audit log
//! per minute (issue 10: a listed key's sessions, refused or accepted, write at a bounded
//! rate). [`RecentSet`] remembers the sessions whose refusal was audited lately, so a
//! captured session replayed is junk.

use super::super::{Node, Output, AUDITED_REFUSALS_PER_KEY, AUDITED_SESSION_BYTES_PER_KEY};
use crate::refusal::Refusal;
use crate::wire::session::SessionHash;

/// What one key's verified sessions wrote to the audit log in one minute (issue 10: a
/// listed key's sessions, refused or accepted, write at a bounded rate).
#[derive(Debug)]
pub(crate) struct KeyMinute {
    start: u64,
    refusals: usize,
    accepted_bytes: usize,
}

impl KeyMinute {
    fn new(start: u64) -> KeyMinute {
        KeyMinute {
            start,
            refusals: 0,
            accepted_bytes: 0,
        }
    }
}

/// Session hashes whose refusal was audited lately, oldest forgotten first.
#[derive(Debug, Default)]
pub(crate) struct RecentSet {
    set: std::collections::HashSet<SessionHash>,
    order: std::collections::VecDeque<SessionHash>,
}

impl RecentSet {
    /// Hashes remembered at once (32 bytes each, twice).
    const CAP: usize = 4096;

    /// Remembers `h`; false if it was already there.
    pub(super) fn insert(&mut self, h: SessionHash) -> bool {
        if !self.set.insert(h) {
            return false;
        }
        self.order.push_back(h);
        if self.order.len() > Self::CAP {
            if let Some(old) = self.order.pop_front() {
                self.set.remove(&old);
            }
        }
        true
    }
}

impl Node {
    /// Whether a refusal of a verified session of `key_fp` may still be audited this minute
    /// ([`AUDITED_REFUSALS_PER_KEY`]); counts it.
    pub(super) fn refusal_audited(&mut self, now_ms: u64, key_fp: Option<&str>) -> bool {
        let Some(k) = key_fp else {
            return true;
        };
        let m = self.key_minute(now_ms, k);
        m.refusals += 1;
        m.refusals <= AUDITED_REFUSALS_PER_KEY
    }

    /// Whether key `k` may have `bytes` more of accepted sessions audited this minute
    /// ([`AUDITED_SESSION_BYTES_PER_KEY`]); charges them when it may.
    pub(super) fn accept_audited(&mut self, now_ms: u64, k: &str, bytes: usize) -> bool {
        let m = self.key_minute(now_ms, k);
        if m.accepted_bytes.saturating_add(bytes) > AUDITED_SESSION_BYTES_PER_KEY {
            return false;
        }
        m.accepted_bytes += bytes;
        true
    }

    /// Key `k`'s current minute of audit records.
    fn key_minute(&mut self, now_ms: u64, k: &str) -> &mut KeyMinute {
        const MINUTE_MS: u64 = 60_000;
        // Keys are verified ones (listed in a policy); forget finished minutes now and then.
        if self.audit_per_key.len() >= 4096 {
            self.audit_per_key
                .retain(|_, m| now_ms.saturating_sub(m.start) < MINUTE_MS);
        }
        let m = self
            .audit_per_key
            .entry(k.to_string())
            .or_insert_with(|| KeyMinute::new(now_ms));
        if now_ms.saturating_sub(m.start) >= MINUTE_MS {
            *m = KeyMinute::new(now_ms);
        }
        m
    }

    /// Makes room: forgets the finished session kept to answer stragglers that would be
    /// forgotten first (a push's is dropped by the driver too).
    fn evict_lingering(&mut self) {
        let lingering = self
            .sessions
            .iter()
            .filter_map(|(h, s)| s.forget_at.map(|f| (f, *h)))
            .min();
        if let Some((_, h)) = lingering {
            if let Some(s) = self.sessions.remove(&h) {
                if s.push.is_some() {
                    self.out.push_back(Output::PushDrop { session: h });
                }
            }
        }
    }

    /// Why the session table has no room for one more session of `key_fp` in `slice`, if it
    /// has none. Finished sessions kept only to answer stragglers make room first.
    pub(super) fn table_refusal(
        &mut self,
        key_fp: &str,
        slice: &str,
        interactive: bool,
    ) -> Option<(Refusal, String)> {
        const RETRY: &str = "a capacity limit, not the policy: retry in a few seconds";
        if self.sessions.len() >= self.cfg.max_sessions {
            self.evict_lingering();
        }
        if self.sessions.len() >= self.cfg.max_sessions {
            let n = self.cfg.max_sessions;
            return Some((
                Refusal::Busy,
                format!("this node runs {n} sessions, its limit ({RETRY})"),
            ));
        }
        if interactive {
            // Interactive sessions count whether a command runs or not: between commands
            // they still hold their overlay (and their slot) on every node.
            let held = self
                .sessions
                .values()
                .filter(|s| s.cmd.is_some() && s.key_fp == key_fp)
                .count();
            let most = self.cfg.max_interactive_per_key;
            if held >= most {
                return Some((
                    Refusal::BusyInteractive,
                    format!(
                        "this node holds {held} interactive sessions of key {key_fp}, the most \
                         one key may hold (end one: `exit` in its shell, or wait for its idle end)"
                    ),
                ));
            }
        }
        let running = self.sessions.values().filter(|s| s.forget_at.is_none());
        let (mut of_key, mut of_slice) = (0, 0);
        for s in running {
            of_key += usize::from(s.key_fp == key_fp);
            of_slice += usize::from(s.body.slice == slice);
        }
        if of_key >= self.cfg.max_sessions_per_key {
            return Some((
                Refusal::BusyKey,
                format!("this node runs {of_key} sessions of key {key_fp}, the share of one key ({RETRY})"),
            ));
        }
        if of_slice >= self.cfg.max_sessions_per_slice {
            return Some((
                Refusal::BusySlice,
                format!("this node runs {of_slice} sessions of slice {slice}, the share of one slice ({RETRY})"),
            ));
        }
        None
    }
}
