//! `mon server`: the daemon. A thin tokio driver around [`mon_proto::node::Node`].

mod admission;
mod audit_read;

/// Seconds an inbound stream may stay silent before the server closes it.
pub const STREAM_IDLE_S: u64 = 60;
pub mod advertise;
mod batch;
pub mod conf;
mod driver;
mod durable;
mod eval;
mod event;
mod files;
mod inbound;
mod journal;
mod open;
mod outbound;
mod push_io;
mod resolve;

use std::net::Ipv4Addr;
use std::path::PathBuf;

use anyhow::Context as _;
use mon_keys::addr::{HostPort, DEFAULT_PORT};

/// Where `mon server` (and `mon server init`) look for the node key, known_nodes, server.conf
/// and slices/ without `--config-dir`.
pub const DEFAULT_CONFIG_DIR: &str = "/etc/mon";
/// Where `mon server` keeps its audit log and replay journal without `--state-dir`.
pub const DEFAULT_STATE_DIR: &str = "/var/lib/mon";

/// Arguments of `mon server`.
#[derive(Debug, clap::Args)]
pub struct ServerArgs {
    /// Settings file (`KEY VALUE` lines named like these flags; flags given here win).
    /// Default: CONFIG_DIR/server.conf when it exists.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Directory with the node key, known_nodes and slices/<slice>/ policy files.
    #[arg(long, value_name = "DIR", default_value = DEFAULT_CONFIG_DIR)]
    pub config_dir: PathBuf,
    /// Directory for audit.jsonl and the replay journal (created 0700).
    #[arg(long, value_name = "DIR", default_value = DEFAULT_STATE_DIR)]
    pub state_dir: PathBuf,
    /// UDP and TCP address to listen on: an IP or a host name (its first address), the port
    /// optional; IPv6 as `[ADDR]:PORT` or `ADDR`.
    #[arg(long, value_name = "HOST[:PORT]", default_value_t = any_addr())]
    pub listen: HostPort,
    /// Address other nodes reach this one at, when not the listen address (port: the listen
    /// port). Default with an unspecified listen IP: this node's address in known_nodes,
    /// else the source address its peers see.
    #[arg(long, value_name = "HOST[:PORT]")]
    pub advertise: Option<HostPort>,
    /// Nodes to join through (comma-separated; repeatable): IPs or host names, the port
    /// optional [default port: 7460]. Names are looked up at start and every 30 s.
    #[arg(long, value_name = "HOST[:PORT],…", value_delimiter = ',')]
    pub join: Vec<HostPort>,
    /// This node's name as listed in known_nodes (default: the host name).
    #[arg(long)]
    pub name: Option<String>,
    /// Operator-defined resource: NAME=COMMAND, run by /bin/sh -c, stdout parsed as a number.
    #[arg(long = "resource", value_name = "NAME=COMMAND")]
    pub resources: Vec<String>,
    /// Allowed clock skew in seconds.
    #[arg(long, default_value_t = 300)]
    pub skew: u64,
    /// Block scheduling of pushes: rarest-first (default) or first-fit (the paper's).
    #[arg(long, default_value = "rarest-first", value_name = "POLICY")]
    pub push_policy: String,
    /// Push downloads ask their first parent for every block it holds and the other parents
    /// only for blocks the first one lacks (`false` only for benchmarks).
    #[arg(long, hide = true, default_value_t = true, action = clap::ArgAction::Set)]
    pub push_primary_first: bool,
    /// Run-as users a slice's policy may name on this node, when the server runs as root:
    /// `SLICE USER,USER…` (repeat for each slice). A session that would exec, grep or push
    /// as a user not listed for its slice is refused (`run-as-not-allowed`); root only if
    /// listed.
    #[arg(long = "run-as-users", value_name = "SLICE USER,…", value_parser = parse_run_as_users)]
    pub run_as_users: Vec<(String, Vec<String>)>,
    /// Sessions this node runs at once (beyond: refused with `busy`, retry later).
    #[arg(long, default_value_t = mon_proto::node::DEFAULT_MAX_SESSIONS)]
    pub max_sessions: usize,
    /// Running sessions one key may have on this node, its share of the table
    /// (beyond: `busy-key`).
    #[arg(long, default_value_t = mon_proto::node::DEFAULT_MAX_SESSIONS_PER_KEY)]
    pub max_sessions_per_key: usize,
    /// Running sessions one slice may have on this node (beyond: `busy-slice`).
    #[arg(long, default_value_t = mon_proto::node::DEFAULT_MAX_SESSIONS_PER_SLICE)]
    pub max_sessions_per_slice: usize,
    /// Execs, greps and audit reads this node runs at once across all sessions (one more
    /// is denied on this node: `node-runs-busy`), 1 to 1024.
    #[arg(long, default_value_t = mon_proto::node::DEFAULT_MAX_RUNS, value_parser = parse_max_runs)]
    pub max_runs: usize,
    /// Interactive sessions (`mon shell`) one key may hold on this node, between commands
    /// or not (beyond: `busy-interactive`, retry later), 1 to 1024.
    #[arg(long, default_value_t = mon_proto::node::DEFAULT_MAX_INTERACTIVE_PER_KEY, value_parser = parse_max_interactive)]
    pub max_interactive_per_key: usize,
    /// Longest signed lifetime, in seconds, of an interactive session this node accepts
    /// (beyond: `interactive-lifetime-too-long`), 60 to 3600. `mon shell` signs 900: below
    /// that, this node refuses `mon shell`.
    #[arg(long, default_value_t = mon_proto::timing::INTERACTIVE_LIFETIME_S, value_parser = parse_interactive_lifetime)]
    pub max_interactive_lifetime_s: u32,
    /// Milliseconds a session waits for its parent's go (first sealed frame) before it is
    /// dropped (sooner when its signed join window is shorter).
    #[arg(long, default_value_t = mon_proto::node::DEFAULT_GO_WAIT_MS)]
    pub go_wait_ms: u64,
    /// Mean gossip interval in milliseconds (each Ping carries 3 view entries and 1 hint;
    /// the default keeps gossip under 500 B/s per node).
    #[arg(long, default_value_t = mon_proto::membership::DEFAULT_PING_INTERVAL_MS)]
    pub ping_interval_ms: u64,
    /// Rotate the audit log once its file holds this much: `64M`, `512K`, `1G` or bytes;
    /// `off` (or 0): never by size. The next file begins with a `log.rotate` record that
    /// continues the hash chain.
    #[arg(long, value_name = "SIZE", default_value = crate::auditlog::DEFAULT_ROTATE_SIZE, value_parser = parse_rotate_size)]
    pub audit_rotate_size: u64,
    /// Rotate the audit log once its file's first record is this old: `90s`, `15m`, `1h`,
    /// `2d`, `1w`; `off` (or 0, the default): never by age.
    #[arg(long, value_name = "AGE", default_value = "off", value_parser = parse_rotate_age)]
    pub audit_rotate_age: u64,
    /// Rotated audit log files kept (the oldest beyond are removed, each after a
    /// `log.retention` record naming it); `all`: never remove.
    #[arg(long, value_name = "N|all", default_value_t = crate::auditlog::DEFAULT_KEEP, value_parser = parse_keep)]
    pub audit_keep: usize,
    /// Replay-journal lines appended before it is compacted in the background (at least as
    /// many as it held after its last compaction); for tests.
    #[arg(long, hide = true, default_value_t = journal::DEFAULT_COMPACT_LINES)]
    pub journal_compact_lines: usize,
    /// Log lines on stderr: text, or one JSON object a line (levels by `RUST_LOG`).
    #[arg(long, value_enum, default_value_t = crate::logging::LogFormat::Text, value_name = "FORMAT")]
    pub log_format: crate::logging::LogFormat,
}

