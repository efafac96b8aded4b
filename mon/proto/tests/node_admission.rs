//! Stream admission, attacked afresh (issue 10): only a session the node admits (its shares
//! charged, its id new) authenticates the stream it came on. A listed key whose sessions are
//! refused for a limit, or sent again, gets no stream free of its address's share.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;

use common::{allowed_signers, policy, session, SeedSigner, NOW_MS, SLICE};
use mon_keys::known_nodes::KnownNodes;
use mon_keys::nodekey::NodeKey;
use mon_proto::agg::Query;
use mon_proto::node::{Node, NodeConfig, Output, Peer};
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
fn a_session_refused_for_its_keys_share_does_not_authenticate_its_stream() {
    let user = SeedSigner::new([42; 32]);
    let mut n = node(&user, 1);
    let s = session(&user, vec![Query::Count], NOW_MS, 1);
    n.handle_packet(NOW_MS, client(1), &s.session_packet().to_bytes());
    assert!(n.take_authenticated(), "an admitted session authenticates");
    assert!(matches!(
        answers(&mut n, client(1)).as_slice(),
        [Packet::SessionOk { .. }]
    ));
    // The key's share is full: each further session, validly signed, is refused, and its
    // stream stays counted against its address (before: every such stream was set free).
    for i in 2..40u64 {
        let s = session(&user, vec![Query::Count], NOW_MS, i);
        n.handle_packet(NOW_MS, client(i), &s.session_packet().to_bytes());
        assert!(
            !n.take_authenticated(),
            "session {i}, refused for the key's share, authenticated its stream"
        );
        match answers(&mut n, client(i)).as_slice() {
            [Packet::Deny { code, .. }] => assert_eq!(code, "busy-key"),
            other => panic!("unexpected answer {other:?}"),
        }
    }
}

/// An accepted session's audit record carries its signed body (padded with 255 long target
/// patterns: about 88 KB), and one key may start thousands at once: before the per-key
/// budget, 30,000 padded count sessions of one query-only key wrote 2.6 GB of audit, and a
/// full disk makes every node refuse every user (fail closed). Now one key's accepted
/// sessions are audited at most `AUDITED_SESSION_BYTES_PER_KEY` a minute; beyond, a session
/// is refused as `busy-key` (retry later) and costs nothing durable.
#[test]
fn a_query_only_keys_accepted_sessions_cost_bounded_audit_bytes() {
    use mon_proto::client::ClientSession;
    use mon_proto::node::AUDITED_SESSION_BYTES_PER_KEY;
    let user = SeedSigner::new([42; 32]);
    let mut n = node(&user, 1000);
    let (mut audited, mut busy) = (0usize, 0u64);
    let sessions = 200u64;
    let mut largest = 0usize;
    for i in 0..sessions {
        let mut req = common::request(vec![Query::Count]);
        req.targets = std::iter::once("*".to_string())
            .chain((0..255).map(|k| format!("{k:03}{}", "x".repeat(252))))
            .collect();
        let mut rng = ChaCha20Rng::seed_from_u64(1000 + i);
        let s = ClientSession::new(&mut rng, &user, req, NOW_MS).expect("sign");
        n.handle_packet(NOW_MS + i, client(i), &s.session_packet().to_bytes());
        while let Some(o) = n.poll_output() {
            match o {
                Output::Audit(ev) => {
                    let b = ev.session_body.as_ref().map_or(0, String::len);
                    largest = largest.max(b);
                    audited += b;
                }
                Output::Send { bytes, .. } => {
                    if let Ok(mon_proto::wire::packet::Packet::Deny { code, .. }) =
                        mon_proto::wire::packet::Packet::from_bytes(&bytes, usize::MAX)
                    {
                        busy += u64::from(code == "busy-key");
                    }
                }
                _ => {}
            }
        }
    }
    eprintln!("{sessions} padded count sessions of one query-only key: {audited} bytes of session bodies audited, {busy} refused busy-key");
    assert!(busy > 0, "no session was refused for the key's audit share");
    // Bodies are audited as text (base64), a little larger than the bytes charged.
    assert!(
        audited <= AUDITED_SESSION_BYTES_PER_KEY * 3 / 2 + largest,
        "{sessions} sessions of one query-only key wrote {audited} bytes of audit in a minute"
    );
}

