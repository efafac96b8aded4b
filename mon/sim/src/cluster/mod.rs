//! A deterministic discrete-event simulator of a MON deployment: the real [`Node`] state
//! machines of N servers and a real [`mon_proto::client::ClientSession`], under virtual time.
//!
//! Run ([`run`]):
//! 1. **Deployment** ([`setup`]): node keys, `known_nodes`, a user key and a slice policy, made
//!    in memory exactly like `mon testbed` writes them to disk.
//! 2. **World** ([`world`]): every node gets a place on a PlanetLab-like map (latencies), a
//!    processing speed, and a role: normal, straggler (slow) or dead.
//! 3. **Membership**: nodes start over the first 10 s and join through the first three (as in
//!    `mon testbed`); gossip runs for `settle_ms` of virtual time.
//!    Every node runs [`NodeConfig::server`], the configuration of a `mon server` without
//!    flags (gossip every 2.5 s, timeouts derived from it): the simulator measures what is
//!    deployed.
//! 4. **Sessions**: the dead nodes stop (they never answer again); then, one at a time, the
//!    client sends a session (`count`, `depth` and `avg load`) to a random live entry node
//!    (not a straggler: the paper's client uses a nearby server) and waits for the result, `gap_ms` between sessions, cycling through the configurations
//!    ([`Column`]) so that each sees the same conditions.
//! 5. **Push** ([`run_push`], instead of 4): after the same boot, the client pushes one file
//!    through mon-proto's sans-IO `PushSource` (`push_session`); the nodes' push streams cross
//!    the simulated network in order and their files live in memory (`push_io`), so the run
//!    tells what each node committed.
//!
//! Determinism: one event queue ordered by (virtual time, sequence number), every random choice
//! from generators seeded by [`SimConfig::seed`], no clock, no OS randomness: same config →
//! same [`SimReport`]s, bit for bit.
//!
//! Crypto: the nodes run real Ed25519 and X25519 (a node verifies the SSHSIG of each session,
//! a signature per hop, a key exchange per link, and signs every gossip message) unless
//! mon-keys is built with its `sim-crypto` feature, which swaps them for cheap insecure
//! stand-ins so that 10,000 nodes fit in minutes; [`crypto_kind`] says which.

mod engine;
mod push_io;
mod push_session;
mod report;
mod roles;
mod session;
pub mod setup;
mod world;

use std::collections::HashMap;

use rand::seq::SliceRandom;
use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::{ChaCha20Rng, ChaCha8Rng};

pub use push_session::{run_push, PushRun, PUSH_DEST};
pub use report::{count_cdf, percentile, RttSummary, SimReport, Spread};
pub use session::{SessionRecord, RESOURCE};
pub use world::Latency;

use engine::Engine;
use mon_proto::membership::default_fanout_with_ring;
use mon_proto::node::{Node, NodeConfig};
use mon_proto::replay::ReplayCache;
use mon_proto::wire::session::{OverlayKind, OverlaySpec};
use roles::Roles;

/// Unix ms the simulated clocks read at virtual time 0 (2025-06-15).
pub const EPOCH_MS: u64 = 1_750_000_000_000;

/// Which crypto the nodes run: `real`, or `sim` when mon-keys has the `sim-crypto` feature.
pub fn crypto_kind() -> &'static str {
    if mon_keys::crypto::SIM_CRYPTO {
        "sim"
    } else {
        "real"
    }
}

/// One overlay configuration (a column of Table 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Column {
    /// The algorithm.
    pub kind: OverlayKind,
    /// Children per node; `None` for the servers' adaptive default.
    pub fanout: Option<u16>,
}

