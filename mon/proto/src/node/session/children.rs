//! Whom a node offers a session to: the overlay's children (random, two-stage, DAG with the
//! adaptive fanout), the push staircase from the roster, and the offer itself.

use super::{Child, ChildState};
use crate::membership::{default_fanout_with_ring, MemberId};
use crate::node::budget::adaptive_fanout;
use crate::node::join::sha256;
use crate::node::{Node, Output, Peer};
use crate::timing::link_rto_ms;
use crate::wire::packet::Packet;
use crate::wire::session::{OverlayKind, SessionBody, SessionHash, SignedSession};
use mon_keys::hop::{self, Initiator};

/// Most roster-ring successors a node offers a session to (the first, then the next ones
/// while the one before was found down).
const MAX_ROSTER_SUCCESSORS: usize = 4;

impl Node {
    /// The staircase's next nodes: the `k` nodes after us in the session's push order (never
    /// `parent` or us). The order is the roster (`known_nodes` names) sorted by
    /// SHA-256(session hash, name): every node computes the same one without waiting for
    /// gossip, and each session starts its chain somewhere else. A node's address is its
    /// view entry's, else its `known_nodes` IP with our port (as the sweep does); a node that
    /// is down just does not answer, and the next ones (offered 300 ms apart) carry the
    /// chain on. Without a usable roster (pattern-only `known_nodes`), the nearest members
    /// after us on the node-id ring among every live member we know.
    pub(in crate::node) fn push_successors(
        &self,
        now_ms: u64,
        hash: &SessionHash,
        parent: &str,
        k: usize,
    ) -> Vec<MemberId> {
        let me = self.cfg.name.as_str();
        let names = self.roster.unreached(&self.roster.empty_bitmap(), |_| true);
        let view = self.membership.view(now_ms);
        if names.contains(&me) && names.len() > 1 {
            return self.push_order_successors(hash, names, parent, k, &view);
        }
        self.ring_successors(now_ms, view, parent, k)
    }

    /// The `k` roster nodes after us in the session's push order (never `parent`).
    fn push_order_successors(
        &self,
        hash: &SessionHash,
        names: Vec<&str>,
        parent: &str,
        k: usize,
        view: &[crate::membership::MemberView],
    ) -> Vec<MemberId> {
        let me = self.cfg.name.as_str();
        let rank = |n: &str| {
            let mut b = b"MON-push-order-v1\0".to_vec();
            b.extend_from_slice(hash);
            b.extend_from_slice(n.as_bytes());
            sha256(&b)
        };
        let mut order: Vec<([u8; 32], &str)> = names.iter().map(|n| (rank(n), *n)).collect();
        order.sort_unstable();
        let pos = order.iter().position(|(_, n)| *n == me).unwrap_or(0);
        let mut out = Vec::new();
        for i in 1..order.len() {
            if out.len() >= k {
                break;
            }
            let name = order[(pos + i) % order.len()].1;
            if name == parent {
                continue;
            }
            if let Some(m) = self.roster_member(name, view) {
                out.push(m);
            }
        }
        out
    }

    /// Without a usable roster: the `k` nearest live members after us on the node-id ring
    /// (never `parent`).
    fn ring_successors(
        &self,
        now_ms: u64,
        view: Vec<crate::membership::MemberView>,
        parent: &str,
        k: usize,
    ) -> Vec<MemberId> {
        let me = self.cfg.name.as_str();
        let my_id = self.membership.node_id();
        let ring = self.membership.ring_neighbours(now_ms);
        let mut cand: Vec<(u64, MemberId)> = view
            .into_iter()
            .map(|v| (v.node_id, v.id()))
            .chain(
                ring.successors
                    .into_iter()
                    .chain(ring.predecessors)
                    .map(|r| (r.node_id, r.id)),
            )
            .filter(|(_, m)| m.name != me && m.name != parent)
            .collect();
        cand.sort_by_key(|(id, m)| (id.wrapping_sub(my_id), m.name.clone()));
        let mut seen = std::collections::HashSet::new();
        cand.into_iter()
            .map(|(_, m)| m)
            .filter(|m| seen.insert(m.name.clone()))
            .take(k)
            .collect()
    }

