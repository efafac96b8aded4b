//! The session table's shares (issue 10, class 5), sans IO: forged sessions naming a key take
//! nothing from its share, a key's share refuses with a code that says "retry later", and a
//! session whose parent never sends its go leaves the table after the join window.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;

use common::{allowed_signers, policy, request, session, SeedSigner, NOW_MS, SLICE};
use mon_keys::known_nodes::KnownNodes;
use mon_keys::nodekey::NodeKey;
use mon_proto::agg::Query;
use mon_proto::client::{ClientSession, SessionRequest};
use mon_proto::node::{Node, NodeConfig, Output, Peer, RETRY_LATER_CODES};
use mon_proto::replay::{ReplayCache, ReplayConfig};
use mon_proto::wire::packet::{Packet, MAX_STREAM_PACKET};
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;

fn client(id: u64) -> Peer {
    Peer::Client(id, IpAddr::V4(Ipv4Addr::LOCALHOST))
}

fn node(user: &SeedSigner, per_key: usize) -> Node {
    let addr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)), 7460);
    let key = NodeKey::generate(&mut ChaCha20Rng::seed_from_u64(1));
    let known = format!("n1,127.0.0.2 {}\n", key.public_openssh());
    let known = Arc::new(KnownNodes::parse(&known, Path::new("known_nodes")).unwrap());
    let mut cfg = NodeConfig::server("n1", addr);
    cfg.max_sessions_per_key = per_key;
    let mut node = Node::new(
        cfg,
        key,
        known,
        ReplayCache::new(ReplayConfig::default()),
        1,
        [5; 32],
    );
    let p = policy(&allowed_signers(user, "mon-*@mon", "", 3), None);
    node.set_policies(HashMap::from([(SLICE.to_string(), Arc::new(p))]));
    node
}

/// The answers sent to `to`.
fn answers(node: &mut Node, to: Peer) -> Vec<Packet> {
    std::iter::from_fn(|| node.poll_output())
        .filter_map(|o| match o {
            Output::Send { to: t, bytes } if t == to => {
                Some(Packet::from_bytes(&bytes, MAX_STREAM_PACKET).unwrap())
            }
            _ => None,
        })
        .collect()
}

#[test]
fn forged_sessions_take_nothing_from_a_keys_share() {
    let user = SeedSigner::new([42; 32]);
    let mut n = node(&user, 2);
    // Sessions naming the user's key with a broken signature: refused, not charged.
    for i in 0..5u64 {
        let mut p = session(&user, vec![Query::Count], NOW_MS, 100 + i).session_packet();
        if let Packet::Session { session, .. } = &mut p {
            let last = session.sshsig.len() - 1;
            session.sshsig[last] ^= 1;
        }
        n.handle_packet(NOW_MS, client(i), &p.to_bytes());
        assert!(!n.take_authenticated(), "a forged session authenticated");
        match answers(&mut n, client(i)).as_slice() {
            [Packet::Deny { code, .. }] => assert!(!code.starts_with("busy"), "{code}"),
            other => panic!("unexpected answer {other:?}"),
        }
    }
    // The real key still has its whole share.
    for i in 10..12u64 {
        let s = session(&user, vec![Query::Count], NOW_MS, i);
        n.handle_packet(NOW_MS, client(i), &s.session_packet().to_bytes());
        assert!(n.take_authenticated());
        assert!(
            matches!(
                answers(&mut n, client(i)).as_slice(),
                [Packet::SessionOk { .. }]
            ),
            "session {i} refused"
        );
    }
    // And then it is full: refused for a limit, with a retry hint.
    let s = session(&user, vec![Query::Count], NOW_MS, 20);
    n.handle_packet(NOW_MS, client(20), &s.session_packet().to_bytes());
    match answers(&mut n, client(20)).as_slice() {
        [Packet::Deny { code, text, .. }] => {
            assert_eq!(code, "busy-key");
            assert!(RETRY_LATER_CODES.contains(&code.as_str()));
            assert!(text.contains("retry"), "{text}");
        }
        other => panic!("unexpected answer {other:?}"),
    }
}

#[test]
fn a_session_without_its_go_leaves_after_the_join_window() {
    let user = SeedSigner::new([42; 32]);
    let mut n = node(&user, 64);
    // The longest timeout and join window: held until its deadline, this is ten minutes.
    let req = SessionRequest {
        timeout_ms: 600_000,
        max_lifetime_s: 3600,
        join_window_ms: 600_000,
        ..request(vec![Query::Count])
    };
    let s = ClientSession::new(&mut ChaCha20Rng::seed_from_u64(1), &user, req, NOW_MS).unwrap();
    n.handle_packet(NOW_MS, client(1), &s.session_packet().to_bytes());
    assert!(matches!(
        answers(&mut n, client(1)).as_slice(),
        [Packet::SessionOk { .. }]
    ));
    assert_eq!(n.session_count(), 1);
    let wait = NodeConfig::server("x", "127.0.0.1:1".parse().unwrap()).go_wait_ms;
    // The node asks to be woken by then.
    assert!(n.poll_timeout().is_some_and(|t| t <= NOW_MS + wait));
    n.handle_timeout(NOW_MS + wait - 1);
    assert_eq!(n.session_count(), 1, "dropped before its join window");
    n.handle_timeout(NOW_MS + wait);
    assert_eq!(n.session_count(), 0, "held past its join window");
    assert_eq!(n.counters().sessions_no_go, 1);
}
