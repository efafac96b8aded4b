//! Acting on a node's push outputs, as a server's driver does: `SendStream` crosses a push
//! stream (TCP: never lost but late by its retransmissions, in order per (sender, receiver); to the client, over the entry
//! node's link), and the push file operations run on the in-memory [`PushFiles`] and are
//! reported back to the node at once (`push_landed`, `push_stored`, `push_block_read`,
//! `push_committed`).
//!
//! A block handed over with `sent` is reported written (`push_sent`) when it leaves: the
//! simulated stream never fills. Reports run at the time the node handled the event, and
//! what they output leaves with the rest of that event's outputs.
//!
//! [`PushFiles`]: super::super::push_io::PushFiles

use mon_proto::node::{Output, Peer, StreamSent};

use super::{Engine, Kind, FROM_CLIENT};

impl Engine {
    /// Node `i` sends `bytes` on its push stream to `to`, leaving at `depart` µs (the event
    /// was handled at `handled_at`); a block's write is reported to the node as it leaves.
    pub(super) fn send_stream(
        &mut self,
        i: usize,
        to: Peer,
        bytes: Vec<u8>,
        sent: Option<StreamSent>,
        (handled_at, depart): (u64, u64),
    ) {
        match to {
            Peer::Addr(addr) => {
                if let Some(&j) = self.by_addr.get(&addr) {
                    let rtt = 2 * self.world.base_us(i, j) as u64;
                    let lat = self.world.packet_us(i, j, &mut self.rng) + self.stream_loss_us(rtt);
                    self.stream_push(i as u32, j as u32, depart + lat, bytes);
                }
            }
            Peer::Client(..) => {
                let entry = self.entry.unwrap_or(i);
                let at = depart + self.world.client_us(entry, &mut self.rng);
                let at = at + self.stream_loss_us(self.world.client_rtt_us(entry));
                let at = self.stream_order(i as u32, FROM_CLIENT, at);
                self.push(at, Kind::ToClient { bytes });
            }
        }
        if let Some(h) = sent {
            let now_ms = self.unix_ms(handled_at);
            if let Some(host) = self.hosts.get_mut(i) {
                host.node.push_sent(now_ms, h);
            }
        }
    }

    /// The client sends `bytes` to entry node `entry` on its connection, in order with the
    /// client's earlier stream sends (the go, and everything of a push after it).
    pub(crate) fn client_send_stream(&mut self, entry: usize, bytes: Vec<u8>) {
        self.entry = Some(entry);
        let rtt = self.world.client_rtt_us(entry);
        let at = self.now_us.max(self.client_open_at)
            + self.world.client_us(entry, &mut self.rng)
            + self.stream_loss_us(rtt);
        self.stream_push(FROM_CLIENT, entry as u32, at, bytes);
    }

    /// Queues a stream packet from `from` to node `to`, arriving at `at` µs or, to keep the
    /// stream in order, with the stream's last packet.
    fn stream_push(&mut self, from: u32, to: u32, at: u64, bytes: Vec<u8>) {
        let at = self.stream_order(from, to, at);
        let kind = Kind::Packet {
            to,
            from,
            bytes,
            stream: true,
        };
        self.push(at, kind);
    }

    /// When a packet sent on stream (`from`, `to`) to arrive at `at` µs arrives: not before
    /// the stream's last one.
    fn stream_order(&mut self, from: u32, to: u32, at: u64) -> u64 {
        let last = self.stream_at.entry((from, to)).or_insert(0);
        *last = (*last).max(at);
        *last
    }

    /// Node `i` asks for a push file operation (the event was handled at `handled_at` µs):
    /// done in memory and reported to the node at once.
    pub(super) fn push_file_op(&mut self, i: usize, o: Output, handled_at: u64) {
        let now_ms = self.unix_ms(handled_at);
        let (files, Some(host)) = (&mut self.push_files, self.hosts.get_mut(i)) else {
            return;
        };
        let node = &mut host.node;
        match o {
            Output::PushLand {
                session,
                dest,
                push_dir,
                relay_only,
                size,
                ..
            } => {
                let r = files.create((i, session), dest, push_dir, relay_only, size);
                node.push_landed(now_ms, session, r);
            }
            Output::PushWrite {
                session,
                index,
                offset,
                bytes,
            } => {
                let r = files.write((i, session), offset, &bytes);
                node.push_stored(now_ms, session, index, r);
            }
            Output::PushRead {
                session,
                child,
                index,
                offset,
                len,
            } => {
                let r = files.read((i, session), offset, len);
                node.push_block_read(now_ms, session, child, index, r);
            }
            Output::PushCommit { session, .. } => {
                let r = files.commit((i, session));
                node.push_committed(now_ms, session, r);
            }
            Output::PushDrop { session } => files.drop_file((i, session)),
            _ => {}
        }
    }
}
