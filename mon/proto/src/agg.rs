//! TEMPORARY stub of the query types (replaced by the agg branch).
use serde::{Deserialize, Serialize};

/// A comparison operator.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum CmpOp {
    /// >
    Gt,
}

/// A query operation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Query {
    /// count
    Count,
    /// grep
    Grep {
        /// word
        word: String,
        /// file
        file: String,
    },
    /// exec
    Exec {
        /// argv
        argv: Vec<String>,
        /// shell
        shell: bool,
        /// timeout
        timeout_s: u32,
    },
}
