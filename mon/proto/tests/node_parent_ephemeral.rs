//! A parent makes one X25519 ephemeral per session for all its offers (one key generation per
//! session instead of one per offer), and each link still gets its own keys: the parent
//! signature names the child it was made for, every child answers with its own ephemeral,
//! and a frame sealed for one child does not open with another child's keys. Another session
//! gets another ephemeral.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;

use common::{allowed_signers, policy, session, SeedSigner, NOW_MS, SLICE};
use mon_keys::hop;
use mon_keys::nodekey::NodeKey;
use mon_proto::agg::Query;
use mon_proto::node::{Node, NodeConfig, Output, Peer};
use mon_proto::wire::packet::{Packet, MAX_STREAM_PACKET};
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;

fn addr(i: u8) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, i)), 7460)
}

const CLIENT: Peer = Peer::Client(1, IpAddr::V4(Ipv4Addr::LOCALHOST));

/// Entry n1 (127.0.0.2) whose known_nodes lists c2 (127.0.0.3) and c3 (127.0.0.4) too: it
/// sweeps them directly. Returns n1, its key, the children's keys and known_nodes.
fn entry(
    user: &SeedSigner,
) -> (
    Node,
    [u8; 32],
    [NodeKey; 2],
    Arc<mon_keys::known_nodes::KnownNodes>,
) {
    let mut rng = ChaCha20Rng::seed_from_u64(31);
    let k1 = NodeKey::generate(&mut rng);
    let c2 = NodeKey::generate(&mut rng);
    let c3 = NodeKey::generate(&mut rng);
    let known = format!(
        "n1,127.0.0.2 {}\nc2,127.0.0.3 {}\nc3,127.0.0.4 {}\n",
        k1.public_openssh(),
        c2.public_openssh(),
        c3.public_openssh()
    );
    let known = Arc::new(
        mon_keys::known_nodes::KnownNodes::parse(&known, Path::new("known_nodes")).unwrap(),
    );
    let n1_pub = k1.public();
    let mut n1 = Node::new(
        NodeConfig::server("n1", addr(2)),
        k1,
        known.clone(),
        mon_proto::replay::ReplayCache::new(mon_proto::replay::ReplayConfig::default()),
        1,
        [1; 32],
    );
    n1.set_policies(std::collections::HashMap::from([(
        SLICE.to_string(),
        Arc::new(policy(&allowed_signers(user, "mon-query@mon", "", 0), None)),
    )]));
    (n1, n1_pub, [c2, c3], known)
}

/// The Session offers n1 sent, by child address, until `until` ms (its timers run).
fn offers(n1: &mut Node, from: u64, until: u64) -> Vec<(SocketAddr, Packet)> {
    let mut got = Vec::new();
    let mut now = from;
    while now <= until {
        n1.handle_timeout(now);
        while let Some(o) = n1.poll_output() {
            if let Output::Send {
                to: Peer::Addr(a),
                bytes,
            } = o
            {
                if let Ok(p @ Packet::Session { .. }) =
                    Packet::from_bytes(&bytes, MAX_STREAM_PACKET)
                {
                    if !got.iter().any(|(x, _)| *x == a) {
                        got.push((a, p));
                    }
                }
            }
        }
        now += 10;
    }
    got
}

/// A count through n1 (client answer and go included); the offers it makes to c2 and c3.
fn count_offers(
    n1: &mut Node,
    user: &SeedSigner,
    known: &mon_keys::known_nodes::KnownNodes,
    seed: u64,
    at: u64,
) -> ([u8; 32], Vec<(SocketAddr, Packet)>) {
    let mut cs = session(user, vec![Query::Count], at, seed);
    n1.handle_packet(at, CLIENT, &cs.session_packet().to_bytes());
    let mut answer = None;
    while let Some(o) = n1.poll_output() {
        if let Output::Send { to, bytes } = o {
            if to == CLIENT {
                answer = Some(Packet::from_bytes(&bytes, MAX_STREAM_PACKET).unwrap());
            }
        }
    }
    let go = cs
        .on_answer(answer.expect("n1 answers the client"), addr(2), known)
        .expect("SessionOk");
    n1.handle_packet(at + 1, CLIENT, &go.to_bytes());
    let mut got = offers(n1, at + 1, at + 200);
    got.sort_by_key(|(a, _)| *a);
    (cs.hash, got)
}

