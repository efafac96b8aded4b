//! The event loop: sockets, timers, local operations and durable records around the
//! sans-IO node.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use mon_keys::known_nodes::KnownNodes;
use mon_keys::nodekey::NodeKey;
use mon_policy::{PolicyStore, StoreEvent};
use mon_proto::agg::Local;
use mon_proto::audit::{AuditEvent, EventKind, Outcome};
use mon_proto::node::{Node, NodeConfig, Output, Peer};
use mon_proto::wire::packet::{Packet, MAX_DATAGRAM, MAX_STREAM_PACKET};
use mon_proto::wire::session::SessionHash;
use rand::RngCore;
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::mpsc;

use super::durable::{Admit, Durable};
use super::journal::Journal;
use super::{eval, ServerArgs};
use crate::auditlog::AuditLog;
use crate::clock::now_ms;
use crate::framing::{self as net, Opener};

/// Inbound TCP streams served at once.
const MAX_STREAMS: usize = 512;
/// Inbound streams one source address may hold open before they have authenticated (a
/// verified session, a hop signature, or a sealed frame that opened); further connections
/// from that address are closed at once.
pub(super) const MAX_UNAUTH_STREAMS_PER_ADDR: usize = 32;
/// Client streams one source address may hold open at once, authenticated or not: a verified
/// session sets a stream free of [`MAX_UNAUTH_STREAMS_PER_ADDR`], and one listed key (query
/// rights are enough) could otherwise hold every one of the [`MAX_STREAMS`] slots from one
/// address. A `mon` command uses one stream.
pub(super) const MAX_CLIENT_STREAMS_PER_ADDR: usize = MAX_STREAMS / 4;
/// An inbound stream idle this long is closed.
const STREAM_IDLE: Duration = Duration::from_secs(60);

pub(super) enum Event {
    /// A frame from an inbound stream, with the stream's admission; `true` for a stream a
    /// node opened, whose peer is the address its preamble claims (unproven).
    StreamPacket(Peer, Vec<u8>, Arc<StreamAdmission>, bool),
    Local(SessionHash, usize, Local),
    ClientOpen(u64, mpsc::Sender<Vec<u8>>),
    ClientClosed(u64),
    PushSent(SessionHash),
    /// A node refused our push stream: it is down.
    PushPeerDown(SocketAddr),
    /// The audit log and replay journal are on disk up to a generation (`durable.rs`).
    Synced(super::durable::SyncReport),
}

fn policy_events(events: Vec<StoreEvent>) -> Vec<AuditEvent> {
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
                tracing::error!(slice, "policy rejected, last good policy stays: {text}");
                AuditEvent::new(EventKind::PolicyError)
                    .result(Outcome::Error)
                    .slice(slice)
                    .reason("policy-error", text)
            }
        })
        .collect()
}

fn policies(store: &PolicyStore) -> HashMap<String, Arc<mon_policy::SlicePolicy>> {
    store
        .slices()
        .into_iter()
        .filter_map(|s| store.get(&s).map(|p| (s, p)))
        .collect()
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "localhost".into())
}

