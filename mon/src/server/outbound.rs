//! Where the node's output goes: datagrams, node streams (one writer task per peer, idle
//! streams close), client streams, push streams and files, and operations run on tasks of
//! their own. [`Io::dispatch`] carries out one output; which outputs may be dispatched when
//! is `batch.rs`'s and `durable.rs`'s business.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use mon_proto::node::{Node, Output, Peer};
use mon_proto::wire::packet::MAX_DATAGRAM;
use mon_proto::wire::session::SessionHash;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

use super::eval;
use super::event::Event;
use crate::clock::now_ms;
use crate::framing::{self, Opener};

/// The sockets, streams and files the node's output goes to.
pub(super) struct Io {
    pub(super) udp: Arc<UdpSocket>,
    pub(super) listen: SocketAddr,
    pub(super) name: String,
    pub(super) tx: mpsc::Sender<Event>,
    pub(super) resources: Arc<crate::resources::Resources>,
    /// This server's audit log (read for `audit fleet`).
    pub(super) audit_log: Arc<std::path::Path>,
    pub(super) clients: HashMap<u64, mpsc::Sender<Vec<u8>>>,
    pub(super) streams: HashMap<SocketAddr, mpsc::Sender<Vec<u8>>>,
    pub(super) push_streams: super::push_io::PushStreams,
    pub(super) push_files: super::push_io::PushFiles,
    /// The tasks of runs in flight, to abort on [`Output::CancelRun`] (finished ones are
    /// dropped as new runs start).
    runs: HashMap<(SessionHash, usize), tokio::task::AbortHandle>,
}

impl Io {
    /// The node's output side, with no client or stream open yet.
    pub(super) fn new(
        udp: UdpSocket,
        listen: SocketAddr,
        name: String,
        tx: mpsc::Sender<Event>,
        resources: Arc<crate::resources::Resources>,
        audit_log: &std::path::Path,
        push_files: super::push_io::PushFiles,
    ) -> Io {
        Io {
            udp: Arc::new(udp),
            listen,
            name,
            tx,
            resources,
            audit_log: Arc::from(audit_log),
            clients: HashMap::new(),
            streams: HashMap::new(),
            push_streams: Default::default(),
            push_files,
            runs: HashMap::new(),
        }
    }

    /// Carries out one output (records are `Durable`'s, not handled here).
    pub(super) async fn dispatch(&mut self, node: &mut Node, o: Output) {
        match o {
            Output::Audit(_) | Output::Journal(_) => {}
            Output::Send {
                to: Peer::Addr(a),
                bytes,
            } => self.send_to_node(a, bytes).await,
            Output::Send {
                to: Peer::Client(id, _),
                bytes,
            } => self.send_to_client(id, bytes),
            Output::CloseClient(id) => {
                self.clients.remove(&id);
            }
            Output::SendStream { to, bytes, sent } => self.send_push_stream(node, to, bytes, sent),
            o @ (Output::PushLand { .. }
            | Output::PushWrite { .. }
            | Output::PushRead { .. }
            | Output::PushCommit { .. }
            | Output::PushDrop { .. }) => {
                super::push_io::file_op(node, &mut self.push_files, o, now_ms());
            }
            Output::Run(req) => self.spawn_run(req),
            Output::CancelRun { session, index } => self.cancel_run(session, index),
        }
    }

    /// A push stream packet: on the push stream to a node, or to a client (the node hears at
    /// once that a client's was sent).
    fn send_push_stream(
        &mut self,
        node: &mut Node,
        to: Peer,
        bytes: Vec<u8>,
        sent: Option<mon_proto::node::StreamSent>,
    ) {
        match to {
            Peer::Addr(a) => super::push_io::send_push_stream(
                &mut self.push_streams,
                a,
                self.listen,
                bytes,
                sent,
                &self.tx,
            ),
            Peer::Client(id, _) => {
                self.send_to_client(id, bytes);
                if let Some(h) = sent {
                    node.push_sent(now_ms(), h);
                }
            }
        }
    }

    /// A packet to a node: a datagram when it fits, else on the stream to that node.
    async fn send_to_node(&mut self, a: SocketAddr, bytes: Vec<u8>) {
        if bytes.len() <= MAX_DATAGRAM {
            let _ = self.udp.send_to(&bytes, a).await;
        } else {
            send_stream(&mut self.streams, a, self.listen, bytes);
        }
    }

    /// A packet to a connected client (dropped when its queue is full or it is gone).
    fn send_to_client(&self, id: u64, bytes: Vec<u8>) {
        if let Some(w) = self.clients.get(&id) {
            let _ = w.try_send(bytes);
        }
    }

    /// Evaluates a local query on a task; its answer comes back as [`Event::Local`].
    fn spawn_run(&mut self, req: mon_proto::node::RunRequest) {
        let tx = self.tx.clone();
        let res = self.resources.clone();
        let me = self.name.clone();
        let key = (req.session, req.index);
        let audit_log = self.audit_log.clone();
        let task = tokio::spawn(async move {
            let local = eval::evaluate(&req, &res, &me, &audit_log).await;
            let _ = tx.send(Event::Local(req.session, req.index, local)).await;
        });
        self.runs.retain(|_, t| !t.is_finished());
        self.runs.insert(key, task.abort_handle());
    }

    /// Stops a run the node cancelled: its task is aborted, which kills an exec's process
    /// group (see [`crate::exec::run`]); a grep's read, on a thread of its own, ends by
    /// itself within its size bound. The node audited the cancel and expects no answer.
    fn cancel_run(&mut self, session: SessionHash, index: usize) {
        if let Some(t) = self.runs.remove(&(session, index)) {
            t.abort();
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
    tokio::spawn(async move { write_stream(to, me, &mut r).await });
}

/// Connects to `to` from `me` and writes the queued packets until the stream is idle 30 s or
/// fails.
async fn write_stream(to: SocketAddr, me: SocketAddr, r: &mut mpsc::Receiver<Vec<u8>>) {
    let Ok(Ok(mut s)) =
        tokio::time::timeout(Duration::from_secs(3), framing::connect_from(to, me)).await
    else {
        return;
    };
    let _ = s.set_nodelay(true);
    if framing::write_preamble(&mut s, Opener::Node(me))
        .await
        .is_err()
    {
        return;
    }
    // Idle streams close after 30 s.
    while let Ok(Some(b)) = tokio::time::timeout(Duration::from_secs(30), r.recv()).await {
        if framing::write_frame(&mut s, &b).await.is_err() {
            return;
        }
    }
}
