//! What a node and its driver exchange besides packets: [`Peer`] (where a packet came from
//! or goes to), [`Output`] (what the driver must do, drained in order with
//! [`Node::poll_output`]; audit and journal records come before the actions they guard) and
//! [`RunRequest`] (an operation to evaluate locally).

use std::net::{IpAddr, SocketAddr};

use crate::agg::Query;
use crate::audit::AuditEvent;
use crate::wire::session::SessionHash;
#[cfg(doc)]
use {
    super::{Node, PUSH_COND_INDEX},
    crate::wire::packet::Packet,
};

/// Where a packet came from or goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Peer {
    /// Another node, by its listen address (UDP datagram, or a stream to that address when
    /// the packet is larger than a datagram).
    Addr(SocketAddr),
    /// A client connection (a stream the driver accepted), by the driver's id.
    Client(u64, IpAddr),
}

impl Peer {
    /// The peer's IP address.
    pub fn ip(&self) -> IpAddr {
        match self {
            Peer::Addr(a) => a.ip(),
            Peer::Client(_, ip) => *ip,
        }
    }
}

/// Work to run on this node for a session's operation.
#[derive(Clone, Debug)]
pub struct RunRequest {
    /// The session.
    pub session: SessionHash,
    /// Index of the operation in the session ([`PUSH_COND_INDEX`] for the resource read of a
    /// push's `--where` condition).
    pub index: usize,
    /// The operation.
    pub query: Query,
    /// User to run as (from mon_policy `run-as`).
    pub run_as: Option<String>,
    /// For a grep: the `grep-paths=` entries (one list per applying `mon_policy` line) the
    /// real path of the opened file must match ([`mon_policy::grep_path_allowed`]); empty: no
    /// restriction.
    pub grep_paths: Vec<Vec<String>>,
    /// Seconds the operation may take.
    pub timeout_ms: u64,
}

/// A block handed to a push stream, reported back with [`Node::push_sent`] once the
/// socket took it: the session's flow control and the child's sending slot
/// ([`crate::push::serve::ServeQueue::sent`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StreamSent {
    /// The session.
    pub session: SessionHash,
    /// The push child link the block is for.
    pub child: u32,
}

/// Something the driver must do.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)] // drained at once; boxing audit events buys nothing
pub enum Output {
    /// Send a packet. Datagram if it fits [`crate::wire::packet::MAX_DATAGRAM`], else a stream.
    Send {
        /// Destination.
        to: Peer,
        /// Encoded [`Packet`].
        bytes: Vec<u8>,
    },
    /// Append to the audit log (durably, before later outputs are acted on).
    Audit(Box<AuditEvent>),
    /// Append to the replay journal (durably, before later outputs are acted on).
    Journal(Vec<String>),
    /// Evaluate an operation locally and report with [`Node::handle_local`].
    Run(RunRequest),
    /// Stop run `index` of `session` if it still runs (a newer Command of its interactive
    /// session began, or the session was cancelled): kill its process group, abort its task.
    /// Nothing is reported back; an answer it still gives counts for nothing.
    CancelRun {
        /// The session.
        session: SessionHash,
        /// The run's index, as in its [`RunRequest`].
        index: usize,
    },
    /// The client connection may be closed once pending sends are flushed.
    CloseClient(u64),
    /// Send a packet on the peer's push stream (always TCP, in order). When `sent` names a
    /// session, report with [`Node::push_sent`] once the bytes are written to the socket
    /// (flow control for blocks).
    SendStream {
        /// Destination.
        to: Peer,
        /// Encoded [`Packet`].
        bytes: Vec<u8>,
        /// Block to report the write of ([`Node::push_sent`]).
        sent: Option<StreamSent>,
    },
    /// Push: create the temporary file for `dest` (`size` bytes); report with
    /// [`Node::push_landed`].
    ///
    /// A landing node (`relay_only` false) creates it beneath `push_dir` as `run_as`, never
    /// following a symbolic link, and refuses a DEST that is a directory or whose directory
    /// does not exist. A relay-only node (outside `targets`, or skipped by `--where`) only
    /// keeps the blocks to serve them, in an anonymous file of its own: it creates nothing
    /// at DEST or in the push dir.
    PushLand {
        /// Session.
        session: SessionHash,
        /// Destination path (`{node}` expanded), allowed by the policy.
        dest: String,
        /// The `push-dirs` entry DEST lies beneath (from the deciding policy line).
        push_dir: Option<String>,
        /// The user every file operation runs as (`run-as` of the deciding policy line).
        run_as: Option<String>,
        /// Keep the blocks only to serve them; never land.
        relay_only: bool,
        /// File size.
        size: u64,
    },
    /// Push: write a verified block; report with [`Node::push_stored`].
    PushWrite {
        /// Session.
        session: SessionHash,
        /// Block index.
        index: u32,
        /// Byte offset.
        offset: u64,
        /// The block.
        bytes: Vec<u8>,
    },
    /// Push: read a stored block for a child; report with [`Node::push_block_read`].
    PushRead {
        /// Session.
        session: SessionHash,
        /// Child link id.
        child: u32,
        /// Block index.
        index: u32,
        /// Byte offset.
        offset: u64,
        /// Block length.
        len: u64,
    },
    /// Push: fsync, set the mode, rename over DEST; report with [`Node::push_committed`].
    /// Blocks are still read for children afterwards (from DEST).
    PushCommit {
        /// Session.
        session: SessionHash,
        /// Mode bits.
        mode: u32,
        /// The policy grants `allow-setid` (else set-id and sticky bits are refused).
        allow_setid: bool,
    },
    /// Push: the session's file state may go (an uncommitted temporary file is removed).
    PushDrop {
        /// Session.
        session: SessionHash,
    },
}
