//! Opening a server: its node key, known_nodes, resources, state directory, replay journal,
//! audit log and slice policies, and the node's configuration from the arguments — all before
//! any socket is bound, so a server that cannot start says why before it listens.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use mon_keys::known_nodes::{KnownNodes, Trust};
use mon_keys::nodekey::NodeKey;
use mon_policy::{PolicyStore, StoreEvent};
use mon_proto::audit::{AuditEvent, EventKind, Outcome};
use mon_proto::node::NodeConfig;
use mon_proto::replay::ReplayCache;

use super::journal::Journal;
use super::ServerArgs;
use crate::auditlog::AuditLog;
use crate::clock::now_ms;
use crate::resources::Resources;

/// Everything a server opened, ready to bind and run.
pub(super) struct Opened {
    pub(super) name: String,
    pub(super) key: NodeKey,
    pub(super) known: Arc<KnownNodes>,
    pub(super) known_path: PathBuf,
    pub(super) resources: Arc<Resources>,
    pub(super) cfg: NodeConfig,
    pub(super) journal: Journal,
    pub(super) replay: ReplayCache,
    pub(super) audit: AuditLog,
    pub(super) store: PolicyStore,
    /// Records of the start not written yet (the policies loaded or refused).
    pub(super) pending_audit: Vec<AuditEvent>,
}

/// Opens the server's files under `config_dir` and `state_dir`.
pub(super) fn open(
    args: &ServerArgs,
    listen: SocketAddr,
    config_dir: &Path,
    state_dir: &Path,
) -> anyhow::Result<Opened> {
    let name = args.name.clone().unwrap_or_else(host_name);
    let key = load_node_key(config_dir)?;
    let known_path = config_dir.join("known_nodes");
    let known = Arc::new(
        super::resolve::load_known(&known_path)
            .with_context(|| format!("loading {}", known_path.display()))?,
    );
    warn_if_not_listed(&known, &name, &key);
    let resources = Arc::new(load_resources(args)?);
    super::journal::prepare_state_dir(state_dir)?;
    let start = now_ms();
    let cfg = node_config(args, listen, name.clone())?;
    let (mut journal, replay) = Journal::open(state_dir, cfg.replay.clone(), start)?;
    journal.set_compact_lines(args.journal_compact_lines);
    let audit_path = state_dir.join(crate::auditlog::FILE_NAME);
    let audit = AuditLog::open_with(&audit_path, &name, args.rotation())
        .with_context(|| format!("opening {}", audit_path.display()))?;
    let slices_dir = config_dir.join("slices");
    let (store, ev) = PolicyStore::open(&slices_dir);
    let pending_audit = policy_events(ev);
    Ok(Opened {
        name,
        key,
        known,
        known_path,
        resources,
        cfg,
        journal,
        replay,
        audit,
        store,
        pending_audit,
    })
}

/// The node's key, `CONFIG_DIR/node_ed25519_key`.
fn load_node_key(config_dir: &Path) -> anyhow::Result<NodeKey> {
    let key_path = config_dir.join("node_ed25519_key");
    NodeKey::load(&key_path).with_context(|| {
        format!(
            "loading the node key {} (create it with `mon server init`)",
            key_path.display()
        )
    })
}

/// Warns when known_nodes does not pin this node's own name to its key: the other nodes then
/// refuse its gossip and overlays, and clients cannot pin it as an entry.
fn warn_if_not_listed(known: &KnownNodes, name: &str, key: &NodeKey) {
    let file = known.source().display();
    let line = format!("{name} {}", key.public_openssh());
    match known.check(name, None, &key.public()) {
        Trust::Trusted => {}
        Trust::Unknown => tracing::warn!(
            "this node's name {name} is not in {file}: other nodes will not gossip with it or \
             take it into their overlays, and clients cannot use it as an entry; add the line \
             `{line}` (with its IPs) to known_nodes on every node and client"
        ),
        Trust::Mismatch => tracing::warn!(
            "{file} lists {name} with another key than this node's: other nodes and clients \
             will refuse it; its line should read `{line}`"
        ),
        Trust::Revoked => tracing::warn!(
            "this node's key is @revoked in {file}: other nodes and clients refuse it"
        ),
    }
}

/// The operator's `--resource` definitions.
fn load_resources(args: &ServerArgs) -> anyhow::Result<Resources> {
    Resources::new(
        args.resources
            .iter()
            .map(|r| Resources::parse_definition(r))
            .collect::<Result<Vec<_>, _>>()
            .context("bad --resource")?,
        crate::resources::DEFAULT_TIMEOUT,
    )
    .context("bad --resource")
}

