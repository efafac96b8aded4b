//! Forged traffic to real servers: random datagrams, Gossip packets with a flipped bit, a
//! Gossip packet signed by a key known_nodes does not trust, and junk on the TCP port are
//! dropped; the servers keep running and answer a complete `count`.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mon_keys::nodekey::NodeKey;
use mon_proto::membership::{GossipMsg, MemberId, Ping};
use mon_proto::wire::encode;
use mon_proto::wire::packet::{GossipBody, Packet, GOSSIP_DOMAIN, PACKET_VERSION};
use mon_tests::node_ip;
use rand::{Rng, SeedableRng};

use super::cluster;

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// A Ping from `name` at `addr`, signed by `key`.
fn gossip(key: &NodeKey, name: &str, addr: SocketAddr, ts_ms: u64) -> (Vec<u8>, [u8; 64]) {
    let body = GossipBody {
        v: PACKET_VERSION,
        from: MemberId {
            name: name.into(),
            addr,
            key: key.public(),
        },
        node_id: 77,
        ts_ms,
        msg: GossipMsg::Ping(Ping {
            nonce: 1,
            sender_node_id: 77,
            entries: Vec::new(),
            aux: Vec::new(),
        }),
    };
    let signed = encode(&body);
    let mut m = GOSSIP_DOMAIN.to_vec();
    m.extend_from_slice(&signed);
    (signed.clone(), key.sign(&m))
}

fn packet(signed: Vec<u8>, sig: [u8; 64]) -> Vec<u8> {
    Packet::Gossip {
        signed,
        sig: sig.into(),
    }
    .to_bytes()
}

/// Refusals recorded on node i: a forged packet must never get as far as session handling.
fn refusals(c: &mon_tests::Cluster, i: u32) -> usize {
    c.audit(i)
        .iter()
        .filter(|r| {
            let e = r["event"].as_str().unwrap_or("");
            e == "session.deny" || e == "replay.reject" || e.starts_with("op.")
        })
        .count()
}

#[test]
fn forged_datagrams_and_stream_junk_are_dropped() {
    let mut c = cluster(3, 18106);
    let addr = |i: u32| -> SocketAddr { format!("{}:{}", node_ip(i), c.port).parse().unwrap() };
    let before: Vec<usize> = (1..=3).map(|i| refusals(&c, i)).collect();
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);

    // Random datagrams of every size up to the limit and beyond.
    for n in 0..300usize {
        let len = (n * 7) % 1500;
        let junk: Vec<u8> = (0..len).map(|_| rng.gen()).collect();
        for i in 1..=3 {
            let _ = udp.send_to(&junk, addr(i));
        }
    }

    // Gossip from n3 signed with n3's real node key, then altered: one bit of the signed body,
    // one bit of the signature, a truncated packet. None of them may be taken as n3's.
    let k3 = NodeKey::load(&c.node_dir(3).join("config/node_ed25519_key")).unwrap();
    let ts = now_ms() + 1;
    let (signed, sig) = gossip(&k3, "n3", addr(3), ts);
    let mut forged = Vec::new();
    for bit in [0usize, 13, 77, 8 * (signed.len() - 1) + 3] {
        let mut s = signed.clone();
        let at = bit / 8 % s.len();
        s[at] ^= 1 << (bit % 8);
        forged.push(packet(s, sig));
    }
    for bit in [0usize, 200, 511] {
        let mut g = sig;
        g[bit / 8] ^= 1 << (bit % 8);
        forged.push(packet(signed.clone(), g));
    }
    let whole = packet(signed.clone(), sig);
    forged.push(whole[..whole.len() - 1].to_vec());
    // A correctly signed Ping by a key known_nodes does not list, claiming to be n3.
    let stranger = NodeKey::generate(&mut rand::rngs::OsRng);
    let (s, g) = gossip(&stranger, "n3", addr(3), ts);
    forged.push(packet(s, g));
    for p in &forged {
        for i in 1..=2 {
            udp.send_to(p, addr(i)).unwrap();
        }
    }

    // Junk on the TCP port: not MON, MON with a junk frame, MON with an oversize length.
    let streams: [&[u8]; 3] = [
        b"GET / HTTP/1.0\r\n\r\n",
        b"MON1\0\0\0\0\x05hello",
        b"MON1\0\xff\xff\xff\xff",
    ];
    for junk in streams {
        let mut s = TcpStream::connect(addr(1)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s.write_all(junk).unwrap();
        let mut buf = Vec::new();
        // The server closes the connection without answering.
        let n = s.read_to_end(&mut buf).unwrap_or(0);
        assert_eq!(n, 0, "answer to junk {junk:?}: {buf:?}");
    }

    // Everyone is still up and reachable; nothing was audited as a session.
    for i in 1..=3 {
        assert!(c.alive(i), "n{i} died:\n{}", c.log(i));
    }
    let got = c.settle(3, super::SETTLE);
    assert!(got >= 3, "count after forged traffic: {got}\n{}", c.log(1));
    let r = super::run(c.client().args(["--json", "count"]));
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.json()["missing"], 0, "{r:?}");
    for i in 1..=3 {
        assert_eq!(
            refusals(&c, i),
            before[i as usize - 1],
            "n{i} audited a refusal"
        );
    }
}
