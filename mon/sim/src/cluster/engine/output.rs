//! Acting on a node's outputs ([`Engine::flush`]): packets to other nodes cross the
//! simulated network, packets to the client go over the entry node's link, local evaluations
//! come back after a service time, audit records of session accepts are counted; push streams
//! and push file operations are carried out by `push_out` (in memory).
//! Everything a node outputs while handling one event leaves when its service time is over.
//!
//! The loss model is the servers' transport: a packet that fits a datagram
//! ([`MAX_DATAGRAM`]) goes in one and is lost at the loss rate; a larger one, the client's
//! connection and push streams are TCP, never lost but late by a retransmission timeout per
//! lost transmission ([`Engine::stream_loss_us`]).

use std::net::SocketAddr;

use rand::Rng;

use super::{Engine, Kind, LocalDone};
use mon_proto::agg::{Local, Query};
use mon_proto::audit::EventKind;
use mon_proto::node::{Output, Peer, RunRequest};
use mon_proto::wire::packet::MAX_DATAGRAM;

/// Linux's lower bound on a TCP retransmission timeout (`TCP_RTO_MIN`, 200 ms), µs.
const TCP_RTO_MIN_US: u64 = 200_000;
/// Retransmissions of one segment the model draws at most (then it arrives).
const TCP_MAX_RETRIES: u32 = 8;

impl Engine {
    /// Acts on node `i`'s outputs; they leave at `depart` µs.
    pub(super) fn flush(&mut self, i: usize, handled_at: u64, depart: u64) {
        loop {
            let Some(h) = self.hosts.get_mut(i) else {
                return;
            };
            let Some(out) = h.node.poll_output() else {
                break;
            };
            match out {
                Output::Send {
                    to: Peer::Addr(addr),
                    bytes,
                } => self.send_to_node(i, addr, bytes, depart),
                Output::Send {
                    to: Peer::Client(..),
                    bytes,
                } => {
                    let entry = self.entry.unwrap_or(i);
                    let at = depart + self.world.client_us(entry, &mut self.rng);
                    let at = at + self.stream_loss_us(self.world.client_rtt_us(entry));
                    self.push(at, Kind::ToClient { bytes });
                }
                Output::Audit(ev) => {
                    if self.tracking && ev.event == EventKind::SessionAccept {
                        self.accepts.push((handled_at, i));
                    }
                }
                Output::Journal(_) | Output::CloseClient(_) => {}
                Output::SendStream { to, bytes, sent } => {
                    self.send_stream(i, to, bytes, sent, (handled_at, depart));
                }
                o @ (Output::PushLand { .. }
                | Output::PushWrite { .. }
                | Output::PushRead { .. }
                | Output::PushCommit { .. }
                | Output::PushDrop { .. }) => self.push_file_op(i, o, handled_at),
                Output::Run(req) => self.run_local(i, req, depart),
                // The simulated run still answers; the node ignores a cancelled run's answer.
                Output::CancelRun { .. } => {}
            }
        }
        self.reschedule(i);
    }

    /// Node `i` sends `bytes` to the node at `addr`, leaving at `depart` µs: dropped when no
    /// node has that address or the datagram is lost, else it arrives after the link's
    /// latency. A packet too large for a datagram goes on a stream, as a server sends it: one
    /// more round trip to connect, never lost, late by the retransmissions its losses cost.
    fn send_to_node(&mut self, i: usize, addr: SocketAddr, bytes: Vec<u8>, depart: u64) {
        let Some(&j) = self.by_addr.get(&addr) else {
            self.traffic.dropped += 1;
            return;
        };
        let stream = bytes.len() > MAX_DATAGRAM;
        if !stream && self.lost() {
            self.traffic.dropped += 1;
            return;
        }
        let mut lat = self.world.packet_us(i, j, &mut self.rng);
        if stream {
            let rtt = 2 * self.world.base_us(i, j) as u64;
            lat += rtt + self.stream_loss_us(rtt);
        }
        let kind = Kind::Packet {
            to: j as u32,
            from: i as u32,
            bytes,
            stream: false,
        };
        self.push(depart + lat, kind);
    }

    /// Whether one datagram (or one transmission of a stream segment) is lost.
    pub(super) fn lost(&mut self) -> bool {
        self.loss > 0.0 && self.rng.gen_bool(self.loss)
    }

    /// How much later than without loss a packet on a TCP stream whose round trip is
    /// `rtt_us` arrives: each transmission is lost at the loss rate, and the sender sends it
    /// again after its retransmission timeout (Linux: the smoothed RTT plus at least
    /// [`TCP_RTO_MIN_US`]), doubling after each loss.
    pub(super) fn stream_loss_us(&mut self, rtt_us: u64) -> u64 {
        let mut rto = rtt_us + TCP_RTO_MIN_US;
        let mut late = 0;
        for _ in 0..TCP_MAX_RETRIES {
            if !self.lost() {
                break;
            }
            late += rto;
            rto *= 2;
        }
        late
    }

    /// Node `i` evaluates a query locally (asked at `depart` µs): the answer comes back after
    /// twice a service time; the value of a resource is the engine's `value` for the node.
    fn run_local(&mut self, i: usize, req: RunRequest, depart: u64) {
        let local = match req.query {
            Query::Count | Query::Depth => Local::Present,
            Query::Grep { .. } => Local::Matched(i % 2 == 0),
            Query::Exec { .. } => Local::Skipped,
            // A simulated node's audit log is empty (and intact).
            Query::Audit(f) => Local::Audit(Box::new(mon_proto::agg::audit::AuditScan::new(f))),
            _ => Local::Value((self.value)(i)),
        };
        let service = self.world.service_us(i, &mut self.rng);
        let done = LocalDone {
            node: i as u32,
            session: req.session,
            index: req.index,
            local,
        };
        self.push(depart + 2 * service, Kind::Local(Box::new(done)));
    }
}
