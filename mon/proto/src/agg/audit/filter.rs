//! [`AuditFilter`]: which records `audit fleet` asks every node for, its limits and matching.

use serde::{Deserialize, Serialize};

use super::{MAX_AUDIT_FIELD, MAX_AUDIT_LIMIT};
use crate::audit::AuditRecord;

/// The filter of an `audit fleet` query. Every field is optional; a record matches when it
/// passes all given.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditFilter {
    /// Only records at or after this time, written as the servers write `ts`
    /// (`YYYY-MM-DDTHH:MM:SS.mmmZ`, UTC); the client turns `--since 1h` into it.
    pub since: Option<String>,
    /// Only records of this slice.
    pub slice: Option<String>,
    /// Only records of this principal.
    pub principal: Option<String>,
    /// Only this event (`session.deny`), or a category without a dot (`session`).
    pub event: Option<String>,
    /// Only refusals: result `deny`, `*.deny` and `*.reject` events.
    pub denied: bool,
    /// How many of the newest matching records to return, 1 to [`MAX_AUDIT_LIMIT`].
    pub limit: u32,
}

/// `--event E` matches the event `E`, or every event of category `E` (`session` matches
/// `session.accept`).
pub fn event_matches(want: &str, event: &str) -> bool {
    let category = !want.contains('.')
        && event
            .strip_prefix(want)
            .is_some_and(|rest| rest.starts_with('.'));
    event == want || category
}

/// Whether `ts` is written as the servers write it: `YYYY-MM-DDTHH:MM:SS.mmmZ`.
fn is_server_ts(ts: &str) -> bool {
    let b = ts.as_bytes();
    b.len() == 24
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b'T',
            13 | 16 => *c == b':',
            19 => *c == b'.',
            23 => *c == b'Z',
            _ => c.is_ascii_digit(),
        })
}

/// A filter string: non-empty, at most [`MAX_AUDIT_FIELD`] bytes, no control character.
fn check_text(what: &str, v: &Option<String>) -> Result<(), String> {
    match v {
        Some(s) if s.is_empty() || s.len() > MAX_AUDIT_FIELD || s.chars().any(char::is_control) => {
            Err(format!(
                "--{what} must be 1 to {MAX_AUDIT_FIELD} bytes without control characters"
            ))
        }
        _ => Ok(()),
    }
}

impl AuditFilter {
    /// Checks the limits (also on every node, for a filter received from the network).
    pub fn validate(&self) -> Result<(), String> {
        if self.limit == 0 || self.limit > MAX_AUDIT_LIMIT {
            return Err(format!(
                "--limit must be between 1 and {MAX_AUDIT_LIMIT}, got {}",
                self.limit
            ));
        }
        if self.since.as_deref().is_some_and(|t| !is_server_ts(t)) {
            return Err("since must be a UTC time written YYYY-MM-DDTHH:MM:SS.mmmZ".into());
        }
        check_text("slice", &self.slice)?;
        check_text("principal", &self.principal)?;
        check_text("event", &self.event)
    }

    /// Whether a record passes the filter. Records are compared by their `ts` text, which
    /// the servers write in one fixed-width UTC form (so text order is time order).
    pub fn matches(&self, r: &AuditRecord) -> bool {
        fn eq(want: &Option<String>, have: &Option<String>) -> bool {
            want.is_none() || want.as_deref() == have.as_deref()
        }
        if self.since.as_deref().is_some_and(|s| r.ts.as_str() < s) {
            return false;
        }
        if self
            .event
            .as_deref()
            .is_some_and(|e| !event_matches(e, &r.event))
        {
            return false;
        }
        eq(&self.slice, &r.slice)
            && eq(&self.principal, &r.principal)
            && (!self.denied || r.is_denied())
    }

    /// The filter as arguments, for the `op.start` record of the read (`--denied`,
    /// `--since T`, …).
    pub fn describe(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (flag, v) in [
            ("--since", &self.since),
            ("--slice", &self.slice),
            ("--principal", &self.principal),
            ("--event", &self.event),
        ] {
            if let Some(v) = v {
                out.push(flag.to_string());
                out.push(v.clone());
            }
        }
        if self.denied {
            out.push("--denied".into());
        }
        out.push("--limit".into());
        out.push(self.limit.to_string());
        out
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn rec(ts: &str, event: &str, result: Option<&str>) -> AuditRecord {
        let line = format!(
            r#"{{"v":1,"log_id":"00","seq":0,"ts":"{ts}","node":"n1","event":"{event}"{},"slice":"lab","principal":"alice","prev":"0","hash":"0"}}"#,
            result
                .map(|r| format!(r#","result":"{r}""#))
                .unwrap_or_default()
        );
        AuditRecord::parse(&line).unwrap()
    }

    #[test]
    fn limits() {
        let ok = AuditFilter {
            limit: 1,
            ..AuditFilter::default()
        };
        assert!(ok.validate().is_ok());
        for bad in [
            AuditFilter {
                limit: 0,
                ..ok.clone()
            },
            AuditFilter {
                limit: MAX_AUDIT_LIMIT + 1,
                ..ok.clone()
            },
            AuditFilter {
                since: Some("2025-01-01".into()),
                ..ok.clone()
            },
            AuditFilter {
                slice: Some(String::new()),
                ..ok.clone()
            },
            AuditFilter {
                principal: Some("x".repeat(MAX_AUDIT_FIELD + 1)),
                ..ok.clone()
            },
            AuditFilter {
                event: Some("a\nb".into()),
                ..ok.clone()
            },
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
        }
        let since = AuditFilter {
            since: Some("2025-03-01T12:00:00.000Z".into()),
            ..ok
        };
        assert!(since.validate().is_ok());
    }

    #[test]
    fn matching() {
        let f = AuditFilter {
            since: Some("2025-03-01T12:00:00.000Z".into()),
            event: Some("session".into()),
            denied: true,
            limit: 10,
            ..AuditFilter::default()
        };
        assert!(f.matches(&rec(
            "2025-03-01T12:00:00.000Z",
            "session.deny",
            Some("deny")
        )));
        assert!(!f.matches(&rec(
            "2025-03-01T11:59:59.999Z",
            "session.deny",
            Some("deny")
        )));
        assert!(!f.matches(&rec(
            "2025-03-01T12:00:01.000Z",
            "session.accept",
            Some("allow")
        )));
        assert!(!f.matches(&rec("2025-03-01T12:00:01.000Z", "op.deny", Some("deny"))));
        let p = AuditFilter {
            principal: Some("bob".into()),
            limit: 10,
            ..AuditFilter::default()
        };
        assert!(!p.matches(&rec("2025-03-01T12:00:01.000Z", "op.deny", None)));
    }
}
