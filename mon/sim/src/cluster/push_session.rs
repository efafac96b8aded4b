//! The simulated client pushing one file ([`run_push`]), as `mon push` does over TCP: the
//! handshake through [`ClientSession`], then mon-proto's sans-IO [`PushSource`] serves the
//! entry node the blocks it asks for until the result comes. The nodes land the file in
//! memory (`push_io`); the run reports what each node committed at [`PUSH_DEST`].
//!
//! Order, as in the driver: Session; on SessionOk the go, then everything the source
//! transmits, on the client's one connection (in order); each turn the source's timers run
//! first, then its packets go, then the client waits for the entry node or the next timer.

use rand::seq::SliceRandom;
use rand_chacha::ChaCha20Rng;

use super::engine::Engine;
use super::session::{next_client_packet, session_request, ALL_TARGETS};
use super::setup::{node_addr, node_name, Deployment, PUSH_DIR};
use super::{Booted, SimConfig, SimError};
use mon_proto::agg::Query;
use mon_proto::client::finish::PushSummary;
use mon_proto::client::push_source::SourceEvent;
use mon_proto::client::{ClientError, ClientSession, PushSource};
use mon_proto::push::build_manifest;
use mon_proto::push::ends::NodeEnd;
use mon_proto::push::geometry::choose_block_size;
use mon_proto::timing::{SessionKind, SessionTiming};
use mon_proto::wire::packet::SubtreeResult;
use mon_proto::wire::session::{Manifest, OverlayKind, OverlaySpec};

/// Where the simulated push lands the file (beneath the policy's [`PUSH_DIR`]).
pub const PUSH_DEST: &str = "/srv/sim/pushed";

/// Virtual time the nodes run on after the result (acks, late commits), µs.
const AFTER_US: u64 = 5_000_000;

/// What one simulated push did.
#[derive(Debug)]
pub struct PushRun {
    /// Entry node.
    pub entry: String,
    /// Which nodes are live (by index).
    pub live: Vec<bool>,
    /// What each node committed at [`PUSH_DEST`] (by index; `None`: nothing).
    pub landed: Vec<Option<Vec<u8>>>,
    /// The client's summary of the result (`None` without a result).
    pub summary: Option<PushSummary>,
    /// Why the push ended without a result.
    pub error: Option<String>,
    /// Bytes the client served.
    pub served: u64,
    /// The nodes the entry node reported finished (`Ended`) before the result, in order.
    pub ended: Vec<NodeEnd>,
    /// From the Session to the result, ms of virtual time.
    pub push_ms: f64,
}

/// Boots the deployment of `cfg` (as [`super::run`] does) and pushes `data` to every node
/// through a random live entry node, with `cfg.timeout_ms` as the push's timeout.
pub fn run_push(
    cfg: &SimConfig,
    data: &[u8],
    progress: &mut dyn FnMut(&str),
) -> Result<PushRun, SimError> {
    debug_assert!(PUSH_DEST.starts_with(PUSH_DIR));
    let Booted {
        mut engine,
        dep,
        roles,
        mut rngs,
        ..
    } = super::boot(cfg, progress)?;
    let Some(&entry) = roles.entries().choose(&mut rngs.session) else {
        return Err(SimError::Config("no live node".into()));
    };
    let manifest = push_manifest(data)?;
    let t0 = engine.now_us();
    progress("push: serving");
    let client = PushClient {
        engine: &mut engine,
        dep: &dep,
        entry,
    };
    let outcome = client.run(cfg, &manifest, data, &mut rngs.client);
    let push_ms = (engine.now_us() - t0) as f64 / 1000.0;
    engine.run_until(engine.now_us() + AFTER_US);
    let live = roles.live.clone();
    Ok(PushRun::record(
        &engine,
        &dep,
        (entry, live),
        outcome,
        push_ms,
    ))
}

impl PushRun {
    /// The record of a push through `entry` with `live` nodes, once the nodes are done: what
    /// each committed, and the client's summary of the result (or why there is none).
    fn record(
        engine: &Engine,
        dep: &Deployment,
        (entry, live): (usize, Vec<bool>),
        outcome: Result<(SubtreeResult, u64, Vec<NodeEnd>), String>,
        push_ms: f64,
    ) -> PushRun {
        let targets = [ALL_TARGETS.to_string()];
        let (summary, served, ended, error) = match outcome {
            Ok((r, served, ended)) => (
                PushSummary::from_result(r, &dep.roster, &targets),
                served,
                ended,
                None,
            ),
            Err(e) => (None, 0, Vec::new(), Some(e)),
        };
        PushRun {
            entry: node_name(entry),
            landed: landed(engine, live.len()),
            live,
            summary,
            error,
            served,
            ended,
            push_ms,
        }
    }
}

/// The manifest of `data` (mode 0644, the default block size for its size) for [`PUSH_DEST`].
fn push_manifest(data: &[u8]) -> Result<Manifest, SimError> {
    let size = data.len() as u64;
    let bad = |e: String| SimError::Config(format!("the pushed file: {e}"));
    let bs = choose_block_size(size, None).map_err(|e| bad(e.to_string()))?;
    build_manifest("pushed", data, size, 0o644, bs, PUSH_DEST).map_err(|e| bad(e.to_string()))
}

