//! The server's side of push: the files (temporary file, then DEST) and the push streams
//! that carry channel-1 traffic with write-completion reports for flow control.

use std::collections::HashMap;
use std::fs::File;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use mon_proto::node::{Node, Output, PushIoError, StreamSent};
use mon_proto::wire::session::SessionHash;
use tokio::net::TcpStream;
use tokio::sync::mpsc;

use super::event::Event;
use crate::asuser::worker::Worker;
use crate::asuser::AsUserError;
use crate::framing::{self, Opener};
use crate::land::{LandError, Landing, Spool};

/// A push session's file on this node.
pub(super) enum PushFile {
    /// Landing at DEST: every operation runs on a thread acting as the run-as user.
    Landing(Worker<UserFile>),
    /// Relay only: the blocks, kept to serve them, in an anonymous file.
    Spool(Spool),
}

/// The state a landing's worker thread owns.
pub(super) struct UserFile {
    size: u64,
    /// Being written (temporary file next to DEST).
    landing: Option<Landing>,
    /// Committed: blocks are read back from the landed file (the same inode, not DEST's
    /// path, which may have changed since) to serve children.
    landed: Option<(PathBuf, File)>,
}

impl UserFile {
    fn write(&mut self, offset: u64, bytes: &[u8]) -> Result<(), PushIoError> {
        match &mut self.landing {
            Some(l) => l.write_block(offset, bytes).map_err(|e| io_err(&e)),
            None => Err(no_file("no temporary file for this push")),
        }
    }

    fn read(&self, offset: u64, len: usize) -> Result<Vec<u8>, PushIoError> {
        match (&self.landing, &self.landed) {
            (Some(l), _) => l.read_block(offset, len),
            (None, Some((path, f))) => crate::land::read_block(f, path, self.size, offset, len),
            (None, None) => return Err(no_file("no file for this push")),
        }
        .map_err(|e| io_err(&e))
    }

    fn commit(&mut self, mode: u32, allow_setid: bool) -> Result<(), PushIoError> {
        let Some(l) = self.landing.take() else {
            return Err(no_file("nothing to commit"));
        };
        let dest = l.dest().to_path_buf();
        let f = l.commit(mode, allow_setid).map_err(|e| io_err(&e))?;
        self.landed = Some((dest, f));
        Ok(())
    }
}

/// The push files of this node.
pub(super) struct PushFiles {
    files: HashMap<SessionHash, PushFile>,
    /// Where relays keep their anonymous files (the state dir).
    spool_dir: PathBuf,
    /// Where a landing's thread reports its commit: unbounded, so that thread never waits
    /// for the event loop (which may itself wait for that thread in a later block read).
    committed: mpsc::UnboundedSender<Event>,
}

impl PushFiles {
    /// No files yet; relays spool in `spool_dir`; commits report on `committed`.
    pub(super) fn new(spool_dir: PathBuf, committed: mpsc::UnboundedSender<Event>) -> PushFiles {
        PushFiles {
            files: HashMap::new(),
            spool_dir,
            committed,
        }
    }
}

/// Push stream writers by peer.
pub(super) type PushStreams =
    HashMap<SocketAddr, mpsc::UnboundedSender<(Vec<u8>, Option<StreamSent>)>>;

fn io_err(e: &LandError) -> PushIoError {
    PushIoError {
        code: e.code().to_string(),
        text: e.to_string(),
    }
}

fn no_file(text: &str) -> PushIoError {
    PushIoError {
        code: "io".into(),
        text: text.into(),
    }
}

fn worker_gone() -> PushIoError {
    no_file("the push's file thread is gone")
}

/// A failure to act as the run-as user, as the node reports it.
struct AsUserFailed(PushIoError);

impl From<AsUserError> for AsUserFailed {
    fn from(e: AsUserError) -> Self {
        AsUserFailed(PushIoError {
            code: e.code().to_string(),
            text: e.to_string(),
        })
    }
}

/// Creates the session's file: a relay's anonymous spool, or a landing beneath `push_dir`
/// on a thread acting as `run_as` (a root server never lands as root for lack of one).
fn create(
    spool_dir: &Path,
    dest: String,
    push_dir: Option<String>,
    run_as: Option<&str>,
    relay_only: bool,
    size: u64,
) -> Result<PushFile, PushIoError> {
    if relay_only {
        return Spool::create(spool_dir, size)
            .map(PushFile::Spool)
            .map_err(|e| io_err(&e));
    }
    let Some(push_dir) = push_dir else {
        return Err(PushIoError {
            code: "push-dir-denied".into(),
            text: format!("{dest}: no push dir of the policy holds it"),
        });
    };
    let user = crate::asuser::resolve(run_as).map_err(|e| AsUserFailed::from(e).0)?;
    Worker::spawn(user, move || {
        Landing::create(Path::new(&push_dir), Path::new(&dest), size)
            .map(|l| UserFile {
                size,
                landing: Some(l),
                landed: None,
            })
            .map_err(|e| AsUserFailed(io_err(&e)))
    })
    .map(PushFile::Landing)
    .map_err(|e| e.0)
}

