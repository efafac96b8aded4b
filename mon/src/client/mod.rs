//! The MON client: global options, key and known_nodes resolution, running a session
//! against an entry node, and printing the answer.

mod output;
mod push;
mod session;
mod targets;

use std::net::SocketAddr;
use std::path::PathBuf;

pub use push::{run_push, PushArgs};
pub use session::{run_members, run_session, AnswerOpts};

/// Options shared by every client command.
#[derive(Debug, Clone, clap::Args)]
pub struct GlobalOpts {
    /// Ed25519 private key file, or FILE.pub to sign through ssh-agent
    /// [default: an ssh-agent key if SSH_AUTH_SOCK is set, else ~/.ssh/id_ed25519].
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// Entry server (a name is resolved; known_nodes pins its key by the name as typed and
    /// by the address).
    #[arg(
        long,
        env = "MON_SERVER",
        default_value = "127.0.0.1:7460",
        value_name = "HOST:PORT"
    )]
    pub server: Entry,
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
    /// Only matching nodes execute; others relay. Patterns (`web*`, `!web13`), node sets as
    /// clush -w takes them (`n[1-20],!n[5-7]`) and ClusterShell groups (`@web`).
    #[arg(long, default_value = "*")]
    pub targets: String,
    /// Print one JSON object (documented in docs/operations.md).
    #[arg(long)]
    pub json: bool,
}

/// The entry server as given to `--server`: the name (or address) as typed and the address it
/// resolved to. The client pins the entry's key by both (issue 10, part 6).
#[derive(Debug, Clone)]
pub struct Entry {
    /// The host as typed (an address typed is its own name), without the port.
    pub typed: String,
    /// The address dialled.
    pub addr: SocketAddr,
}

impl std::str::FromStr for Entry {
    type Err = String;

    fn from_str(s: &str) -> Result<Entry, String> {
        if let Ok(addr) = s.parse::<SocketAddr>() {
            return Ok(Entry {
                typed: addr.ip().to_string(),
                addr,
            });
        }
        let (host, port) = s
            .rsplit_once(':')
            .ok_or_else(|| format!("{s:?}: give HOST:PORT (e.g. node1:7460)"))?;
        let port: u16 = port
            .parse()
            .map_err(|_| format!("{s:?}: {port:?} is not a port number"))?;
        let addr = std::net::ToSocketAddrs::to_socket_addrs(&(host, port))
            .map_err(|e| format!("cannot resolve {host:?}: {e}"))?
            .next()
            .ok_or_else(|| format!("{host:?} has no address"))?;
        Ok(Entry {
            typed: host.to_string(),
            addr,
        })
    }
}

impl std::fmt::Display for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.typed == self.addr.ip().to_string() {
            write!(f, "{}", self.addr)
        } else {
            write!(f, "{}:{} ({})", self.typed, self.addr.port(), self.addr)
        }
    }
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::Entry;

    #[test]
    fn the_entry_keeps_the_name_as_typed_and_the_address_it_resolved_to() {
        let e: Entry = "127.0.0.2:7460".parse().unwrap();
        assert_eq!(e.typed, "127.0.0.2");
        assert_eq!(e.to_string(), "127.0.0.2:7460");
        let e: Entry = "localhost:7461".parse().unwrap();
        assert_eq!(e.typed, "localhost");
        assert!(e.addr.ip().is_loopback());
        assert_eq!(e.addr.port(), 7461);
        assert!(e.to_string().starts_with("localhost:7461 ("), "{e}");
        assert!("localhost".parse::<Entry>().is_err());
        assert!("localhost:http".parse::<Entry>().is_err());
    }
}
