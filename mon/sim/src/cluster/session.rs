//! The simulated client: runs one session through [`ClientSession`] against an entry node,
//! as `mon count` does over TCP, and measures it.
//!
//! The result is finished by the client's own finishing ([`finish`]): the roster bitmap gives
//! the nodes reached ([`finish::reached`]), each operation is checked and turned into its
//! answer by [`finish::finish_op`]. Unlike `mon count`, the simulator adds no unreached node
//! to the partials as missing: it reports what the nodes said was missing (`missing`) apart
//! from what the bitmap says was not reached (`unreached`).

use std::collections::{BTreeMap, HashMap};
use std::ops::ControlFlow;

use rand_chacha::ChaCha20Rng;
use serde::Serialize;

use super::engine::{Engine, Step};
use super::setup::{node_addr, node_name, Deployment, SLICE};
use super::SessionPlan;
use mon_proto::agg::{Answer, Coverage, Query};
use mon_proto::client::{finish, ClientError, ClientSession, SessionRequest};
use mon_proto::timing::SessionTiming;
use mon_proto::wire::packet::{Packet, SubtreeResult, MAX_STREAM_PACKET};
use mon_proto::wire::session::{Manifest, OverlaySpec};

/// The targets of every simulated session: every node.
pub(super) const ALL_TARGETS: &str = "*";

/// The resource every simulated session averages (its value on node `i` is
/// [`super::resource_value`]).
pub const RESOURCE: &str = "load";

/// What one session did.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct SessionRecord {
    /// Session number (0-based, in the order run).
    pub index: usize,
    /// Entry node.
    pub entry: String,
    /// The client got a result.
    pub ok: bool,
    /// Why not, when it did not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Nodes counted (`count`).
    pub answered: u64,
    /// `answered` / live nodes.
    pub coverage: f64,
    /// Subtree roots reported missing.
    pub missing: u64,
    /// Why, for the missing roots the result lists (at most 100): reason → count.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub missing_why: BTreeMap<String, u64>,
    /// Live nodes the roster bitmap says were not reached.
    pub unreached: u64,
    /// `depth` (levels, entry node = 1).
    pub depth: u32,
    /// Nodes that accepted the session (including ones whose result came too late).
    pub joined: usize,
    /// From sending the Session to the last node accepting it before the result, ms.
    pub create_ms: f64,
    /// From sending the Session to the entry node's SessionOk (`mon`'s `session_ms`), ms.
    pub entry_ms: f64,
    /// From Go to the result (`mon`'s `query_ms`, the count time), ms.
    pub count_ms: f64,
    /// The `avg` answer equals the mean of the resource over the nodes reached whose
    /// evaluation did not fail (the ground truth).
    pub avg_ok: bool,
    /// Session packets (not gossip) delivered from the Session to the result.
    pub packets: u64,
}

/// The operations every simulated session asks: count, depth, avg [`RESOURCE`].
fn session_ops() -> Vec<Query> {
    vec![
        Query::Count,
        Query::Depth,
        Query::Avg {
            res: RESOURCE.to_string(),
        },
    ]
}

/// The request `mon count` (or, with a manifest, `mon push`) would send for `ops` over
/// `overlay` with `timing`.
pub(super) fn session_request(
    ops: Vec<Query>,
    push: Option<Manifest>,
    overlay: OverlaySpec,
    timing: &SessionTiming,
) -> SessionRequest {
    SessionRequest {
        slice: SLICE.to_string(),
        principal: None,
        ops,
        push,
        targets: vec![ALL_TARGETS.to_string()],
        overlay,
        timeout_ms: timing.timeout_ms,
        max_lifetime_s: timing.max_lifetime_s,
        join_window_ms: timing.join_window_ms,
    }
}