pub(super) async fn serve(
    args: ServerArgs,
    config_dir: PathBuf,
    state_dir: PathBuf,
) -> anyhow::Result<u8> {
    let name = args.name.clone().unwrap_or_else(host_name);
    let key_path = config_dir.join("node_ed25519_key");
    let key = NodeKey::load(&key_path).with_context(|| {
        format!(
            "loading the node key {} (create it with `mon server init`)",
            key_path.display()
        )
    })?;
    let known_path = config_dir.join("known_nodes");
    let known = Arc::new(
        KnownNodes::load(&known_path)
            .with_context(|| format!("loading {}", known_path.display()))?,
    );
    let resources = Arc::new(
        crate::resources::Resources::new(
            args.resources
                .iter()
                .map(|r| crate::resources::Resources::parse_definition(r))
                .collect::<Result<Vec<_>, _>>()
                .context("bad --resource")?,
            crate::resources::DEFAULT_TIMEOUT,
        )
        .context("bad --resource")?,
    );
    super::journal::prepare_state_dir(&state_dir)?;
    let start = now_ms();
    let mut cfg = NodeConfig::new(&name, args.listen);
    cfg.limits.skew_ms = args.skew * 1000;
    cfg.replay = mon_proto::replay::ReplayConfig::for_limits(&cfg.limits);
    cfg.max_sessions = args.max_sessions.max(1);
    cfg.max_sessions_per_key = args.max_sessions_per_key.max(1);
    cfg.max_sessions_per_slice = args.max_sessions_per_slice.max(1);
    cfg.go_wait_ms = args.go_wait_ms.max(100);
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
    cfg.membership = mon_proto::membership::Config {
        ping_interval_ms: args.ping_interval_ms.clamp(100, 60_000),
        ..mon_proto::membership::Config::low_bandwidth()
    };
    cfg.push_policy = mon_proto::push::Policy::parse(&args.push_policy)
        .context("--push-policy must be first-fit or rarest-first")?;
    cfg.push_primary_first = args.push_primary_first;
    #[cfg(feature = "fault-injection")]
    {
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
    let (journal, replay) = Journal::open(&state_dir, cfg.replay.clone(), start)?;
    let audit_path = state_dir.join("audit.jsonl");
    let mut audit = AuditLog::open(&audit_path, &name)
        .with_context(|| format!("opening {}", audit_path.display()))?;
    let slices_dir = config_dir.join("slices");
    let (mut store, ev) = PolicyStore::open(&slices_dir);
    let mut pending_audit = policy_events(ev);

    let udp = UdpSocket::bind(args.listen)
        .await
        .with_context(|| format!("binding UDP {}", args.listen))?;
    let tcp = TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("binding TCP {}", args.listen))?;
    let mut seed = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut seed);
    let node_id = rand::rngs::OsRng.next_u64();
    let mut node = Node::new(cfg, key, known, replay, node_id, seed);
    node.set_policies(policies(&store));
    pending_audit.push(
        AuditEvent::new(EventKind::ServerStart)
            .result(Outcome::Ok)
            .peer(args.listen.to_string()),
    );
    // A full disk at start does not stop the server: it starts failing closed (durable.rs).
    let start_failure = audit
        .append_batch(&pending_audit)
        .context("writing the audit log")
        .err();
    node.join(&args.join, now_ms());
    tracing::info!(%name, listen = %args.listen, slices = ?store.slices(), "mon server started");

    let info = Arc::new(std::sync::RwLock::new(net::Info {
        name: name.clone(),
        slices: store.slices(),
    }));
    let (tx, mut rx) = mpsc::channel::<Event>(4096);
    let mut durable = Durable::new(journal, audit, tx.clone())?;
    if let Some(e) = start_failure {
        durable.fail_at_start(&e, pending_audit.len() as u64);
    }
    let mut io = Io {
        udp: &udp,
        listen: args.listen,
        name: name.clone(),
        tx: tx.clone(),
        resources,
        clients: HashMap::new(),
        streams: HashMap::new(),
        push_streams: HashMap::new(),
        push_files: super::push_io::PushFiles::new(state_dir.clone()),
    };
    let mut next_client = 1u64;
    let mut storage_down = false;
    let streams_limit = Arc::new(tokio::sync::Semaphore::new(MAX_STREAMS));
    let unauth = Arc::new(UnauthStreams::default());
    let client_streams = Arc::new(UnauthStreams::default());
    let mut buf = vec![0u8; 65536];
    let mut reload = tokio::time::interval(Duration::from_secs(1));
    reload.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let mut known_mtime = std::fs::metadata(&known_path)
        .and_then(|m| m.modified())
        .ok();

    loop {
        let wake = node.poll_timeout().unwrap_or(now_ms() + 1000);
        let sleep_ms = wake.saturating_sub(now_ms());
        tokio::select! {
            r = udp.recv_from(&mut buf) => {
                if let Ok((n, src)) = r {
                    node.handle_packet(now_ms(), Peer::Addr(src), &buf[..n]);
                }
            }
            Some(ev) = rx.recv() => match ev {
                Event::StreamPacket(peer, bytes, adm, node_stream) => {
                    if node_stream {
                        node.handle_stream_packet(now_ms(), peer, &bytes);
                    } else {
                        node.handle_packet(now_ms(), peer, &bytes);
                    }
                    adm.handled(node.take_authenticated());
                }
                Event::Local(h, i, local) => node.handle_local(now_ms(), h, i, local),
                Event::ClientOpen(id, w) => { io.clients.insert(id, w); }
                Event::ClientClosed(id) => { io.clients.remove(&id); node.client_closed(now_ms(), id); }
                Event::PushSent(h) => node.push_sent(now_ms(), h),
                Event::PushPeerDown(a) => node.push_peer_down(now_ms(), a),
                Event::Synced(r) => {
                    for o in durable.synced(r) {
                        refuse_action(&mut node, o);
                    }
                }
            },
            a = tcp.accept() => {
                if let Ok((stream, addr)) = a {
                    // Bounded: at most MAX_STREAMS inbound streams at once (each may buffer
                    // one frame), and MAX_UNAUTH_STREAMS_PER_ADDR per source address until
                    // they authenticate; further connections are closed at once.
                    let adm = StreamAdmission::admit(&unauth, addr.ip());
                    if let (Some(adm), Ok(permit)) = (adm, streams_limit.clone().try_acquire_owned()) {
                        let id = next_client;
                        next_client += 1;
                        let (tx, info) = (tx.clone(), info.clone());
                        let clients = client_streams.clone();
                        tokio::spawn(async move {
                            read_stream(stream, addr, id, tx, info, Arc::new(adm), clients).await;
                            drop(permit);
                        });
                    }
                }
            }
            _ = tokio::time::sleep(Duration::from_millis(sleep_ms)) => node.handle_timeout(now_ms()),
            _ = reload.tick() => {
                let ev = store.reload_if_changed();
                durable.probe();
                if !ev.is_empty() {
                    let recs = policy_events(ev);
                    durable.write(&recs, &[]);
                    node.set_policies(policies(&store));
                    if let Ok(mut i) = info.write() {
                        i.slices = store.slices();
                    }
                }
                let m = std::fs::metadata(&known_path).and_then(|m| m.modified()).ok();
                if m != known_mtime {
                    known_mtime = m;
                    match KnownNodes::load(&known_path) {
                        Ok(k) => node.set_known_nodes(Arc::new(k)),
                        Err(e) => tracing::error!("{e}; keeping the previous known_nodes"),
                    }
                }
            }
            _ = sigterm.recv() => break,
            _ = tokio::signal::ctrl_c() => break,
        }
        // Records are written before anything of their batch happens; packets go out at
        // once, actions wait until those records are on disk (durable.rs). Push file I/O
        // answers at once and may make more output, so drain until nothing is left.
        // When the records cannot be written, nothing of their batch happens and the node
        // refuses new sessions until they can (fail closed; the server keeps running).
        loop {
            let down = durable.failure().map(str::to_string);
            if down.is_some() != storage_down {
                storage_down = down.is_some();
                node.set_storage_failure(down);
            }
            let released = durable.release();
            let mut outs = Vec::new();
            while let Some(o) = node.poll_output() {
                outs.push(o);
            }
            if released.is_empty() && outs.is_empty() {
                break;
            }
            for o in released {
                io.dispatch(&mut node, o).await;
            }
            let mut recs = Vec::new();
            let mut lines = Vec::new();
            for o in &outs {
                match o {
                    Output::Audit(ev) => recs.push((**ev).clone()),
                    Output::Journal(l) => lines.extend(l.iter().cloned()),
                    _ => {}
                }
            }
            if !durable.write(&recs, &lines) {
                withhold(&mut node, outs);
                continue;
            }
            for o in outs {
                match o {
                    Output::Audit(_) | Output::Journal(_) => {}
                    o @ (Output::Send { .. }
                    | Output::SendStream { .. }
                    | Output::CloseClient(_)) => io.dispatch(&mut node, o).await,
                    o => match durable.admit(o) {
                        Admit::Now(o) => io.dispatch(&mut node, o).await,
                        Admit::Held => {}
                        Admit::Refused(o) => refuse_action(&mut node, o),
                    },
                }
            }
        }
    }
    node.shutdown(now_ms());
    let mut last: Vec<AuditEvent> = Vec::new();
    while let Some(o) = node.poll_output() {
        if let Output::Audit(ev) = o {
            last.push(*ev);
        }
    }
    last.push(AuditEvent::new(EventKind::ServerStop).result(Outcome::Ok));
    durable.finish(&last)?;
    tracing::info!("mon server stopped");
    Ok(0)
}

