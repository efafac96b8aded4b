//! Issue 10, smaller holes, in the sans-IO node:
//! - `max-fanout` also bounds the adaptive fanout (a body's fanout 0);
//! - a `@revoked` node key leaves membership as soon as `known_nodes` reloads;
//! - third-party gossip entries whose address disagrees with `known_nodes` are not used;
//! - a follow-up Command (signed with the session's `cmd_key`) is refused and counted as junk.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;

use common::{allowed_signers, lone_node, policy, session, SeedSigner, NOW_MS, SLICE};
use mon_keys::known_nodes::KnownNodes;
use mon_keys::nodekey::NodeKey;
use mon_proto::agg::Query;
use mon_proto::membership::{Entry, MemberId};
use mon_proto::node::{Node, NodeConfig, Output, Peer};
use mon_proto::wire::packet::{Packet, MAX_STREAM_PACKET};
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;

const CLIENT: Peer = Peer::Client(1, IpAddr::V4(Ipv4Addr::LOCALHOST));

/// Node i's address: 127.0.0.(i+1):7460.
fn addr(i: usize) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, i as u8 + 1)), 7460)
}

fn keys(n: usize) -> Vec<NodeKey> {
    let mut rng = ChaCha20Rng::seed_from_u64(77);
    (0..n).map(|_| NodeKey::generate(&mut rng)).collect()
}

/// known_nodes text for nodes 1..=n (`n{i},127.0.0.{i+1} KEY`); `revoked` lines get `@revoked`.
fn known_text(keys: &[NodeKey], revoked: &[usize]) -> String {
    let mut t = String::new();
    for (i, k) in keys.iter().enumerate() {
        let i = i + 1;
        let marker = if revoked.contains(&i) {
            "@revoked "
        } else {
            ""
        };
        t.push_str(&format!(
            "{marker}n{i},{} {}\n",
            addr(i).ip(),
            k.public_openssh()
        ));
    }
    t
}

fn known(text: &str) -> Arc<KnownNodes> {
    Arc::new(KnownNodes::parse(text, Path::new("known_nodes")).unwrap())
}

/// A network of real nodes, delivering datagrams in memory.
struct Net {
    nodes: Vec<Node>,
}

impl Net {
    /// Nodes n1..=n with `keys`, serving the test slice with `mon_policy`.
    fn new(keys: Vec<NodeKey>, user: &SeedSigner, mon_policy: Option<&str>) -> Net {
        let k = known(&known_text(&keys, &[]));
        let nodes = keys
            .into_iter()
            .enumerate()
            .map(|(j, key)| {
                let i = j + 1;
                let mut n = Node::new(
                    NodeConfig::server(&format!("n{i}"), addr(i)),
                    key,
                    k.clone(),
                    mon_proto::replay::ReplayCache::new(mon_proto::replay::ReplayConfig::default()),
                    i as u64 * 7919,
                    [i as u8; 32],
                );
                n.set_policies(std::collections::HashMap::from([(
                    SLICE.to_string(),
                    Arc::new(policy(
                        &allowed_signers(user, "mon-query@mon", "", 0),
                        mon_policy,
                    )),
                )]));
                n
            })
            .collect();
        Net { nodes }
    }

    fn index_of(&self, a: SocketAddr) -> Option<usize> {
        (1..=self.nodes.len()).find(|&i| addr(i) == a)
    }

    /// Delivers node-to-node datagrams until quiet (bounded); returns the rest.
    fn pump(&mut self, now: u64) -> Vec<(usize, Output)> {
        let mut other = Vec::new();
        for _ in 0..200 {
            let mut moved = false;
            for src in 1..=self.nodes.len() {
                let outs: Vec<Output> =
                    std::iter::from_fn(|| self.nodes[src - 1].poll_output()).collect();
                for o in outs {
                    match o {
                        Output::Send {
                            to: Peer::Addr(a),
                            bytes,
                        } if self.index_of(a).is_some() => {
                            moved = true;
                            let dst = self.index_of(a).unwrap_or(0);
                            self.nodes[dst - 1].handle_packet(now, Peer::Addr(addr(src)), &bytes);
                        }
                        o => other.push((src, o)),
                    }
                }
            }
            if !moved {
                break;
            }
        }
        other
    }

