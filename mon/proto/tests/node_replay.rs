//! The replay path of a real [`Node`], driven in memory with sessions signed by the real
//! client code: a replayed Session never runs its operations again (while the session is
//! live, after its state is gone, and after a restart that reloads the replay journal), a
//! second body under the same session id is rejected as equivocation, a full replay cache
//! refuses new sessions, and a Session from an unauthenticated parent gets no answer.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;

use common::{allowed_signers, policy, session, SeedSigner, NOW_MS, SLICE};
use mon_keys::known_nodes::KnownNodes;
use mon_keys::nodekey::NodeKey;
use mon_proto::agg::{ExecOutcome, Local, Query};
use mon_proto::audit::{AuditEvent, EventKind};
use mon_proto::node::{Node, NodeConfig, Output, Peer};
use mon_proto::replay::{ReplayCache, ReplayConfig};
use mon_proto::wire::packet::{Packet, MAX_STREAM_PACKET};
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;

const N1: &str = "n1";

fn n1_addr() -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)), 7460)
}

fn client(id: u64) -> Peer {
    Peer::Client(id, IpAddr::V4(Ipv4Addr::LOCALHOST))
}

fn node_key() -> NodeKey {
    NodeKey::generate(&mut ChaCha20Rng::seed_from_u64(1))
}

fn known() -> Arc<KnownNodes> {
    let text = format!("n1,127.0.0.2 {}\n", node_key().public_openssh());
    Arc::new(KnownNodes::parse(&text, Path::new("known_nodes")).unwrap())
}

fn exec_echo() -> Query {
    Query::Exec {
        argv: vec!["echo".into(), "hi".into()],
        shell: false,
        timeout_s: 5,
        where_: None,
    }
}

/// Node n1 with the given replay cache and the user's slice policy.
fn start_node(user: &SeedSigner, replay: ReplayCache) -> Node {
    let cfg = NodeConfig::server(N1, n1_addr());
    let mut node = Node::new(cfg, node_key(), known(), replay, 7, [3; 32]);
    let p = policy(&allowed_signers(user, "mon-*@mon", "", 3), None);
    node.set_policies(HashMap::from([(SLICE.to_string(), Arc::new(p))]));
    node
}

fn drain(node: &mut Node) -> Vec<Output> {
    std::iter::from_fn(|| node.poll_output()).collect()
}

fn audits(out: &[Output]) -> Vec<&AuditEvent> {
    out.iter()
        .filter_map(|o| match o {
            Output::Audit(e) => Some(&**e),
            _ => None,
        })
        .collect()
}

fn events(out: &[Output]) -> Vec<EventKind> {
    audits(out).iter().map(|e| e.event).collect()
}

fn runs(out: &[Output]) -> usize {
    out.iter().filter(|o| matches!(o, Output::Run(_))).count()
}

fn journal(out: &[Output]) -> Vec<String> {
    out.iter()
        .filter_map(|o| match o {
            Output::Journal(l) => Some(l.clone()),
            _ => None,
        })
        .flatten()
        .collect()
}

/// Packets sent to `to`, decoded.
fn sent_to(out: &[Output], to: Peer) -> Vec<Packet> {
    out.iter()
        .filter_map(|o| match o {
            Output::Send { to: t, bytes } if *t == to => {
                Some(Packet::from_bytes(bytes, MAX_STREAM_PACKET).unwrap())
            }
            _ => None,
        })
        .collect()
}

fn user() -> SeedSigner {
    SeedSigner::new([42; 32])
}