/// Performs one push file operation and reports it to the node: at once, except a landing's
/// commit, which reports ([`Event::PushCommitted`]) when its thread has done it.
pub(super) fn file_op(node: &mut Node, files: &mut PushFiles, o: Output, now_ms: u64) {
    match o {
        Output::PushLand {
            session,
            dest,
            push_dir,
            run_as,
            relay_only,
            size,
        } => {
            let r = create(
                &files.spool_dir,
                dest,
                push_dir,
                run_as.as_deref(),
                relay_only,
                size,
            )
            .map(|f| {
                files.files.insert(session, f);
            });
            node.push_landed(now_ms, session, r);
        }
        o @ (Output::PushWrite { .. } | Output::PushRead { .. }) => {
            block_op(node, files, o, now_ms);
        }
        Output::PushCommit {
            session,
            mode,
            allow_setid,
        } => {
            if let Err(e) = files.commit(session, mode, allow_setid) {
                node.push_committed(now_ms, session, Err(e));
            }
        }
        Output::PushDrop { session } => {
            files.files.remove(&session);
        }
        _ => {}
    }
}

/// Writes or reads one block of the session's file and reports it to the node.
fn block_op(node: &mut Node, files: &mut PushFiles, o: Output, now_ms: u64) {
    match o {
        Output::PushWrite {
            session,
            index,
            offset,
            bytes,
        } => {
            let r = files.write(session, offset, bytes);
            node.push_stored(now_ms, session, index, r);
        }
        Output::PushRead {
            session,
            child,
            index,
            offset,
            len,
        } => {
            let r = files.read(session, offset, usize::try_from(len).unwrap_or(0));
            node.push_block_read(now_ms, session, child, index, r);
        }
        _ => {}
    }
}

impl PushFiles {
    /// Writes a block into the session's file.
    fn write(
        &mut self,
        session: SessionHash,
        offset: u64,
        bytes: Vec<u8>,
    ) -> Result<(), PushIoError> {
        match self.files.get_mut(&session) {
            Some(PushFile::Landing(w)) => w
                .call(move |u| u.write(offset, &bytes))
                .unwrap_or_else(|| Err(worker_gone())),
            Some(PushFile::Spool(s)) => s.write_block(offset, &bytes).map_err(|e| io_err(&e)),
            None => Err(no_file("no temporary file for this push")),
        }
    }

    /// Reads a block back from the session's file (to serve a child).
    fn read(&self, session: SessionHash, offset: u64, len: usize) -> Result<Vec<u8>, PushIoError> {
        match self.files.get(&session) {
            Some(PushFile::Landing(w)) => w
                .call(move |u| u.read(offset, len))
                .unwrap_or_else(|| Err(worker_gone())),
            Some(PushFile::Spool(s)) => s.read_block(offset, len).map_err(|e| io_err(&e)),
            None => Err(no_file("no file for this push")),
        }
    }

    /// Queues the landing's commit on its thread, which reports the result to the loop. The
    /// commit syncs the file and its directory: the event loop never waits for it. `Err`: it
    /// could not be queued.
    fn commit(
        &self,
        session: SessionHash,
        mode: u32,
        allow_setid: bool,
    ) -> Result<(), PushIoError> {
        let Some(PushFile::Landing(w)) = self.files.get(&session) else {
            return Err(no_file("nothing to commit"));
        };
        let committed = self.committed.clone();
        let report = move |r| {
            let _ = committed.send(Event::PushCommitted(session, r));
        };
        if w.submit(move |u| u.commit(mode, allow_setid), report) {
            Ok(())
        } else {
            Err(worker_gone())
        }
    }
}

/// Why a push stream could not be (re)opened.
enum Connect {
    /// Nobody listens there (connection refused): the node is down.
    Refused,
    /// Timed out or failed otherwise: maybe only slow; silence will tell.
    Failed,
}

async fn connect(to: SocketAddr, me: SocketAddr) -> Result<TcpStream, Connect> {
    let mut st = match tokio::time::timeout(CONNECT_TIMEOUT, framing::connect_from(to, me)).await {
        Ok(Ok(st)) => st,
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
            return Err(Connect::Refused)
        }
        _ => return Err(Connect::Failed),
    };
    let _ = st.set_nodelay(true);
    set_notsent_lowat(&st, PUSH_NOTSENT_LOWAT);
    framing::write_preamble(&mut st, Opener::Node(me))
        .await
        .map_err(|_| Connect::Failed)?;
    Ok(st)
}

