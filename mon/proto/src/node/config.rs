//! A node's static settings ([`NodeConfig`]) and their defaults.
//!
//! [`NodeConfig::server`] is the one configuration a `mon server` runs (the driver applies the
//! operator's flags on top) and the one the simulator (crate mon-sim) runs, so that the
//! simulator measures what is deployed. Membership timeouts derive from the gossip interval
//! (see [`crate::membership::Config::with_interval`]).

use std::net::SocketAddr;

use crate::membership;
use crate::replay::ReplayConfig;
use crate::verify::Limits;

/// Default [`NodeConfig::max_sessions`].
pub const DEFAULT_MAX_SESSIONS: usize = 256;
/// Default [`NodeConfig::max_sessions_per_key`].
pub const DEFAULT_MAX_SESSIONS_PER_KEY: usize = 64;
/// Default [`NodeConfig::max_sessions_per_slice`].
pub const DEFAULT_MAX_SESSIONS_PER_SLICE: usize = 192;
/// Default [`NodeConfig::max_interactive_per_key`].
pub const DEFAULT_MAX_INTERACTIVE_PER_KEY: usize = 4;
/// Default [`NodeConfig::max_runs`].
pub const DEFAULT_MAX_RUNS: usize = 32;
/// Default [`NodeConfig::go_wait_ms`].
pub const DEFAULT_GO_WAIT_MS: u64 = 10_000;

/// Static settings of a node.
#[derive(Clone, Debug)]
pub struct NodeConfig {
    /// This node's name (as in known_nodes).
    pub name: String,
    /// Address other nodes reach it at: the operator's `advertise` address, else the listen
    /// address. An unspecified IP (`0.0.0.0`, `[::]`) is completed as
    /// [`super::Node::advertised`] says.
    pub listen: SocketAddr,
    /// Session limits.
    pub limits: Limits,
    /// Replay cache limits.
    pub replay: ReplayConfig,
    /// Membership settings.
    pub membership: membership::Config,
    /// At most this many concurrent sessions.
    pub max_sessions: usize,
    /// At most this many running sessions signed by one key (its share of the table;
    /// finished sessions kept only to answer stragglers do not count).
    pub max_sessions_per_key: usize,
    /// At most this many running sessions of one slice.
    pub max_sessions_per_slice: usize,
    /// At most this many interactive sessions (`mon shell`) signed by one key, kept between
    /// commands or not (refused beyond: `interactive-sessions-over-cap`).
    pub max_interactive_per_key: usize,
    /// At most this many execs, greps and audit reads in flight on this node across all sessions (one
    /// beyond is denied: [`super::RUNS_BUSY`]).
    pub max_runs: usize,
    /// A session whose parent's go (its first sealed frame) has not arrived this long after
    /// the node accepted it is dropped (sooner if its signed join window is shorter), ms.
    pub go_wait_ms: u64,
    /// Retransmission timeout for Session and Result packets, ms.
    pub rto_ms: u64,
    /// Retransmissions before a child is declared missing (and of a result before it is
    /// given up). Two: a live child behind 2 % loss is then lost once in ~16,000 offers (three
    /// round trips lost), while a dead one holds its parent three RTOs, not four.
    pub retries: u32,
    /// How long a finished session's state is kept to answer stragglers, ms.
    pub linger_ms: u64,
    /// Push download policy.
    pub push_policy: crate::push::Policy,
    /// Push downloads treat the first parent as the main feed (see
    /// [`crate::push::Config::primary_first`]).
    pub push_primary_first: bool,
    /// Test-only fault: flip a byte in every block this node serves.
    #[cfg(feature = "fault-injection")]
    pub corrupt_serve: bool,
    /// Test-only fault: never send the go to the first-parent children of a push session.
    #[cfg(feature = "fault-injection")]
    pub no_push_go: bool,
}

impl NodeConfig {
    /// The configuration of a `mon server` named `name` at `listen`, every setting at its
    /// default (the gossip at [`membership::DEFAULT_PING_INTERVAL_MS`], its timeouts derived
    /// from it). `mon server` applies the operator's flags on top; the simulator runs it as is.
    pub fn server(name: &str, listen: SocketAddr) -> NodeConfig {
        NodeConfig {
            name: name.to_string(),
            listen,
            limits: Limits::default(),
            replay: ReplayConfig::default(),
            membership: membership::Config::default(),
            max_sessions: DEFAULT_MAX_SESSIONS,
            max_sessions_per_key: DEFAULT_MAX_SESSIONS_PER_KEY,
            max_sessions_per_slice: DEFAULT_MAX_SESSIONS_PER_SLICE,
            max_interactive_per_key: DEFAULT_MAX_INTERACTIVE_PER_KEY,
            max_runs: DEFAULT_MAX_RUNS,
            go_wait_ms: DEFAULT_GO_WAIT_MS,
            rto_ms: 250,
            retries: 2,
            linger_ms: 5_000,
            push_policy: crate::push::Policy::default(),
            push_primary_first: true,
            #[cfg(feature = "fault-injection")]
            corrupt_serve: false,
            #[cfg(feature = "fault-injection")]
            no_push_go: false,
        }
    }
}
