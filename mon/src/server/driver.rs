//! The event loop around the sans-IO node: [`serve`] opens the server's files (`open.rs`),
//! binds its sockets, runs the loop until SIGTERM or SIGINT, then drains (the node's last
//! records and `server.stop` are written and synced before the process exits).
//!
//! Each turn of the loop handles one thing — a datagram, an [`Event`] from a task or thread,
//! an inbound connection (`inbound.rs`), a timer, a change of the policies or known_nodes
//! (`files.rs`: an inotify event, else a once-a-second check; known_nodes' host names
//! `resolve.rs` looks up off the loop), the once-a-second storage maintenance — and then
//! flushes the node's output (`batch.rs`: records before actions).

use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use anyhow::Context as _;
use mon_keys::addr::HostPort;
use mon_keys::known_nodes::KnownNodes;
use mon_policy::PolicyStore;
use mon_proto::audit::{AuditEvent, EventKind, Outcome};
use mon_proto::node::{Node, Output, Peer};
use rand::RngCore;
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::mpsc;

use super::batch::{flush, refuse_action};
use super::durable::Durable;
use super::event::Event;
use super::files::Watcher;
use super::inbound::{Listener, SharedInfo};
use super::open::{open, policies, policy_events, Opened};
use super::outbound::Io;
use super::resolve;
use super::ServerArgs;
use crate::clock::now_ms;
use crate::framing::Info;

/// Events waiting for the loop at most.
const EVENT_QUEUE: usize = 4096;
/// How often a failed disk is probed and the audit log and journal maintained; and policies and
/// known_nodes checked for changes when due (`files.rs`).
const RELOAD_INTERVAL: Duration = Duration::from_secs(1);
/// The loop wakes at least this often when the node has no timer.
const IDLE_WAKE_MS: u64 = 1000;

/// Runs the server: open, bind, run, drain.
pub(super) async fn serve(
    args: ServerArgs,
    config_dir: std::path::PathBuf,
    state_dir: std::path::PathBuf,
) -> anyhow::Result<u8> {
    let listen = super::resolve::listen_addr(&args.listen)?;
    let opened = open(&args, listen, &config_dir, &state_dir)?;
    let (udp, tcp) = bind(listen).await?;
    let mut server = Server::start(&args, listen, opened, udp, tcp, state_dir)?;
    server.run().await?;
    server.drain()
}

/// The UDP socket and TCP listener on `--listen`.
async fn bind(listen: SocketAddr) -> anyhow::Result<(UdpSocket, TcpListener)> {
    let udp = UdpSocket::bind(listen)
        .await
        .with_context(|| format!("binding UDP {listen}"))?;
    let tcp = TcpListener::bind(listen)
        .await
        .with_context(|| format!("binding TCP {listen}"))?;
    Ok((udp, tcp))
}

/// A node with fresh random identity: a session-id seed and a node id from the OS.
fn new_node(
    cfg: mon_proto::node::NodeConfig,
    key: mon_keys::nodekey::NodeKey,
    known: Arc<KnownNodes>,
    replay: mon_proto::replay::ReplayCache,
) -> Node {
    let mut seed = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut seed);
    let node_id = rand::rngs::OsRng.next_u64();
    Node::new(cfg, key, known, replay, node_id, seed)
}

/// What the server tells `Info` openers: its name and slices (kept current on reload).
fn shared_info(name: String, store: &PolicyStore) -> SharedInfo {
    Arc::new(RwLock::new(Info {
        name,
        slices: store.slices(),
    }))
}

/// Appends the records of the start (the pending ones and `server.start`); returns the
/// failure, if any. A full disk at start does not stop the server: it starts failing closed
/// (durable.rs).
fn write_start_records(
    audit: &mut crate::auditlog::AuditLog,
    pending: &mut Vec<AuditEvent>,
    listen: SocketAddr,
) -> Option<anyhow::Error> {
    pending.push(
        AuditEvent::new(EventKind::ServerStart)
            .result(Outcome::Ok)
            .peer(listen.to_string()),
    );
    audit
        .append_batch(pending)
        .context("writing the audit log")
        .err()
}

