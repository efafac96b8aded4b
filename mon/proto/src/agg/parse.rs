//! Parsing a query from words (`Query::parse`, and the parts whose words reach the CLI as
//! words: `filter`'s three and `--where`'s). Typed arguments build a query with the
//! constructors of `query.rs` instead.

use std::str::FromStr;

use super::query::{CmpOp, Query, QueryError, Where};
use super::DEFAULT_BUCKETS;
use super::DEFAULT_EXEC_TIMEOUT_S;

/// A command line that is not a valid query.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum QueryParseError {
    /// No words.
    #[error("no command given; commands: count, depth, topology, avg, top, histo, filter, exec")]
    Empty,
    /// Unknown first word.
    #[error(
        "unknown command '{0}'; commands: count, depth, topology, avg, top, histo, filter, exec"
    )]
    UnknownCommand(String),
    /// An argument is missing.
    #[error("'{command}' needs {what}; usage: {usage}")]
    Missing {
        /// The command.
        command: &'static str,
        /// What is missing.
        what: &'static str,
        /// Usage line.
        usage: &'static str,
    },
    /// Too many arguments.
    #[error("'{command}' got an unexpected argument '{extra}'; usage: {usage}")]
    Extra {
        /// The command.
        command: &'static str,
        /// The first extra word.
        extra: String,
        /// Usage line.
        usage: &'static str,
    },
    /// Not a number where one is needed.
    #[error("{what}: '{value}' is not a valid number")]
    BadNumber {
        /// What the number is.
        what: &'static str,
        /// The word.
        value: String,
    },
    /// Unknown comparison.
    #[error("unknown comparison '{0}'; use G L GE LE EQ NE or > < >= <= == !=")]
    BadOp(String),
    /// Unknown option.
    #[error("'{command}': unknown option '{option}'; usage: {usage}")]
    UnknownOption {
        /// The command.
        command: &'static str,
        /// The option.
        option: String,
        /// Usage line.
        usage: &'static str,
    },
    /// Parsed, but outside the limits.
    #[error(transparent)]
    Invalid(#[from] QueryError),
}

impl FromStr for CmpOp {
    type Err = QueryParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.to_ascii_uppercase().as_str() {
            "G" | ">" => CmpOp::Gt,
            "L" | "<" => CmpOp::Lt,
            "GE" | ">=" => CmpOp::Ge,
            "LE" | "<=" => CmpOp::Le,
            "EQ" | "==" => CmpOp::Eq,
            "NE" | "!=" => CmpOp::Ne,
            _ => return Err(QueryParseError::BadOp(s.to_string())),
        })
    }
}

const USAGE_COUNT: &str = "count";
const USAGE_DEPTH: &str = "depth";
const USAGE_TOPOLOGY: &str = "topology";
const USAGE_AVG: &str = "avg RES";
const USAGE_TOP: &str = "top N RES";
const USAGE_HISTO: &str = "histo RES [--buckets B]";
const USAGE_FILTER: &str = "filter RES OP VALUE | filter grep WORD FILE";
const USAGE_EXEC: &str = "exec [--cmd-timeout S] [--shell] [--where RES OP VALUE] [--] CMD ARGS...";

fn parse_num<T: FromStr>(what: &'static str, s: &str) -> Result<T, QueryParseError> {
    s.parse().map_err(|_| QueryParseError::BadNumber {
        what,
        value: s.to_string(),
    })
}

fn parse_f64(what: &'static str, s: &str) -> Result<f64, QueryParseError> {
    let v: f64 = parse_num(what, s)?;
    if v.is_finite() {
        Ok(v)
    } else {
        Err(QueryParseError::BadNumber {
            what,
            value: s.to_string(),
        })
    }
}

/// Takes exactly `N` words after the command word.
fn words<'a, const N: usize>(
    rest: &'a [String],
    command: &'static str,
    what: [&'static str; N],
    usage: &'static str,
) -> Result<[&'a str; N], QueryParseError> {
    if let Some(extra) = rest.get(N) {
        return Err(QueryParseError::Extra {
            command,
            extra: extra.clone(),
            usage,
        });
    }
    let mut out = [""; N];
    for (i, slot) in out.iter_mut().enumerate() {
        *slot = rest.get(i).ok_or(QueryParseError::Missing {
            command,
            what: what[i],
            usage,
        })?;
    }
    Ok(out)
}