/// Connecting a push stream gives up after this long.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// After a failed (re)connect, frames are dropped for this long before the next attempt, so
/// a dead peer never holds up the write reports that flow control waits for.
const RECONNECT_BACKOFF: Duration = Duration::from_secs(1);
/// Unsent bytes a push stream keeps in its socket (`TCP_NOTSENT_LOWAT`): a write completes
/// (and [`Event::PushSent`] lets the node hand over the next block) only when the kernel has
/// little left to send, so the node's serving order (first-parent children first) decides what
/// goes on the wire, and pings and `Have`s are not stuck behind megabytes of socket buffer.
const PUSH_NOTSENT_LOWAT: i32 = 64 * 1024;
/// A push stream with nothing to send for this long is closed (before the reader's
/// 60 s idle limit closes it under us); the next message opens a new one.
const PUSH_STREAM_IDLE: Duration = Duration::from_secs(30);

#[allow(unsafe_code)]
fn set_notsent_lowat(s: &TcpStream, bytes: i32) {
    use std::os::fd::AsRawFd;
    // SAFETY: setsockopt on a socket fd we own, with a pointer to a live c_int and its size.
    let _ = unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_NOTSENT_LOWAT,
            std::ptr::addr_of!(bytes).cast(),
            std::mem::size_of::<i32>() as libc::socklen_t,
        )
    };
}

/// Queues `bytes` on the push stream to `to` (opened on first use); when `sent` names a
/// session, [`Event::PushSent`] reports the write.
///
/// A stream that breaks (the peer closed an idle stream, or died) is reopened once for the
/// frame that failed; if the peer refuses the connection, [`Event::PushPeerDown`] tells the
/// node at once, so links to a killed node are dropped without waiting for their silence.
pub(super) fn send_push_stream(
    streams: &mut PushStreams,
    to: SocketAddr,
    me: SocketAddr,
    bytes: Vec<u8>,
    sent: Option<StreamSent>,
    tx: &mpsc::Sender<Event>,
) {
    if let Some(w) = streams.get(&to) {
        match w.send((bytes, sent)) {
            Ok(()) => return,
            Err(mpsc::error::SendError(m)) => {
                streams.remove(&to);
                return send_push_stream(streams, to, me, m.0, m.1, tx);
            }
        }
    }
    let (w, r) = mpsc::unbounded_channel::<(Vec<u8>, Option<StreamSent>)>();
    let _ = w.send((bytes, sent));
    streams.insert(to, w);
    let link = PushLink {
        to,
        me,
        stream: None,
        retry_at: tokio::time::Instant::now(),
    };
    tokio::spawn(push_stream_task(link, r, tx.clone()));
}

/// Writes the queued frames on `link` until the stream has been idle
/// [`PUSH_STREAM_IDLE`], reporting every frame that named a session.
async fn push_stream_task(
    mut link: PushLink,
    mut r: mpsc::UnboundedReceiver<(Vec<u8>, Option<StreamSent>)>,
    tx: mpsc::Sender<Event>,
) {
    // Frames that cannot be written are dropped but still reported, so flow control
    // never stalls; the node drops the links (peer down, or silence).
    while let Ok(Some((b, h))) = tokio::time::timeout(PUSH_STREAM_IDLE, r.recv()).await {
        link.write(&b, &tx).await;
        if let Some(h) = h {
            let _ = tx.send(Event::PushSent(h)).await;
        }
    }
    // Idle: close. Nothing can be queued meanwhile (the driver runs on this thread), but
    // report anything left so that flow control stays exact.
    r.close();
    while let Ok((_, h)) = r.try_recv() {
        if let Some(h) = h {
            let _ = tx.send(Event::PushSent(h)).await;
        }
    }
}

/// The writing end of one push stream: the connection while it works, and when the next
/// reconnect may be tried.
struct PushLink {
    to: SocketAddr,
    me: SocketAddr,
    stream: Option<TcpStream>,
    retry_at: tokio::time::Instant,
}

impl PushLink {
    /// Writes one frame; a broken stream is reopened once for it unless a reconnect failed
    /// less than [`RECONNECT_BACKOFF`] ago (then the frame is dropped). A refused connection
    /// tells the node at once ([`Event::PushPeerDown`]).
    async fn write(&mut self, b: &[u8], tx: &mpsc::Sender<Event>) {
        if let Some(st) = self.stream.as_mut() {
            if framing::write_frame(st, b).await.is_ok() {
                return;
            }
            self.stream = None;
        }
        if tokio::time::Instant::now() < self.retry_at {
            return;
        }
        let mut written = false;
        match connect(self.to, self.me).await {
            Ok(mut st) => {
                written = framing::write_frame(&mut st, b).await.is_ok();
                if written {
                    self.stream = Some(st);
                }
            }
            Err(Connect::Refused) => {
                let _ = tx.send(Event::PushPeerDown(self.to)).await;
            }
            Err(Connect::Failed) => {}
        }
        if !written {
            self.retry_at = tokio::time::Instant::now() + RECONNECT_BACKOFF;
        }
    }
}