/// What to simulate.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// Number of servers.
    pub nodes: usize,
    /// Overlay configurations; sessions cycle through them.
    pub columns: Vec<Column>,
    /// Fraction of nodes that die just before the first session.
    pub dead: f64,
    /// Fraction of nodes that are slow (median 50 ms per packet instead of 0.3 ms).
    pub stragglers: f64,
    /// Sessions per configuration.
    pub sessions: usize,
    /// Seed of every random choice.
    pub seed: u64,
    /// Virtual time of membership gossip before the first session, ms.
    pub settle_ms: u64,
    /// Virtual time between a result and the next session, ms.
    pub gap_ms: u64,
    /// The client's `--timeout`, ms.
    pub timeout_ms: u32,
    /// Packet loss rate between nodes.
    pub loss: f64,
    /// Latency model.
    pub latency: Latency,
    /// Parents per node in a DAG.
    pub max_parents: u8,
    /// Random hops before the local stage of a two-stage tree.
    pub stage_one_hops: u8,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            nodes: 330,
            columns: vec![Column {
                kind: OverlayKind::Random,
                fanout: None,
            }],
            dead: 0.03,
            stragglers: 0.0,
            sessions: 100,
            seed: 1,
            settle_ms: 90_000,
            gap_ms: 250,
            timeout_ms: 10_000,
            loss: 0.0,
            latency: Latency::Planetlab,
            max_parents: 3,
            stage_one_hops: 2,
        }
    }
}

/// Why a simulation could not run.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// A parameter is out of range.
    #[error("{0}")]
    Config(String),
    /// Making the keys, known_nodes or policy failed.
    #[error("setting up the simulated deployment: {0}")]
    Setup(String),
}

/// The value of every resource on node `i` (0-based): a fixed spread of loads in [0, 10).
pub fn resource_value(i: usize) -> f64 {
    ((i as u64).wrapping_mul(7919) % 1000) as f64 / 100.0
}

fn check(cfg: &SimConfig) -> Result<(), SimError> {
    let bad = |m: &str| Err(SimError::Config(m.to_string()));
    if !(2..=100_000).contains(&cfg.nodes) {
        return bad("--nodes must be between 2 and 100000");
    }
    if !(0.0..0.9).contains(&cfg.dead) || !(0.0..=1.0).contains(&cfg.stragglers) {
        return bad("--dead must be in [0, 0.9) and --stragglers in [0, 1]");
    }
    if !(0.0..0.5).contains(&cfg.loss) {
        return bad("--loss must be in [0, 0.5)");
    }
    if cfg.columns.is_empty() || cfg.sessions == 0 {
        return bad("need at least one overlay and one session");
    }
    if cfg.columns.iter().any(|c| c.fanout == Some(0)) {
        return bad("--fanout must be at least 1");
    }
    if cfg.timeout_ms < 100 {
        return bad("--timeout must be at least 0.1 s");
    }
    Ok(())
}

/// The independent random streams of one run, all derived from [`SimConfig::seed`] (in a
/// fixed order: changing it changes every figure).
struct Rngs {
    roles: ChaCha8Rng,
    world: ChaCha8Rng,
    node: ChaCha8Rng,
    net: ChaCha8Rng,
    session: ChaCha8Rng,
    key: ChaCha20Rng,
    client: ChaCha20Rng,
}

impl Rngs {
    fn new(seed: u64) -> Rngs {
        let mut master = ChaCha8Rng::seed_from_u64(seed);
        let mut sub = |tag: u64| ChaCha8Rng::seed_from_u64(master.next_u64() ^ tag);
        let roles = sub(1);
        let world = sub(2);
        let node = sub(3);
        let net = sub(4);
        let session = sub(5);
        let mut key_seed = [0u8; 32];
        sub(6).fill_bytes(&mut key_seed);
        let mut client_seed = [0u8; 32];
        sub(7).fill_bytes(&mut client_seed);
        Rngs {
            roles,
            world,
            node,
            net,
            session,
            key: ChaCha20Rng::from_seed(key_seed),
            client: ChaCha20Rng::from_seed(client_seed),
        }
    }
}

/// RTT percentiles of the latency model, rounded to 0.1 ms.
fn rtt_summary(world: &world::World, rng: &mut ChaCha8Rng) -> RttSummary {
    let [p50, p90, p99, max] = world.rtt_percentiles(20_000, rng);
    let r = |x: f64| (x * 10.0).round() / 10.0;
    RttSummary {
        p50: r(p50),
        p90: r(p90),
        p99: r(p99),
        max: r(max),
    }
}