impl ServerArgs {
    /// When the audit log rotates and how many rotated files it keeps.
    pub fn rotation(&self) -> crate::auditlog::Rotation {
        crate::auditlog::Rotation {
            max_bytes: (self.audit_rotate_size > 0).then_some(self.audit_rotate_size),
            max_age: (self.audit_rotate_age > 0)
                .then(|| std::time::Duration::from_secs(self.audit_rotate_age)),
            keep: (self.audit_keep != usize::MAX).then_some(self.audit_keep),
        }
    }
}

/// `--audit-rotate-size`: a size, or `off` (0).
fn parse_rotate_size(v: &str) -> Result<u64, String> {
    if v == "off" {
        return Ok(0);
    }
    crate::units::parse_size(v).ok_or_else(|| {
        format!("\"{v}\": expected a size like 64M, 512K, 1G, a number of bytes, or off")
    })
}

/// `--audit-rotate-age`: a duration in seconds, or `off` (0).
fn parse_rotate_age(v: &str) -> Result<u64, String> {
    if v == "off" || v == "0" {
        return Ok(0);
    }
    crate::units::parse_duration_s(v)
        .ok_or_else(|| format!("\"{v}\": expected an age like 90s, 15m, 1h, 2d, 1w, or off"))
}

/// `--audit-keep`: a number of files, or `all` (`usize::MAX`).
fn parse_keep(v: &str) -> Result<usize, String> {
    if v == "all" {
        return Ok(usize::MAX);
    }
    v.parse::<usize>()
        .ok()
        .filter(|n| *n < usize::MAX)
        .ok_or_else(|| format!("\"{v}\": expected a number of files, or all"))
}