/// A query-only key's sessions asking for what it may not do (exec) are refused, and each
/// refusal of a verified session is audited with its signed body; nothing else bounds them
/// (no share, no replay entry). A refusal per key is audited at a bounded rate; beyond it the
/// refusals are junk (answered, counted and summarised, never one record each).
#[test]
fn a_keys_refused_sessions_are_audited_at_a_bounded_rate() {
    use mon_proto::audit::EventKind;
    let user = SeedSigner::new([43; 32]);
    let addr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)), 7460);
    let key = NodeKey::generate(&mut ChaCha20Rng::seed_from_u64(1));
    let known = format!("n1,127.0.0.2 {}\n", key.public_openssh());
    let known = Arc::new(KnownNodes::parse(&known, Path::new("known_nodes")).unwrap());
    let mut n = Node::new(
        NodeConfig::server("n1", addr),
        key,
        known,
        ReplayCache::new(ReplayConfig::default()),
        1,
        [5; 32],
    );
    let p = policy(&allowed_signers(&user, "mon-query@mon", "", 0), None);
    n.set_policies(HashMap::from([(SLICE.to_string(), Arc::new(p))]));
    let exec = Query::Exec {
        argv: vec!["x".repeat(4000)],
        shell: false,
        timeout_s: 5,
        where_: None,
    };
    let sent = 200u64;
    let (mut audited, mut denies) = (0, 0);
    for i in 0..sent {
        let s = session(&user, vec![exec.clone()], NOW_MS, 5000 + i);
        n.handle_packet(NOW_MS + i, client(i), &s.session_packet().to_bytes());
        while let Some(o) = n.poll_output() {
            match o {
                Output::Audit(ev) if ev.event == EventKind::SessionDeny => audited += 1,
                Output::Send { bytes, .. } => {
                    if let Ok(Packet::Deny { .. }) = Packet::from_bytes(&bytes, MAX_STREAM_PACKET) {
                        denies += 1;
                    }
                }
                _ => {}
            }
        }
    }
    eprintln!("{sent} refused sessions of one key: {audited} audited, {denies} answered");
    assert_eq!(
        denies, sent,
        "every refusal is answered on the client's stream"
    );
    assert!(audited >= 1, "the key's first refusals are audited");
    assert!(
        audited <= mon_proto::node::AUDITED_REFUSALS_PER_KEY as u64,
        "{audited} refusals of one key audited in {} ms",
        sent
    );
}

/// Two keys of another slice try to fill the replay cache (here 2 × 4 of 8 entries, standing
/// in for 8 × 30,000 of 240,000): before the per-slice share they did, and a user of this
/// slice was refused `replay-cache-full` until their entries expired (up to join window +
/// 2 × skew, 20 minutes with the defaults). Now the other slice gets its share (half the
/// cache, as [`ReplayConfig::for_limits`] sizes it), is refused `replay-cache-slice-full`
/// beyond it, and this slice's user is admitted.
#[test]
fn another_slices_keys_cannot_fill_the_replay_cache() {
    use mon_proto::client::ClientSession;
    let user = SeedSigner::new([42; 32]);
    let others = [SeedSigner::new([50; 32]), SeedSigner::new([51; 32])];
    let addr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)), 7460);
    let key = NodeKey::generate(&mut ChaCha20Rng::seed_from_u64(1));
    let known = format!("n1,127.0.0.2 {}\n", key.public_openssh());
    let known = Arc::new(KnownNodes::parse(&known, Path::new("known_nodes")).unwrap());
    let rc = ReplayConfig {
        max_entries: 8,
        max_per_key: 4,
        max_per_slice: 4,
        ..ReplayConfig::default()
    };
    let mut n = Node::new(
        NodeConfig::server("n1", addr),
        key,
        known,
        ReplayCache::new(rc),
        1,
        [5; 32],
    );
    let mut other_signers = String::new();
    for o in &others {
        other_signers.push_str(&allowed_signers(o, "mon-*@mon", "", 0));
    }
    n.set_policies(HashMap::from([
        (
            SLICE.to_string(),
            Arc::new(policy(&allowed_signers(&user, "mon-*@mon", "", 0), None)),
        ),
        ("other".to_string(), Arc::new(policy(&other_signers, None))),
    ]));
    let mut seed = 7000;
    let (mut admitted, mut slice_full) = (0, 0);
    for o in &others {
        for _ in 0..4 {
            seed += 1;
            let mut req = common::request(vec![Query::Count]);
            req.slice = "other".into();
            let s =
                ClientSession::new(&mut ChaCha20Rng::seed_from_u64(seed), o, req, NOW_MS).unwrap();
            n.handle_packet(NOW_MS, client(seed), &s.session_packet().to_bytes());
            match answers(&mut n, client(seed)).as_slice() {
                [Packet::SessionOk { .. }] => admitted += 1,
                [Packet::Deny { code, text, .. }] if code == "replay-cache-slice-full" => {
                    assert!(text.contains("retry in"), "{text}");
                    slice_full += 1;
                }
                other => panic!("unexpected answer to the other slice: {other:?}"),
            }
        }
    }
    assert_eq!(
        (admitted, slice_full),
        (4, 4),
        "the other slice gets half the cache"
    );
    assert!(mon_proto::node::RETRY_LATER_CODES.contains(&"replay-cache-slice-full"));
    let s = session(&user, vec![Query::Count], NOW_MS, 1);
    n.handle_packet(NOW_MS, client(1), &s.session_packet().to_bytes());
    match answers(&mut n, client(1)).as_slice() {
        [Packet::SessionOk { .. }] => {}
        other => panic!("this slice's user is locked out by another slice: {other:?}"),
    }
}
