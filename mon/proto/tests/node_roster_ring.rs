//! Issue 13: the nodes that are down are found while the overlay spreads. Every node also
//! offers a session to its successor on the roster's ring, which gossip may never have heard
//! of (a node that is down leaves every view), and once that successor was found down, to
//! the next one as well; before, such nodes were offered only by the entry node's sweep, in
//! series after the overlay had answered.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;

use common::{allowed_signers, policy, session, SeedSigner, NOW_MS, SLICE};
use mon_keys::known_nodes::KnownNodes;
use mon_keys::nodekey::NodeKey;
use mon_proto::agg::Query;
use mon_proto::node::{Node, NodeConfig, Output, Peer};
use mon_proto::roster::Roster;
use mon_proto::wire::packet::{Packet, MAX_STREAM_PACKET};
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;

const CLIENT: Peer = Peer::Client(1, IpAddr::V4(Ipv4Addr::LOCALHOST));
const N: usize = 12;

/// Node i's address: 127.0.0.(i+1):7460.
fn addr(i: usize) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, i as u8 + 1)), 7460)
}

/// Nodes n1..=N in known_nodes; the ones in `down` never start.
struct Net {
    nodes: Vec<Node>,
    down: BTreeSet<usize>,
}

impl Net {
    fn new(known: Arc<KnownNodes>, keys: Vec<NodeKey>, user: &SeedSigner) -> Net {
        let nodes = keys
            .into_iter()
            .enumerate()
            .map(|(j, key)| {
                let i = j + 1;
                let mut n = Node::new(
                    NodeConfig::server(&format!("n{i}"), addr(i)),
                    key,
                    known.clone(),
                    mon_proto::replay::ReplayCache::new(mon_proto::replay::ReplayConfig::default()),
                    i as u64 * 7919,
                    [i as u8; 32],
                );
                n.set_policies(std::collections::HashMap::from([(
                    SLICE.to_string(),
                    Arc::new(policy(&allowed_signers(user, "mon-query@mon", "", 0), None)),
                )]));
                n
            })
            .collect();
        Net {
            nodes,
            down: BTreeSet::new(),
        }
    }

    fn up(&self) -> Vec<usize> {
        (1..=self.nodes.len())
            .filter(|i| !self.down.contains(i))
            .collect()
    }

    /// Delivers datagrams between nodes that are up until quiet; returns the session offers
    /// node 1 sent (to any address) on the way.
    fn pump(&mut self, now: u64) -> BTreeSet<SocketAddr> {
        let mut offers = BTreeSet::new();
        for _ in 0..200 {
            let mut moved = false;
            for src in self.up() {
                let outs: Vec<Output> =
                    std::iter::from_fn(|| self.nodes[src - 1].poll_output()).collect();
                for o in outs {
                    let Output::Send {
                        to: Peer::Addr(a),
                        bytes,
                    } = o
                    else {
                        continue;
                    };
                    if src == 1 {
                        if let Ok(Packet::Session { .. }) =
                            Packet::from_bytes(&bytes, MAX_STREAM_PACKET)
                        {
                            offers.insert(a);
                        }
                    }
                    let Some(dst) = (1..=self.nodes.len()).find(|&i| addr(i) == a) else {
                        continue;
                    };
                    if !self.down.contains(&dst) {
                        moved = true;
                        self.nodes[dst - 1].handle_packet(now, Peer::Addr(addr(src)), &bytes);
                    }
                }
            }
            if !moved {
                break;
            }
        }
        offers
    }

    /// Gossip among the nodes that are up for `rounds` half-seconds from `now`.
    fn gossip(&mut self, mut now: u64, rounds: usize) -> u64 {
        let up = self.up();
        let seeds: Vec<SocketAddr> = up.iter().take(3).map(|&i| addr(i)).collect();
        for &i in &up {
            self.nodes[i - 1].join(&seeds, now);
        }
        for _ in 0..rounds {
            now += 500;
            for &i in &up {
                self.nodes[i - 1].handle_timeout(now);
            }
            self.pump(now);
        }
        now
    }

    /// A count through node 1 started at `now`, run for 5 s; the addresses node 1 offered
    /// the session to.
    fn count(&mut self, user: &SeedSigner, now: u64, seed: u64) -> (BTreeSet<SocketAddr>, u64) {
        let cs = session(user, vec![Query::Count], now, seed);
        self.nodes[0].handle_packet(now, CLIENT, &cs.session_packet().to_bytes());
        let mut offers = self.pump(now);
        let mut t = now;
        for _ in 0..50 {
            t += 100;
            for i in self.up() {
                self.nodes[i - 1].handle_timeout(t);
            }
            offers.extend(self.pump(t));
        }
        (offers, t)
    }
}

#[test]
fn down_nodes_on_the_roster_ring_are_offered_the_session_by_their_predecessor() {
    let user = SeedSigner::new([42; 32]);
    let mut rng = ChaCha20Rng::seed_from_u64(77);
    let keys: Vec<NodeKey> = (0..N).map(|_| NodeKey::generate(&mut rng)).collect();
    let mut text = String::new();
    for (j, k) in keys.iter().enumerate() {
        let i = j + 1;
        text.push_str(&format!("n{i},{} {}\n", addr(i).ip(), k.public_openssh()));
    }
    let known = Arc::new(KnownNodes::parse(&text, Path::new("known_nodes")).unwrap());
    let roster = Roster::from_known(&known);
    // The two nodes after n1 on the roster's ring are down (never started).
    let d1 = roster.ring_successor("n1").unwrap().to_string();
    let d2 = roster.ring_successor(&d1).unwrap().to_string();
    let index = |n: &str| n.trim_start_matches('n').parse::<usize>().unwrap();
    assert!(d2 != "n1");
    let mut net = Net::new(known, keys, &user);
    net.down = BTreeSet::from([index(&d1), index(&d2)]);
    let now = net.gossip(NOW_MS, 40);
    assert!(
        net.nodes[0]
            .members(now)
            .iter()
            .all(|m| m.name != d1 && m.name != d2),
        "gossip never heard of the down nodes"
    );

    // The first count: n1 offers it to its roster successor, down, which gossip never
    // heard of, and finds it down.
    let (offers, now) = net.count(&user, now, 1);
    assert!(
        offers.contains(&addr(index(&d1))),
        "{d1} offered: {offers:?}"
    );
    assert!(
        !offers.contains(&addr(index(&d2))),
        "{d2} not yet: {offers:?}"
    );

    // The next count also goes to the node after it, down too.
    let (offers, _) = net.count(&user, now + 1_000, 2);
    assert!(offers.contains(&addr(index(&d1))), "{d1} again: {offers:?}");
    assert!(offers.contains(&addr(index(&d2))), "{d2} next: {offers:?}");
}
