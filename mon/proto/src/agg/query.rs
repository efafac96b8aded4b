//! The query operations, their command-line parsing and their limits.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::{
    DEFAULT_BUCKETS, DEFAULT_EXEC_TIMEOUT_S, MAX_BUCKETS, MAX_EXEC_ARGS, MAX_EXEC_BYTES,
    MAX_EXEC_TIMEOUT_S, MAX_GREP_PATH, MAX_GREP_WORD, MAX_RESOURCE_NAME, MAX_TOP_N,
};

/// A comparison of `filter RES OP VALUE` and `exec --where`.
///
/// Parsed from the paper's letters `G L GE LE EQ NE` (any case) or from `> < >= <= == !=`;
/// displayed as the symbol. `EQ`/`NE` compare the two numbers exactly.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CmpOp {
    /// Greater than (`G`, `>`).
    Gt,
    /// Less than (`L`, `<`).
    Lt,
    /// Greater or equal (`GE`, `>=`).
    Ge,
    /// Less or equal (`LE`, `<=`).
    Le,
    /// Equal (`EQ`, `==`).
    Eq,
    /// Not equal (`NE`, `!=`).
    Ne,
}

impl CmpOp {
    /// `value OP threshold`.
    pub fn eval(self, value: f64, threshold: f64) -> bool {
        match self {
            CmpOp::Gt => value > threshold,
            CmpOp::Lt => value < threshold,
            CmpOp::Ge => value >= threshold,
            CmpOp::Le => value <= threshold,
            CmpOp::Eq => value == threshold,
            CmpOp::Ne => value != threshold,
        }
    }

    /// The paper's spelling: `G`, `L`, `GE`, `LE`, `EQ`, `NE`.
    pub fn letters(self) -> &'static str {
        match self {
            CmpOp::Gt => "G",
            CmpOp::Lt => "L",
            CmpOp::Ge => "GE",
            CmpOp::Le => "LE",
            CmpOp::Eq => "EQ",
            CmpOp::Ne => "NE",
        }
    }

    fn symbol(self) -> &'static str {
        match self {
            CmpOp::Gt => ">",
            CmpOp::Lt => "<",
            CmpOp::Ge => ">=",
            CmpOp::Le => "<=",
            CmpOp::Eq => "==",
            CmpOp::Ne => "!=",
        }
    }
}

impl fmt::Display for CmpOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.symbol())
    }
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

/// A condition `RES OP VALUE` (`exec --where`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Where {
    /// Resource name.
    pub res: String,
    /// Comparison.
    pub op: CmpOp,
    /// Threshold.
    pub value: f64,
}

impl Where {
    /// Whether a resource value satisfies the condition.
    pub fn matches(&self, value: f64) -> bool {
        self.op.eval(value, self.value)
    }
}

/// A status query (paper §2.3).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Query {
    /// Number of nodes that answered.
    Count,
    /// Depth of the tree.
    Depth,
    /// Edges of the tree.
    Topology,
    /// Mean of a resource.
    Avg {
        /// Resource name.
        res: String,
    },
    /// The `n` nodes with the largest values of a resource.
    Top {
        /// How many.
        n: u32,
        /// Resource name.
        res: String,
    },
    /// Histogram of a resource in `buckets` equal-width buckets.
    Histo {
        /// Resource name.
        res: String,
        /// Number of buckets (built by the client).
        buckets: u32,
    },
    /// Nodes where `res OP value` holds.
    Filter {
        /// Resource name.
        res: String,
        /// Comparison.
        op: CmpOp,
        /// Threshold.
        value: f64,
    },
    /// Nodes where the fixed string `word` occurs in `file`.
    Grep {
        /// The string searched (not a regular expression).
        word: String,
        /// Absolute path of the file.
        file: String,
    },
    /// Run a command; identical outcomes are grouped.
    Exec {
        /// Program and arguments (joined by spaces for `sh -c` when `shell`).
        argv: Vec<String>,
        /// Run through `/bin/sh -c`.
        shell: bool,
        /// Per-node timeout, seconds.
        timeout_s: u32,
        /// Run only where this holds.
        where_: Option<Where>,
    },
}

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

