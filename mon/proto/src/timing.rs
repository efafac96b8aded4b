//! Session timing: the one derivation of a session's signed lifetime, join window and budget
//! from the timeout the user asked for, and of a session link's retransmission timeout from
//! its round trip ([`link_rto_ms`]).
//!
//! Used by the client (queries and push) and the simulator, so that what is simulated is what
//! the client signs. The only difference between a query and a push is the [`SessionKind`]
//! parameter, whose documented margins are below; there is no second formula.

/// Seconds a query session may outlive its timeout (stragglers, result delivery).
pub const QUERY_LIFETIME_MARGIN_S: u32 = 60;
/// Seconds a push session may outlive its timeout: nodes still landing (fsync, rename) and
/// reporting up a long first-parent chain when the timeout ends.
pub const PUSH_LIFETIME_MARGIN_S: u32 = 120;
/// Milliseconds the join window runs past the timeout (a node reached late may still join).
pub const JOIN_MARGIN_MS: u64 = 5_000;
/// Cap on the part of a push's join window that follows its timeout, ms: the staircase reaches
/// every node within seconds, so a long push (up to an hour) does not keep its signed session
/// joinable (and replayable into new nodes) for all that time.
pub const PUSH_JOIN_CAP_MS: u64 = 300_000;

/// An interactive session (`mon shell`) that ran no command for this long ends on every
/// node (each counts from the last command it saw), ms; it ends at its signed lifetime
/// (`max_lifetime_s` after its signed `issued_at`) in any case.
pub const SESSION_IDLE_MS: u64 = 10 * 60_000;

/// The signed lifetime of an interactive session (`mon shell`): what the client asks for
/// and the longest a server accepts by default
/// ([`crate::verify::Limits::max_interactive_lifetime_s`]), shorter than a one-shot
/// session's bound ([`crate::verify::DEFAULT_MAX_LIFETIME_S`]) since an interactive session
/// holds a slot of its key's on every node between commands; the idle timeout
/// ([`SESSION_IDLE_MS`]) usually ends it first.
pub const INTERACTIVE_LIFETIME_S: u32 = 900;

/// How many times a duplicate of an interactive session's last Command gets its result
/// again, at least one RTO apart (a client that lost the result asks again; a replayed
/// frame cannot make a node send more).
pub const DUPLICATE_RESENDS: u32 = 3;

/// The join window signed for an interactive session, ms: the longest a server accepts by
/// default ([`crate::verify::Limits`]). At each follow-up Command the entry node offers the
/// session again to the roster nodes the overlay missed (down at set-up, or cut off since);
/// they may join within this window only.
pub const INTERACTIVE_JOIN_WINDOW_MS: u64 = crate::verify::DEFAULT_MAX_JOIN_WINDOW_MS;

/// The last moment (unix ms, node clock) a node may start a session's own operations (those
/// of its signed body) or a follow-up Command's (`issued_at` then the Command's own): the
/// client stops waiting for them `timeout_ms` after the signed `issued_at`; `skew_ms` (the
/// clock skew admission allows) keeps a node whose clock runs ahead from skipping them. A go
/// or Command after this (a node that joined an interactive session late, at a re-offer; a
/// Command a compromised relay held back) starts nothing: an exec would begin minutes after
/// the user asked for it.
pub fn own_ops_deadline_ms(issued_at: u64, timeout_ms: u32, skew_ms: u64) -> u64 {
    issued_at
        .saturating_add(u64::from(timeout_ms))
        .saturating_add(skew_ms)
}

/// Least retransmission timeout of a session packet, ms.
pub const RTO_MIN_MS: u64 = 60;
/// What a link's retransmission timeout allows past 1.5 round trips: the far end's work
/// (a Session offer costs its child a signature check and a key exchange), ms.
pub const RTO_SLACK_MS: u64 = 30;

/// The retransmission timeout of a session packet (an offer, a SessionOk awaiting its go, a
/// result) on a link whose smoothed round trip gossip measured as `rtt_ms`: 1.5 round trips
/// plus [`RTO_SLACK_MS`], at least [`RTO_MIN_MS`] and at most `default_ms` (the node's
/// configured RTO, also used when the round trip is unknown). A near child that is down is
/// then given up after `retries + 1` short timeouts instead of long ones; a retransmission
/// sent before a far answer could arrive costs one packet and a duplicate answer.
pub fn link_rto_ms(rtt_ms: Option<f64>, default_ms: u64) -> u64 {
    match rtt_ms {
        Some(r) if r.is_finite() && r >= 0.0 => {
            ((r * 1.5) as u64 + RTO_SLACK_MS).clamp(RTO_MIN_MS.min(default_ms), default_ms)
        }
        _ => default_ms,
    }
}

