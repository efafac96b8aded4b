//! The client's options and where they come from. Each setting is taken from, first to last:
//! the command line (before or after the command: `mon --json count` and `mon count --json`
//! are the same; a flag given twice keeps its last value, a list flag gathers every value),
//! the environment (`MON_KEY`, `MON_SERVER`, `MON_SLICE`, `MON_KNOWN_NODES`), the client
//! config file (`$XDG_CONFIG_HOME/mon/config`, else `~/.config/mon/config`; `KEY VALUE`
//! lines, the same parser as server.conf), then the defaults.

use std::ffi::OsString;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::Parser;
use mon_keys::addr::HostPort;

use super::entry::Entry;
use super::OverlayArg;

/// Options shared by every client command, as given on the command line (or in the config
/// file); [`GlobalArgs::resolve`] makes the [`GlobalOpts`] a command runs with.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct GlobalArgs {
    /// Ed25519 private key file, or FILE.pub to sign through ssh-agent [env: MON_KEY;
    /// default: an ssh-agent key if SSH_AUTH_SOCK is set, else ~/.ssh/id_ed25519].
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// Entry server: a host name, a known_nodes name or an IP, the port optional (7460);
    /// IPv6 as ADDR or [ADDR]:PORT. known_nodes pins its key by the name as typed and by the
    /// address [env: MON_SERVER; default: 127.0.0.1].
    #[arg(long, value_name = "HOST[:PORT]")]
    pub server: Option<HostPort>,
    /// Slice whose policy decides [env: MON_SLICE; default: the entry server's only slice].
    #[arg(long)]
    pub slice: Option<String>,
    /// Principal to claim (servers find it from the key otherwise).
    #[arg(long)]
    pub principal: Option<String>,
    /// known_nodes file used to check the entry server's key [env: MON_KNOWN_NODES;
    /// default: ~/.mon/known_nodes, else /etc/mon/known_nodes].
    #[arg(long, value_name = "FILE")]
    pub known_nodes: Option<PathBuf>,
    /// Overlay algorithm [default: random].
    #[arg(long, value_enum)]
    pub overlay: Option<OverlayArg>,
    /// Children per node [default: adapts to the system's size].
    #[arg(long)]
    pub fanout: Option<u16>,
    /// Parents per node in a DAG [default: 1 for queries, 3 for push].
    #[arg(long)]
    pub max_parents: Option<u8>,
    /// Seconds to wait for the answer [default: 10; 600 for push].
    #[arg(long)]
    pub timeout: Option<f64>,
    /// Only matching nodes execute; others relay [default: *]. Patterns (`web*`, `!web13`),
    /// node sets as clush -w takes them (`n[1-20],!n[5-7]`) and ClusterShell groups (`@web`);
    /// repeatable, the lists are joined (a comma inside brackets stays in its node set).
    #[arg(long, value_delimiter = ',', value_name = "LIST")]
    pub targets: Vec<String>,
    /// Print one JSON object (documented in docs/operations.md).
    #[arg(long)]
    pub json: bool,
}

/// The options a client command runs with: every layer applied, the entry resolved.
#[derive(Debug, Clone)]
pub struct GlobalOpts {
    /// `--key`, when set anywhere.
    pub key: Option<PathBuf>,
    /// The entry server.
    pub server: Entry,
    /// `--slice`.
    pub slice: Option<String>,
    /// `--principal`.
    pub principal: Option<String>,
    /// The known_nodes file to use, if one is set or found.
    pub known_nodes: Option<PathBuf>,
    /// `--overlay`.
    pub overlay: OverlayArg,
    /// `--fanout`.
    pub fanout: Option<u16>,
    /// `--max-parents`.
    pub max_parents: Option<u8>,
    /// `--timeout`.
    pub timeout: Option<f64>,
    /// `--targets`, comma-separated (`*` when none were given).
    pub targets: String,
    /// `--json`.
    pub json: bool,
}

/// The settings the client config file may hold.
const FILE_KEYS: &[&str] = &[
    "key",
    "server",
    "slice",
    "known-nodes",
    "overlay",
    "timeout",
];

/// The entry server when none is set: this host, on the default port.
fn default_server() -> HostPort {
    HostPort::ip(std::net::Ipv4Addr::LOCALHOST.into(), None)
}

#[derive(Parser)]
#[command(no_binary_name = true)]
struct Probe {
    #[command(flatten)]
    args: GlobalArgs,
}