/// A query outside the limits (also checked on every node for a query received from the network).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum QueryError {
    /// Bad resource name.
    #[error("invalid resource name '{0}': use 1 to 64 characters a-z 0-9 _")]
    ResourceName(String),
    /// `top N` out of range.
    #[error("top: N must be between 1 and {max}, got {got}")]
    TopN {
        /// The value given.
        got: u32,
        /// The limit.
        max: u32,
    },
    /// Buckets out of range.
    #[error("histo: buckets must be between 1 and {max}, got {got}")]
    Buckets {
        /// The value given.
        got: u32,
        /// The limit.
        max: u32,
    },
    /// Not a finite number.
    #[error("{0}: the value must be a finite number")]
    NotFinite(&'static str),
    /// Empty grep word.
    #[error("grep: the word must not be empty")]
    EmptyWord,
    /// Grep word too long.
    #[error("grep: the word is {got} bytes, at most {max} allowed")]
    WordTooLong {
        /// Length given.
        got: usize,
        /// The limit.
        max: usize,
    },
    /// Bad grep path.
    #[error(
        "grep: the file must be an absolute path of at most {max} bytes without NUL, got '{path}'"
    )]
    BadPath {
        /// The path given (cut).
        path: String,
        /// The limit.
        max: usize,
    },
    /// Empty exec command.
    #[error("exec: no command given (put it after --)")]
    EmptyCommand,
    /// Exec command line too large.
    #[error("exec: the command line has {args} arguments and {bytes} bytes; limits {max_args} and {max_bytes}")]
    CommandTooLarge {
        /// Number of arguments.
        args: usize,
        /// Total bytes.
        bytes: usize,
        /// Argument limit.
        max_args: usize,
        /// Byte limit.
        max_bytes: usize,
    },
    /// NUL byte in an exec argument.
    #[error("exec: an argument contains a NUL byte")]
    NulInArgument,
    /// Exec timeout out of range.
    #[error("exec: --cmd-timeout must be between 1 and {max} seconds, got {got}")]
    Timeout {
        /// The value given.
        got: u32,
        /// The limit.
        max: u32,
    },
}

const USAGE_COUNT: &str = "count";
const USAGE_DEPTH: &str = "depth";
const USAGE_TOPOLOGY: &str = "topology";
const USAGE_AVG: &str = "avg RES";
const USAGE_TOP: &str = "top N RES";
const USAGE_HISTO: &str = "histo RES [--buckets B]";
const USAGE_FILTER: &str = "filter RES OP VALUE | filter grep WORD FILE";
const USAGE_EXEC: &str = "exec [--cmd-timeout S] [--shell] [--where RES OP VALUE] -- CMD ARGS...";

/// Checks a resource name: 1 to 64 characters `[a-z0-9_]`.
pub fn check_resource_name(name: &str) -> Result<(), QueryError> {
    let ok = !name.is_empty()
        && name.len() <= MAX_RESOURCE_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(QueryError::ResourceName(cut(name, 80)))
    }
}