/// A file's modification time, when it can be read.
fn modified(path: &std::path::Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// The files whose changes the server picks up: the policy store's and known_nodes.
fn watch_paths(store: &PolicyStore, known: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut paths = store.watch_paths();
    paths.push(known.to_path_buf());
    paths
}

/// A running server: the node and everything around it.
struct Server {
    node: Node,
    durable: Durable,
    io: Io,
    listener: Listener,
    rx: mpsc::Receiver<Event>,
    /// Events from threads that must never wait for the loop (a landing's commit).
    thread_rx: mpsc::UnboundedReceiver<Event>,
    store: PolicyStore,
    info: SharedInfo,
    known_path: std::path::PathBuf,
    known_mtime: Option<SystemTime>,
    /// A known_nodes reload is under way (`resolve.rs`).
    known_loading: bool,
    /// When the policy files and known_nodes are due for a check.
    files: Watcher,
    /// `--join` as given: its host names are looked up again now and then.
    join: Vec<HostPort>,
    tx: mpsc::Sender<Event>,
    storage_down: bool,
}

impl Server {
    /// Builds the node, writes the start's records and joins the overlay (records before
    /// actions), then sets up the loop's channels, durable writer, output and listener.
    fn start(
        args: &ServerArgs,
        listen: SocketAddr,
        mut o: Opened,
        udp: UdpSocket,
        tcp: TcpListener,
        state_dir: std::path::PathBuf,
    ) -> anyhow::Result<Server> {
        let mut node = new_node(o.cfg, o.key, o.known, o.replay);
        node.set_policies(policies(&o.store));
        let start_failure = write_start_records(&mut o.audit, &mut o.pending_audit, listen);
        node.join(&resolve::join_literals(&args.join), now_ms());
        let advertise = node.advertised();
        tracing::info!(name = %o.name, %listen, %advertise, slices = ?o.store.slices(), "mon server started");
        if advertise.ip().is_unspecified() {
            tracing::info!("no advertise address and no address for this node in known_nodes: peers reach it at the source address of its packets");
        } else if advertise.ip().is_loopback() && !listen.ip().is_loopback() {
            tracing::warn!(%advertise, "this node advertises a loopback address, which peers on other hosts cannot reach (its known_nodes line resolves to loopback here: on Debian /etc/hosts maps the host's own name to 127.0.1.1); list its real address in known_nodes or set `advertise`");
        }

        let (tx, rx) = mpsc::channel::<Event>(EVENT_QUEUE);
        let mut durable = Durable::new(o.journal, o.audit, tx.clone())?;
        if let Some(e) = start_failure {
            durable.fail_at_start(&e, o.pending_audit.len() as u64);
        }
        let (thread_tx, thread_rx) = mpsc::unbounded_channel::<Event>();
        let audit_log = state_dir.join(crate::auditlog::FILE_NAME);
        let push_files = super::push_io::PushFiles::new(state_dir, thread_tx);
        let info = shared_info(o.name.clone(), &o.store);
        let files = Watcher::new(&watch_paths(&o.store, &o.known_path));
        let io = Io::new(
            udp,
            listen,
            o.name,
            tx.clone(),
            o.resources,
            &audit_log,
            push_files,
        );
        Ok(Server {
            node,
            durable,
            io,
            listener: Listener::new(tcp, tx.clone(), info.clone()),
            rx,
            thread_rx,
            store: o.store,
            info,
            known_mtime: modified(&o.known_path),
            known_path: o.known_path,
            known_loading: false,
            files,
            join: args.join.clone(),
            tx,
            storage_down: false,
        })
    }

    /// The loop, until SIGTERM or SIGINT.
    async fn run(&mut self) -> anyhow::Result<()> {
        let mut buf = vec![0u8; 65536];
        let mut reload = tokio::time::interval(RELOAD_INTERVAL);
        reload.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // The first tick is at once: `--join` names are looked up at start, then again.
        let mut join_lookup = tokio::time::interval(resolve::JOIN_RESOLVE_INTERVAL);
        join_lookup.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let join_names = resolve::join_has_names(&self.join);
        let mut sigterm =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        let udp = self.io.udp.clone();
        loop {
            let wake = self.node.poll_timeout().unwrap_or(now_ms() + IDLE_WAKE_MS);
            let sleep_ms = wake.saturating_sub(now_ms());
            // The file watch's events, once they have settled (files.rs).
            let settle = self.files.settle_at();
            tokio::select! {
                r = udp.recv_from(&mut buf) => {
                    if let Ok((n, src)) = r {
                        self.node.handle_packet(now_ms(), Peer::Addr(src), &buf[..n]);
                    }
                }
                Some(ev) = self.rx.recv() => self.handle(ev),
                Some(ev) = self.thread_rx.recv() => self.handle(ev),
                a = self.listener.accept() => {
                    if let Ok((stream, addr)) = a {
                        self.listener.serve(stream, addr);
                    }
                }
                _ = tokio::time::sleep(Duration::from_millis(sleep_ms)) => {
                    self.node.handle_timeout(now_ms())
                }
                _ = reload.tick() => self.reload(),
                () = self.files.changed() => {}
                () = tokio::time::sleep_until(settle.unwrap_or_else(tokio::time::Instant::now)), if settle.is_some() => {
                    self.reload_files()
                }
                _ = join_lookup.tick(), if join_names => {
                    resolve::spawn_join_lookup(&self.join, self.tx.clone())
                }
                _ = sigterm.recv() => break,
                _ = tokio::signal::ctrl_c() => break,
            }
            flush(
                &mut self.node,
                &mut self.durable,
                &mut self.io,
                &mut self.storage_down,
            )
            .await;
        }
        Ok(())
    }

    /// Hands one event to the node (or to `durable`, or the client table).
    fn handle(&mut self, ev: Event) {
        let node = &mut self.node;
        match ev {
            Event::StreamPacket(peer, bytes, adm, node_stream) => {
                if node_stream {
                    node.handle_stream_packet(now_ms(), peer, &bytes);
                } else {
                    node.handle_packet(now_ms(), peer, &bytes);
                }
                adm.handled(node.take_authenticated());
            }
            Event::Local(h, i, local) => node.handle_local(now_ms(), h, i, local),
            Event::ClientOpen(id, w) => {
                self.io.clients.insert(id, w);
            }
            Event::ClientClosed(id) => {
                self.io.clients.remove(&id);
                node.client_closed(now_ms(), id);
            }
            Event::PushSent(h) => node.push_sent(now_ms(), h),
            Event::PushPeerDown(a) => node.push_peer_down(now_ms(), a),
            Event::PushCommitted(h, r) => node.push_committed(now_ms(), h, r),
            Event::Synced(r) => {
                for o in self.durable.synced(r) {
                    refuse_action(node, o);
                }
            }
            Event::JournalCompacted(r) => self.durable.journal_compacted(r),
            Event::KnownNodes(r) => {
                self.known_loading = false;
                match r {
                    Ok(k) => node.set_known_nodes(Arc::new(k)),
                    Err(e) => tracing::error!("{e}; keeping the previous known_nodes"),
                }
            }
            Event::Join(addrs) => node.join(&addrs, now_ms()),
        }
    }

    /// Probes a failed disk, maintains the audit log and journal; checks the policies and
    /// known_nodes when due (`files.rs`).
    fn reload(&mut self) {
        self.durable.probe();
        self.durable.maintain();
        if self.files.due(self.store.unsettled()) {
            self.reload_files();
        }
    }

    /// Reloads changed policies and known_nodes.
    fn reload_files(&mut self) {
        let ev = self.store.reload_if_changed();
        if !ev.is_empty() {
            let recs = policy_events(ev);
            self.durable.write(&recs, &[]);
            self.node.set_policies(policies(&self.store));
            if let Ok(mut i) = self.info.write() {
                i.slices = self.store.slices();
            }
        }
        // One reload at a time (its host names are resolved off the loop); a change made
        // meanwhile is seen at the next tick.
        let m = modified(&self.known_path);
        if m != self.known_mtime && !self.known_loading {
            self.known_mtime = m;
            self.known_loading = true;
            resolve::spawn_known_reload(self.known_path.clone(), self.tx.clone());
        }
        let again = m != self.known_mtime;
        self.files
            .checked(&watch_paths(&self.store, &self.known_path), again);
    }

    /// Shuts the node down and writes its last records and `server.stop`.
    fn drain(mut self) -> anyhow::Result<u8> {
        self.node.shutdown(now_ms());
        let mut last: Vec<AuditEvent> = Vec::new();
        while let Some(o) = self.node.poll_output() {
            if let Output::Audit(ev) = o {
                last.push(*ev);
            }
        }
        last.push(AuditEvent::new(EventKind::ServerStop).result(Outcome::Ok));
        self.durable.finish(&last)?;
        tracing::info!("mon server stopped");
        Ok(0)
    }
}
