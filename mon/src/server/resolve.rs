//! The host names a server resolves: `--listen` once at start; known_nodes' host names when
//! the file is loaded and each time it is reloaded; `--join` names at start and again every
//! [`JOIN_RESOLVE_INTERVAL`]. Reloads and join lookups run off the event loop (a slow resolver
//! never stalls the node) and report back as [`Event`]s. A name that does not resolve is a
//! warning, never a stop.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use mon_keys::addr::{Host, HostPort, DEFAULT_PORT};
use mon_keys::known_nodes::{KnownNodes, KnownNodesError};
use tokio::sync::mpsc;

use super::event::Event;

/// How often `--join` host names are looked up again (their addresses are added as seeds).
pub(super) const JOIN_RESOLVE_INTERVAL: Duration = Duration::from_secs(30);

/// The address `--listen` names (a name's first address; [`DEFAULT_PORT`] when no port).
pub(super) fn listen_addr(listen: &HostPort) -> anyhow::Result<SocketAddr> {
    listen
        .resolve_one(DEFAULT_PORT)
        .with_context(|| format!("--listen {listen}"))
}

/// Reads known_nodes and resolves its host names (blocking); a name that does not resolve is
/// logged as a warning naming the file and line.
pub(super) fn load_known(path: &Path) -> Result<KnownNodes, KnownNodesError> {
    let mut k = KnownNodes::load(path)?;
    for w in k.resolve_all_names() {
        tracing::warn!("{w}");
    }
    Ok(k)
}

/// Loads known_nodes on a blocking thread and sends the outcome to the loop.
pub(super) fn spawn_known_reload(path: PathBuf, tx: mpsc::Sender<Event>) {
    tokio::task::spawn_blocking(move || {
        let r = load_known(&path).map_err(|e| e.to_string());
        let _ = tx.blocking_send(Event::KnownNodes(r));
    });
}

/// The `--join` addresses that need no resolver (IP literals).
pub(super) fn join_literals(join: &[HostPort]) -> Vec<SocketAddr> {
    join.iter()
        .filter(|h| matches!(h.host(), Host::Ip(_)))
        .filter_map(|h| h.resolve_one(DEFAULT_PORT).ok())
        .collect()
}

/// Whether any `--join` entry is a host name.
pub(super) fn join_has_names(join: &[HostPort]) -> bool {
    join.iter().any(|h| matches!(h.host(), Host::Name(_)))
}

/// Looks the `--join` host names up on a task and sends their addresses to the loop.
pub(super) fn spawn_join_lookup(join: &[HostPort], tx: mpsc::Sender<Event>) {
    let names: Vec<HostPort> = join
        .iter()
        .filter(|h| matches!(h.host(), Host::Name(_)))
        .cloned()
        .collect();
    if names.is_empty() {
        return;
    }
    tokio::spawn(async move {
        let mut addrs = Vec::new();
        for h in &names {
            let target = (h.host_text(), h.port_or(DEFAULT_PORT));
            match tokio::net::lookup_host(target).await {
                Ok(found) => addrs.extend(found),
                Err(e) => tracing::warn!(
                    "--join {h}: cannot resolve {:?} ({e}); trying again in {} s",
                    h.host_text(),
                    JOIN_RESOLVE_INTERVAL.as_secs()
                ),
            }
        }
        if !addrs.is_empty() {
            let _ = tx.send(Event::Join(addrs)).await;
        }
    });
}