#[test]
fn replayed_session_never_runs_again_nor_after_restart() {
    let user = user();
    let mut node = start_node(&user, ReplayCache::new(ReplayConfig::default()));
    let mut cs = session(&user, vec![exec_echo()], NOW_MS, 1);
    let session_bytes = cs.session_packet().to_bytes();

    // First delivery: accepted, journaled, answered with SessionOk.
    node.handle_packet(NOW_MS, client(1), &session_bytes);
    let out = drain(&mut node);
    assert_eq!(events(&out), vec![EventKind::SessionAccept], "{out:?}");
    let lines = journal(&out);
    assert_eq!(lines.len(), 1);
    assert!(lines[0].starts_with(&hex(&cs.hash)), "{lines:?}");
    let answer = sent_to(&out, client(1))
        .pop()
        .expect("an answer to the client");
    assert!(matches!(answer, Packet::SessionOk { .. }), "{answer:?}");

    // The client completes the handshake; the node runs the exec exactly once.
    let go = cs.on_answer(answer, n1_addr(), &known()).unwrap();
    node.handle_packet(NOW_MS + 5, client(1), &go.to_bytes());
    let out = drain(&mut node);
    assert_eq!(runs(&out), 1, "{out:?}");
    assert_eq!(events(&out), vec![EventKind::OpStart]);

    // Replays of the same bytes, from another connection and from a node address, while the
    // session is live: no second accept, no journal line, nothing runs.
    let attacker = Peer::Addr(SocketAddr::new(
        IpAddr::V4(Ipv4Addr::new(10, 9, 9, 9)),
        7460,
    ));
    for (i, from) in [client(2), attacker].into_iter().enumerate() {
        node.handle_packet(NOW_MS + 10 + i as u64, from, &session_bytes);
        let out = drain(&mut node);
        assert!(!events(&out).contains(&EventKind::SessionAccept), "{out:?}");
        assert!(journal(&out).is_empty());
        assert_eq!(runs(&out), 0);
        // And the Go is not accepted from anyone but the parent link.
        node.handle_packet(NOW_MS + 11, from, &go.to_bytes());
        assert_eq!(runs(&drain(&mut node)), 0);
    }

    // The exec finishes; the result goes to the client; later the session state is dropped.
    let done = Local::Exec(ExecOutcome {
        exit: Some(0),
        signal: None,
        stdout: "hi\n".into(),
        stderr: String::new(),
        timed_out: false,
        truncated: false,
    });
    node.handle_local(NOW_MS + 20, cs.hash, 0, done);
    let out = drain(&mut node);
    assert_eq!(events(&out), vec![EventKind::OpEnd]);
    let result = sent_to(&out, client(1)).pop().expect("result");
    let (r, _ack) = cs.on_result(result).unwrap();
    assert_eq!(r.partials.len(), 1);
    let mut t = NOW_MS + 20;
    while node.session_count() > 0 && t < NOW_MS + 120_000 {
        t += 1_000;
        node.handle_timeout(t);
        drain(&mut node);
    }
    assert_eq!(node.session_count(), 0, "session state forgotten");

    // A replay now meets the replay cache: a signed Prune, never a re-run.
    node.handle_packet(t, client(3), &session_bytes);
    let out = drain(&mut node);
    assert!(!events(&out).contains(&EventKind::SessionAccept), "{out:?}");
    assert_eq!(runs(&out), 0);
    assert!(matches!(
        sent_to(&out, client(3)).as_slice(),
        [Packet::Prune { .. }]
    ));

    // Restart with the journal the driver wrote: the replay is still refused.
    let (cache, bad) = ReplayCache::load(ReplayConfig::default(), &lines.join("\n"), t);
    assert!(bad.is_empty());
    let mut restarted = start_node(&user, cache);
    restarted.handle_packet(t + 1, client(1), &session_bytes);
    let out = drain(&mut restarted);
    assert!(!events(&out).contains(&EventKind::SessionAccept), "{out:?}");
    assert!(journal(&out).is_empty());
    assert!(matches!(
        sent_to(&out, client(1)).as_slice(),
        [Packet::Prune { .. }]
    ));

    // Control: a node that lost its journal would have accepted the very same bytes (so the
    // refusals above come from the replay cache, not from freshness or policy).
    let mut amnesiac = start_node(&user, ReplayCache::new(ReplayConfig::default()));
    amnesiac.handle_packet(t + 1, client(1), &session_bytes);
    assert_eq!(
        events(&drain(&mut amnesiac)),
        vec![EventKind::SessionAccept]
    );
}

