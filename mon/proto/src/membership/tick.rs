//! The timer side of the membership: expiry of dead members and unanswered Pings, and the
//! periodic Ping (every `ping_interval_ms` ±10 %), whose target rotates between random view
//! members, ring neighbours (every `ring_ping_every`-th) and, while starting, join addresses.

use std::net::SocketAddr;

use rand::Rng;

use super::{GossipMsg, Membership, Ping, SEED_PINGS};

/// A Ping's target: its name when known (not for a join address), address, node id.
type Target = (Option<String>, SocketAddr, Option<u64>);

impl Membership {
    /// Advances timers: expires dead members and unanswered Pings, and sends the periodic
    /// Ping when due.
    pub fn handle_timeout(&mut self, now_ms: u64) {
        self.clock(now_ms);
        self.expire(now_ms);
        if now_ms >= self.next_ping_ms {
            self.send_ping(now_ms);
            let interval = self.config.ping_interval_ms;
            let low = interval - interval / 10;
            let jitter = self.rng.gen_range(0..=interval / 5);
            self.next_ping_ms = now_ms.saturating_add(low).saturating_add(jitter);
        }
    }

    fn expire(&mut self, now_ms: u64) {
        let dead_after = self.config.dead_after_ms;
        self.stats.expired += self.view.expire(now_ms, dead_after) as u64;
        self.local.expire(now_ms, dead_after);
        self.ring.expire(now_ms, dead_after);
        self.estimator.expire(now_ms);
        self.estimator.offer_kmv(&self.me, self.node_id, now_ms);
        self.stats.pings_timed_out +=
            self.pending.expire(now_ms, self.config.ping_timeout_ms) as u64;
    }

    fn ring_target(&mut self) -> Option<Target> {
        let slot = self.ring.nth_target(self.ring_cursor)?;
        self.ring_cursor = self.ring_cursor.wrapping_add(1);
        Some((Some(slot.id.name.clone()), slot.id.addr, Some(slot.node_id)))
    }

    fn view_target(&mut self, now_ms: u64) -> Option<Target> {
        let dead_after = self.config.dead_after_ms;
        let s = self
            .view
            .sample(&mut self.rng, 1, |s| {
                now_ms.saturating_sub(s.heard_ms) <= dead_after
            })
            .into_iter()
            .next()?;
        Some((Some(s.id.name.clone()), s.id.addr, Some(s.node_id)))
    }

    /// A random join address (no name, no node id known).
    fn seed_target(&mut self) -> Option<Target> {
        if self.seeds.is_empty() {
            return None;
        }
        let i = self.rng.gen_range(0..self.seeds.len());
        self.seeds.get(i).map(|a| (None, *a, None))
    }

    /// Whom this round's Ping goes to: a join address on a seed turn (while starting), a ring
    /// neighbour on a ring turn, else a random view member; each falls back on the other, and
    /// on a join address when the view and the ring are empty.
    fn ping_target(&mut self, now_ms: u64) -> Option<Target> {
        self.pings_started = self.pings_started.wrapping_add(1);
        let every = self.config.ring_ping_every;
        let ring_turn = every > 0 && self.pings_started % every == 0;
        let seed_every = self.config.seed_ping_every;
        // Only while starting (the first `SEED_PINGS` rounds): start-up partitions are what
        // this heals, and it should not load the join nodes for ever.
        let seed_turn = seed_every > 0
            && self.pings_started <= seed_every * SEED_PINGS
            && self.pings_started % seed_every == 1;
        let target = if seed_turn && !self.seeds.is_empty() {
            self.seed_target()
        } else if ring_turn {
            self.ring_target().or_else(|| self.view_target(now_ms))
        } else {
            self.view_target(now_ms).or_else(|| self.ring_target())
        };
        target.or_else(|| self.seed_target())
    }

    fn send_ping(&mut self, now_ms: u64) {
        let Some((name, addr, peer_node_id)) = self.ping_target(now_ms) else {
            return;
        };
        let nonce: u64 = self.rng.gen();
        let peer = name.clone().unwrap_or_default();
        let entries = self.pick_entries(now_ms, &peer);
        let aux = self.pick_aux(now_ms, peer_node_id, &peer);
        let ping = GossipMsg::Ping(Ping {
            nonce,
            sender_node_id: self.node_id,
            entries,
            aux,
        });
        if self.queue(addr, ping) {
            self.pending.insert(nonce, name, addr, now_ms);
            self.stats.pings_sent += 1;
        }
    }
}