/// What a refused action's reason says.
const NOT_DURABLE: &str = "not run: this node cannot write its audit log or replay journal";

/// An action whose records may not be on disk: it never runs (an operation reports a
/// failure, push file I/O is dropped and its session fails).
fn refuse_action(node: &mut Node, o: Output) {
    if let Output::Run(req) = o {
        node.handle_local(
            now_ms(),
            req.session,
            req.index,
            Local::Failed(NOT_DURABLE.into()),
        );
    }
}

/// A batch whose records could not be written: none of it happens. Its packets are withheld;
/// a session it accepted is dropped and its parent told why (signed Deny, nothing durable).
fn withhold(node: &mut Node, outs: Vec<Output>) {
    let mut aborted = Vec::new();
    for o in outs {
        match o {
            Output::Send { bytes, .. } | Output::SendStream { bytes, .. } => {
                if let Ok(Packet::SessionOk {
                    session_hash,
                    extra: false,
                    ..
                }) = Packet::from_bytes(&bytes, MAX_DATAGRAM.max(4096))
                {
                    aborted.push(*session_hash);
                }
            }
            Output::Audit(_) | Output::Journal(_) | Output::CloseClient(_) => {}
            o => refuse_action(node, o),
        }
    }
    for h in aborted {
        node.abort_session(
            h,
            mon_proto::node::STORAGE_UNAVAILABLE,
            "this node could not write the session's audit record; it refuses sessions until \
             its operator frees space or repairs the disk",
        );
    }
}