impl GlobalArgs {
    /// `self` with `later`'s settings on top: a value set in `later` wins, lists gather.
    pub fn then(self, later: GlobalArgs) -> GlobalArgs {
        GlobalArgs {
            key: later.key.or(self.key),
            server: later.server.or(self.server),
            slice: later.slice.or(self.slice),
            principal: later.principal.or(self.principal),
            known_nodes: later.known_nodes.or(self.known_nodes),
            overlay: later.overlay.or(self.overlay),
            fanout: later.fanout.or(self.fanout),
            max_parents: later.max_parents.or(self.max_parents),
            timeout: later.timeout.or(self.timeout),
            targets: [self.targets, later.targets].concat(),
            json: self.json || later.json,
        }
    }

    /// The settings of every layer: config file, then environment, then `self` (the
    /// command line).
    pub fn layered(self) -> anyhow::Result<GlobalArgs> {
        Ok(config_file()?.then(environment()?).then(self))
    }

    /// The options a client command runs with: [`GlobalArgs::layered`], the defaults, and the
    /// entry server resolved (through known_nodes names, then the resolver).
    pub fn resolve(self) -> anyhow::Result<GlobalOpts> {
        let a = self.layered()?;
        let known_nodes = super::known_nodes_path(a.known_nodes.clone());
        let server = a.server.clone().unwrap_or_else(default_server);
        let server = Entry::resolve(&server, known_nodes.as_deref())?;
        let targets = if a.targets.is_empty() {
            "*".to_string()
        } else {
            a.targets.join(",")
        };
        Ok(GlobalOpts {
            key: a.key,
            server,
            slice: a.slice,
            principal: a.principal,
            known_nodes,
            overlay: a.overlay.unwrap_or(OverlayArg::Random),
            fanout: a.fanout,
            max_parents: a.max_parents,
            timeout: a.timeout,
            targets,
            json: a.json,
        })
    }
}

/// An environment variable's value, unless unset or empty.
fn var(name: &str) -> Option<OsString> {
    std::env::var_os(name).filter(|v| !v.is_empty())
}

/// The settings of `MON_KEY`, `MON_SERVER`, `MON_SLICE` and `MON_KNOWN_NODES`.
fn environment() -> anyhow::Result<GlobalArgs> {
    let server = match var("MON_SERVER") {
        Some(s) => Some(
            s.to_string_lossy()
                .parse::<HostPort>()
                .context("MON_SERVER")?,
        ),
        None => None,
    };
    Ok(GlobalArgs {
        key: var("MON_KEY").map(PathBuf::from),
        server,
        slice: var("MON_SLICE").map(|s| s.to_string_lossy().into_owned()),
        known_nodes: var("MON_KNOWN_NODES").map(PathBuf::from),
        ..GlobalArgs::default()
    })
}

/// Where the client config file is: `$XDG_CONFIG_HOME/mon/config`, else
/// `$HOME/.config/mon/config`.
pub fn config_path() -> Option<PathBuf> {
    var("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| var("HOME").map(|h| PathBuf::from(h).join(".config")))
        .map(|d| d.join("mon/config"))
}

/// The settings of the client config file (none when it does not exist).
fn config_file() -> anyhow::Result<GlobalArgs> {
    let Some(path) = config_path().filter(|p| p.exists()) else {
        return Ok(GlobalArgs::default());
    };
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("reading the client config file {}", path.display()))?;
    parse_config(&path, &text)
}

/// The client config file's settings; `~/` at the start of a file name is the home directory.
fn parse_config(path: &std::path::Path, text: &str) -> anyhow::Result<GlobalArgs> {
    let probe = |flag: &str, value: &str| {
        Probe::try_parse_from([flag, value])
            .map(|_| ())
            .map_err(|e| e.to_string())
    };
    let mut flags = crate::settings::flags(path, text, FILE_KEYS, probe)?;
    let home = var("HOME").map(PathBuf::from);
    for pair in flags.chunks_mut(2) {
        if let [flag, value] = pair {
            let is_file = flag == "--key" || flag == "--known-nodes";
            let rest = value.to_str().and_then(|v| v.strip_prefix("~/"));
            if let (true, Some(rest), Some(h)) = (is_file, rest, &home) {
                *value = h.join(rest).into_os_string();
            }
        }
    }
    Ok(Probe::try_parse_from(flags)
        .with_context(|| format!("{}", path.display()))?
        .args)
}

#[cfg(test)]
mod tests;
