//! `mon audit show`: filtered records as an aligned table or as the original JSON lines.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use mon_proto::agg::audit::event_matches;
use mon_proto::audit::AuditRecord;
use mon_proto::shown::shown;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::auditlog::RawLine;
use crate::exit;
use crate::out::errln;

/// Arguments of `mon audit show`.
#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    /// The log file, or a state dir (its audit.jsonl and rotated files, oldest first)
    /// [default: ./audit.jsonl].
    pub path: Option<PathBuf>,
    /// Only records at or after this time: a duration back from now (`90s`, `15m`, `1h`, `2d`,
    /// `1w`) or an RFC 3339 time (`2025-03-01T12:00:00Z`).
    #[arg(long, value_name = "AGO|TIME")]
    pub since: Option<String>,
    /// Only records of this slice.
    #[arg(long, value_name = "S")]
    pub slice: Option<String>,
    /// Only records of this principal.
    #[arg(long, value_name = "P")]
    pub principal: Option<String>,
    /// Only records of this key fingerprint (`SHA256:…`; the prefix may be left out).
    #[arg(long, value_name = "FP")]
    pub key: Option<String>,
    /// Only this event (`session.deny`), or a whole category without a dot (`session`).
    #[arg(long, value_name = "E")]
    pub event: Option<String>,
    /// Only refusals: result `deny`, `*.deny` and `*.reject` events.
    #[arg(long)]
    pub denied: bool,
    /// Only records of this session id (hex; a prefix is enough).
    #[arg(long, value_name = "ID")]
    pub session: Option<String>,
    /// Print the matching records as JSON lines, unchanged.
    #[arg(long)]
    pub json: bool,
}

/// The filters, parsed.
struct Filter {
    since: Option<OffsetDateTime>,
    slice: Option<String>,
    principal: Option<String>,
    key: Option<String>,
    event: Option<String>,
    denied: bool,
    session: Option<String>,
}

impl Filter {
    fn from_args(a: &ShowArgs, now: OffsetDateTime) -> anyhow::Result<Filter> {
        let since = a
            .since
            .as_deref()
            .map(|s| parse_since(s, now))
            .transpose()?;
        let key = a.key.as_ref().map(|k| {
            if k.starts_with("SHA256:") {
                k.clone()
            } else {
                format!("SHA256:{k}")
            }
        });
        Ok(Filter {
            since,
            slice: a.slice.clone(),
            principal: a.principal.clone(),
            key,
            event: a.event.clone(),
            denied: a.denied,
            session: a.session.as_ref().map(|s| s.to_ascii_lowercase()),
        })
    }

    fn matches(&self, r: &AuditRecord) -> bool {
        fn eq(want: &Option<String>, have: &Option<String>) -> bool {
            want.is_none() || want.as_deref() == have.as_deref()
        }
        if let Some(since) = self.since {
            match OffsetDateTime::parse(&r.ts, &Rfc3339) {
                Ok(t) if t >= since => {}
                _ => return false,
            }
        }
        if self
            .event
            .as_ref()
            .is_some_and(|e| !event_matches(e, &r.event))
        {
            return false;
        }
        if let Some(s) = &self.session {
            if !r.session_id.as_deref().is_some_and(|id| id.starts_with(s)) {
                return false;
            }
        }
        eq(&self.slice, &r.slice)
            && eq(&self.principal, &r.principal)
            && eq(&self.key, &r.key_fp)
            && (!self.denied || r.is_denied())
    }
}

/// Parses `--since`: `<n>s|m|h|d|w` back from `now`, or an RFC 3339 time.
pub(super) fn parse_since(s: &str, now: OffsetDateTime) -> anyhow::Result<OffsetDateTime> {
    if let Ok(t) = OffsetDateTime::parse(s, &Rfc3339) {
        return Ok(t);
    }
    let bad = || {
        anyhow::anyhow!(
            "--since {s:?}: expected a duration like 90s, 15m, 1h, 2d, 1w or an RFC 3339 time \
             like 2025-03-01T12:00:00Z"
        )
    };
    let secs = crate::units::parse_duration_s(s)
        .and_then(|v| i64::try_from(v).ok())
        .ok_or_else(bad)?;
    now.checked_sub(time::Duration::seconds(secs))
        .ok_or_else(bad)
}

