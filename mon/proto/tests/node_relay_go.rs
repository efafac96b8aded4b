//! A relay runs nothing and answers nothing but its SessionOk before its parent's go (the
//! parent's first sealed frame, which proves it holds the Session's ephemeral secret); after
//! the go it runs once, and its result opens only with the parent's link keys.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;

use common::{allowed_signers, policy, session, SeedSigner, NOW_MS, SLICE};
use mon_keys::hop::{self, ChildHello, Initiator};
use mon_keys::nodekey::NodeKey;
use mon_proto::agg::Query;
use mon_proto::node::{Node, NodeConfig, Output, Peer};
use mon_proto::wire::packet::{Inner, Packet, MAX_STREAM_PACKET};
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;

const PARENT: &str = "p0";

fn parent_addr() -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 9)), 7460)
}

/// Node n1, whose known_nodes also trusts the parent p0; and p0's key.
fn relay(namespaces: &str, user: &SeedSigner) -> (Node, NodeKey, [u8; 32]) {
    let mut rng = ChaCha20Rng::seed_from_u64(11);
    let key = NodeKey::generate(&mut rng);
    let pkey = NodeKey::generate(&mut rng);
    let known = format!(
        "n1,127.0.0.2 {}\n{PARENT},127.0.0.9 {}\n",
        key.public_openssh(),
        pkey.public_openssh()
    );
    let n1_pub = key.public();
    let known = Arc::new(
        mon_keys::known_nodes::KnownNodes::parse(&known, Path::new("known_nodes")).unwrap(),
    );
    let addr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)), 7460);
    let mut node = Node::new(
        NodeConfig::server("n1", addr),
        key,
        known,
        mon_proto::replay::ReplayCache::new(mon_proto::replay::ReplayConfig::default()),
        1,
        [5; 32],
    );
    node.set_policies(std::collections::HashMap::from([(
        SLICE.to_string(),
        Arc::new(policy(&allowed_signers(user, namespaces, "", 0), None)),
    )]));
    (node, pkey, n1_pub)
}

/// p0 offers the client's session to n1, as a parent node does.
fn offer(
    node: &mut Node,
    pkey: &NodeKey,
    user: &SeedSigner,
    ops: Vec<Query>,
) -> (Initiator, [u8; 32]) {
    let cs = session(user, ops, NOW_MS, 5);
    let Packet::Session { session, .. } = cs.session_packet() else {
        panic!("not a Session packet");
    };
    let hash = session.hash();
    let init = Initiator::new(&mut ChaCha20Rng::seed_from_u64(12));
    let e_p = init.public();
    let sig = hop::parent_signature(pkey, &hash, &e_p, "n1").unwrap();
    let p = Packet::Session {
        session,
        parent: PARENT.into(),
        e_p: e_p.into(),
        parent_sig: Some(sig.into()),
        level: 1,
        budget_ms: 5_000,
    };
    node.handle_packet(NOW_MS + 1, Peer::Addr(parent_addr()), &p.to_bytes());
    (init, hash)
}

fn to_parent(outs: &[Output]) -> Vec<Packet> {
    outs.iter()
        .filter_map(|o| match o {
            Output::Send { to, bytes } if *to == Peer::Addr(parent_addr()) => {
                Some(Packet::from_bytes(bytes, MAX_STREAM_PACKET).unwrap())
            }
            _ => None,
        })
        .collect()
}

fn drain(node: &mut Node) -> Vec<Output> {
    std::iter::from_fn(|| node.poll_output()).collect()
}

/// The parent side of the handshake from n1's SessionOk, and the go frame it sends.
fn handshake(
    init: Initiator,
    hash: &[u8; 32],
    answer: &Packet,
    n1_key: &[u8; 32],
) -> (mon_keys::frame::Opener, Packet) {
    let Packet::SessionOk {
        child,
        e_c,
        sig,
        confirm,
        ..
    } = answer
    else {
        panic!("not a SessionOk: {answer:?}");
    };
    let hello = ChildHello {
        e_c: **e_c,
        sig: **sig,
        confirm: confirm.as_slice().try_into().unwrap(),
    };
    let mut keys = init
        .finish(hash, PARENT, child, n1_key, &hello)
        .expect("the parent completes the handshake");
    let (mut sealer, opener) = keys.channel(0).unwrap();
    let go = Packet::Sealed {
        session_hash: (*hash).into(),
        from: PARENT.into(),
        channel: 0,
        frame: sealer.seal(&Inner::Go.to_bytes()).unwrap(),
    };
    (opener, go)
}

#[test]
fn a_relay_answers_a_count_only_after_its_parents_go_and_only_the_parent_can_read_it() {
    let user = SeedSigner::new([42; 32]);
    let (mut node, pkey, n1_key) = relay("mon-query@mon", &user);
    let (init, hash) = offer(&mut node, &pkey, &user, vec![Query::Count]);
    node.handle_timeout(NOW_MS + 2);
    let sent = to_parent(&drain(&mut node));
    assert!(
        matches!(sent.as_slice(), [Packet::SessionOk { .. }]),
        "only the SessionOk before the go: {sent:?}"
    );
    let (mut opener, go) = handshake(init, &hash, &sent[0], &n1_key);
    node.handle_packet(NOW_MS + 60, Peer::Addr(parent_addr()), &go.to_bytes());
    node.handle_timeout(NOW_MS + 61);
    let sent = to_parent(&drain(&mut node));
    let [Packet::Sealed { frame, .. }] = sent.as_slice() else {
        panic!("expected the sealed result, got {sent:?}");
    };
    let plain = opener.open(frame).expect("sealed for the parent");
    let Ok(Inner::Result(r)) = Inner::from_bytes(&plain) else {
        panic!("not a result");
    };
    assert_eq!(r.partials.len(), 1);
    assert_eq!(r.partials[0].coverage().answered, 1);
}