/// One [`Node`] per key of the deployment, each running [`NodeConfig::server`].
fn build_nodes(dep: &mut setup::Deployment, rng: &mut ChaCha8Rng) -> Result<Vec<Node>, SimError> {
    let n = dep.keys.len();
    let mut nodes = Vec::with_capacity(n);
    for i in 0..n {
        let Some(key) = dep.keys.get_mut(i).and_then(Option::take) else {
            return Err(SimError::Setup(format!("no key for node {i}")));
        };
        let ncfg = NodeConfig::server(&setup::node_name(i), setup::node_addr(i));
        let replay = ReplayCache::new(ncfg.replay.clone());
        let mut seed = [0u8; 32];
        rng.fill_bytes(&mut seed);
        let node_id = rng.next_u64();
        let mut node = Node::with_roster(
            ncfg,
            key,
            dep.known.clone(),
            dep.roster.clone(),
            replay,
            node_id,
            seed,
        );
        node.set_policies(dep.policies.clone());
        nodes.push(node);
    }
    Ok(nodes)
}

/// Starts every node at a random time in the first 10 s, joining through the first three,
/// and runs the membership gossip for `settle_ms`.
fn settle(
    engine: &mut Engine,
    cfg: &SimConfig,
    rng: &mut ChaCha8Rng,
    progress: &mut dyn FnMut(&str),
) {
    let n = cfg.nodes;
    engine.set_seeds((0..n.min(3)).map(setup::node_addr).collect());
    for i in 0..n {
        let at = rng.gen_range(0..10_000_000u64);
        engine.schedule_start(i, at);
    }
    let settle_us = cfg.settle_ms * 1000;
    let mut t = 0;
    while t < settle_us {
        t = (t + 10_000_000).min(settle_us);
        engine.run_until(t);
        progress(&format!(
            "membership: {} of {} s virtual",
            t / 1_000_000,
            settle_us / 1_000_000
        ));
    }
}

/// The live nodes' size estimates and the adaptive fanouts they give.
fn fanout_spreads(engine: &Engine, live: &[bool]) -> (Spread, Spread) {
    let estimates: Vec<f64> = (0..live.len())
        .filter(|&i| live[i])
        .filter_map(|i| engine.hosts.get(i))
        .map(|h| h.node.size_estimate() as f64)
        .collect();
    let adaptive: Vec<f64> = estimates
        .iter()
        .map(|&e| default_fanout_with_ring(e as usize) as f64)
        .collect();
    (Spread::of(&adaptive), Spread::of(&estimates))
}

/// The overlay a session of column `col` asks for.
fn overlay_spec(cfg: &SimConfig, col: &Column) -> OverlaySpec {
    OverlaySpec {
        kind: col.kind,
        fanout: col.fanout.unwrap_or(0),
        max_parents: if col.kind == OverlayKind::Dag {
            cfg.max_parents
        } else {
            1
        },
        stage_one_hops: cfg.stage_one_hops,
        max_depth: 0,
    }
}

/// Everything the sessions need besides the engine.
struct SessionPlan<'a> {
    cfg: &'a SimConfig,
    dep: &'a setup::Deployment,
    entries: Vec<usize>,
    live: &'a [bool],
    name_index: HashMap<String, usize>,
}

/// Runs `cfg.sessions` rounds of one session per column, `gap_ms` apart; the records by column.
fn run_sessions(
    engine: &mut Engine,
    plan: &SessionPlan<'_>,
    rngs: &mut Rngs,
    progress: &mut dyn FnMut(&str),
) -> Result<Vec<Vec<SessionRecord>>, SimError> {
    let cfg = plan.cfg;
    let mut records: Vec<Vec<SessionRecord>> = vec![Vec::new(); cfg.columns.len()];
    let total = cfg.sessions * cfg.columns.len();
    let mut done = 0;
    for s in 0..cfg.sessions {
        for (c, col) in cfg.columns.iter().enumerate() {
            records[c].push(run_one_session(engine, plan, rngs, s, col)?);
            done += 1;
            if done % 10 == 0 || done == total {
                progress(&format!("sessions: {done} of {total}"));
            }
        }
    }
    Ok(records)
}