    /// Runs gossip for `rounds` half-seconds from `now`; returns the new time.
    fn gossip(&mut self, mut now: u64, rounds: usize) -> u64 {
        let n = self.nodes.len();
        for i in 1..=n {
            let seeds: Vec<SocketAddr> = (1..=n.min(3)).map(addr).collect();
            self.nodes[i - 1].join(&seeds, now);
        }
        for _ in 0..rounds {
            now += 500;
            for node in &mut self.nodes {
                node.handle_timeout(now);
            }
            self.pump(now);
        }
        now
    }
}

fn member_names(node: &Node, now: u64) -> Vec<String> {
    node.members(now).into_iter().map(|m| m.name).collect()
}

/// Session offers node 1 sends to other nodes when a client starts a count through it.
fn offers_of_a_count(mon_policy: Option<&str>) -> usize {
    let user = SeedSigner::new([42; 32]);
    let mut net = Net::new(keys(9), &user, mon_policy);
    let now = net.gossip(NOW_MS, 40);
    assert!(
        net.nodes[0].members(now).len() >= 6,
        "n1 knows most members: {:?}",
        member_names(&net.nodes[0], now)
    );
    let cs = session(&user, vec![Query::Count], now, 7);
    assert_eq!(cs.body.overlay.fanout, 0, "the adaptive fanout");
    net.nodes[0].handle_packet(now, CLIENT, &cs.session_packet().to_bytes());
    let mut offered = std::collections::BTreeSet::new();
    while let Some(o) = net.nodes[0].poll_output() {
        if let Output::Send {
            to: Peer::Addr(a),
            bytes,
        } = o
        {
            if let Ok(Packet::Session { .. }) = Packet::from_bytes(&bytes, MAX_STREAM_PACKET) {
                offered.insert(a);
            }
        }
    }
    offered.len()
}

#[test]
fn max_fanout_also_bounds_the_adaptive_fanout() {
    // Without a bound the adaptive fanout offers to at least 4 random children (plus ring
    // neighbours)…
    let free = offers_of_a_count(None);
    assert!(free >= 4, "adaptive fanout offers {free}");
    // …with max-fanout=1 the node offers to one random child plus its two ring neighbours.
    let bounded = offers_of_a_count(Some("alice@lab max-fanout=1\n"));
    assert!(bounded <= 3, "max-fanout=1 but {bounded} offers");
}

#[test]
fn a_revoked_node_leaves_membership_when_known_nodes_reloads() {
    let user = SeedSigner::new([42; 32]);
    let ks = keys(3);
    let reloaded = known(&known_text(&ks, &[2]));
    let mut net = Net::new(ks, &user, None);
    let now = net.gossip(NOW_MS, 20);
    assert!(member_names(&net.nodes[0], now).contains(&"n2".to_string()));
    net.nodes[0].set_known_nodes(reloaded);
    // At once: no gossip round, no expiry in between.
    assert!(
        !member_names(&net.nodes[0], now).contains(&"n2".to_string()),
        "n2's key is @revoked but n1 still lists it: {:?}",
        member_names(&net.nodes[0], now)
    );
    assert!(net.nodes[0].counters().members_untrusted >= 1);
    // And it does not come back through gossip.
    let now = net.gossip(now, 10);
    assert!(!member_names(&net.nodes[0], now).contains(&"n2".to_string()));
}

/// A Ping signed by node `from` (key `key`) carrying one third-party entry.
fn ping_with_entry(from: usize, key: &NodeKey, entry: MemberId, now: u64) -> Vec<u8> {
    let sender = MemberId {
        name: format!("n{from}"),
        addr: addr(from),
        key: key.public(),
    };
    let entries = vec![Entry {
        id: entry,
        node_id: 777,
        age_ms: 0,
    }];
    common::signed_ping(sender, key, entries, now)
}