impl Query {
    /// Parses command-line words: `count`, `depth`, `topology`, `avg RES`, `top N RES`,
    /// `histo RES [--buckets B | B]`, `filter RES OP VALUE`, `filter grep WORD FILE`,
    /// `exec [--cmd-timeout S] [--shell] [--where RES OP VALUE] [--] CMD ARGS…`.
    /// The result is validated ([`Query::validate`]).
    pub fn parse(args: &[String]) -> Result<Query, QueryParseError> {
        let (first, rest) = args.split_first().ok_or(QueryParseError::Empty)?;
        let q = match first.to_ascii_lowercase().as_str() {
            "count" => bare(rest, "count", USAGE_COUNT, Query::Count)?,
            "depth" => bare(rest, "depth", USAGE_DEPTH, Query::Depth)?,
            "topology" => bare(rest, "topology", USAGE_TOPOLOGY, Query::Topology)?,
            "avg" => {
                let [res] = words(rest, "avg", ["a resource name"], USAGE_AVG)?;
                Query::Avg {
                    res: res.to_string(),
                }
            }
            "top" => parse_top(rest)?,
            "histo" => parse_histo(rest)?,
            "filter" => return Query::parse_filter(rest),
            "exec" => parse_exec(rest)?,
            _ => return Err(QueryParseError::UnknownCommand(first.clone())),
        };
        q.validate()?;
        Ok(q)
    }

    /// Parses the words after `filter`: `RES OP VALUE` or `grep WORD FILE`; validated.
    pub fn parse_filter(rest: &[String]) -> Result<Query, QueryParseError> {
        let q = if rest.first().map(String::as_str) == Some("grep") {
            let [word, file] = words(
                &rest[1..],
                "filter grep",
                ["a WORD", "a FILE"],
                USAGE_FILTER,
            )?;
            Query::Grep {
                word: word.to_string(),
                file: file.to_string(),
            }
        } else {
            let [res, op, value] = words(
                rest,
                "filter",
                ["a resource name", "a comparison OP", "a VALUE"],
                USAGE_FILTER,
            )?;
            Query::Filter {
                res: res.to_string(),
                op: op.parse()?,
                value: parse_f64("filter VALUE", value)?,
            }
        };
        q.validate()?;
        Ok(q)
    }
}

impl Where {
    /// Parses `--where RES OP VALUE`'s three words (the resource name is checked with the
    /// query).
    pub fn parse(res: &str, op: &str, value: &str) -> Result<Where, QueryParseError> {
        Ok(Where {
            res: res.to_string(),
            op: op.parse()?,
            value: parse_f64("exec --where VALUE", value)?,
        })
    }
}

/// Splits `--name=value` into its parts.
fn split_opt(word: &str) -> (&str, Option<&str>) {
    match word.split_once('=') {
        Some((k, v)) if k.starts_with("--") => (k, Some(v)),
        _ => (word, None),
    }
}

/// A command without words (`count`, `depth`, `topology`): `q` if nothing follows.
fn bare(
    rest: &[String],
    command: &'static str,
    usage: &'static str,
    q: Query,
) -> Result<Query, QueryParseError> {
    words::<0>(rest, command, [], usage)?;
    Ok(q)
}

/// `top N RES`.
fn parse_top(rest: &[String]) -> Result<Query, QueryParseError> {
    let [n, res] = words(
        rest,
        "top",
        ["a number of nodes N", "a resource name"],
        USAGE_TOP,
    )?;
    Ok(Query::Top {
        n: parse_num("top N", n)?,
        res: res.to_string(),
    })
}

/// The value of the option at `rest[i]`: its inline `=value`, else the next word; with
/// the index after it. None when the next word is missing.
fn option_value<'a>(
    rest: &'a [String],
    i: usize,
    inline: Option<&'a str>,
) -> Option<(&'a str, usize)> {
    match inline {
        Some(v) => Some((v, i + 1)),
        None => rest.get(i + 1).map(|v| (v.as_str(), i + 2)),
    }
}

