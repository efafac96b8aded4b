//! Issue 10, part 4: a Session refused before its signature verified costs nothing durable.
//! Over a client's stream it is answered (a signed Deny with the reason) but never audited:
//! counted as junk and summarised per source. A refusal of a listed key whose signature
//! verifies is the key holder's own and is audited. A node whose records cannot be written
//! refuses new sessions with `storage-unavailable`. The client believes only a Deny signed by
//! the key known_nodes pins for the address it dialled (part 6).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::{IpAddr, Ipv4Addr};

use common::{allowed_signers, lone_node, policy, session, SeedSigner, NOW_MS};
use mon_proto::agg::Query;
use mon_proto::client::ClientError;
use mon_proto::node::{Node, Output, Peer, STORAGE_UNAVAILABLE};
use mon_proto::wire::packet::{Packet, MAX_STREAM_PACKET};

const CLIENT: Peer = Peer::Client(7, IpAddr::V4(Ipv4Addr::LOCALHOST));

fn drain(node: &mut Node) -> Vec<Output> {
    std::iter::from_fn(|| node.poll_output()).collect()
}

fn answers(outs: &[Output]) -> Vec<Packet> {
    outs.iter()
        .filter_map(|o| match o {
            Output::Send { to, bytes } if *to == CLIENT => {
                Some(Packet::from_bytes(bytes, MAX_STREAM_PACKET).unwrap())
            }
            _ => None,
        })
        .collect()
}

fn records(outs: &[Output]) -> Vec<String> {
    outs.iter()
        .filter_map(|o| match o {
            Output::Audit(ev) => Some(format!("{ev:?}")),
            _ => None,
        })
        .collect()
}

fn deny_code(p: &[Packet]) -> String {
    match p {
        [Packet::Deny { code, .. }] => code.clone(),
        other => panic!("expected one Deny, got {other:?}"),
    }
}

fn exec() -> Query {
    Query::Exec {
        argv: vec!["true".into()],
        shell: false,
        timeout_s: 5,
        where_: None,
    }
}

#[test]
fn unverified_refusals_are_answered_on_the_stream_but_never_audited() {
    let user = SeedSigner::new([42; 32]);
    let stranger = SeedSigner::new([9; 32]);
    let (mut node, _known, _addr) = lone_node(policy(
        &allowed_signers(&user, "mon-query@mon", "", 0),
        None,
    ));

    // An unknown key, 20 times.
    for i in 0..20 {
        let cs = session(&stranger, vec![Query::Count], NOW_MS, 100 + i);
        node.handle_packet(NOW_MS + i, CLIENT, &cs.session_packet().to_bytes());
        let outs = drain(&mut node);
        assert_eq!(deny_code(&answers(&outs)), "key-not-listed");
        assert!(records(&outs).is_empty(), "{:?}", records(&outs));
    }
    // The user's key named, a denied operation, the signature broken: junk as well.
    let cs = session(&user, vec![exec()], NOW_MS, 200);
    let mut p = cs.session_packet();
    if let Packet::Session { session, .. } = &mut p {
        let n = session.sshsig.len();
        session.sshsig[n - 2] ^= 1;
    }
    node.handle_packet(NOW_MS + 30, CLIENT, &p.to_bytes());
    let outs = drain(&mut node);
    assert_eq!(deny_code(&answers(&outs)), "namespace-not-granted");
    assert!(records(&outs).is_empty(), "{:?}", records(&outs));
    assert!(node.counters().junk >= 21);

    // The same refusal with a good signature is the user's own: audited, with the session.
    let cs = session(&user, vec![exec()], NOW_MS, 201);
    node.handle_packet(NOW_MS + 40, CLIENT, &cs.session_packet().to_bytes());
    let outs = drain(&mut node);
    assert_eq!(deny_code(&answers(&outs)), "namespace-not-granted");
    let recs = records(&outs);
    assert_eq!(recs.len(), 1, "{recs:?}");
    assert!(recs[0].contains("SessionDeny"), "{recs:?}");

    // The junk is summarised once its minute is over: one record for the source.
    node.handle_timeout(NOW_MS + 61_000);
    let recs = records(&drain(&mut node));
    assert_eq!(recs.len(), 1, "{recs:?}");
    assert!(recs[0].contains("JunkSummary"), "{recs:?}");
}

#[test]
fn a_node_that_cannot_write_its_records_refuses_sessions_until_it_can() {
    let user = SeedSigner::new([42; 32]);
    let (mut node, known, addr) = lone_node(policy(
        &allowed_signers(&user, "mon-query@mon", "", 0),
        None,
    ));
    node.set_storage_failure(Some("No space left on device (os error 28)".into()));
    let mut cs = session(&user, vec![Query::Count], NOW_MS, 1);
    node.handle_packet(NOW_MS, CLIENT, &cs.session_packet().to_bytes());
    let outs = drain(&mut node);
    let a = answers(&outs);
    assert_eq!(deny_code(&a), STORAGE_UNAVAILABLE);
    assert!(records(&outs).is_empty());
    assert_eq!(node.counters().sessions_accepted, 0);
    match cs.on_answer(a[0].clone(), addr, &known) {
        Err(ClientError::Denied { code, text, .. }) => {
            assert_eq!(code, STORAGE_UNAVAILABLE);
            assert!(text.contains("No space left"), "{text}");
        }
        other => panic!("{other:?}"),
    }

    node.set_storage_failure(None);
    let cs = session(&user, vec![Query::Count], NOW_MS, 2);
    node.handle_packet(NOW_MS + 1, CLIENT, &cs.session_packet().to_bytes());
    let outs = drain(&mut node);
    assert!(matches!(
        answers(&outs).as_slice(),
        [Packet::SessionOk { .. }]
    ));
    assert_eq!(node.counters().sessions_accepted, 1);
}

#[test]
fn the_client_rejects_an_unsigned_or_forged_deny() {
    let user = SeedSigner::new([42; 32]);
    let (_node, known, addr) = lone_node(policy(
        &allowed_signers(&user, "mon-query@mon", "", 0),
        None,
    ));
    let mut cs = session(&user, vec![Query::Count], NOW_MS, 1);
    let deny = Packet::Deny {
        session_hash: cs.hash.into(),
        child: "n1".into(),
        code: "key-not-listed".into(),
        text: "go away".into(),
        sig: [0u8; 64].into(),
    };
    match cs.on_answer(deny, addr, &known) {
        Err(ClientError::Pin(m)) => {
            assert!(
                m.contains("not signed by the key of known_nodes known_nodes:1"),
                "{m}"
            )
        }
        other => panic!("an unsigned Deny was believed: {other:?}"),
    }
}
