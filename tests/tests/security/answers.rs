//! Replayed sessions get no answer from where they were not sent (issue 10, part 7), through
//! real servers: a client's Session copied onto a TCP stream that claims to be a node at an
//! address of the attacker's choice is never answered there (before: the SessionOk, or for a
//! fresh session an accept, went to the claimed address), while a real client datagram from
//! that same address is answered (control).

use std::io::Write;
use std::net::{TcpStream, UdpSocket};
use std::time::Duration;

use mon_proto::wire::packet::{Packet, MAX_STREAM_PACKET};
use mon_tests::node_ip;

use super::principal::{exchange, hex, signed_session};
use super::{cluster, events};
use mon_proto::agg::Query;

/// Opens a stream to `addr` that claims to be a node listening at `claimed`, and sends
/// `packets` on it. The server may close such a stream unread (a claim naming another
/// address than the stream's source is not believed), so a failed write ends the sending:
/// either way nothing may be answered at the claimed address.
fn node_stream(addr: &str, claimed: &str, packets: &[Vec<u8>]) -> TcpStream {
    let mut s = TcpStream::connect(addr).expect("connect");
    let mut pre = b"MON1\x01".to_vec();
    pre.push(claimed.len() as u8);
    pre.extend_from_slice(claimed.as_bytes());
    let mut frames = pre;
    for p in packets {
        frames.extend_from_slice(&(p.len() as u32).to_be_bytes());
        frames.extend_from_slice(p);
    }
    if let Err(e) = s.write_all(&frames).and_then(|()| s.flush()) {
        eprintln!("the server closed the claiming stream: {e}");
    }
    s
}

/// The packets that reach `u` within `wait` (bounded: at most 16).
fn received(u: &UdpSocket, wait: Duration) -> Vec<Packet> {
    u.set_read_timeout(Some(wait)).unwrap();
    let mut out = Vec::new();
    let mut buf = vec![0u8; 65536];
    while out.len() < 16 {
        match u.recv_from(&mut buf) {
            Ok((n, _)) => {
                if let Ok(p) = Packet::from_bytes(&buf[..n], MAX_STREAM_PACKET) {
                    out.push(p);
                }
            }
            Err(_) => break,
        }
    }
    out
}

#[test]
fn a_session_replayed_on_a_stream_claiming_another_address_gets_nothing() {
    let c = cluster(3, 18182);
    let n1 = format!("{}:{}", node_ip(1), c.port);
    let key = c.user_key();
    // The "victim" address the attacker names; the test listens there.
    let victim = UdpSocket::bind("127.0.0.50:0").expect("bind 127.0.0.50");
    let claimed = victim.local_addr().unwrap().to_string();

    // Control: a real client datagram from that address is answered there.
    let control = signed_session(&key, vec![Query::Count], None);
    victim
        .send_to(&control.session_packet().to_bytes(), &n1)
        .unwrap();
    let got = received(&victim, Duration::from_secs(5));
    assert!(
        got.iter().any(
            |p| matches!(p, Packet::SessionOk { session_hash, .. } if **session_hash == control.hash)
        ),
        "the control datagram was not answered: {got:?}"
    );

    // A live session (accepted over the client's own stream), and a fresh one never sent.
    let live = signed_session(&key, vec![Query::Count], None);
    let first = exchange(&n1, &live.session_packet().to_bytes());
    assert!(matches!(first, Packet::SessionOk { .. }), "{first:?}");
    let fresh = signed_session(&key, vec![Query::Count], None);
    let fresh_sid = hex(&*fresh.body.session_id);

    // Both copied onto a stream claiming to be a node at the victim's address: nothing is
    // sent there, and the fresh one is not accepted.
    let _s = node_stream(
        &n1,
        &claimed,
        &[
            live.session_packet().to_bytes(),
            fresh.session_packet().to_bytes(),
        ],
    );
    let got = received(&victim, Duration::from_secs(3));
    assert!(got.is_empty(), "answered at a claimed address: {got:?}");
    assert!(
        events(&c, 1, "session.accept")
            .iter()
            .all(|e| e["session_id"] != fresh_sid.as_str()),
        "a client session on a node stream was accepted"
    );
    // The node still serves.
    assert!(c.settle(3, super::SETTLE) >= 3, "{}", c.log(1));
}
