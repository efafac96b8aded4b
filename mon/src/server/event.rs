//! What the event loop's tasks and threads send it (`driver.rs` receives; stream readers,
//! operation tasks, push streams and the sync thread send on the bounded channel, a landing's
//! thread on an unbounded one of its own). Its own file so that every sender depends on it
//! and it depends on none of them.

use std::net::SocketAddr;
use std::sync::Arc;

use mon_proto::agg::Local;
use mon_proto::node::{Peer, PushIoError};
use mon_proto::wire::session::SessionHash;
use tokio::sync::mpsc;

use super::admission::StreamAdmission;

/// What the sync thread reports: the generation now on disk, or why syncing failed.
pub(super) type SyncReport = Result<u64, String>;

/// One thing that happened outside the event loop.
pub(super) enum Event {
    /// A frame from an inbound stream, with the stream's admission; `true` for a stream a
    /// node opened, whose peer is the address its preamble claims (unproven).
    StreamPacket(Peer, Vec<u8>, Arc<StreamAdmission>, bool),
    /// An operation's local result.
    Local(SessionHash, usize, Local),
    /// A client stream opened: its writer.
    ClientOpen(u64, mpsc::Sender<Vec<u8>>),
    /// A client stream closed.
    ClientClosed(u64),
    /// A push frame left for the kernel.
    PushSent(mon_proto::node::StreamSent),
    /// A node refused our push stream: it is down.
    PushPeerDown(SocketAddr),
    /// A landing's commit (fsync, rename, directory fsync) finished on its file thread.
    PushCommitted(SessionHash, Result<(), PushIoError>),
    /// The audit log and replay journal are on disk up to a generation (`durable.rs`).
    Synced(SyncReport),
    /// The replay journal's background compaction finished: the lines it kept, or why it
    /// failed (`journal/compact.rs`).
    JournalCompacted(Result<usize, String>),
    /// known_nodes was reloaded, its host names resolved (`resolve.rs`), or why it could not be.
    KnownNodes(Result<mon_keys::known_nodes::KnownNodes, String>),
    /// Addresses the `--join` host names resolved to (`resolve.rs`).
    Join(Vec<SocketAddr>),
}