    /// Sends the Session to `m` as our child; returns its state.
    pub(in crate::node) fn offer(
        &mut self,
        now_ms: u64,
        hash: &SessionHash,
        signed: &SignedSession,
        level: u16,
        budget_ms: u32,
        m: &MemberId,
    ) -> Option<Child> {
        let init = Initiator::new(&mut self.rng);
        let e_p = init.public();
        let sig = hop::parent_signature(&self.key, hash, &e_p, &m.name).ok()?;
        let p = Packet::Session {
            session: signed.clone(),
            parent: self.cfg.name.clone(),
            e_p: e_p.into(),
            parent_sig: Some(sig.into()),
            level,
            budget_ms,
        };
        let bytes = p.to_bytes();
        let packet_hash = sha256(&bytes);
        self.out.push_back(Output::Send {
            to: Peer::Addr(m.addr),
            bytes: bytes.clone(),
        });
        let rto_ms = link_rto_ms(self.membership.rtt_ms(&m.name), self.cfg.rto_ms);
        Some(Child {
            name: m.name.clone(),
            addr: m.addr,
            key: m.key,
            rto_ms,
            given_up_at: None,
            state: ChildState::Offered {
                initiator: Some(Box::new(init)),
                packet: bytes,
                packet_hash,
                sent_at: now_ms,
                tries: 0,
                prune_sig: None,
            },
        })
    }

    /// Children for a session, by its overlay algorithm (never the parent or this node).
    /// `max_fanout` is the policy's `max-fanout=` for the session's principal: it bounds the
    /// adaptive fanout too (an explicit fanout above it was denied in verification).
    pub(in crate::node) fn pick_children(
        &mut self,
        now_ms: u64,
        body: &SessionBody,
        level: u16,
        parent: &str,
        max_fanout: Option<u32>,
    ) -> Vec<MemberId> {
        let o = &body.overlay;
        let k = if o.fanout == 0 && o.kind == OverlayKind::Dag {
            // A DAG's extra parents are the duplicate offers: keep them at every level.
            default_fanout_with_ring(self.membership.size_estimate())
        } else if o.fanout == 0 {
            adaptive_fanout(self.membership.size_estimate(), level)
        } else {
            usize::from(o.fanout)
        };
        let k = match max_fanout {
            Some(m) => k.min(usize::try_from(m).unwrap_or(usize::MAX)),
            None => k,
        };
        let me = self.cfg.name.clone();
        let parent = parent.to_string();
        let exclude = move |m: &MemberId| m.name == me || m.name == parent;
        let second_stage =
            o.kind == OverlayKind::Twostage && level > u16::from(o.stage_one_hops.max(1));
        let mut picks = if second_stage {
            self.membership.local_neighbours(k, &exclude)
        } else {
            self.membership.sample(k, &exclude)
        };
        // Ring neighbours close the gaps random choices leave (see membership docs): the
        // membership ring's predecessor, and the roster ring's successor (which, unlike the
        // membership's, holds the nodes that are down: see `Roster::ring_successor`), or the
        // membership's successor without a roster.
        let ring = self.membership.ring_neighbours(now_ms);
        let mut structured: Vec<MemberId> = ring
            .predecessors
            .iter()
            .take(1)
            .map(|r| r.id.clone())
            .collect();
        let succ = self.roster_successors(now_ms);
        if succ.is_empty() {
            structured.extend(ring.successors.iter().take(1).map(|r| r.id.clone()));
        }
        structured.extend(succ);
        for m in structured {
            if !exclude(&m) && !picks.iter().any(|p| p.name == m.name) {
                picks.push(m);
            }
        }
        picks
    }

    /// This node's successors on the roster's ring, where to offer them: the first, and the
    /// next ones while the one before was found down lately (at most
    /// [`MAX_ROSTER_SUCCESSORS`]); none without a roster that names us.
    fn roster_successors(&self, now_ms: u64) -> Vec<MemberId> {
        let me = self.cfg.name.as_str();
        let view = self.membership.view(now_ms);
        let mut out = Vec::new();
        let mut at = me;
        for _ in 0..MAX_ROSTER_SUCCESSORS {
            let Some(next) = self.roster.ring_successor(at).filter(|n| *n != me) else {
                break;
            };
            if let Some(m) = self.roster_member(next, &view) {
                out.push(m);
            }
            if !self.found_down.is_down(next, now_ms) {
                break;
            }
            at = next;
        }
        out
    }

    /// Where to offer a session to the roster node `name`: its gossip address when the view
    /// has it, else its first known_nodes address (on the port the line gives, else ours);
    /// with the key known_nodes pins.
    pub(in crate::node) fn roster_member(
        &self,
        name: &str,
        view: &[crate::membership::MemberView],
    ) -> Option<MemberId> {
        let entry = self.known.entries_named(name).find(|e| !e.is_revoked())?;
        let port = self.cfg.listen.port();
        let addr = view
            .iter()
            .find(|m| m.name == name)
            .map(|m| m.addr)
            .or_else(|| entry.socket_addrs(port).next())?;
        Some(MemberId {
            name: name.to_string(),
            addr,
            key: *entry.key(),
        })
    }
}
