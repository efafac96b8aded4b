//! `mon audit fleet`: every node's audit records through the overlay, counted and merged
//! in-network (a session signed for `mon-audit@mon`).

use mon_proto::agg::audit::{AuditFilter, DEFAULT_AUDIT_LIMIT};
use mon_proto::agg::Query;
use time::OffsetDateTime;

use crate::client::{run_session, AnswerOpts, GlobalArgs};

/// Arguments of `mon audit fleet`. The client options follow as for every client command;
/// `--slice` is the slice whose policy decides and whose records are reviewed (a node returns
/// only the records of the session's slice), and `--principal` here filters the records (to
/// claim a principal, give it before the command: `mon --principal P audit fleet`).
#[derive(Debug, clap::Args)]
pub struct FleetArgs {
    /// Only records at or after this time: a duration back from now (`90s`, `15m`, `1h`,
    /// `2d`, `1w`) or an RFC 3339 time (`2025-03-01T12:00:00Z`).
    #[arg(long, value_name = "AGO|TIME")]
    pub since: Option<String>,
    /// Only this event (`session.deny`), or a whole category without a dot (`session`).
    #[arg(long, value_name = "E")]
    pub event: Option<String>,
    /// Only refusals: result `deny`, `*.deny` and `*.reject` events.
    #[arg(long)]
    pub denied: bool,
    /// How many of the newest matching records to show (1 to 100).
    #[arg(long, value_name = "N", default_value_t = DEFAULT_AUDIT_LIMIT)]
    pub limit: u32,
    #[command(flatten)]
    pub g: GlobalArgs,
}

/// The filter of an audit read from its flags (`now` for `--since AGO`), validated; shared
/// by the CLI and the console.
pub fn filter_of(
    since: Option<&str>,
    principal: Option<String>,
    event: Option<String>,
    denied: bool,
    limit: u32,
    now: OffsetDateTime,
) -> anyhow::Result<AuditFilter> {
    let since = since
        .map(|s| super::show::parse_since(s, now).map(crate::auditlog::format_ts))
        .transpose()?;
    let f = AuditFilter {
        since,
        slice: None,
        principal,
        event,
        denied,
        limit,
    };
    f.validate()
        .map_err(|e| anyhow::anyhow!("audit fleet: {e}"))?;
    Ok(f)
}

/// The query the arguments ask for (`now` for `--since AGO`), and the client options with
/// `--principal` taken out as a filter.
fn query(mut a: FleetArgs, now: OffsetDateTime) -> anyhow::Result<(Query, GlobalArgs)> {
    let principal = a.g.principal.take();
    let f = filter_of(
        a.since.as_deref(),
        principal,
        a.event,
        a.denied,
        a.limit,
        now,
    )?;
    Ok((Query::audit(f)?, a.g))
}

/// Runs the session and prints the answer; the exit code as for any query (1 also when a
/// node's chain did not verify).
pub fn run(top: GlobalArgs, a: FleetArgs) -> anyhow::Result<u8> {
    let (q, g) = query(a, OffsetDateTime::now_utc())?;
    let opts = top.then(g).resolve()?;
    run_session(&opts, "audit fleet", vec![q], &AnswerOpts::default())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn args(since: Option<&str>, principal: Option<&str>, limit: u32) -> FleetArgs {
        FleetArgs {
            since: since.map(str::to_string),
            event: None,
            denied: true,
            limit,
            g: GlobalArgs {
                principal: principal.map(str::to_string),
                ..GlobalArgs::default()
            },
        }
    }

    #[test]
    fn since_and_principal_become_the_filter() {
        let now = OffsetDateTime::from_unix_timestamp(1_740_830_400).unwrap(); // 2025-03-01T12:00Z
        let (q, g) = query(args(Some("1h"), Some("bob"), 5), now).unwrap();
        let Query::Audit(f) = q else { panic!() };
        assert_eq!(f.since.as_deref(), Some("2025-03-01T11:00:00.000Z"));
        assert_eq!(f.principal.as_deref(), Some("bob"));
        assert!(f.denied);
        assert_eq!(g.principal, None);
    }

    #[test]
    fn limits_are_checked_before_signing() {
        let now = OffsetDateTime::now_utc();
        assert!(query(args(None, None, 0), now).is_err());
        assert!(query(args(None, None, 101), now).is_err());
        assert!(query(args(Some("yesterday"), None, 5), now).is_err());
    }
}