/// The node's configuration from the server's arguments.
fn node_config(args: &ServerArgs, listen: SocketAddr, name: String) -> anyhow::Result<NodeConfig> {
    let reach_at = match &args.advertise {
        Some(a) => super::advertise::resolve(a, listen)?,
        None => listen,
    };
    let mut cfg = NodeConfig::server(&name, reach_at);
    cfg.limits.skew_ms = args.skew * 1000;
    cfg.replay = mon_proto::replay::ReplayConfig::for_limits(&cfg.limits);
    cfg.max_sessions = args.max_sessions.max(1);
    cfg.max_sessions_per_key = args.max_sessions_per_key.max(1);
    cfg.max_sessions_per_slice = args.max_sessions_per_slice.max(1);
    cfg.go_wait_ms = args.go_wait_ms.max(100);
    cfg.max_runs = args.max_runs;
    cfg.max_interactive_per_key = args.max_interactive_per_key;
    cfg.limits.max_interactive_lifetime_s = args.max_interactive_lifetime_s;
    set_run_as(&mut cfg, args);
    cfg.membership =
        mon_proto::membership::Config::with_interval(args.ping_interval_ms.clamp(100, 60_000));
    cfg.push_policy = mon_proto::push::Policy::parse(&args.push_policy)
        .context("--push-policy must be first-fit or rarest-first")?;
    cfg.push_primary_first = args.push_primary_first;
    #[cfg(feature = "fault-injection")]
    set_faults(&mut cfg, &name);
    Ok(cfg)
}

/// Who the node may act as: root or not, and each slice's run-as users from server.conf.
fn set_run_as(cfg: &mut NodeConfig, args: &ServerArgs) {
    cfg.limits.run_as.root = crate::asuser::is_root();
    for (slice, users) in &args.run_as_users {
        cfg.limits
            .run_as
            .users
            .entry(slice.clone())
            .or_default()
            .extend(users.iter().cloned());
    }
    if cfg.limits.run_as.root && cfg.limits.run_as.users.is_empty() {
        tracing::warn!(
            "the server runs as root and server.conf lists no run-as-users: exec, grep and push are refused for every slice (add `run-as-users SLICE USER,…`)"
        );
    }
}

/// The faults the test environment asks of the node named `name` (fault-injection builds).
#[cfg(feature = "fault-injection")]
fn set_faults(cfg: &mut NodeConfig, name: &str) {
    let list = std::env::var("MON_FAULT_CORRUPT_SERVE").unwrap_or_default();
    if list.split(',').any(|n| n == name) {
        tracing::warn!("fault injection: corrupting every block this node serves");
        cfg.corrupt_serve = true;
    }
    let list = std::env::var("MON_FAULT_NO_PUSH_GO").unwrap_or_default();
    if list.split(',').any(|n| n == name) {
        tracing::warn!("fault injection: no go to this node's first-parent push children");
        cfg.no_push_go = true;
    }
}

/// The audit records of policy loads and refusals.
pub(super) fn policy_events(events: Vec<StoreEvent>) -> Vec<AuditEvent> {
    events
        .into_iter()
        .map(|e| match e {
            StoreEvent::Loaded { slice, files } => {
                tracing::info!(slice, files = files.len(), "policy loaded");
                AuditEvent::new(EventKind::PolicyLoad)
                    .result(Outcome::Ok)
                    .slice(slice)
            }
            StoreEvent::Error { slice, diagnostics } => {
                let text: Vec<String> = diagnostics.iter().take(5).map(|d| d.to_string()).collect();
                let text = text.join("; ");
                if slice.is_empty() {
                    // Reported once (until it changes): every slice keeps what it has.
                    tracing::error!(
                        "{text}: no slice policy can load (a slice that never loaded denies \
                         every session); create one directory per slice in it"
                    );
                } else {
                    tracing::error!(slice, "policy rejected, last good policy stays: {text}");
                }
                AuditEvent::new(EventKind::PolicyError)
                    .result(Outcome::Error)
                    .slice(slice)
                    .reason("policy-error", text)
            }
        })
        .collect()
}

/// The valid policy of every slice.
pub(super) fn policies(store: &PolicyStore) -> HashMap<String, Arc<mon_policy::SlicePolicy>> {
    store
        .slices()
        .into_iter()
        .filter_map(|s| store.get(&s).map(|p| (s, p)))
        .collect()
}

/// This host's name (the default node name).
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "localhost".into())
}
