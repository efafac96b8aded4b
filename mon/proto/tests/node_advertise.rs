//! Servers listening on an unspecified address (`0.0.0.0`, `[::]`), in the sans-IO node:
//! - a node tells its peers its own known_nodes address, not `0.0.0.0`;
//! - a peer's gossip claiming `0.0.0.0` places it at the packet's source IP, but only where
//!   known_nodes lists no other address for it;
//! - a third-party entry at `0.0.0.0` is never used.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;

use mon_keys::known_nodes::KnownNodes;
use mon_keys::nodekey::NodeKey;
use mon_proto::membership::{Entry, MemberId};
use mon_proto::node::{Node, NodeConfig, Peer};
use mon_proto::replay::{ReplayCache, ReplayConfig};
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;

use common::NOW_MS;

fn ip(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(10, 0, 0, last))
}

fn any(port: u16) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port)
}

fn keys() -> Vec<NodeKey> {
    let mut rng = ChaCha20Rng::seed_from_u64(12);
    (0..3).map(|_| NodeKey::generate(&mut rng)).collect()
}

/// n1 at 10.0.0.1, n2 listed by name only, n3 at 10.0.0.3.
fn known(keys: &[NodeKey]) -> Arc<KnownNodes> {
    let text = format!(
        "n1,10.0.0.1 {}\nn2 {}\nn3,10.0.0.3 {}\n",
        keys[0].public_openssh(),
        keys[1].public_openssh(),
        keys[2].public_openssh()
    );
    Arc::new(KnownNodes::parse(&text, Path::new("known_nodes")).unwrap())
}

/// Node n1 listening on `0.0.0.0:7460`.
fn n1(key: NodeKey, known: Arc<KnownNodes>) -> Node {
    let cfg = NodeConfig::server("n1", any(7460));
    Node::new(
        cfg,
        key,
        known,
        ReplayCache::new(ReplayConfig::default()),
        1,
        [1; 32],
    )
}

/// A signed Ping from `from` (claiming `addr`) carrying `entries`.
fn ping(from: &str, addr: SocketAddr, key: &NodeKey, entries: Vec<Entry>, ts: u64) -> Vec<u8> {
    let from = MemberId {
        name: from.into(),
        addr,
        key: key.public(),
    };
    common::signed_ping(from, key, entries, ts)
}

fn view(n: &Node) -> Vec<(String, SocketAddr)> {
    n.members(NOW_MS + 10)
        .into_iter()
        .map(|m| (m.name, m.addr))
        .collect()
}

#[test]
fn a_node_on_0_0_0_0_advertises_its_own_known_nodes_address() {
    let ks = keys();
    let k = known(&ks);
    let mut owned = keys().into_iter();
    let node = n1(owned.next().unwrap(), k.clone());
    assert_eq!(node.advertised(), SocketAddr::new(ip(1), 7460));
    // n2's line lists no address: n2 on 0.0.0.0 stays unspecified (peers place it).
    let cfg = NodeConfig::server("n2", any(7461));
    let n2 = Node::new(
        cfg,
        owned.next().unwrap(),
        k,
        ReplayCache::new(ReplayConfig::default()),
        2,
        [2; 32],
    );
    assert_eq!(n2.advertised(), any(7461));
}

#[test]
fn a_peer_claiming_0_0_0_0_is_placed_at_its_source_where_known_nodes_allows() {
    let ks = keys();
    let mut owned = keys().into_iter();
    let mut node = n1(owned.next().unwrap(), known(&ks));
    // n2 (no address listed) claims 0.0.0.0:7462 from 192.0.2.2:7462: placed there.
    let from = SocketAddr::new("192.0.2.2".parse().unwrap(), 7462);
    node.handle_packet(
        NOW_MS,
        Peer::Addr(from),
        &ping("n2", any(7462), &ks[1], vec![], NOW_MS),
    );
    assert_eq!(view(&node), vec![("n2".into(), from)]);
    // n3 (listed at 10.0.0.3) claiming 0.0.0.0 from elsewhere is dropped…
    let elsewhere = SocketAddr::new("192.0.2.9".parse().unwrap(), 7460);
    let p = ping("n3", any(7460), &ks[2], vec![], NOW_MS);
    node.handle_packet(NOW_MS, Peer::Addr(elsewhere), &p);
    assert!(
        !view(&node).iter().any(|(n, _)| n == "n3"),
        "{:?}",
        view(&node)
    );
    // …and placed when it comes from its listed address.
    let p = ping("n3", any(7460), &ks[2], vec![], NOW_MS + 1);
    let listed = SocketAddr::new(ip(3), 40_000);
    node.handle_packet(NOW_MS + 1, Peer::Addr(listed), &p);
    assert!(
        view(&node).contains(&("n3".into(), SocketAddr::new(ip(3), 7460))),
        "{:?}",
        view(&node)
    );
}

#[test]
fn a_third_party_entry_at_0_0_0_0_is_not_used() {
    let ks = keys();
    let mut owned = keys().into_iter();
    let mut node = n1(owned.next().unwrap(), known(&ks));
    let entry = Entry {
        id: MemberId {
            name: "n2".into(),
            addr: any(7460),
            key: ks[1].public(),
        },
        node_id: 777,
        age_ms: 0,
    };
    let n3 = SocketAddr::new(ip(3), 7460);
    node.handle_packet(
        NOW_MS,
        Peer::Addr(n3),
        &ping("n3", n3, &ks[2], vec![entry], NOW_MS),
    );
    assert_eq!(view(&node), vec![("n3".into(), n3)]);
}