/// The sockets, streams and files the node's output goes to.
struct Io<'a> {
    udp: &'a UdpSocket,
    listen: SocketAddr,
    name: String,
    tx: mpsc::Sender<Event>,
    resources: Arc<crate::resources::Resources>,
    clients: HashMap<u64, mpsc::Sender<Vec<u8>>>,
    streams: HashMap<SocketAddr, mpsc::Sender<Vec<u8>>>,
    push_streams: super::push_io::PushStreams,
    push_files: super::push_io::PushFiles,
}

impl Io<'_> {
    /// Carries out one output (records are `Durable`'s, not handled here).
    async fn dispatch(&mut self, node: &mut Node, o: Output) {
        match o {
            Output::Audit(_) | Output::Journal(_) => {}
            Output::Send {
                to: Peer::Addr(a),
                bytes,
            } => {
                if bytes.len() <= MAX_DATAGRAM {
                    let _ = self.udp.send_to(&bytes, a).await;
                } else {
                    send_stream(&mut self.streams, a, self.listen, bytes);
                }
            }
            Output::Send {
                to: Peer::Client(id, _),
                bytes,
            } => {
                if let Some(w) = self.clients.get(&id) {
                    let _ = w.try_send(bytes);
                }
            }
            Output::CloseClient(id) => {
                self.clients.remove(&id);
            }
            Output::SendStream {
                to: Peer::Addr(a),
                bytes,
                sent,
            } => {
                super::push_io::send_push_stream(
                    &mut self.push_streams,
                    a,
                    self.listen,
                    bytes,
                    sent,
                    &self.tx,
                );
            }
            Output::SendStream {
                to: Peer::Client(id, _),
                bytes,
                sent,
            } => {
                if let Some(w) = self.clients.get(&id) {
                    let _ = w.try_send(bytes);
                }
                if let Some(h) = sent {
                    node.push_sent(now_ms(), h);
                }
            }
            o @ (Output::PushLand { .. }
            | Output::PushWrite { .. }
            | Output::PushRead { .. }
            | Output::PushCommit { .. }
            | Output::PushDrop { .. }) => {
                super::push_io::file_op(node, &mut self.push_files, o, now_ms());
            }
            Output::Run(req) => {
                let tx = self.tx.clone();
                let res = self.resources.clone();
                let me = self.name.clone();
                tokio::spawn(async move {
                    let local = eval::evaluate(&req, &res, &me).await;
                    let _ = tx.send(Event::Local(req.session, req.index, local)).await;
                });
            }
        }
    }
}

