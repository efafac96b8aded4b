//! The cache's caps: global, per key and per slice, sized from the session limits.

use crate::verify::Limits;

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
