//! A client may send its Session in a datagram while its TCP connection opens. The entry
//! node takes it only when it checks out (refusals over UDP are junk: no answer, no audit
//! record per datagram), never for a principal limited by `from=`, and sends the result to
//! the client's stream once a frame sealed with the first hop's key came on it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use common::{allowed_signers, lone_node, policy, session, SeedSigner, NOW_MS};
use mon_proto::agg::Query;
use mon_proto::node::{Node, Output, Peer};
use mon_proto::wire::packet::{Packet, MAX_STREAM_PACKET};

const CLIENT_IP: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

fn udp() -> Peer {
    Peer::Addr(SocketAddr::new(CLIENT_IP, 40_000))
}

fn stream() -> Peer {
    Peer::Client(7, CLIENT_IP)
}

fn drain(node: &mut Node) -> Vec<Output> {
    std::iter::from_fn(|| node.poll_output()).collect()
}

fn sent_to(outs: &[Output], peer: Peer) -> Vec<Packet> {
    outs.iter()
        .filter_map(|o| match o {
            Output::Send { to, bytes } if *to == peer => {
                Some(Packet::from_bytes(bytes, MAX_STREAM_PACKET).unwrap())
            }
            _ => None,
        })
        .collect()
}

fn audited(outs: &[Output]) -> usize {
    outs.iter()
        .filter(|o| matches!(o, Output::Audit(_)))
        .count()
}

#[test]
fn a_session_datagram_is_answered_and_the_result_goes_to_the_stream_its_go_came_on() {
    let user = SeedSigner::new([42; 32]);
    let (mut node, known, addr) = lone_node(policy(
        &allowed_signers(&user, "mon-query@mon", "", 0),
        None,
    ));
    let mut cs = session(&user, vec![Query::Count], NOW_MS, 1);
    node.handle_packet(NOW_MS, udp(), &cs.session_packet().to_bytes());
    let outs = drain(&mut node);
    assert_eq!(node.counters().sessions_accepted, 1);
    let answers = sent_to(&outs, udp());
    assert!(
        matches!(answers.as_slice(), [Packet::SessionOk { .. }]),
        "{answers:?}"
    );
    let go = cs
        .on_answer(answers[0].clone(), addr, &known)
        .expect("SessionOk");

    // A frame that does not open under the first hop's key attaches nothing.
    let mut forged = go.to_bytes();
    let n = forged.len();
    forged[n - 3] ^= 0x55;
    let intruder = Peer::Client(8, CLIENT_IP);
    node.handle_packet(NOW_MS + 5, intruder, &forged);
    node.handle_timeout(NOW_MS + 6);
    let outs = drain(&mut node);
    assert!(sent_to(&outs, intruder).is_empty());
    assert!(
        sent_to(&outs, udp()).is_empty(),
        "nothing runs before the go"
    );

    // The client's go on its stream: the count runs and the result goes to the stream.
    node.handle_packet(NOW_MS + 10, stream(), &go.to_bytes());
    node.handle_timeout(NOW_MS + 11);
    let outs = drain(&mut node);
    let results = sent_to(&outs, stream());
    assert_eq!(results.len(), 1, "{outs:?}");
    let (r, _ack) = cs.on_result(results[0].clone()).expect("a result");
    assert_eq!(r.partials.len(), 1);
    assert!(sent_to(&outs, udp()).is_empty());
}

#[test]
fn a_refused_session_datagram_gets_no_answer_and_no_audit_record_but_the_stream_does() {
    let user = SeedSigner::new([42; 32]);
    let stranger = SeedSigner::new([9; 32]);
    let (mut node, _known, _addr) = lone_node(policy(
        &allowed_signers(&user, "mon-query@mon", "", 0),
        None,
    ));
    let cs = session(&stranger, vec![Query::Count], NOW_MS, 2);
    let bytes = cs.session_packet().to_bytes();
    for i in 0..3 {
        node.handle_packet(NOW_MS + i, udp(), &bytes);
    }
    let outs = drain(&mut node);
    assert!(sent_to(&outs, udp()).is_empty(), "{outs:?}");
    assert_eq!(audited(&outs), 0, "one audit record per forged datagram");
    assert_eq!(node.counters().sessions_accepted, 0);
    assert!(node.counters().junk >= 3);

    // Over the stream the same session is refused with a reason; its key is unknown, so it
    // is junk there too: no audit record per packet (issue 10, part 4).
    node.handle_packet(NOW_MS + 10, stream(), &bytes);
    let outs = drain(&mut node);
    assert!(matches!(
        sent_to(&outs, stream()).as_slice(),
        [Packet::Deny { .. }]
    ));
    assert_eq!(audited(&outs), 0);
}

#[test]
fn a_principal_limited_by_from_is_taken_over_the_stream_only() {
    let user = SeedSigner::new([42; 32]);
    let (mut node, _known, _addr) = lone_node(policy(
        &allowed_signers(&user, "mon-query@mon", "", 0),
        Some("alice@lab from=\"127.0.0.0/8\"\n"),
    ));
    let cs = session(&user, vec![Query::Count], NOW_MS, 3);
    let bytes = cs.session_packet().to_bytes();
    // The datagram's source address passes from=, but a datagram's source can be forged.
    node.handle_packet(NOW_MS, udp(), &bytes);
    let outs = drain(&mut node);
    assert!(sent_to(&outs, udp()).is_empty(), "{outs:?}");
    assert_eq!(audited(&outs), 0);
    assert_eq!(node.counters().sessions_accepted, 0);
    // The stream's address was proven by the TCP handshake.
    node.handle_packet(NOW_MS + 10, stream(), &bytes);
    let outs = drain(&mut node);
    assert!(matches!(
        sent_to(&outs, stream()).as_slice(),
        [Packet::SessionOk { .. }]
    ));
    assert_eq!(node.counters().sessions_accepted, 1);
}

#[test]
fn a_session_that_came_as_a_datagram_is_answered_again_on_the_stream() {
    // The client sends the Session over its stream too when the datagram's answer is late.
    let user = SeedSigner::new([42; 32]);
    let (mut node, _known, _addr) = lone_node(policy(
        &allowed_signers(&user, "mon-query@mon", "", 0),
        None,
    ));
    let cs = session(&user, vec![Query::Count], NOW_MS, 4);
    let bytes = cs.session_packet().to_bytes();
    node.handle_packet(NOW_MS, udp(), &bytes);
    let first = sent_to(&drain(&mut node), udp());
    node.handle_packet(NOW_MS + 40, stream(), &bytes);
    let outs = drain(&mut node);
    let again = sent_to(&outs, stream());
    assert_eq!(again.len(), 1);
    assert_eq!(first[0].to_bytes(), again[0].to_bytes());
    assert_eq!(node.counters().sessions_accepted, 1, "accepted once");
    assert_eq!(audited(&outs), 0);
}