fn send_stream(
    streams: &mut HashMap<SocketAddr, mpsc::Sender<Vec<u8>>>,
    to: SocketAddr,
    me: SocketAddr,
    bytes: Vec<u8>,
) {
    if let Some(w) = streams.get(&to) {
        match w.try_send(bytes) {
            Ok(()) => return,
            Err(mpsc::error::TrySendError::Full(_)) => return,
            Err(mpsc::error::TrySendError::Closed(b)) => {
                streams.remove(&to);
                return send_stream(streams, to, me, b);
            }
        }
    }
    let (w, mut r) = mpsc::channel::<Vec<u8>>(256);
    let _ = w.try_send(bytes);
    streams.insert(to, w);
    tokio::spawn(async move {
        let Ok(Ok(mut s)) =
            tokio::time::timeout(Duration::from_secs(3), net::connect_from(to, me)).await
        else {
            return;
        };
        let _ = s.set_nodelay(true);
        if net::write_preamble(&mut s, Opener::Node(me)).await.is_err() {
            return;
        }
        // Idle streams close after 30 s.
        while let Ok(Some(b)) = tokio::time::timeout(Duration::from_secs(30), r.recv()).await {
            if net::write_frame(&mut s, &b).await.is_err() {
                return;
            }
        }
    });
}

/// Inbound streams per source address that have not authenticated yet.
#[derive(Default)]
pub(super) struct UnauthStreams(std::sync::Mutex<HashMap<IpAddr, usize>>);

/// One inbound stream's place among its address's unauthenticated streams, given back when it
/// authenticates or closes; and how far the event loop has handled its frames.
pub(super) struct StreamAdmission {
    table: Arc<UnauthStreams>,
    ip: IpAddr,
    authenticated: AtomicBool,
    handled: AtomicU64,
    notify: tokio::sync::Notify,
}

impl StreamAdmission {
    /// A place for a new stream from `ip`, if that address has one left.
    fn admit(table: &Arc<UnauthStreams>, ip: IpAddr) -> Option<StreamAdmission> {
        let mut t = table.0.lock().unwrap_or_else(|e| e.into_inner());
        let n = t.entry(ip).or_insert(0);
        if *n >= MAX_UNAUTH_STREAMS_PER_ADDR {
            return None;
        }
        *n += 1;
        Some(StreamAdmission {
            table: table.clone(),
            ip,
            authenticated: AtomicBool::new(false),
            handled: AtomicU64::new(0),
            notify: tokio::sync::Notify::new(),
        })
    }

    fn release(&self) {
        let mut t = self.table.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = t.get_mut(&self.ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                t.remove(&self.ip);
            }
        }
    }

    /// The event loop handled one of the stream's frames; `authenticated`: it proved its
    /// sender.
    fn handled(&self, authenticated: bool) {
        if authenticated && !self.authenticated.swap(true, Ordering::SeqCst) {
            self.release();
        }
        self.handled.fetch_add(1, Ordering::SeqCst);
        self.notify.notify_waiters();
    }

    /// The largest frame the stream may send next: [`net::PRE_AUTH_FRAME`] until one of its
    /// frames authenticated. A longer length waits until the event loop has handled the
    /// `sent` frames before it (at most 10 s), since one of them may authenticate the stream.
    async fn frame_limit(&self, len: usize, sent: u64) -> usize {
        let limit = |a: &Self| {
            if a.authenticated.load(Ordering::SeqCst) {
                MAX_STREAM_PACKET
            } else {
                net::PRE_AUTH_FRAME
            }
        };
        if len <= net::PRE_AUTH_FRAME || self.authenticated.load(Ordering::SeqCst) {
            return limit(self);
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let n = self.notify.notified();
            tokio::pin!(n);
            n.as_mut().enable();
            if self.handled.load(Ordering::SeqCst) >= sent {
                return limit(self);
            }
            if tokio::time::timeout_at(deadline, n).await.is_err() {
                return limit(self);
            }
        }
    }
}

impl Drop for StreamAdmission {
    fn drop(&mut self) {
        if !self.authenticated.load(Ordering::SeqCst) {
            self.release();
        }
    }
}