/// `histo RES [--buckets B | B]`, the option anywhere.
fn parse_histo(rest: &[String]) -> Result<Query, QueryParseError> {
    let missing = |what| QueryParseError::Missing {
        command: "histo",
        what,
        usage: USAGE_HISTO,
    };
    let mut res = None;
    let mut buckets = None;
    let mut i = 0;
    while let Some(word) = rest.get(i) {
        let (key, inline) = split_opt(word);
        if key == "--buckets" {
            let (v, next) =
                option_value(rest, i, inline).ok_or(missing("a number after --buckets"))?;
            buckets = Some(parse_num("histo --buckets", v)?);
            i = next;
        } else {
            histo_word(word, &mut res, &mut buckets)?;
            i += 1;
        }
    }
    Ok(Query::Histo {
        res: res.ok_or(missing("a resource name"))?,
        buckets: buckets.unwrap_or(DEFAULT_BUCKETS),
    })
}

/// A `histo` word other than `--buckets`: the resource, then the bucket count.
fn histo_word(
    word: &str,
    res: &mut Option<String>,
    buckets: &mut Option<u32>,
) -> Result<(), QueryParseError> {
    if word.starts_with("--") {
        return Err(QueryParseError::UnknownOption {
            command: "histo",
            option: word.to_string(),
            usage: USAGE_HISTO,
        });
    }
    if res.is_none() {
        *res = Some(word.to_string());
    } else if buckets.is_none() {
        *buckets = Some(parse_num("histo buckets", word)?);
    } else {
        return Err(QueryParseError::Extra {
            command: "histo",
            extra: word.to_string(),
            usage: USAGE_HISTO,
        });
    }
    Ok(())
}

/// `exec`'s missing-word error.
fn exec_missing(what: &'static str) -> QueryParseError {
    QueryParseError::Missing {
        command: "exec",
        what,
        usage: USAGE_EXEC,
    }
}

/// `exec`'s options, before the command.
struct ExecOpts {
    timeout_s: u32,
    shell: bool,
    where_: Option<Where>,
}

impl ExecOpts {
    /// Parses the options at the front of `rest`: them and the index where the command
    /// starts (after a `--`, else at the first word that is not an option).
    fn parse(rest: &[String]) -> Result<(ExecOpts, usize), QueryParseError> {
        let mut o = ExecOpts {
            timeout_s: DEFAULT_EXEC_TIMEOUT_S,
            shell: false,
            where_: None,
        };
        let mut i = 0;
        while let Some(word) = rest.get(i) {
            let (key, inline) = split_opt(word);
            if key == "--" {
                return Ok((o, i + 1));
            }
            if !key.starts_with("--") {
                break;
            }
            i = o.option(rest, i, key, inline)?;
        }
        Ok((o, i))
    }

    /// The option `key` at `rest[i]`; returns the index after it and its value words.
    fn option(
        &mut self,
        rest: &[String],
        i: usize,
        key: &str,
        inline: Option<&str>,
    ) -> Result<usize, QueryParseError> {
        match key {
            "--shell" if inline.is_none() => {
                self.shell = true;
                Ok(i + 1)
            }
            "--cmd-timeout" => {
                let (v, next) = option_value(rest, i, inline)
                    .ok_or(exec_missing("a number of seconds after --cmd-timeout"))?;
                self.timeout_s = parse_num("exec --cmd-timeout", v)?;
                Ok(next)
            }
            "--where" if inline.is_none() => {
                let word = |k: usize| {
                    rest.get(i + k)
                        .ok_or(exec_missing("RES OP VALUE after --where"))
                };
                self.where_ = Some(Where::parse(word(1)?, word(2)?, word(3)?)?);
                Ok(i + 4)
            }
            _ => Err(QueryParseError::UnknownOption {
                command: "exec",
                option: rest[i].clone(),
                usage: USAGE_EXEC,
            }),
        }
    }
}

/// `exec [--cmd-timeout S] [--shell] [--where RES OP VALUE] [--] CMD ARGS…`.
fn parse_exec(rest: &[String]) -> Result<Query, QueryParseError> {
    let (
        ExecOpts {
            timeout_s,
            shell,
            where_,
        },
        i,
    ) = ExecOpts::parse(rest)?;
    let argv = rest[i.min(rest.len())..].to_vec();
    if argv.is_empty() {
        return Err(exec_missing("a command after --"));
    }
    Ok(Query::Exec {
        argv,
        shell,
        timeout_s,
        where_,
    })
}