#[test]
fn a_gossip_entry_whose_address_disagrees_with_known_nodes_is_not_used() {
    let ks = keys(3);
    let text = known_text(&ks, &[]);
    let n2_key = ks[1].public();
    // The same keys again (same seed), owned.
    let mut owned = keys(3).into_iter();
    let n1_key = owned.next().unwrap();
    let n3_key = owned.nth(1).unwrap();
    let mut n1 = Node::new(
        NodeConfig::server("n1", addr(1)),
        n1_key,
        known(&text),
        mon_proto::replay::ReplayCache::new(mon_proto::replay::ReplayConfig::default()),
        1,
        [1; 32],
    );
    // n3 (a member in good standing, perhaps compromised) says n2 lives elsewhere.
    let elsewhere = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 9, 9, 9)), 7460);
    let lie = MemberId {
        name: "n2".into(),
        addr: elsewhere,
        key: n2_key,
    };
    n1.handle_packet(
        NOW_MS,
        Peer::Addr(addr(3)),
        &ping_with_entry(3, &n3_key, lie, NOW_MS),
    );
    let view = n1.members(NOW_MS);
    assert!(
        view.iter().any(|m| m.name == "n3"),
        "the sender is a member"
    );
    assert!(
        !view.iter().any(|m| m.name == "n2"),
        "n2 entered the view at an address known_nodes does not list: {view:?}"
    );
    // The same entry at n2's known_nodes address is used.
    let truth = MemberId {
        name: "n2".into(),
        addr: addr(2),
        key: n2_key,
    };
    n1.handle_packet(
        NOW_MS + 1,
        Peer::Addr(addr(3)),
        &ping_with_entry(3, &n3_key, truth, NOW_MS + 1),
    );
    let view = n1.members(NOW_MS + 1);
    assert!(
        view.iter().any(|m| m.name == "n2" && m.addr == addr(2)),
        "{view:?}"
    );
}

#[test]
fn a_follow_up_command_is_refused_as_junk() {
    let user = SeedSigner::new([42; 32]);
    let (mut node, known, entry) = lone_node(policy(
        &allowed_signers(&user, "mon-query@mon", "", 0),
        None,
    ));
    let mut cs = session(&user, vec![Query::Count], NOW_MS, 5);
    node.handle_packet(NOW_MS, CLIENT, &cs.session_packet().to_bytes());
    let answer = std::iter::from_fn(|| node.poll_output())
        .find_map(|o| match o {
            Output::Send { to, bytes } if to == CLIENT => Some(bytes),
            _ => None,
        })
        .expect("an answer to the client");
    let answer = Packet::from_bytes(&answer, MAX_STREAM_PACKET).unwrap();
    let go = cs.on_answer(answer, entry, &known).expect("SessionOk");
    node.handle_packet(NOW_MS + 1, CLIENT, &go.to_bytes());
    while node.poll_output().is_some() {}
    let before = node.counters().clone();

    let cmd = cs
        .command_packet(1, NOW_MS + 2, &[Query::Count])
        .expect("a sealed command");
    node.handle_packet(NOW_MS + 2, CLIENT, &cmd.to_bytes());
    let after = node.counters().clone();
    assert_eq!(after.commands_refused, before.commands_refused + 1);
    assert_eq!(after.junk, before.junk + 1, "counted as junk");
    let outs: Vec<Output> = std::iter::from_fn(|| node.poll_output()).collect();
    assert!(
        !outs
            .iter()
            .any(|o| matches!(o, Output::Run(_) | Output::Audit(_))),
        "a refused command runs nothing and writes no record per frame"
    );
    // The session key the command was signed with stays in the body for later.
    assert_eq!(*cs.body.cmd_key, cs.cmd_key.public());
}