/// The push's overlay: a DAG (what `mon push` runs by default) with the adaptive fanout.
fn push_overlay(cfg: &SimConfig) -> OverlaySpec {
    OverlaySpec {
        kind: OverlayKind::Dag,
        fanout: 0,
        max_parents: cfg.max_parents,
        stage_one_hops: cfg.stage_one_hops,
        max_depth: 0,
    }
}

/// What every node committed at [`PUSH_DEST`].
fn landed(engine: &Engine, n: usize) -> Vec<Option<Vec<u8>>> {
    (0..n)
        .map(|i| engine.push_files.landed(i, PUSH_DEST).map(<[u8]>::to_vec))
        .collect()
}

/// The client's end of one push: the engine it runs in, the deployment, its entry node.
struct PushClient<'a> {
    engine: &'a mut Engine,
    dep: &'a Deployment,
    entry: usize,
}

impl PushClient<'_> {
    /// Signs the push session, shakes hands with the entry node and serves the file; the
    /// result, the bytes served and the per-node ends reported before the result, or why
    /// there is none.
    fn run(
        mut self,
        cfg: &SimConfig,
        manifest: &Manifest,
        data: &[u8],
        rng: &mut ChaCha20Rng,
    ) -> Result<(SubtreeResult, u64, Vec<NodeEnd>), String> {
        let timing = SessionTiming::from_timeout(cfg.timeout_ms, SessionKind::Push);
        let ops = vec![Query::Count];
        let req = session_request(ops, Some(manifest.clone()), push_overlay(cfg), &timing);
        let now_ms = self.engine.unix_ms(self.engine.now_us());
        let mut cs =
            ClientSession::new(rng, &*self.dep.signer, req, now_ms).map_err(|e| e.to_string())?;
        self.engine
            .client_send_session(self.entry, cs.session_packet().to_bytes());
        let deadline = self.engine.now_us() + (u64::from(timing.timeout_ms) + 2_000) * 1000;
        self.handshake(&mut cs, deadline)?;
        let mut src =
            PushSource::start(cs, manifest, self.virtual_ms()).map_err(|e| e.to_string())?;
        let mut ended = Vec::new();
        let r = self
            .serve(&mut src, data, &mut ended)
            .map_err(|e| e.to_string())?;
        Ok((r, src.served(), ended))
    }

    /// Virtual ms, the source's clock.
    fn virtual_ms(&self) -> u64 {
        self.engine.now_us() / 1000
    }

    /// Waits for the entry node's answer to the Session (until `deadline`, virtual µs) and
    /// sends the go; a denial is the error.
    fn handshake(&mut self, cs: &mut ClientSession, deadline: u64) -> Result<(), String> {
        loop {
            let Some(packet) = next_client_packet(self.engine, deadline) else {
                return Err("no answer from the entry node".into());
            };
            match cs.on_answer(packet, node_addr(self.entry), &self.dep.known) {
                Ok(go) => {
                    self.engine.client_send_stream(self.entry, go.to_bytes());
                    return Ok(());
                }
                Err(e @ ClientError::Denied { .. }) => return Err(e.to_string()),
                Err(_) => {}
            }
        }
    }

    /// Drives the source until the result comes (its ack sent), as `mon push` does.
    fn serve(
        &mut self,
        src: &mut PushSource,
        data: &[u8],
        ended: &mut Vec<NodeEnd>,
    ) -> Result<SubtreeResult, ClientError> {
        loop {
            src.handle_timeout(self.virtual_ms())?;
            self.transmit(src);
            let next_ms = src.poll_timeout().unwrap_or(0).max(self.virtual_ms());
            if let Some(packet) = next_client_packet(self.engine, next_ms * 1000) {
                src.handle_packet(packet)?;
            }
            if let Some(r) = drain_events(src, data, ended)? {
                self.transmit(src);
                return Ok(*r);
            }
        }
    }

    /// Sends everything the source has to send, in order.
    fn transmit(&mut self, src: &mut PushSource) {
        while let Some(p) = src.poll_transmit() {
            self.engine.client_send_stream(self.entry, p.to_bytes());
        }
    }
}

/// Does what the source asks: reads requested blocks from `data`, keeps the per-node ends in
/// `ended`; returns the result once it came.
fn drain_events(
    src: &mut PushSource,
    data: &[u8],
    ended: &mut Vec<NodeEnd>,
) -> Result<Option<Box<SubtreeResult>>, ClientError> {
    while let Some(ev) = src.poll_event() {
        match ev {
            SourceEvent::ReadBlock { index, offset, len } => {
                let (at, len) = (offset as usize, len as usize);
                let block = data.get(at..at + len).unwrap_or_default();
                src.block_read(index, block.to_vec())?;
            }
            SourceEvent::Progress(_) => {}
            SourceEvent::Ended(e) => ended.extend(e),
            SourceEvent::Result(r) => return Ok(Some(r)),
        }
    }
    Ok(None)
}
