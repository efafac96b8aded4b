//! The MON client: global options, key and known_nodes resolution, running a session
//! against an entry node, and printing the answer.

mod output;
mod push;
mod session;

use std::net::SocketAddr;
use std::path::PathBuf;

pub use push::{run_push, PushArgs};
pub use session::{run_members, run_session};

/// Options shared by every client command.
#[derive(Debug, Clone, clap::Args)]
pub struct GlobalOpts {
    /// Ed25519 private key file, or FILE.pub to sign through ssh-agent
    /// [default: an ssh-agent key if SSH_AUTH_SOCK is set, else ~/.ssh/id_ed25519].
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// Entry server.
    #[arg(
        long,
        env = "MON_SERVER",
        default_value = "127.0.0.1:7460",
        value_name = "ADDR:PORT"
    )]
    pub server: SocketAddr,
    /// Slice whose policy decides [default: the entry server's only slice].
    #[arg(long, env = "MON_SLICE")]
    pub slice: Option<String>,
    /// Principal to claim (servers find it from the key otherwise).
    #[arg(long)]
    pub principal: Option<String>,
    /// known_nodes file used to check the entry server's key
    /// [default: $MON_KNOWN_NODES, ~/.mon/known_nodes, /etc/mon/known_nodes].
    #[arg(long, value_name = "FILE")]
    pub known_nodes: Option<PathBuf>,
    /// Overlay algorithm.
    #[arg(long, value_enum, default_value_t = OverlayArg::Random)]
    pub overlay: OverlayArg,
    /// Children per node [default: adapts to the system's size].
    #[arg(long)]
    pub fanout: Option<u16>,
    /// Parents per node in a DAG [default: 1 for queries, 3 for push].
    #[arg(long)]
    pub max_parents: Option<u8>,
    /// Seconds to wait for the answer [default: 10; 600 for push].
    #[arg(long)]
    pub timeout: Option<f64>,
    /// Only nodes matching these patterns execute (e.g. 'web*,!web13'); others relay.
    #[arg(long, default_value = "*")]
    pub targets: String,
    /// Print one JSON object (documented in docs/operations.md).
    #[arg(long)]
    pub json: bool,
}

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

/// Where the client's known_nodes file is.
pub fn known_nodes_path(g: &GlobalOpts) -> Option<PathBuf> {
    if let Some(p) = &g.known_nodes {
        return Some(p.clone());
    }
    if let Some(p) = std::env::var_os("MON_KNOWN_NODES") {
        return Some(PathBuf::from(p));
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
