//! The MON client: global options (`opts.rs`), the entry server (`entry.rs`), known_nodes, running a session
//! against an entry node, and printing the answer.

pub mod api;
mod entry;
pub mod interactive;
mod opts;
mod output;
mod push;
mod session;
mod shell;
mod targets;

use std::path::PathBuf;

pub use opts::{GlobalArgs, GlobalOpts};
pub use push::{run_push, PushArgs};
pub(crate) use push::{PushEnd, PushProgress, PushReport};
pub use session::{run_members, run_session, AnswerOpts};
pub use shell::run_shell;

/// Overlay algorithms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OverlayArg {
    /// Random tree.
    Random,
    /// Random first hops, then local neighbours.
    Twostage,
    /// DAG with several parents per node.
    Dag,
}

/// Where the client's known_nodes file is: `set` (flag, `MON_KNOWN_NODES` or the config
/// file), else `~/.mon/known_nodes`, else `/etc/mon/known_nodes`, when they exist.
pub fn known_nodes_path(set: Option<PathBuf>) -> Option<PathBuf> {
    if set.is_some() {
        return set;
    }
    let home = std::env::var_os("HOME").map(PathBuf::from);
    [
        home.map(|h| h.join(".mon/known_nodes")),
        Some(PathBuf::from("/etc/mon/known_nodes")),
    ]
    .into_iter()
    .flatten()
    .find(|p| p.exists())
}