fn cut(s: &str, max: usize) -> String {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

fn finite(what: &'static str, v: f64) -> Result<(), QueryError> {
    if v.is_finite() {
        Ok(())
    } else {
        Err(QueryError::NotFinite(what))
    }
}

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
            "count" => {
                words::<0>(rest, "count", [], USAGE_COUNT)?;
                Query::Count
            }
            "depth" => {
                words::<0>(rest, "depth", [], USAGE_DEPTH)?;
                Query::Depth
            }
            "topology" => {
                words::<0>(rest, "topology", [], USAGE_TOPOLOGY)?;
                Query::Topology
            }
            "avg" => {
                let [res] = words(rest, "avg", ["a resource name"], USAGE_AVG)?;
                Query::Avg {
                    res: res.to_string(),
                }
            }
            "top" => {
                let [n, res] = words(
                    rest,
                    "top",
                    ["a number of nodes N", "a resource name"],
                    USAGE_TOP,
                )?;
                Query::Top {
                    n: parse_num("top N", n)?,
                    res: res.to_string(),
                }
            }
            "histo" => parse_histo(rest)?,
            "filter" => {
                if rest.first().map(String::as_str) == Some("grep") {
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
                }
            }
            "exec" => parse_exec(rest)?,
            _ => return Err(QueryParseError::UnknownCommand(first.clone())),
        };
        q.validate()?;
        Ok(q)
    }

    /// The operation's name: `count`, `depth`, `topology`, `avg`, `top`, `histo`, `filter`,
    /// `grep` (for `filter grep`), `exec`.
    pub fn name(&self) -> &'static str {
        match self {
            Query::Count => "count",
            Query::Depth => "depth",
            Query::Topology => "topology",
            Query::Avg { .. } => "avg",
            Query::Top { .. } => "top",
            Query::Histo { .. } => "histo",
            Query::Filter { .. } => "filter",
            Query::Grep { .. } => "grep",
            Query::Exec { .. } => "exec",
        }
    }

    /// The capability class (SSHSIG namespace) the query needs: `mon-exec@mon` for exec,
    /// `mon-read@mon` for `filter grep`, `mon-query@mon` otherwise.
    pub fn namespace(&self) -> &'static str {
        match self {
            Query::Exec { .. } => "mon-exec@mon",
            Query::Grep { .. } => "mon-read@mon",
            _ => "mon-query@mon",
        }
    }

    /// The resource the node must read for this query, if any (for exec, the `--where` one).
    pub fn resource(&self) -> Option<&str> {
        match self {
            Query::Avg { res }
            | Query::Top { res, .. }
            | Query::Histo { res, .. }
            | Query::Filter { res, .. } => Some(res),
            Query::Exec {
                where_: Some(w), ..
            } => Some(&w.res),
            _ => None,
        }
    }

    /// Checks the limits; run on every node for a query received from the network.
    pub fn validate(&self) -> Result<(), QueryError> {
        match self {
            Query::Count | Query::Depth | Query::Topology => Ok(()),
            Query::Avg { res } => check_resource_name(res),
            Query::Top { n, res } => {
                if *n == 0 || *n > MAX_TOP_N {
                    return Err(QueryError::TopN {
                        got: *n,
                        max: MAX_TOP_N,
                    });
                }
                check_resource_name(res)
            }
            Query::Histo { res, buckets } => {
                if *buckets == 0 || *buckets > MAX_BUCKETS {
                    return Err(QueryError::Buckets {
                        got: *buckets,
                        max: MAX_BUCKETS,
                    });
                }
                check_resource_name(res)
            }
            Query::Filter { res, value, .. } => {
                check_resource_name(res)?;
                finite("filter VALUE", *value)
            }
            Query::Grep { word, file } => {
                if word.is_empty() {
                    return Err(QueryError::EmptyWord);
                }
                if word.len() > MAX_GREP_WORD {
                    return Err(QueryError::WordTooLong {
                        got: word.len(),
                        max: MAX_GREP_WORD,
                    });
                }
                if !file.starts_with('/') || file.len() > MAX_GREP_PATH || file.contains('\0') {
                    return Err(QueryError::BadPath {
                        path: cut(file, 200),
                        max: MAX_GREP_PATH,
                    });
                }
                Ok(())
            }
            Query::Exec {
                argv,
                timeout_s,
                where_,
                ..
            } => {
                if argv.is_empty() || argv[0].is_empty() {
                    return Err(QueryError::EmptyCommand);
                }
                let bytes: usize = argv.iter().map(String::len).sum();
                if argv.len() > MAX_EXEC_ARGS || bytes > MAX_EXEC_BYTES {
                    return Err(QueryError::CommandTooLarge {
                        args: argv.len(),
                        bytes,
                        max_args: MAX_EXEC_ARGS,
                        max_bytes: MAX_EXEC_BYTES,
                    });
                }
                if argv.iter().any(|a| a.contains('\0')) {
                    return Err(QueryError::NulInArgument);
                }
                if *timeout_s == 0 || *timeout_s > MAX_EXEC_TIMEOUT_S {
                    return Err(QueryError::Timeout {
                        got: *timeout_s,
                        max: MAX_EXEC_TIMEOUT_S,
                    });
                }
                if let Some(w) = where_ {
                    check_resource_name(&w.res)?;
                    finite("--where VALUE", w.value)?;
                }
                Ok(())
            }
        }
    }
}