/// Runs one session with `ops` = count, depth, avg [`RESOURCE`] through `entry`; the clock
/// advances until the result arrives or `timeout_ms` + 2 s pass.
pub(super) fn run_session(
    engine: &mut Engine,
    plan: &SessionPlan<'_>,
    index: usize,
    entry: usize,
    overlay: OverlaySpec,
    rng: &mut ChaCha20Rng,
) -> SessionRecord {
    let (dep, live, timeout_ms) = (plan.dep, plan.live, plan.cfg.timeout_ms);
    let ops = session_ops();
    let req = session_request(
        ops.clone(),
        None,
        overlay,
        &SessionTiming::query(timeout_ms),
    );
    let live_count = live.iter().filter(|l| **l).count().max(1);
    let mut rec = SessionRecord::empty(index, entry, live_count);
    let t0 = engine.now_us();
    let packets0 = engine.traffic.session;
    let mut cs = match start_client(engine, dep, entry, req, rng) {
        Ok(cs) => cs,
        Err(e) => {
            rec.error = Some(e.to_string());
            return rec;
        }
    };
    let deadline = t0 + (u64::from(timeout_ms) + 2_000) * 1000;
    let run = drive_client(engine, &mut cs, dep, entry, (t0, deadline), &mut rec);
    let accepts = engine.take_accepts();
    rec.packets = engine.traffic.session - packets0;
    let Some((t_res, r)) = run.result else {
        rec.record_no_result(accepts.len());
        return rec;
    };
    rec.record_timing(t0, run.t_go.unwrap_or(t0), t_res, &accepts);
    let reached = reached_live(dep, &r, live);
    rec.unreached = (live_count - reached.iter().filter(|r| **r).count()) as u64;
    rec.record_answers(&ops, r, &reached, &plan.name_index, live_count);
    rec
}

/// Opens the client's session and sends its Session packet to `entry`; the engine records
/// session accepts from now on.
fn start_client(
    engine: &mut Engine,
    dep: &Deployment,
    entry: usize,
    req: SessionRequest,
    rng: &mut ChaCha20Rng,
) -> Result<ClientSession, ClientError> {
    let cs = ClientSession::new(rng, &*dep.signer, req, engine.unix_ms(engine.now_us()))?;
    engine.track_accepts();
    engine.client_send_session(entry, cs.session_packet().to_bytes());
    Ok(cs)
}

/// How the client's side of a session went: when the go left, and the result with the
/// virtual time it arrived.
struct ClientRun {
    t_go: Option<u64>,
    result: Option<(u64, SubtreeResult)>,
}

/// Steps the engine, feeding the client what the entry node sends, until the result comes,
/// the entry node denies the session (`rec.error`), or nothing is left to do by `deadline`
/// (virtual µs; the session was sent at `t0`).
fn drive_client(
    engine: &mut Engine,
    cs: &mut ClientSession,
    dep: &Deployment,
    entry: usize,
    (t0, deadline): (u64, u64),
    rec: &mut SessionRecord,
) -> ClientRun {
    let mut run = ClientRun {
        t_go: None,
        result: None,
    };
    while run.result.is_none() {
        let Some(packet) = next_client_packet(engine, deadline) else {
            break;
        };
        if run.t_go.is_none() {
            match send_go(engine, cs, dep, entry, packet) {
                ControlFlow::Continue(t_go) => run.t_go = t_go,
                ControlFlow::Break(e) => {
                    rec.error = Some(e.to_string());
                    break;
                }
            }
            if let Some(t_go) = run.t_go {
                rec.entry_ms = (t_go - t0) as f64 / 1000.0;
            }
        } else if let Ok((r, ack)) = cs.on_result(packet) {
            engine.client_send(entry, ack.to_bytes());
            run.result = Some((engine.now_us(), r));
        }
    }
    run
}

/// Steps the engine until the entry node sends the client a packet that decodes (it is
/// returned), or nothing is left to do by `deadline` (virtual µs).
pub(super) fn next_client_packet(engine: &mut Engine, deadline: u64) -> Option<Packet> {
    loop {
        let bytes = match engine.step(deadline) {
            Step::Busy => continue,
            Step::Idle => return None,
            Step::Client(b) => b,
        };
        if let Ok(packet) = Packet::from_bytes(&bytes, MAX_STREAM_PACKET) {
            return Some(packet);
        }
    }
}

/// Hands the entry node's answer to the Session to the client: on SessionOk, sends the go
/// and continues with the virtual time it left; a denial breaks with the error; anything else
/// (a stray packet) continues without a go.
fn send_go(
    engine: &mut Engine,
    cs: &mut ClientSession,
    dep: &Deployment,
    entry: usize,
    packet: Packet,
) -> ControlFlow<ClientError, Option<u64>> {
    match cs.on_answer(packet, node_addr(entry), &dep.known) {
        Ok(go) => {
            engine.client_send(entry, go.to_bytes());
            ControlFlow::Continue(Some(engine.now_us()))
        }
        Err(e @ ClientError::Denied { .. }) => ControlFlow::Break(e),
        Err(_) => ControlFlow::Continue(None),
    }
}

