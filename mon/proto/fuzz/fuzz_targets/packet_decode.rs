//! Fuzz `Packet::from_bytes` and a real `Node`'s packet handling.
//!
//! The first byte picks the sender (a client connection or a node address) and, when odd,
//! XORs the rest into a valid client Session packet (signed by this process's random user
//! key, so the node's deeper checks are reached); otherwise the rest is used as is. Every
//! packet that decodes must re-encode to bytes that decode to the same packet; the node must
//! never panic, whatever arrives and in whatever order.
#![no_main]

#[path = "../../tests/common/mod.rs"]
mod common;

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};

use libfuzzer_sys::fuzz_target;
use mon_keys::known_nodes::KnownNodes;
use mon_keys::nodekey::NodeKey;
use mon_proto::agg::Query;
use mon_proto::node::{Node, NodeConfig, Peer};
use mon_proto::replay::{ReplayCache, ReplayConfig};
use mon_proto::wire::packet::{Packet, MAX_DATAGRAM, MAX_STREAM_PACKET};
use rand_chacha::ChaCha20Rng;
use rand_core::{OsRng, RngCore, SeedableRng};

struct Fixture {
    node: Mutex<Node>,
    session: Vec<u8>,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let mut rng = ChaCha20Rng::from_entropy();
        let mut seed = [0u8; 32];
        rng.fill_bytes(&mut seed);
        let user = common::SeedSigner::new(seed);
        let key = NodeKey::generate(&mut rng);
        let other = NodeKey::generate(&mut rng);
        let known = format!(
            "n1,127.0.0.2 {}\nn2,127.0.0.3 {}\n",
            key.public_openssh(),
            other.public_openssh()
        );
        let known = Arc::new(KnownNodes::parse(&known, Path::new("known_nodes")).expect("known"));
        let addr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)), 7460);
        let cfg = NodeConfig::new("n1", addr);
        let replay = ReplayCache::new(ReplayConfig::default());
        let mut node = Node::new(cfg, key, known, replay, 1, seed);
        let policy = common::policy(&common::allowed_signers(&user, "mon-*@mon", "", 2), None);
        node.set_policies(HashMap::from([(
            common::SLICE.to_string(),
            Arc::new(policy),
        )]));
        let session = common::session(&user, vec![Query::Count], common::NOW_MS, OsRng.next_u64())
            .session_packet()
            .to_bytes();
        Fixture {
            node: Mutex::new(node),
            session,
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let f = fixture();
    let Some((&op, rest)) = data.split_first() else {
        return;
    };
    let bytes = if op & 1 == 1 {
        let mut b = f.session.clone();
        let off = usize::from(op >> 3) * b.len() / 32;
        for (x, y) in b[off..].iter_mut().zip(rest) {
            *x ^= y;
        }
        b
    } else {
        rest.to_vec()
    };
    for max in [MAX_DATAGRAM, MAX_STREAM_PACKET] {
        if let Ok(p) = Packet::from_bytes(&bytes, max) {
            let _ = p.session_hash();
            let again = Packet::from_bytes(&p.to_bytes(), MAX_STREAM_PACKET);
            assert_eq!(again.as_ref(), Ok(&p), "decoded packet does not round-trip");
        }
    }
    let from = if op & 2 == 0 {
        Peer::Client(u64::from(op >> 2), IpAddr::V4(Ipv4Addr::LOCALHOST))
    } else {
        Peer::Addr(SocketAddr::new(
            IpAddr::V4(Ipv4Addr::new(127, 0, 0, 3)),
            7460,
        ))
    };
    let Ok(mut node) = f.node.lock() else { return };
    let now = common::NOW_MS + u64::from(op) * 10;
    node.handle_packet(now, from, &bytes);
    if op & 4 != 0 {
        node.handle_timeout(now + 1_000);
    }
    while node.poll_output().is_some() {}
});
