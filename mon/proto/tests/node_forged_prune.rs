//! A Prune says "I am in this session already": its node signature is checked before the
//! parent answers (in one batch, after the busy set-up wave), so a forged Prune cannot cut a
//! child and its subtree out of a session: the offer stands and is retransmitted.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;

use common::{allowed_signers, policy, session, SeedSigner, NOW_MS, SLICE};
use mon_keys::nodekey::NodeKey;
use mon_proto::agg::Query;
use mon_proto::node::{Node, NodeConfig, Output, Peer};
use mon_proto::wire::packet::{Packet, MAX_STREAM_PACKET};
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use sha2::{Digest, Sha256};

fn addr(i: u8) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, i)), 7460)
}

const CLIENT: Peer = Peer::Client(1, IpAddr::V4(Ipv4Addr::LOCALHOST));

/// n1 (127.0.0.2) and n2 (127.0.0.3), trusting each other, serving the test slice.
fn two_nodes(user: &SeedSigner) -> (Node, Node, Arc<mon_keys::known_nodes::KnownNodes>) {
    let mut rng = ChaCha20Rng::seed_from_u64(21);
    let k1 = NodeKey::generate(&mut rng);
    let k2 = NodeKey::generate(&mut rng);
    let known = format!(
        "n1,127.0.0.2 {}\nn2,127.0.0.3 {}\n",
        k1.public_openssh(),
        k2.public_openssh()
    );
    let known = Arc::new(
        mon_keys::known_nodes::KnownNodes::parse(&known, Path::new("known_nodes")).unwrap(),
    );
    let mk = |name: &str, a: SocketAddr, key: NodeKey, id: u64| {
        let mut n = Node::new(
            NodeConfig::server(name, a),
            key,
            known.clone(),
            mon_proto::replay::ReplayCache::new(mon_proto::replay::ReplayConfig::default()),
            id,
            [id as u8; 32],
        );
        n.set_policies(std::collections::HashMap::from([(
            SLICE.to_string(),
            Arc::new(policy(&allowed_signers(user, "mon-query@mon", "", 0), None)),
        )]));
        n
    };
    let n1 = mk("n1", addr(2), k1, 1);
    let n2 = mk("n2", addr(3), k2, 2);
    (n1, n2, known)
}

/// Datagrams to elsewhere (the client), and those held back from n2.
type Pumped = (Vec<(Peer, Vec<u8>)>, Vec<Vec<u8>>);

/// Delivers node-to-node datagrams until both are quiet; returns what went elsewhere.
/// `hold` decides which datagrams to n2 are kept back (returned instead of delivered).
fn pump(n1: &mut Node, n2: &mut Node, now: u64, hold: &dyn Fn(&Packet) -> bool) -> Pumped {
    let mut other = Vec::new();
    let mut held = Vec::new();
    for _ in 0..1000 {
        let mut moved = false;
        for from in [1u8, 2] {
            let (src, dst) = if from == 1 {
                (&mut *n1, &mut *n2)
            } else {
                (&mut *n2, &mut *n1)
            };
            let outs: Vec<Output> = std::iter::from_fn(|| src.poll_output()).collect();
            for o in outs {
                if let Output::Send { to, bytes } = o {
                    moved = true;
                    let dst_addr = if from == 1 { addr(3) } else { addr(2) };
                    if to == Peer::Addr(dst_addr) {
                        let p = Packet::from_bytes(&bytes, MAX_STREAM_PACKET).unwrap();
                        if from == 1 && hold(&p) {
                            held.push(bytes);
                        } else {
                            dst.handle_packet(now, Peer::Addr(addr(from + 1)), &bytes);
                        }
                    } else {
                        other.push((to, bytes));
                    }
                }
            }
        }
        if !moved {
            break;
        }
    }
    (other, held)
}

#[test]
fn a_forged_prune_does_not_cut_a_child_out_of_the_session() {
    let user = SeedSigner::new([42; 32]);
    let (mut n1, mut n2, known) = two_nodes(&user);
    // Membership: n1 and n2 learn each other.
    n1.join(&[addr(3)], NOW_MS);
    n2.join(&[addr(2)], NOW_MS);
    let mut now = NOW_MS;
    for _ in 0..20 {
        now += 500;
        n1.handle_timeout(now);
        n2.handle_timeout(now);
        pump(&mut n1, &mut n2, now, &|_| false);
    }

    // A count through n1; its offer to n2 is held back, and a Prune "from n2" with a bad
    // signature answers it.
    let mut cs = session(&user, vec![Query::Count], now, 7);
    n1.handle_packet(now, CLIENT, &cs.session_packet().to_bytes());
    let is_offer = |p: &Packet| matches!(p, Packet::Session { .. });
    let (to_client, held) = pump(&mut n1, &mut n2, now, &is_offer);
    assert_eq!(held.len(), 1, "n1 offers the session to n2");
    let answer = to_client
        .iter()
        .find(|(to, _)| *to == CLIENT)
        .map(|(_, b)| Packet::from_bytes(b, MAX_STREAM_PACKET).unwrap())
        .expect("n1 answers the client");
    let go = cs.on_answer(answer, addr(2), &known).expect("SessionOk");
    n1.handle_packet(now + 1, CLIENT, &go.to_bytes());
    let hash = cs.hash;
    let forged = Packet::Prune {
        session_hash: hash.into(),
        child: "n2".into(),
        answered: <[u8; 32]>::from(Sha256::digest(&held[0])).into(),
        sig: [7u8; 64].into(),
    };
    n1.handle_packet(now + 2, Peer::Addr(addr(3)), &forged.to_bytes());
    let (out, _) = pump(&mut n1, &mut n2, now + 2, &|_| false);
    assert!(
        !out.iter().any(|(to, _)| *to == CLIENT),
        "n1 answered the client although n2 never answered: the forged Prune cut it"
    );

    // The offer is retransmitted and n2 joins: the count is 2.
    let mut result = None;
    for _ in 0..40 {
        now += 100;
        n1.handle_timeout(now);
        n2.handle_timeout(now);
        let (out, _) = pump(&mut n1, &mut n2, now, &|_| false);
        if let Some((_, b)) = out.into_iter().find(|(to, _)| *to == CLIENT) {
            result = Some(Packet::from_bytes(&b, MAX_STREAM_PACKET).unwrap());
            break;
        }
    }
    let (r, _) = cs.on_result(result.expect("a result")).unwrap();
    assert_eq!(r.partials[0].coverage().answered, 2);
}
