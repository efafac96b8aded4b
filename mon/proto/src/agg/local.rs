//! What one node contributes: the outcome of its local evaluation.

use serde::{Deserialize, Serialize};

/// The outcome of one command run on one node (also what `mon`'s exec runner returns).
///
/// Two outcomes are grouped together in an exec answer when they are equal in every field.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ExecOutcome {
    /// Exit code, if the process exited normally.
    pub exit: Option<i32>,
    /// Signal that ended the process, if any.
    pub signal: Option<i32>,
    /// Standard output (lossy UTF-8), at most the cap.
    pub stdout: String,
    /// Standard error (lossy UTF-8), at most the cap.
    pub stderr: String,
    /// The process was killed at its timeout.
    pub timed_out: bool,
    /// stdout or stderr was cut at the cap.
    pub truncated: bool,
}

/// What a node computed locally for a query, given to [`super::Partial::from_local`].
#[derive(Clone, Debug, PartialEq)]
pub enum Local {
    /// `count`, `depth`: the node is here.
    Present,
    /// `topology`: the node's parent (`None` for the entry node, whose parent is the client).
    Topology {
        /// Parent node name.
        parent: Option<String>,
    },
    /// `avg`, `top`, `histo`, `filter RES`: the resource's value on this node.
    Value(f64),
    /// `filter grep`: whether the word occurs in the file.
    Matched(bool),
    /// `exec`: the command's outcome.
    Exec(ExecOutcome),
    /// `audit fleet`: this node's scan of its own audit log.
    Audit(Box<super::audit::AuditScan>),
    /// `exec --where`: the condition did not hold; nothing was run.
    Skipped,
    /// The local evaluation failed (resource unavailable, file unreadable, command could not
    /// start); the reason is shown to the user.
    Failed(String),
    /// This node's policy denied the operation; the reason is shown to the user.
    Denied(String),
}

/// Converts captured bytes to text of at most `cap` bytes: lossy UTF-8, cut at a character
/// boundary. Returns the text and whether anything was cut.
pub fn capped_text(bytes: &[u8], cap: usize) -> (String, bool) {
    let raw_cut = bytes.len() > cap;
    let kept = &bytes[..bytes.len().min(cap)];
    let text = String::from_utf8_lossy(kept);
    if text.len() <= cap {
        return (text.into_owned(), raw_cut);
    }
    let cut = super::nodelist::cut_str(&text, cap);
    (cut.to_string(), true)
}