/// `--max-runs`: 1 to 1024.
fn parse_max_runs(v: &str) -> Result<usize, String> {
    parse_in(v, 1, 1024)
}

/// `--max-interactive-per-key`: 1 to 1024.
fn parse_max_interactive(v: &str) -> Result<usize, String> {
    parse_in(v, 1, 1024)
}

/// `--max-interactive-lifetime-s`: 60 to the longest session lifetime a server accepts.
fn parse_interactive_lifetime(v: &str) -> Result<u32, String> {
    let most = mon_proto::verify::DEFAULT_MAX_LIFETIME_S as usize;
    parse_in(v, 60, most).map(|n| n as u32)
}

/// A whole number from `lo` to `hi`.
fn parse_in(v: &str, lo: usize, hi: usize) -> Result<usize, String> {
    v.parse::<usize>()
        .ok()
        .filter(|n| (lo..=hi).contains(n))
        .ok_or_else(|| format!("\"{v}\": expected a whole number from {lo} to {hi}"))
}

/// Every address, on the default port: `--listen`'s default.
fn any_addr() -> HostPort {
    HostPort::ip(Ipv4Addr::UNSPECIFIED.into(), Some(DEFAULT_PORT))
}

/// `SLICE USER,USER…` (or `SLICE=USER,…`) of `--run-as-users`.
fn parse_run_as_users(v: &str) -> Result<(String, Vec<String>), String> {
    let (slice, users) = v
        .trim()
        .split_once(|c: char| c == '=' || c.is_whitespace())
        .ok_or_else(|| format!("\"{v}\": expected SLICE USER,USER…"))?;
    if slice.is_empty() {
        return Err(format!("\"{v}\": no slice name"));
    }
    let users: Vec<String> = users
        .split(',')
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .map(String::from)
        .collect();
    if users.is_empty() {
        return Err(format!("\"{v}\": no user listed for slice {slice}"));
    }
    for u in &users {
        mon_policy::check_user(u)?;
    }
    Ok((slice.to_string(), users))
}

/// Runs the server until SIGTERM or SIGINT.
pub fn run(args: ServerArgs) -> anyhow::Result<u8> {
    let config_dir = args.config_dir.clone();
    let state_dir = args.state_dir.clone();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(driver::serve(args, config_dir, state_dir))
}
