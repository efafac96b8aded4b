//! Inbound TCP streams: the listener admits a connection (`admission.rs`), a task per stream
//! reads its preamble, answers an info request, or forwards its frames to the event loop as
//! [`Event::StreamPacket`]s. A client stream also gets a writer task fed by the event loop
//! ([`Event::ClientOpen`]); its close is reported ([`Event::ClientClosed`]) after its last
//! frame was forwarded.

use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use mon_proto::node::Peer;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, Semaphore};

use super::admission::{ClientPlace, StreamAdmission, UnauthStreams, MAX_STREAMS};
use super::event::Event;
use crate::framing::{self, Info, Opener};

/// An inbound stream idle this long is closed (an interactive client keeps its stream open
/// with an acknowledgement every third of it: `client::interactive::KEEPALIVE`).
const STREAM_IDLE: Duration = Duration::from_secs(super::STREAM_IDLE_S);
/// A stream must send its preamble within this.
const PREAMBLE_WAIT: Duration = Duration::from_secs(5);

/// The node's name and slices as [`Opener::Info`] streams are told them (updated on reload).
pub(super) type SharedInfo = Arc<RwLock<Info>>;

/// The TCP listener and the stream limits of everything it accepted.
pub(super) struct Listener {
    tcp: TcpListener,
    /// At most [`MAX_STREAMS`] inbound streams at once.
    streams: Arc<Semaphore>,
    unauth: Arc<UnauthStreams>,
    clients: Arc<UnauthStreams>,
    next_client: u64,
    tx: mpsc::Sender<Event>,
    info: SharedInfo,
}

impl Listener {
    /// Accepts on `tcp`; streams report to `tx`.
    pub(super) fn new(tcp: TcpListener, tx: mpsc::Sender<Event>, info: SharedInfo) -> Listener {
        Listener {
            tcp,
            streams: Arc::new(Semaphore::new(MAX_STREAMS)),
            unauth: Arc::new(UnauthStreams::default()),
            clients: Arc::new(UnauthStreams::default()),
            next_client: 1,
            tx,
            info,
        }
    }

    /// The next connection.
    pub(super) async fn accept(&self) -> std::io::Result<(TcpStream, SocketAddr)> {
        self.tcp.accept().await
    }

    /// Serves an accepted connection on a task of its own, if the limits let it in.
    pub(super) fn serve(&mut self, stream: TcpStream, addr: SocketAddr) {
        // Bounded: at most MAX_STREAMS inbound streams at once (each may buffer
        // one frame), and MAX_UNAUTH_STREAMS_PER_ADDR per source address until
        // they authenticate; further connections are closed at once.
        let adm = StreamAdmission::admit(&self.unauth, addr.ip());
        if let (Some(adm), Ok(permit)) = (adm, self.streams.clone().try_acquire_owned()) {
            let id = self.next_client;
            self.next_client += 1;
            let (tx, info) = (self.tx.clone(), self.info.clone());
            let clients = self.clients.clone();
            tokio::spawn(async move {
                read_stream(stream, addr, id, tx, info, Arc::new(adm), clients).await;
                drop(permit);
            });
        }
    }
}

/// Serves one inbound stream until it ends or idles.
async fn read_stream(
    stream: TcpStream,
    addr: SocketAddr,
    id: u64,
    tx: mpsc::Sender<Event>,
    info: SharedInfo,
    adm: Arc<StreamAdmission>,
    clients: Arc<UnauthStreams>,
) {
    let _ = stream.set_nodelay(true);
    let (mut rd, wr) = stream.into_split();
    let Ok(Ok(who)) = tokio::time::timeout(PREAMBLE_WAIT, framing::read_preamble(&mut rd)).await
    else {
        return;
    };
    // A node stream's write half stays open while the stream is read (dropping it would
    // shut our side down early).
    let (peer, client_place, _node_wr) = match who {
        Opener::Info => return answer_info(wr, &info).await,
        // A node connects from its listen address (`framing::connect_from`): a preamble that
        // claims another IP is not believed (the node's checks of a hop signature trust the
        // address), and one that claims no IP (a node listening on 0.0.0.0) gets its source.
        Opener::Node(listen) => match claimed_node_addr(listen, addr) {
            Some(a) => (Peer::Addr(a), None, Some(wr)),
            None => return,
        },
        Opener::Client => match open_client(wr, addr, id, &tx, &clients).await {
            Some(place) => (Peer::Client(id, addr.ip()), Some(place), None),
            None => return,
        },
    };
    forward_frames(&mut rd, who, peer, &tx, &adm).await;
    if let Peer::Client(..) = peer {
        let _ = tx.send(Event::ClientClosed(id)).await;
    }
    drop(client_place);
}

/// Answers an info request with one frame and closes the stream.
async fn answer_info(mut wr: OwnedWriteHalf, info: &SharedInfo) {
    let bytes = match info.read() {
        Ok(i) => mon_proto::wire::encode(&*i),
        Err(_) => return,
    };
    let _ = framing::write_frame(&mut wr, &bytes).await;
    let _ = tokio::io::AsyncWriteExt::shutdown(&mut wr).await;
}

/// A client stream: takes its address's share of client streams (held until the stream
/// closes), registers its writer with the event loop and starts the writer task. `None`: the
/// stream is not served.
async fn open_client(
    mut wr: OwnedWriteHalf,
    addr: SocketAddr,
    id: u64,
    tx: &mpsc::Sender<Event>,
    clients: &Arc<UnauthStreams>,
) -> Option<ClientPlace> {
    let place = ClientPlace::take(clients, addr.ip())?;
    let (w, mut r) = mpsc::channel::<Vec<u8>>(64);
    if tx.send(Event::ClientOpen(id, w)).await.is_err() {
        return None;
    }
    tokio::spawn(async move {
        while let Some(b) = r.recv().await {
            if framing::write_frame(&mut wr, &b).await.is_err() {
                break;
            }
        }
        let _ = tokio::io::AsyncWriteExt::shutdown(&mut wr).await;
    });
    Some(place)
}

/// Forwards the stream's frames to the event loop until it ends, idles or breaks a limit.
async fn forward_frames(
    rd: &mut OwnedReadHalf,
    who: Opener,
    peer: Peer,
    tx: &mpsc::Sender<Event>,
    adm: &Arc<StreamAdmission>,
) {
    let mut sent = 0u64;
    while let Ok(Ok(Some(len))) =
        tokio::time::timeout(STREAM_IDLE, framing::read_frame_len(rd)).await
    {
        // A small frame limit until the stream has carried an authenticated frame; the
        // buffer grows with the bytes that actually arrive.
        // A client's stream never needs more: it sends its Session, its go, acks and sealed
        // push messages only (results flow towards it). Its verified Session frees its
        // address's share, not the frame limit, so a listed key cannot make the server buffer
        // 16 MiB frames on every stream it opens.
        let max = match who {
            Opener::Client => framing::PRE_AUTH_FRAME,
            _ => adm.frame_limit(len, sent).await,
        };
        let Ok(Ok(b)) =
            tokio::time::timeout(STREAM_IDLE, framing::read_frame_body(rd, len, max)).await
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
