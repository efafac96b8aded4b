//! The gossip envelope: Ping/Pong signed by the sender's node key with a timestamp that
//! strictly increases per sender. A receiver drops messages from keys known_nodes does not
//! trust, stale or replayed ones, and bad signatures, before the membership state machine
//! sees them. A sender claiming an unspecified address (a server on `0.0.0.0` that knows no
//! better, see `advertise.rs`) is placed at its packet's source IP, which must then agree
//! with the addresses known_nodes lists for it, as a third-party entry must.

use mon_keys::nodekey::verify_node_sig;

use super::advertise::{advertised, placed_at_source};
use super::{Node, Peer};
use crate::wire::packet::{GossipBody, Packet, GOSSIP_DOMAIN, PACKET_VERSION};
use crate::wire::{decode_strict, encode};

/// Largest signed gossip body.
const MAX_GOSSIP_BODY: usize = 1100;

impl Node {
    pub(super) fn handle_gossip(&mut self, now_ms: u64, from: Peer, signed: &[u8], sig: &[u8; 64]) {
        let Peer::Addr(source) = from else {
            self.counters.gossip_dropped += 1;
            return;
        };
        let mut body: GossipBody = match decode_strict("gossip", signed, MAX_GOSSIP_BODY) {
            Ok(b) => b,
            Err(_) => {
                self.counters.junk += 1;
                self.junk.note(from.ip(), now_ms);
                return;
            }
        };
        let placed = placed_at_source(body.from.addr, source);
        if let Some(a) = placed {
            body.from.addr = a;
        }
        if !self.gossip_admissible(now_ms, &body, placed.is_some(), signed, sig) {
            self.counters.gossip_dropped += 1;
            return;
        }
        // Bounded by the skew window: entries older than it are forgotten at the next gossip
        // timer (`forget_stale_gossip_ts`), since the freshness check refuses their replays.
        self.gossip_last_ts
            .insert(body.from.name.clone(), body.ts_ms);
        self.deliver_gossip(now_ms, body);
    }

    /// Forgets each sender's last gossip timestamp once it is older than the allowed skew: a
    /// replay of that gossip (or of anything older) is already refused as stale, so the entry
    /// protects nothing, and a member gossiping under many names cannot grow the table
    /// beyond what it sends within one skew window.
    pub(super) fn forget_stale_gossip_ts(&mut self, now_ms: u64) {
        let skew = self.cfg.limits.skew_ms;
        self.gossip_last_ts
            .retain(|_, last| last.saturating_add(skew) >= now_ms);
    }

    /// Whether a decoded envelope may reach the membership, checked cheapest first: this
    /// version, from another node known_nodes trusts (at an address it lists for the node,
    /// when the sender was `placed` at its packet's source), fresh within the allowed skew,
    /// newer than the sender's last, and signed by the sender's node key.
    fn gossip_admissible(
        &self,
        now_ms: u64,
        body: &GossipBody,
        placed: bool,
        signed: &[u8],
        sig: &[u8; 64],
    ) -> bool {
        let trusted = if placed {
            Self::trusted_entry(&self.known, &body.from)
        } else {
            Self::trusted(&self.known, &body.from)
        };
        if body.v != PACKET_VERSION || body.from.name == self.cfg.name || !trusted {
            return false;
        }
        let skew = self.cfg.limits.skew_ms;
        if body.ts_ms > now_ms.saturating_add(skew) || body.ts_ms.saturating_add(skew) < now_ms {
            return false;
        }
        if let Some(last) = self.gossip_last_ts.get(&body.from.name) {
            if body.ts_ms <= *last {
                return false;
            }
        }
        let mut msg = Vec::with_capacity(GOSSIP_DOMAIN.len() + signed.len());
        msg.extend_from_slice(GOSSIP_DOMAIN);
        msg.extend_from_slice(signed);
        verify_node_sig(&body.from.key, &msg, sig).is_ok()
    }

    /// Hands an admitted envelope's message to the membership. The sender speaks for itself;
    /// entries about third parties must also agree with the addresses known_nodes lists for
    /// them.
    fn deliver_gossip(&mut self, now_ms: u64, body: GossipBody) {
        let known = self.known.clone();
        let sender = body.from.clone();
        let trust = |id: &crate::membership::MemberId| {
            if *id == sender {
                Self::trusted(&known, id)
            } else {
                Self::trusted_entry(&known, id)
            }
        };
        self.membership.handle(now_ms, &body.from, body.msg, &trust);
    }

    /// Wraps membership's outgoing messages in signed envelopes.
    pub(super) fn pump_gossip(&mut self, now_ms: u64) {
        while let Some((to, msg)) = self.membership.poll_transmit() {
            let ts = now_ms.max(self.last_gossip_ts + 1);
            self.last_gossip_ts = ts;
            let body = GossipBody {
                v: PACKET_VERSION,
                from: self.membership_me(),
                node_id: self.membership.node_id(),
                ts_ms: ts,
                msg,
            };
            let signed = encode(&body);
            let mut m = Vec::with_capacity(GOSSIP_DOMAIN.len() + signed.len());
            m.extend_from_slice(GOSSIP_DOMAIN);
            m.extend_from_slice(&signed);
            let sig = self.key.sign(&m);
            let p = Packet::Gossip {
                signed,
                sig: sig.into(),
            };
            self.send(Peer::Addr(to), &p);
        }
    }

    fn membership_me(&self) -> crate::membership::MemberId {
        crate::membership::MemberId {
            name: self.cfg.name.clone(),
            addr: self.advertised(),
            key: self.key.public(),
        }
    }

    /// The address this node gives its peers as its own (`advertise.rs`): the configured
    /// one, else (listening on an unspecified IP) its own known_nodes address at the listen
    /// port, else the unspecified address, which peers complete with the packet's source.
    pub fn advertised(&self) -> std::net::SocketAddr {
        advertised(
            self.cfg.listen,
            &self.known,
            &self.cfg.name,
            &self.key.public(),
        )
    }
}