/// Splits `--name=value` into its parts.
fn split_opt(word: &str) -> (&str, Option<&str>) {
    match word.split_once('=') {
        Some((k, v)) if k.starts_with("--") => (k, Some(v)),
        _ => (word, None),
    }
}

fn parse_histo(rest: &[String]) -> Result<Query, QueryParseError> {
    let mut res = None;
    let mut buckets = None;
    let mut i = 0;
    while let Some(word) = rest.get(i) {
        i += 1;
        let (key, inline) = split_opt(word);
        if key == "--buckets" {
            let v = match inline {
                Some(v) => v,
                None => {
                    i += 1;
                    rest.get(i - 1).ok_or(QueryParseError::Missing {
                        command: "histo",
                        what: "a number after --buckets",
                        usage: USAGE_HISTO,
                    })?
                }
            };
            buckets = Some(parse_num("histo --buckets", v)?);
        } else if key.starts_with("--") {
            return Err(QueryParseError::UnknownOption {
                command: "histo",
                option: word.clone(),
                usage: USAGE_HISTO,
            });
        } else if res.is_none() {
            res = Some(word.clone());
        } else if buckets.is_none() {
            buckets = Some(parse_num("histo buckets", word)?);
        } else {
            return Err(QueryParseError::Extra {
                command: "histo",
                extra: word.clone(),
                usage: USAGE_HISTO,
            });
        }
    }
    Ok(Query::Histo {
        res: res.ok_or(QueryParseError::Missing {
            command: "histo",
            what: "a resource name",
            usage: USAGE_HISTO,
        })?,
        buckets: buckets.unwrap_or(DEFAULT_BUCKETS),
    })
}

fn parse_exec(rest: &[String]) -> Result<Query, QueryParseError> {
    let missing = |what| QueryParseError::Missing {
        command: "exec",
        what,
        usage: USAGE_EXEC,
    };
    let mut timeout_s = DEFAULT_EXEC_TIMEOUT_S;
    let mut shell = false;
    let mut where_ = None;
    let mut i = 0;
    while let Some(word) = rest.get(i) {
        let (key, inline) = split_opt(word);
        match key {
            "--" => {
                i += 1;
                break;
            }
            "--shell" if inline.is_none() => {
                shell = true;
                i += 1;
            }
            "--cmd-timeout" => {
                let v = match inline {
                    Some(v) => {
                        i += 1;
                        v
                    }
                    None => {
                        i += 2;
                        rest.get(i - 1)
                            .ok_or(missing("a number of seconds after --cmd-timeout"))?
                    }
                };
                timeout_s = parse_num("exec --cmd-timeout", v)?;
            }
            "--where" if inline.is_none() => {
                let res = rest
                    .get(i + 1)
                    .ok_or(missing("RES OP VALUE after --where"))?;
                let op = rest
                    .get(i + 2)
                    .ok_or(missing("RES OP VALUE after --where"))?;
                let value = rest
                    .get(i + 3)
                    .ok_or(missing("RES OP VALUE after --where"))?;
                where_ = Some(Where {
                    res: res.clone(),
                    op: op.parse()?,
                    value: parse_f64("exec --where VALUE", value)?,
                });
                i += 4;
            }
            k if k.starts_with("--") => {
                return Err(QueryParseError::UnknownOption {
                    command: "exec",
                    option: word.clone(),
                    usage: USAGE_EXEC,
                })
            }
            _ => break,
        }
    }
    let argv = rest[i.min(rest.len())..].to_vec();
    if argv.is_empty() {
        return Err(missing("a command after --"));
    }
    Ok(Query::Exec {
        argv,
        shell,
        timeout_s,
        where_,
    })
}