/// Runs session `index` of column `col` through a random entry node, then lets `gap_ms` of
/// virtual time pass.
fn run_one_session(
    engine: &mut Engine,
    plan: &SessionPlan<'_>,
    rngs: &mut Rngs,
    index: usize,
    col: &Column,
) -> Result<SessionRecord, SimError> {
    let Some(&entry) = plan.entries.choose(&mut rngs.session) else {
        return Err(SimError::Config("no live node".into()));
    };
    let overlay = overlay_spec(plan.cfg, col);
    let rec = session::run_session(engine, plan, index, entry, overlay, &mut rngs.client);
    let next = engine.now_us() + plan.cfg.gap_ms * 1000;
    engine.run_until(next);
    Ok(rec)
}

/// A deployment booted for sessions: every node started and settled, the dead ones stopped.
struct Booted {
    engine: Engine,
    dep: setup::Deployment,
    roles: Roles,
    rngs: Rngs,
    rtt: RttSummary,
}

/// Checks `cfg`, makes the deployment, its world and nodes, runs the membership for
/// `settle_ms` and stops the dead nodes (the random streams are used in a fixed order).
fn boot(cfg: &SimConfig, progress: &mut dyn FnMut(&str)) -> Result<Booted, SimError> {
    check(cfg)?;
    let n = cfg.nodes;
    let mut rngs = Rngs::new(cfg.seed);
    let roles = Roles::assign(cfg, &mut rngs.roles);
    let world = world::World::new(n, &roles.slow, cfg.latency, &mut rngs.world);
    let rtt = rtt_summary(&world, &mut rngs.world);

    progress(&format!("generating {n} node keys"));
    let mut dep = setup::deploy(n, &mut rngs.key)?;
    let nodes = build_nodes(&mut dep, &mut rngs.node)?;
    let net_rng = rngs.net.clone();
    let mut engine = Engine::new(nodes, world, EPOCH_MS, net_rng, cfg.loss, resource_value);
    settle(&mut engine, cfg, &mut rngs.node, progress);
    kill_dead(&mut engine, &roles.dead);
    Ok(Booted {
        engine,
        dep,
        roles,
        rngs,
        rtt,
    })
}

/// Runs the simulation; `progress` hears what is going on (for a progress line).
pub fn run(cfg: &SimConfig, progress: &mut dyn FnMut(&str)) -> Result<Vec<SimReport>, SimError> {
    let Booted {
        mut engine,
        dep,
        roles,
        mut rngs,
        rtt,
    } = boot(cfg, progress)?;
    let n = cfg.nodes;
    let (adaptive, size_estimate) = fanout_spreads(&engine, &roles.live);

    let plan = SessionPlan {
        cfg,
        dep: &dep,
        entries: roles.entries(),
        live: &roles.live,
        name_index: (0..n).map(|i| (setup::node_name(i), i)).collect(),
    };
    let records = run_sessions(&mut engine, &plan, &mut rngs, progress)?;
    let facts = report::RunFacts {
        live: roles.live_count(),
        dead: roles.n_dead,
        stragglers: roles.n_slow,
        adaptive,
        size_estimate,
        rtt,
        virtual_s: engine.now_us() as f64 / 1e6,
    };
    Ok(column_reports(cfg, records, &facts))
}

/// Stops the nodes marked dead: they never answer again.
fn kill_dead(engine: &mut Engine, dead: &[bool]) {
    for (i, d) in dead.iter().enumerate() {
        if *d {
            engine.kill(i);
        }
    }
}

/// One report per column, from its session records.
fn column_reports(
    cfg: &SimConfig,
    records: Vec<Vec<SessionRecord>>,
    facts: &report::RunFacts,
) -> Vec<SimReport> {
    cfg.columns
        .iter()
        .zip(records)
        .map(|(col, recs)| report::column_report(cfg, col, recs, facts))
        .collect()
}
