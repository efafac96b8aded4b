//! The client as the source of a push, sans-IO: after the handshake the client is the entry
//! node's only parent on the push channel. It advertises every block, answers each `Request`
//! with the block (read by the caller: [`SourceEvent::ReadBlock`] → [`PushSource::block_read`]),
//! pings every [`PING_MS`] and reports the entry's `Progress`, until a result arrives on the
//! session's channel 0 ([`SourceEvent::Result`], its ack queued) or the deadline passes
//! ([`ClientError::NoResult`]).
//!
//! A driver's loop:
//!
//! ```text
//! PushSource::start(session, manifest, now)      (queues the Advert)
//! loop: send every poll_transmit()
//!       wait for a packet or poll_timeout()
//!       packet   -> handle_packet(now, packet)
//!       timeout  -> handle_timeout(now)          (a Ping, or NoResult past the deadline)
//!       drain poll_event(): ReadBlock -> read the file, block_read(i, bytes)
//!                           Progress  -> show it
//!                           Ended     -> show those nodes done / failed
//!                           Result    -> send the ack (poll_transmit), finish, stop
//! ```

use std::collections::VecDeque;

use super::{ClientError, ClientSession};
use crate::push::ends::NodeEnd;
use crate::push::geometry::{block_len, block_offset};
use crate::push::msg::{PushMsg, PING_MS, PUSH_CHANNEL};
use crate::push::BitSet;
use crate::wire::packet::{Packet, SubtreeResult};
use crate::wire::session::Manifest;

/// Milliseconds the source waits for the result past the session's timeout.
pub const RESULT_GRACE_MS: u64 = 5_000;

/// What the caller must do.
#[derive(Debug)]
pub enum SourceEvent {
    /// Read `len` bytes at `offset` of the file and pass them to [`PushSource::block_read`].
    ReadBlock {
        /// Block index.
        index: u32,
        /// Byte offset in the file.
        offset: u64,
        /// Bytes to read.
        len: u64,
    },
    /// Nodes of the session that finished their part, as the entry node reports them.
    Progress(u64),
    /// Which nodes finished their part since the entry's last report (done, skipped, or
    /// failed with a short code), each once; the result remains the authority.
    Ended(Vec<NodeEnd>),
    /// The session's result (its ack is queued for [`PushSource::poll_transmit`]).
    Result(Box<SubtreeResult>),
}

/// A push being served by the client.
#[derive(Debug)]
pub struct PushSource {
    session: ClientSession,
    size: u64,
    block_size: u32,
    deadline_ms: u64,
    next_ping_ms: u64,
    served: u64,
    transmit: VecDeque<Packet>,
    events: VecDeque<SourceEvent>,
    finished: bool,
}

impl PushSource {
    /// Starts serving `manifest` over `session` (handshake done) at `now_ms`: queues the
    /// Advert of every block; the result is due by `now_ms` + timeout + [`RESULT_GRACE_MS`].
    pub fn start(
        mut session: ClientSession,
        manifest: &Manifest,
        now_ms: u64,
    ) -> Result<PushSource, ClientError> {
        let nblocks = manifest.blocks.len() as u32;
        let advert = session.seal_push(&PushMsg::Advert(BitSet::full(nblocks).to_bytes()))?;
        let timeout_ms = u64::from(session.body.timeout_ms);
        Ok(PushSource {
            session,
            size: manifest.size,
            block_size: manifest.block_size,
            deadline_ms: now_ms + timeout_ms + RESULT_GRACE_MS,
            next_ping_ms: now_ms + PING_MS,
            served: 0,
            transmit: VecDeque::from([advert]),
            events: VecDeque::new(),
            finished: false,
        })
    }

    /// The session (entry node, targets).
    pub fn session(&self) -> &ClientSession {
        &self.session
    }

    /// Bytes of the file served so far.
    pub fn served(&self) -> u64 {
        self.served
    }

    /// A packet from the entry node: a push message, or (anything else) the result.
    pub fn handle_packet(&mut self, packet: Packet) -> Result<(), ClientError> {
        if self.finished {
            return Ok(());
        }
        let is_push = matches!(&packet, Packet::Sealed { channel, .. } if *channel == PUSH_CHANNEL);
        if !is_push {
            return self.on_result(packet);
        }
        match self.session.open_push(&packet)? {
            PushMsg::Request(index) => self.on_request(index),
            PushMsg::Progress(n) => self.events.push_back(SourceEvent::Progress(n)),
            PushMsg::Ended(ends) => self.events.push_back(SourceEvent::Ended(ends)),
            PushMsg::Cancel(_)
            | PushMsg::Primary
            | PushMsg::Prefer
            | PushMsg::Ping
            | PushMsg::Finished => {}
            other => return Err(ClientError::NotAChildMessage(format!("{other:?}"))),
        }
        Ok(())
    }

    /// The result: acknowledged, reported, and the source is finished.
    fn on_result(&mut self, packet: Packet) -> Result<(), ClientError> {
        let (r, ack) = self.session.on_result(packet)?;
        self.transmit.push_back(ack);
        self.events.push_back(SourceEvent::Result(Box::new(r)));
        self.finished = true;
        Ok(())
    }

    /// A block request, answered at once (nothing is queued, so a Cancel has nothing to
    /// cancel): the caller reads the block. A request past the end is ignored.
    fn on_request(&mut self, index: u32) {
        let len = block_len(self.size, self.block_size, index).unwrap_or(0);
        if len > 0 {
            let offset = block_offset(self.block_size, index);
            self.events
                .push_back(SourceEvent::ReadBlock { index, offset, len });
        }
    }

    /// The bytes of block `index` the caller read for [`SourceEvent::ReadBlock`].
    pub fn block_read(&mut self, index: u32, bytes: Vec<u8>) -> Result<(), ClientError> {
        let len = bytes.len() as u64;
        let p = self.session.seal_push(&PushMsg::Block(index, bytes))?;
        self.transmit.push_back(p);
        self.served += len;
        Ok(())
    }

    /// When [`PushSource::handle_timeout`] is due: the next ping, or the deadline.
    pub fn poll_timeout(&self) -> Option<u64> {
        (!self.finished).then_some(self.next_ping_ms.min(self.deadline_ms))
    }

    /// Time passed: past the deadline without a result, [`ClientError::NoResult`]; else a
    /// Ping when one is due.
    pub fn handle_timeout(&mut self, now_ms: u64) -> Result<(), ClientError> {
        if self.finished {
            return Ok(());
        }
        if now_ms >= self.deadline_ms {
            return Err(ClientError::NoResult);
        }
        if now_ms >= self.next_ping_ms {
            self.next_ping_ms = now_ms + PING_MS;
            let p = self.session.seal_push(&PushMsg::Ping)?;
            self.transmit.push_back(p);
        }
        Ok(())
    }

    /// The next packet to send to the entry node.
    pub fn poll_transmit(&mut self) -> Option<Packet> {
        self.transmit.pop_front()
    }

    /// The next thing the caller must do.
    pub fn poll_event(&mut self) -> Option<SourceEvent> {
        self.events.pop_front()
    }
}