/// Prints the matching records.
pub fn run(args: ShowArgs) -> anyhow::Result<u8> {
    let filter = Filter::from_args(&args, OffsetDateTime::now_utc())?;
    let given = args.path.clone().unwrap_or_else(super::default_log);
    let path = given.as_path();
    let mut found = Found::default();
    for file in super::log_files(path)? {
        let mut reader = super::open_file(&file)?;
        while let Some(line) = reader
            .next_line()
            .with_context(|| format!("cannot read audit log {}", file.display()))?
        {
            found.take(&file, &line, &filter, args.json);
        }
    }
    if found.skipped > 0 {
        errln!(
            "{} line(s) skipped; check the log with `mon audit verify {}`",
            found.skipped,
            path.display()
        );
    }
    if found.rows.is_empty() && found.raw.is_empty() {
        errln!("no matching records in {}", path.display());
        return Ok(exit::OK);
    }
    super::with_stdout(|out| {
        if args.json {
            // The records as logged (their bytes, which the chain hashes), but on a terminal
            // with the characters `shown` escapes written as `\uXXXX` (the same values).
            let terminal = crate::out::stdout_is_terminal();
            for l in &found.raw {
                if terminal {
                    writeln!(out, "{}", mon_proto::shown::shown_json(l))?;
                } else {
                    writeln!(out, "{l}")?;
                }
            }
            Ok(())
        } else {
            write_table(out, &found.rows)
        }
    })?;
    Ok(exit::OK)
}

/// The matching records read so far: table rows, or the lines themselves for `--json`.
#[derive(Default)]
struct Found {
    rows: Vec<[String; 8]>,
    raw: Vec<String>,
    /// Lines that are not audit records (each reported on stderr).
    skipped: usize,
}

impl Found {
    /// Takes one log line: skips (and reports) what is not a record, keeps what matches.
    fn take(&mut self, path: &Path, line: &RawLine, filter: &Filter, json: bool) {
        let (text, rec) = match parse_line(line) {
            Ok(ok) => ok,
            Err(why) => {
                errln!(
                    "{}:{}: skipped: not an audit record: {why}",
                    path.display(),
                    line.no
                );
                self.skipped += 1;
                return;
            }
        };
        if !filter.matches(&rec) {
            return;
        }
        if json {
            self.raw.push(text.to_owned());
        } else {
            self.rows.push(row(&rec));
        }
    }
}

/// One log line as its text and record, or why it is not one.
fn parse_line(line: &RawLine) -> Result<(&str, AuditRecord), String> {
    if !line.complete {
        Err("incomplete last line (a write torn by a crash?)".to_owned())
    } else if line.too_long {
        Err("line too long".to_owned())
    } else {
        std::str::from_utf8(&line.bytes)
            .map_err(|_| "not UTF-8".to_owned())
            .and_then(|s| {
                AuditRecord::parse(s)
                    .map(|r| (s, r))
                    .map_err(|e| e.to_string())
            })
    }
}

const HEADER: [&str; 8] = [
    "TIME",
    "NODE",
    "EVENT",
    "RESULT",
    "PRINCIPAL",
    "SLICE",
    "OP",
    "REASON",
];

/// Widest a cell may be (columns other than the last); longer text is cut with `…`.
const MAX_CELL: usize = 40;
const MAX_LAST_CELL: usize = 120;

fn row(r: &AuditRecord) -> [String; 8] {
    let principal = r
        .principal
        .clone()
        .or_else(|| r.key_fp.clone())
        .unwrap_or_default();
    let reason = r
        .reason
        .as_ref()
        .map(|x| format!("{}: {}", x.code, x.text))
        .unwrap_or_default();
    [
        r.ts.clone(),
        r.node.clone(),
        r.event.clone(),
        result_cell(r),
        principal,
        r.slice.clone().unwrap_or_default(),
        op_cell(r),
        reason,
    ]
    .map(|c| shown(&c).into_owned())
}