#[test]
fn one_parent_ephemeral_per_session_and_distinct_keys_per_link() {
    let user = SeedSigner::new([42; 32]);
    let (mut n1, n1_pub, [c2, c3], known) = entry(&user);
    let (hash, got) = count_offers(&mut n1, &user, &known, 7, NOW_MS);
    assert_eq!(
        got.iter().map(|(a, _)| *a).collect::<Vec<_>>(),
        vec![addr(3), addr(4)],
        "n1 offers the session to c2 and c3"
    );
    let parts: Vec<([u8; 32], [u8; 64])> = got
        .iter()
        .map(|(_, p)| match p {
            Packet::Session {
                e_p,
                parent_sig: Some(sig),
                ..
            } => (**e_p, **sig),
            other => panic!("not a signed offer: {other:?}"),
        })
        .collect();
    let e_p = parts[0].0;
    assert_eq!(
        parts[1].0, e_p,
        "one ephemeral for both offers of the session"
    );

    // Each parent signature is for its own child: c3 cannot present c2's offer as its own.
    hop::verify_parent_signature(&n1_pub, &hash, &e_p, "c2", &parts[0].1).expect("c2's offer");
    hop::verify_parent_signature(&n1_pub, &hash, &e_p, "c3", &parts[1].1).expect("c3's offer");
    assert!(hop::verify_parent_signature(&n1_pub, &hash, &e_p, "c3", &parts[0].1).is_err());

    // Both children answer; each link's keys are its own.
    let mut rng = ChaCha20Rng::seed_from_u64(99);
    let (h2, mut k2) = hop::respond(&mut rng, &c2, &hash, &e_p, "n1", "c2").expect("c2");
    let (h3, mut k3) = hop::respond(&mut rng, &c3, &hash, &e_p, "n1", "c3").expect("c3");
    assert_ne!(h2.e_c, h3.e_c);
    let mut sealed_for = std::collections::HashMap::new();
    for (i, (name, h)) in [("c2", &h2), ("c3", &h3)].into_iter().enumerate() {
        let ok = Packet::SessionOk {
            session_hash: hash.into(),
            child: name.into(),
            e_c: h.e_c.into(),
            sig: h.sig.into(),
            confirm: h.confirm.to_vec(),
            extra: false,
        };
        let from = addr(3 + i as u8);
        n1.handle_packet(NOW_MS + 210, Peer::Addr(from), &ok.to_bytes());
        while let Some(o) = n1.poll_output() {
            if let Output::Send {
                to: Peer::Addr(a),
                bytes,
            } = o
            {
                if let Ok(Packet::Sealed { frame, .. }) =
                    Packet::from_bytes(&bytes, MAX_STREAM_PACKET)
                {
                    sealed_for.entry(a).or_insert(frame);
                }
            }
        }
    }
    let go2 = sealed_for
        .get(&addr(3))
        .expect("n1 links c2 and sends its go");
    let go3 = sealed_for
        .get(&addr(4))
        .expect("n1 links c3 and sends its go");
    let (_, mut open2) = k2.channel(0).unwrap();
    let (_, mut open3) = k3.channel(0).unwrap();
    assert!(
        open3.open(go2).is_err(),
        "c2's go opened with c3's link keys"
    );
    assert!(open2.open(go2).is_ok(), "c2's go opens with c2's keys");
    assert!(open3.open(go3).is_ok(), "c3's go opens with c3's keys");

    // Another session: another ephemeral.
    let (_, later) = count_offers(&mut n1, &user, &known, 8, NOW_MS + 4_000);
    let Some((_, Packet::Session { e_p: e2, .. })) = later.first() else {
        panic!("no offer in the second session: {later:?}");
    };
    assert_ne!(**e2, e_p, "a new session, a new ephemeral");
}