#[test]
fn same_session_id_with_another_body_is_equivocation() {
    let user = user();
    let mut node = start_node(&user, ReplayCache::new(ReplayConfig::default()));
    // The same random draws give the same session id; the operations differ.
    let a = session(&user, vec![Query::Count], NOW_MS, 9);
    let b = session(&user, vec![Query::Depth], NOW_MS, 9);
    assert_eq!(a.body.session_id, b.body.session_id);
    assert_ne!(a.hash, b.hash);

    node.handle_packet(NOW_MS, client(1), &a.session_packet().to_bytes());
    assert_eq!(events(&drain(&mut node)), vec![EventKind::SessionAccept]);
    node.handle_packet(NOW_MS + 1, client(2), &b.session_packet().to_bytes());
    let out = drain(&mut node);
    let au = audits(&out);
    assert_eq!(au.len(), 1, "{out:?}");
    assert_eq!(au[0].event, EventKind::ReplayReject);
    assert_eq!(au[0].reason.as_ref().unwrap().code, "equivocation");
    assert!(journal(&out).is_empty());
    match sent_to(&out, client(2)).as_slice() {
        [Packet::Deny { code, .. }] => assert_eq!(code, "equivocation"),
        other => panic!("expected a Deny, got {other:?}"),
    }
}

#[test]
fn full_replay_cache_refuses_new_sessions_and_keeps_old_ones() {
    let user = user();
    let cfg = ReplayConfig {
        max_entries: 100,
        max_per_key: 3,
        max_per_slice: 100,
        skew_ms: 300_000,
    };
    let mut node = start_node(&user, ReplayCache::new(cfg));
    let sessions: Vec<_> = (0..5)
        .map(|i| session(&user, vec![Query::Count], NOW_MS, 100 + i))
        .collect();
    let mut codes = Vec::new();
    for (i, s) in sessions.iter().enumerate() {
        node.handle_packet(
            NOW_MS + i as u64,
            client(i as u64),
            &s.session_packet().to_bytes(),
        );
        let out = drain(&mut node);
        match sent_to(&out, client(i as u64)).as_slice() {
            [Packet::SessionOk { .. }] => codes.push("ok".to_string()),
            [Packet::Deny { code, .. }] => {
                assert_eq!(events(&out), vec![EventKind::ReplayReject]);
                codes.push(code.clone())
            }
            other => panic!("unexpected answer {other:?}"),
        }
    }
    assert_eq!(
        codes,
        [
            "ok",
            "ok",
            "ok",
            "replay-cache-key-full",
            "replay-cache-key-full"
        ]
    );
    // The first session was not evicted to make room: its replay is still caught.
    node.handle_packet(
        NOW_MS + 9,
        client(9),
        &sessions[0].session_packet().to_bytes(),
    );
    let out = drain(&mut node);
    assert!(!events(&out).contains(&EventKind::SessionAccept));
    assert_eq!(runs(&out), 0);
}

#[test]
fn session_from_an_unauthenticated_parent_is_summarised_not_answered() {
    let user = user();
    let mut node = start_node(&user, ReplayCache::new(ReplayConfig::default()));
    let cs = session(&user, vec![Query::Count], NOW_MS, 5);
    let Packet::Session {
        session,
        e_p,
        level,
        budget_ms,
        ..
    } = cs.session_packet()
    else {
        unreachable!()
    };
    // Claims to come from node n2 (not in known_nodes) with a made-up hop signature.
    let forged = Packet::Session {
        session,
        parent: "n2".into(),
        e_p,
        parent_sig: Some([7; 64].into()),
        level,
        budget_ms,
    };
    let from = Peer::Addr(SocketAddr::new(
        IpAddr::V4(Ipv4Addr::new(127, 0, 0, 3)),
        7460,
    ));
    node.handle_packet(NOW_MS, from, &forged.to_bytes());
    let out = drain(&mut node);
    // Not answered, and not audited one record per datagram: counted as junk and summarised
    // per source (at shutdown at the latest).
    assert!(audits(&out).is_empty(), "{out:?}");
    assert!(
        sent_to(&out, from).is_empty(),
        "no answer to a forged parent"
    );
    assert!(journal(&out).is_empty());
    node.shutdown(NOW_MS + 2);
    let out = drain(&mut node);
    let au = audits(&out);
    assert_eq!(au.len(), 1, "{out:?}");
    assert_eq!(au[0].event, EventKind::JunkSummary);
    assert_eq!(au[0].count, Some(1));
    // The genuine session from the client is still accepted afterwards: the forgery did not
    // poison the replay cache.
    node.handle_packet(NOW_MS + 3, client(1), &cs.session_packet().to_bytes());
    assert_eq!(events(&drain(&mut node)), vec![EventKind::SessionAccept]);
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