/// The RESULT cell: the result, then the exit code and duration when recorded.
fn result_cell(r: &AuditRecord) -> String {
    let mut result = r.result.clone().unwrap_or_default();
    if let Some(code) = r.exit_code {
        result = join_nonempty(&result, &format!("exit {code}"));
    }
    if let Some(ms) = r.duration_ms {
        result = join_nonempty(&result, &format!("{ms} ms"));
    }
    result
}

/// The OP cell: the operation, then its command line (words quoted where needed).
fn op_cell(r: &AuditRecord) -> String {
    let mut op = r.op.clone().unwrap_or_default();
    if let Some(argv) = &r.argv {
        let args: Vec<String> = argv.iter().map(|a| shell_word(a)).collect();
        op = join_nonempty(&op, &args.join(" "));
    }
    op
}

fn join_nonempty(a: &str, b: &str) -> String {
    match (a.is_empty(), b.is_empty()) {
        (true, _) => b.to_owned(),
        (_, true) => a.to_owned(),
        _ => format!("{a} {b}"),
    }
}

/// Quotes an argument for display if it is empty or has spaces or quotes.
fn shell_word(a: &str) -> String {
    if !a.is_empty() && !a.contains(|c: char| c.is_whitespace() || c == '\'' || c == '"') {
        a.to_owned()
    } else {
        format!("'{}'", a.replace('\'', "'\\''"))
    }
}

fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

/// The rows with every cell cut to its column's widest.
fn cut_cells(rows: &[[String; 8]]) -> Vec<[String; 8]> {
    let last = HEADER.len() - 1;
    rows.iter()
        .map(|r| {
            let mut i = 0;
            r.clone().map(|c| {
                let max = if i == last { MAX_LAST_CELL } else { MAX_CELL };
                i += 1;
                cut(&c, max)
            })
        })
        .collect()
}

fn write_table(out: &mut dyn std::io::Write, rows: &[[String; 8]]) -> std::io::Result<()> {
    let last = HEADER.len() - 1;
    let cells = cut_cells(rows);
    let mut width = HEADER.map(|h| h.chars().count());
    for r in &cells {
        for (w, c) in width.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let header = HEADER.map(str::to_owned);
    for r in std::iter::once(&header).chain(&cells) {
        let mut line = String::new();
        for (i, c) in r.iter().enumerate() {
            if i == last {
                line.push_str(c);
            } else {
                line.push_str(c);
                let pad = width[i] - c.chars().count() + 2;
                line.extend(std::iter::repeat_n(' ', pad));
            }
        }
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn since_parses_durations_and_times() {
        let now = time::macros::datetime!(2025-03-01 12:00:00 UTC);
        assert_eq!(
            parse_since("90s", now).unwrap(),
            now - time::Duration::seconds(90)
        );
        assert_eq!(
            parse_since("1h", now).unwrap(),
            time::macros::datetime!(2025-03-01 11:00:00 UTC)
        );
        assert_eq!(
            parse_since("2d", now).unwrap(),
            time::macros::datetime!(2025-02-27 12:00:00 UTC)
        );
        assert_eq!(
            parse_since("2025-01-01T00:00:00Z", now).unwrap(),
            time::macros::datetime!(2025-01-01 00:00:00 UTC)
        );
        for bad in ["", "h", "1y", "-1h", "99999999999999999w", "yesterday"] {
            assert!(parse_since(bad, now).is_err(), "{bad}");
        }
    }

    #[test]
    fn cells_show_controls_escaped() {
        assert_eq!(shown("a\u{1b}[31mb\n"), "a\\u{1b}[31mb\\u{a}");
        assert_eq!(cut("abcdef", 4), "abc…");
        assert_eq!(shell_word("a b"), "'a b'");
        assert_eq!(shell_word("it's"), "'it'\\''s'");
    }
}