/// Live nodes the result's roster bitmap says were reached (the client's finishing,
/// [`finish::reached`]).
fn reached_live(dep: &Deployment, r: &SubtreeResult, live: &[bool]) -> Vec<bool> {
    let reached = finish::reached(&dep.roster, r);
    live.iter()
        .enumerate()
        .map(|(i, l)| *l && reached.contains(&node_name(i)))
        .collect()
}

impl SessionRecord {
    /// A session that has not run yet: nothing counted, every live node unreached.
    fn empty(index: usize, entry: usize, live_count: usize) -> SessionRecord {
        SessionRecord {
            index,
            entry: node_name(entry),
            ok: false,
            error: None,
            answered: 0,
            coverage: 0.0,
            missing: 0,
            missing_why: BTreeMap::new(),
            unreached: live_count as u64,
            depth: 0,
            joined: 0,
            create_ms: 0.0,
            entry_ms: 0.0,
            count_ms: 0.0,
            avg_ok: false,
            packets: 0,
        }
    }

    /// The session's timings and the nodes that joined it in time: sent at `t0`, go at
    /// `t_go`, result at `t_res` (virtual µs); `accepts` are (time, node) of every accept.
    fn record_timing(&mut self, t0: u64, t_go: u64, t_res: u64, accepts: &[(u64, usize)]) {
        self.ok = true;
        self.count_ms = (t_res - t_go) as f64 / 1000.0;
        let in_time: Vec<&(u64, usize)> = accepts.iter().filter(|(t, _)| *t <= t_res).collect();
        self.joined = in_time.len();
        self.create_ms = in_time
            .iter()
            .map(|(t, _)| (t - t0) as f64 / 1000.0)
            .fold(0.0, f64::max);
    }

    /// A session without a result: the nodes that joined it, and why (unless the entry node
    /// said why already).
    fn record_no_result(&mut self, joined: usize) {
        if self.error.is_none() {
            self.error = Some("no result before the client's timeout".into());
        }
        self.joined = joined;
    }

    /// The `count` answer `n` with its coverage: the nodes counted and the missing ones.
    fn record_count(&mut self, n: u64, cov: &Coverage, live_count: usize) {
        self.answered = n;
        self.coverage = n as f64 / live_count as f64;
        self.missing = cov.missing.total();
        for e in cov.missing.entries() {
            *self.missing_why.entry(e.reason.clone()).or_default() += 1;
        }
    }

    /// Fills in the answers of `ops` from the result, checking `avg` against the ground truth.
    fn record_answers(
        &mut self,
        ops: &[Query],
        r: SubtreeResult,
        reached: &[bool],
        name_index: &HashMap<String, usize>,
        live_count: usize,
    ) {
        for (q, p) in ops.iter().zip(r.partials) {
            // The simulator keeps what the nodes reported missing apart from the roster
            // bitmap's unreached nodes (`unreached`): it adds none of them to the partial.
            let kind = p.kind();
            let Ok((answer, cov)) = finish::finish_op(q, p, &[]) else {
                self.error = Some(format!("malformed {kind} result"));
                continue;
            };
            match answer {
                Answer::Count(n) => self.record_count(n, &cov, live_count),
                Answer::Depth(d) => self.depth = d,
                Answer::Avg { mean, n } => {
                    self.avg_ok = avg_is_exact(&cov, mean, n, reached, name_index);
                }
                _ => {}
            }
        }
    }
}

/// The `avg` answer (`mean` over `n` nodes) equals the mean of the resource over the nodes
/// reached whose evaluation did not fail (too slow for its deadline), and every failure is
/// listed.
fn avg_is_exact(
    cov: &Coverage,
    mean: Option<f64>,
    n: u64,
    reached: &[bool],
    name_index: &HashMap<String, usize>,
) -> bool {
    let failed: Vec<usize> = cov
        .failed
        .entries()
        .iter()
        .filter_map(|e| name_index.get(&e.node).copied())
        .collect();
    let complete = cov.failed.total() == cov.failed.entries().len() as u64;
    let vals: Vec<f64> = reached
        .iter()
        .enumerate()
        .filter(|(i, r)| **r && !failed.contains(i))
        .map(|(i, _)| super::resource_value(i))
        .collect();
    let expected = vals.iter().sum::<f64>() / vals.len().max(1) as f64;
    complete
        && n == vals.len() as u64
        && mean.is_some_and(|m| (m - expected).abs() <= 1e-9 * expected.abs().max(1.0))
}
