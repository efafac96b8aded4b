//! The server's side of push: the files (temporary file, then DEST) and the push streams
//! that carry channel-1 traffic with write-completion reports for flow control.

use std::collections::HashMap;
use std::fs::File;
use std::net::SocketAddr;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::time::Duration;

use mon_proto::node::{Node, Output, PushIoError};
use mon_proto::wire::session::SessionHash;
use tokio::net::TcpStream;
use tokio::sync::mpsc;

use super::driver::Event;
use super::net::{self, Opener};
use crate::land::{LandError, Landing};

/// A push session's file on this node.
pub(super) enum PushFile {
    /// Being written (temporary file next to DEST).
    Landing(Landing),
    /// Committed: blocks are read back from DEST to serve children.
    Landed(File),
}

/// Files by session.
pub(super) type PushFiles = HashMap<SessionHash, PushFile>;
/// Push stream writers by peer.
pub(super) type PushStreams =
    HashMap<SocketAddr, mpsc::UnboundedSender<(Vec<u8>, Option<SessionHash>)>>;

fn io_err(e: &LandError) -> PushIoError {
    PushIoError {
        code: e.code().to_string(),
        text: e.to_string(),
    }
}

/// Performs one push file operation and reports it to the node.
pub(super) fn file_op(node: &mut Node, files: &mut PushFiles, o: Output, now_ms: u64) {
    match o {
        Output::PushLand {
            session,
            dest,
            size,
        } => {
            let r = Landing::create(Path::new(&dest), size).map(|l| {
                files.insert(session, PushFile::Landing(l));
            });
            node.push_landed(now_ms, session, r.map_err(|e| io_err(&e)));
        }
        Output::PushWrite {
            session,
            index,
            offset,
            bytes,
        } => {
            let r = match files.get_mut(&session) {
                Some(PushFile::Landing(l)) => l.write_block(offset, &bytes).map_err(|e| io_err(&e)),
                _ => Err(PushIoError {
                    code: "io".into(),
                    text: "no temporary file for this push".into(),
                }),
            };
            node.push_stored(now_ms, session, index, r);
        }
        Output::PushRead {
            session,
            child,
            index,
            offset,
            len,
        } => {
            let len = usize::try_from(len).unwrap_or(0);
            let r = match files.get(&session) {
                Some(PushFile::Landing(l)) => l.read_block(offset, len).map_err(|e| io_err(&e)),
                Some(PushFile::Landed(f)) => {
                    let mut buf = vec![0u8; len];
                    f.read_exact_at(&mut buf, offset)
                        .map(|()| buf)
                        .map_err(|e| PushIoError {
                            code: "io".into(),
                            text: e.to_string(),
                        })
                }
                None => Err(PushIoError {
                    code: "io".into(),
                    text: "no file for this push".into(),
                }),
            };
            node.push_block_read(now_ms, session, child, index, r);
        }
        Output::PushCommit { session, mode } => {
            let r = match files.remove(&session) {
                Some(PushFile::Landing(l)) => {
                    let dest = l.dest().to_path_buf();
                    match l.commit(mode) {
                        Ok(()) => {
                            if let Ok(f) = File::open(&dest) {
                                files.insert(session, PushFile::Landed(f));
                            }
                            Ok(())
                        }
                        Err(e) => Err(io_err(&e)),
                    }
                }
                other => {
                    if let Some(f) = other {
                        files.insert(session, f);
                    }
                    Err(PushIoError {
                        code: "io".into(),
                        text: "nothing to commit".into(),
                    })
                }
            };
            node.push_committed(now_ms, session, r);
        }
        Output::PushDrop { session } => {
            files.remove(&session);
        }
        _ => {}
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
    let mut st = match tokio::time::timeout(CONNECT_TIMEOUT, net::connect_from(to, me)).await {
        Ok(Ok(st)) => st,
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
            return Err(Connect::Refused)
        }
        _ => return Err(Connect::Failed),
    };
    let _ = st.set_nodelay(true);
    set_notsent_lowat(&st, PUSH_NOTSENT_LOWAT);
    net::write_preamble(&mut st, Opener::Node(me))
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
    sent: Option<SessionHash>,
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
    let (w, mut r) = mpsc::unbounded_channel::<(Vec<u8>, Option<SessionHash>)>();
    let _ = w.send((bytes, sent));
    streams.insert(to, w);
    let tx = tx.clone();
    tokio::spawn(async move {
        let mut s: Option<TcpStream> = None;
        let mut retry_at = tokio::time::Instant::now();
        // Frames that cannot be written are dropped but still reported, so flow control
        // never stalls; the node drops the links (peer down, or silence).
        while let Ok(Some((b, h))) = tokio::time::timeout(PUSH_STREAM_IDLE, r.recv()).await {
            let mut written = false;
            if let Some(st) = s.as_mut() {
                written = net::write_frame(st, &b).await.is_ok();
                if !written {
                    s = None;
                }
            }
            if !written && tokio::time::Instant::now() >= retry_at {
                match connect(to, me).await {
                    Ok(mut st) => {
                        written = net::write_frame(&mut st, &b).await.is_ok();
                        if written {
                            s = Some(st);
                        }
                    }
                    Err(Connect::Refused) => {
                        let _ = tx.send(Event::PushPeerDown(to)).await;
                    }
                    Err(Connect::Failed) => {}
                }
                if !written {
                    retry_at = tokio::time::Instant::now() + RECONNECT_BACKOFF;
                }
            }
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
    });
}