/// What kind of session the timing is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionKind {
    /// Queries (`mon count`, `exec`, `members`, …).
    Query,
    /// `mon push`.
    Push,
}

impl SessionKind {
    /// The timeout when the user gives none, s (10 s for queries, 600 s for a push).
    pub fn default_timeout_s(self) -> f64 {
        match self {
            SessionKind::Query => 10.0,
            SessionKind::Push => 600.0,
        }
    }

    /// The timeouts the client accepts, s.
    pub fn timeout_range_s(self) -> std::ops::RangeInclusive<f64> {
        match self {
            SessionKind::Query => 0.1..=3600.0,
            SessionKind::Push => 1.0..=3600.0,
        }
    }
}

/// The timing a session is signed with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionTiming {
    /// The query timeout (also the entry node's budget), ms.
    pub timeout_ms: u32,
    /// The session's signed lifetime, s.
    pub max_lifetime_s: u32,
    /// How long after `issued_at` nodes may still join, ms (`expires_at − issued_at`).
    pub join_window_ms: u64,
}

impl SessionTiming {
    /// Derives the timing from the user's timeout in ms:
    /// lifetime = timeout (whole seconds) + the kind's margin ([`QUERY_LIFETIME_MARGIN_S`],
    /// [`PUSH_LIFETIME_MARGIN_S`]); join window = timeout (capped at [`PUSH_JOIN_CAP_MS`] for
    /// a push) + [`JOIN_MARGIN_MS`]; budget = timeout.
    pub fn from_timeout(timeout_ms: u32, kind: SessionKind) -> SessionTiming {
        let (lifetime_margin_s, join_cap_ms) = match kind {
            SessionKind::Query => (QUERY_LIFETIME_MARGIN_S, u64::MAX),
            SessionKind::Push => (PUSH_LIFETIME_MARGIN_S, PUSH_JOIN_CAP_MS),
        };
        SessionTiming {
            timeout_ms,
            max_lifetime_s: (timeout_ms / 1000).saturating_add(lifetime_margin_s),
            join_window_ms: u64::from(timeout_ms).min(join_cap_ms) + JOIN_MARGIN_MS,
        }
    }

    /// [`SessionTiming::from_timeout`] for a query.
    pub fn query(timeout_ms: u32) -> SessionTiming {
        SessionTiming::from_timeout(timeout_ms, SessionKind::Query)
    }

    /// The budget the entry node gets for the session, ms (the timeout).
    pub fn budget_ms(&self) -> u32 {
        self.timeout_ms
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_rto_follows_its_round_trip_within_bounds() {
        assert_eq!(link_rto_ms(None, 250), 250);
        assert_eq!(link_rto_ms(Some(f64::NAN), 250), 250);
        assert_eq!(link_rto_ms(Some(0.1), 250), RTO_MIN_MS);
        assert_eq!(link_rto_ms(Some(100.0), 250), 180);
        assert_eq!(link_rto_ms(Some(400.0), 250), 250);
        // Never above the node's configured RTO, even when that is below the floor.
        assert_eq!(link_rto_ms(Some(100.0), 40), 40);
    }

    #[test]
    fn query_and_push_timing_keep_the_constants_they_had() {
        let q = SessionTiming::from_timeout(10_000, SessionKind::Query);
        assert_eq!(
            (q.max_lifetime_s, q.join_window_ms, q.budget_ms()),
            (70, 15_000, 10_000)
        );
        let q = SessionTiming::from_timeout(1_500, SessionKind::Query);
        assert_eq!((q.max_lifetime_s, q.join_window_ms), (61, 6_500));
        let p = SessionTiming::from_timeout(600_000, SessionKind::Push);
        assert_eq!((p.max_lifetime_s, p.join_window_ms), (720, 305_000));
        let p = SessionTiming::from_timeout(60_000, SessionKind::Push);
        assert_eq!((p.max_lifetime_s, p.join_window_ms), (180, 65_000));
    }
}