#[test]
fn an_exec_waits_for_the_parents_go() {
    let user = SeedSigner::new([42; 32]);
    let (mut node, pkey, n1_key) = relay("mon-exec@mon", &user);
    let exec = Query::Exec {
        argv: vec!["true".into()],
        shell: false,
        timeout_s: 10,
        where_: None,
    };
    let (init, hash) = offer(&mut node, &pkey, &user, vec![exec]);
    node.handle_timeout(NOW_MS + 2);
    let outs = drain(&mut node);
    assert!(
        !outs.iter().any(|o| matches!(o, Output::Run(_))),
        "ran before the go"
    );
    let sent = to_parent(&outs);
    assert!(
        matches!(sent.as_slice(), [Packet::SessionOk { .. }]),
        "{sent:?}"
    );
    // The parent's go (its first sealed frame) lets it run.
    let (_opener, go) = handshake(init, &hash, &sent[0], &n1_key);
    node.handle_packet(NOW_MS + 60, Peer::Addr(parent_addr()), &go.to_bytes());
    let outs = drain(&mut node);
    assert!(outs.iter().any(|o| matches!(o, Output::Run(_))), "{outs:?}");
}

#[test]
fn a_stale_acknowledgement_does_not_stop_the_resending_of_a_later_commands_result() {
    use mon_proto::client::ClientSession;
    use mon_proto::wire::command::Command;
    let user = SeedSigner::new([42; 32]);
    let (mut node, pkey, n1_key) = relay("mon-query@mon", &user);
    let cs = ClientSession::new_interactive(
        &mut ChaCha20Rng::seed_from_u64(5),
        &user,
        common::request(vec![Query::Count]),
        Some("mon-query@mon"),
        NOW_MS,
    )
    .unwrap();
    let Packet::Session { session, .. } = cs.session_packet() else {
        panic!("not a Session packet");
    };
    let hash = session.hash();
    let init = Initiator::new(&mut ChaCha20Rng::seed_from_u64(12));
    let e_p = init.public();
    let sig = hop::parent_signature(&pkey, &hash, &e_p, "n1").unwrap();
    let p = Packet::Session {
        session,
        parent: PARENT.into(),
        e_p: e_p.into(),
        parent_sig: Some(sig.into()),
        level: 1,
        budget_ms: 5_000,
    };
    let from = Peer::Addr(parent_addr());
    node.handle_packet(NOW_MS + 1, from, &p.to_bytes());
    node.handle_timeout(NOW_MS + 2);
    let sent = to_parent(&drain(&mut node));
    let Packet::SessionOk {
        child,
        e_c,
        sig,
        confirm,
        ..
    } = &sent[0]
    else {
        panic!("not a SessionOk: {sent:?}");
    };
    let hello = ChildHello {
        e_c: **e_c,
        sig: **sig,
        confirm: confirm.as_slice().try_into().unwrap(),
    };
    let mut keys = init.finish(&hash, PARENT, child, &n1_key, &hello).unwrap();
    let (mut sealer, mut opener) = keys.channel(0).unwrap();
    let mut seal = |inner: Inner| {
        Packet::Sealed {
            session_hash: hash.into(),
            from: PARENT.into(),
            channel: 0,
            frame: sealer.seal(&inner.to_bytes()).unwrap(),
        }
        .to_bytes()
    };
    let results = |node: &mut Node, opener: &mut mon_keys::frame::Opener| -> Vec<u64> {
        to_parent(&drain(node))
            .iter()
            .filter_map(|p| match p {
                Packet::Sealed { frame, .. } => {
                    match Inner::from_bytes(&opener.open(frame).ok()?) {
                        Ok(Inner::Result(r)) => Some(r.seq),
                        _ => None,
                    }
                }
                _ => None,
            })
            .collect()
    };
    node.handle_packet(NOW_MS + 60, from, &seal(Inner::Go));
    node.handle_timeout(NOW_MS + 61);
    assert_eq!(results(&mut node, &mut opener), vec![0]);
    // Command 1 answers at once (a count); its result goes up.
    let at = NOW_MS + 1_000;
    let cmd = Command::new(&hash, 1, at, &[Query::Count], |m| cs.cmd_key.sign(m));
    node.handle_packet(at, from, &seal(Inner::Command(cmd)));
    assert_eq!(results(&mut node, &mut opener), vec![1]);
    // The session's own result acknowledged late: command 1's result is still resent (the
    // same sealed frame, which the parent's opener already took).
    node.handle_packet(at + 1, from, &seal(Inner::ResultAck));
    let t = node.poll_timeout().expect("a timer");
    node.handle_timeout(t);
    assert_eq!(to_parent(&drain(&mut node)).len(), 1, "resent at {t}");
    // Its own acknowledgement stops it.
    node.handle_packet(t + 1, from, &seal(Inner::ack(1)));
    node.handle_timeout(t + 10_000);
    assert!(to_parent(&drain(&mut node)).is_empty());
}
