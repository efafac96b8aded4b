//! The query operations, their typed constructors and their limits (parsing from words, where
//! words really arrive, is in `parse.rs`). To add a status query kind: a variant here, its
//! constructor and `validate` arm, its words in `parse.rs`, its CLI command in `mon/src/cli.rs`.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::audit::AuditFilter;
use super::{
    MAX_BUCKETS, MAX_EXEC_ARGS, MAX_EXEC_BYTES, MAX_EXEC_TIMEOUT_S, MAX_GREP_PATH, MAX_GREP_WORD,
    MAX_RESOURCE_NAME, MAX_TOP_N,
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

/// A condition `RES OP VALUE` (`exec --where`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
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
#[serde(deny_unknown_fields)]
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
    /// `audit fleet`: every node's audit records matching the filter, counted, the newest
    /// returned (read by the server with its own rights: `mon-audit@mon`).
    Audit(AuditFilter),
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
    /// An `audit fleet` filter outside its limits.
    #[error("audit fleet: {0}")]
    Audit(String),
    /// Exec timeout out of range.
    #[error("exec: --cmd-timeout must be between 1 and {max} seconds, got {got}")]
    Timeout {
        /// The value given.
        got: u32,
        /// The limit.
        max: u32,
    },
}

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

impl Query {
    /// `avg RES`, validated.
    pub fn avg(res: impl Into<String>) -> Result<Query, QueryError> {
        Query::Avg { res: res.into() }.checked()
    }

    /// `top N RES`, validated.
    pub fn top(n: u32, res: impl Into<String>) -> Result<Query, QueryError> {
        Query::Top { n, res: res.into() }.checked()
    }

    /// `histo RES` in `buckets` buckets, validated.
    pub fn histo(res: impl Into<String>, buckets: u32) -> Result<Query, QueryError> {
        Query::Histo {
            res: res.into(),
            buckets,
        }
        .checked()
    }

    /// `filter RES OP VALUE`, validated.
    pub fn filter(res: impl Into<String>, op: CmpOp, value: f64) -> Result<Query, QueryError> {
        Query::Filter {
            res: res.into(),
            op,
            value,
        }
        .checked()
    }

    /// `filter grep WORD FILE`, validated.
    pub fn grep(word: impl Into<String>, file: impl Into<String>) -> Result<Query, QueryError> {
        Query::Grep {
            word: word.into(),
            file: file.into(),
        }
        .checked()
    }

    /// `exec`: `argv` on every node (through `sh -c` when `shell`), at most `timeout_s` per
    /// node, only where `where_` holds; validated.
    pub fn exec(
        argv: Vec<String>,
        shell: bool,
        timeout_s: u32,
        where_: Option<Where>,
    ) -> Result<Query, QueryError> {
        Query::Exec {
            argv,
            shell,
            timeout_s,
            where_,
        }
        .checked()
    }

    /// `audit fleet` with this filter, validated.
    pub fn audit(filter: AuditFilter) -> Result<Query, QueryError> {
        Query::Audit(filter).checked()
    }

    /// The query if it is within the limits ([`Query::validate`]).
    fn checked(self) -> Result<Query, QueryError> {
        self.validate()?;
        Ok(self)
    }

    /// The operation's name: `count`, `depth`, `topology`, `avg`, `top`, `histo`, `filter`,
    /// `grep` (for `filter grep`), `exec`, `audit`.
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
            Query::Audit(_) => "audit",
        }
    }

    /// The capability class (SSHSIG namespace) the query needs: `mon-exec@mon` for exec,
    /// `mon-read@mon` for `filter grep`, `mon-audit@mon` for `audit fleet`, `mon-query@mon`
    /// otherwise.
    pub fn namespace(&self) -> &'static str {
        match self {
            Query::Audit(_) => mon_keys::sshsig::NS_AUDIT,
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
                one_to(MAX_TOP_N, *n, |got, max| QueryError::TopN { got, max })?;
                check_resource_name(res)
            }
            Query::Histo { res, buckets } => {
                one_to(MAX_BUCKETS, *buckets, |got, max| QueryError::Buckets {
                    got,
                    max,
                })?;
                check_resource_name(res)
            }
            Query::Filter { res, value, .. } => {
                check_resource_name(res)?;
                finite("filter VALUE", *value)
            }
            Query::Grep { word, file } => check_grep(word, file),
            Query::Exec {
                argv,
                timeout_s,
                where_,
                ..
            } => check_exec(argv, *timeout_s, where_.as_ref()),
            Query::Audit(f) => f.validate().map_err(QueryError::Audit),
        }
    }
}

/// A count or limit `got` in `1..=max`, else `err(got, max)`.
fn one_to(max: u32, got: u32, err: impl FnOnce(u32, u32) -> QueryError) -> Result<(), QueryError> {
    if got == 0 || got > max {
        return Err(err(got, max));
    }
    Ok(())
}

/// `grep`: a non-empty bounded word and an absolute, bounded, NUL-free path.
fn check_grep(word: &str, file: &str) -> Result<(), QueryError> {
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

/// `exec`: its command, a timeout in 1..=MAX_EXEC_TIMEOUT_S seconds, and its `--where`.
fn check_exec(argv: &[String], timeout_s: u32, where_: Option<&Where>) -> Result<(), QueryError> {
    check_exec_argv(argv)?;
    one_to(MAX_EXEC_TIMEOUT_S, timeout_s, |got, max| {
        QueryError::Timeout { got, max }
    })?;
    if let Some(w) = where_ {
        check_resource_name(&w.res)?;
        finite("--where VALUE", w.value)?;
    }
    Ok(())
}

/// `exec`: a non-empty program, bounded argument count and bytes, no NUL.
fn check_exec_argv(argv: &[String]) -> Result<(), QueryError> {
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
    Ok(())
}