async fn read_stream(
    stream: TcpStream,
    addr: SocketAddr,
    id: u64,
    tx: mpsc::Sender<Event>,
    info: Arc<std::sync::RwLock<net::Info>>,
    adm: Arc<StreamAdmission>,
    clients: Arc<UnauthStreams>,
) {
    let _ = stream.set_nodelay(true);
    let (mut rd, mut wr) = stream.into_split();
    let who = match tokio::time::timeout(Duration::from_secs(5), net::read_preamble(&mut rd)).await
    {
        Ok(Ok(w)) => w,
        _ => return,
    };
    let mut client_place = None;
    let peer = match who {
        Opener::Info => {
            let bytes = match info.read() {
                Ok(i) => mon_proto::wire::encode(&*i),
                Err(_) => return,
            };
            let _ = net::write_frame(&mut wr, &bytes).await;
            let _ = tokio::io::AsyncWriteExt::shutdown(&mut wr).await;
            return;
        }
        // A node connects from its listen address (`net::connect_from`): a preamble that
        // claims another IP is not believed (the node's checks of a hop signature trust the
        // address), and one that claims no IP (a node listening on 0.0.0.0) gets its source.
        Opener::Node(listen) => match claimed_node_addr(listen, addr) {
            Some(a) => Peer::Addr(a),
            None => return,
        },
        Opener::Client => {
            // Its address's share of client streams, held until the stream closes.
            let Some(place) = ClientPlace::take(&clients, addr.ip()) else {
                return;
            };
            client_place = Some(place);
            let (w, mut r) = mpsc::channel::<Vec<u8>>(64);
            if tx.send(Event::ClientOpen(id, w)).await.is_err() {
                return;
            }
            tokio::spawn(async move {
                while let Some(b) = r.recv().await {
                    if net::write_frame(&mut wr, &b).await.is_err() {
                        break;
                    }
                }
                let _ = tokio::io::AsyncWriteExt::shutdown(&mut wr).await;
            });
            Peer::Client(id, addr.ip())
        }
    };
    let mut sent = 0u64;
    while let Ok(Ok(Some(len))) =
        tokio::time::timeout(STREAM_IDLE, net::read_frame_len(&mut rd)).await
    {
        // A small frame limit until the stream has carried an authenticated frame; the
        // buffer grows with the bytes that actually arrive.
        // A client's stream never needs more: it sends its Session, its go, acks and sealed
        // push messages only (results flow towards it). Its verified Session frees its
        // address's share, not the frame limit, so a listed key cannot make the server buffer
        // 16 MiB frames on every stream it opens.
        let max = match who {
            Opener::Client => net::PRE_AUTH_FRAME,
            _ => adm.frame_limit(len, sent).await,
        };
        let Ok(Ok(b)) =
            tokio::time::timeout(STREAM_IDLE, net::read_frame_body(&mut rd, len, max)).await
        else {
            break;
        };
        sent += 1;
        // A node stream's claimed address is unproven: the node never answers anything
        // unauthenticated there (`Node::handle_stream_packet`).
        let node_stream = matches!(who, Opener::Node(_));
        if tx
            .send(Event::StreamPacket(peer, b, adm.clone(), node_stream))
            .await
            .is_err()
        {
            break;
        }
    }
    if let Peer::Client(..) = peer {
        let _ = tx.send(Event::ClientClosed(id)).await;
    }
    drop(client_place);
}

/// The address a node stream from `source` is answered at, its preamble having claimed
/// `listen`: the claim's port at the source's IP; none if the claim names another IP.
fn claimed_node_addr(listen: SocketAddr, source: SocketAddr) -> Option<SocketAddr> {
    let claimed = listen.ip().to_canonical();
    if !claimed.is_unspecified() && claimed != source.ip().to_canonical() {
        return None;
    }
    Some(SocketAddr::new(source.ip().to_canonical(), listen.port()))
}

/// One client stream's place among its address's client streams ([`MAX_CLIENT_STREAMS_PER_ADDR`]),
/// given back when the stream closes.
struct ClientPlace {
    table: Arc<UnauthStreams>,
    ip: IpAddr,
}

impl ClientPlace {
    fn take(table: &Arc<UnauthStreams>, ip: IpAddr) -> Option<ClientPlace> {
        let mut t = table.0.lock().unwrap_or_else(|e| e.into_inner());
        let n = t.entry(ip).or_insert(0);
        if *n >= MAX_CLIENT_STREAMS_PER_ADDR {
            return None;
        }
        *n += 1;
        Some(ClientPlace {
            table: table.clone(),
            ip,
        })
    }
}

impl Drop for ClientPlace {
    fn drop(&mut self) {
        let mut t = self.table.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = t.get_mut(&self.ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                t.remove(&self.ip);
            }
        }
    }
}
