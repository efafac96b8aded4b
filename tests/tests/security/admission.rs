//! Issue 10, attacked afresh after the hardening: what a listed key with few rights (here
//! query-only) gets from the stream admission. A stream that carried a verified session no
//! longer counts against its address, but a client's stream never needs large frames: it
//! stays under the pre-authentication frame limit, so a low-rights user cannot make the
//! server buffer 16 MiB frames on every stream it opens.

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mon_keys::sshsig::Signer;
use mon_keys::userkey::{load_signer, KeyRequest};
use mon_proto::agg::Query;
use mon_proto::client::{ClientSession, SessionRequest};
use mon_proto::wire::packet::{Packet, MAX_STREAM_PACKET};
use mon_proto::wire::session::{OverlayKind, OverlaySpec};
use mon_tests::node_ip;

use super::{client_with_key, cluster, run};

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

fn signer(key: &Path) -> Box<dyn Signer> {
    let req = KeyRequest {
        key: Some(key.to_path_buf()),
        agent_sock: None,
        home: None,
    };
    load_signer(&req, &mut |_| Err(std::io::Error::other("no passphrase"))).expect("load key")
}

/// A count session that holds its slot a while (its go never comes).
fn count_session(signer: &dyn Signer) -> ClientSession {
    let sreq = SessionRequest {
        slice: "testbed".into(),
        principal: None,
        ops: vec![Query::Count],
        push: None,
        targets: vec!["*".into()],
        overlay: OverlaySpec {
            kind: OverlayKind::Random,
            fanout: 0,
            max_parents: 1,
            stage_one_hops: 2,
            max_depth: 0,
        },
        timeout_ms: 60_000,
        max_lifetime_s: 120,
        join_window_ms: 60_000,
    };
    ClientSession::new(&mut rand::rngs::OsRng, signer, sreq, now_ms()).expect("sign")
}

fn write_frame(s: &mut TcpStream, b: &[u8]) -> std::io::Result<()> {
    s.write_all(&(b.len() as u32).to_be_bytes())?;
    s.write_all(b)
}

fn read_packet(s: &mut TcpStream) -> Packet {
    let mut len = [0u8; 4];
    s.read_exact(&mut len).expect("an answer");
    let mut buf = vec![0u8; u32::from_be_bytes(len) as usize];
    s.read_exact(&mut buf).expect("the whole answer");
    Packet::from_bytes(&buf, MAX_STREAM_PACKET).expect("a MON packet")
}

/// A TCP connection to `to` from `src` (any port).
fn connect_from(src: IpAddr, to: SocketAddr) -> TcpStream {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let sock = tokio::net::TcpSocket::new_v4().unwrap();
        sock.bind(SocketAddr::new(src, 0)).unwrap();
        let s = tokio::time::timeout(Duration::from_secs(5), sock.connect(to))
            .await
            .expect("connect in time")
            .expect("connect");
        let s = s.into_std().unwrap();
        s.set_nonblocking(false).unwrap();
        s
    })
}

fn vm_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("VmRSS")
}

/// A query-only user opens 32 client streams from one address, authenticates each with a
/// verified count session (its go withheld), then declares a 15 MiB frame on each and sends
/// 4 MiB of it. Before this fix the verified session lifted the stream's frame limit to
/// 16 MiB and the server buffered about 128 MiB; a client's stream now stays under the
/// pre-authentication limit, is closed, and the server's memory barely moves.
#[test]
fn a_listed_key_cannot_make_its_streams_buffer_large_frames() {
    let c = cluster(1, 18840);
    let n1: SocketAddr = format!("{}:{}", node_ip(1), c.port).parse().unwrap();
    let pid = c.pid(1).expect("n1 runs");
    let user = signer(&c.user_key());
    let attacker: IpAddr = "127.0.0.201".parse().unwrap();
    let mut streams = Vec::new();
    for _ in 0..32 {
        let cs = count_session(&*user);
        let mut s = connect_from(attacker, n1);
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.write_all(b"MON1\0").unwrap();
        write_frame(&mut s, &cs.session_packet().to_bytes()).unwrap();
        match read_packet(&mut s) {
            Packet::SessionOk { .. } => streams.push(s),
            other => panic!("the user's session was not admitted: {other:?}"),
        }
    }
    let before = vm_rss_kib(pid);
    let chunk = vec![0x5au8; 256 * 1024];
    for s in &mut streams {
        s.set_write_timeout(Some(Duration::from_secs(2))).unwrap();
        let _ = s.write_all(&(15u32 * 1024 * 1024).to_be_bytes());
        for _ in 0..16 {
            if s.write_all(&chunk).is_err() {
                break;
            }
        }
    }
    std::thread::sleep(Duration::from_millis(500));
    let after = vm_rss_kib(pid);
    let grown = after.saturating_sub(before);
    assert!(
        grown < 32 * 1024,
        "the server's RSS grew by {grown} KiB ({before} → {after}) for 32 streams of a \
         query-only key"
    );
    drop(streams);
    // And the server still serves.
    let home = tempfile::tempdir().unwrap();
    let r = run(client_with_key(&c, &c.user_key(), home.path()).args([
        "--json",
        "--timeout",
        "5",
        "count",
    ]));
    assert_eq!(r.code, 0, "{r:?}");
}

/// A query-only user on one address runs 520 count sessions to their result, one stream
/// each, and keeps every stream open (more than the server's 512 stream slots). Each stream
/// authenticated with an admitted session, so the per-address cap of unauthenticated streams
/// no longer held them: they took every slot and a real client on another address was
/// turned away. Client streams are now capped per address whether they authenticated or not.
#[test]
fn one_listed_key_on_one_address_cannot_take_every_stream_slot() {
    let c = cluster(1, 18841);
    let n1: SocketAddr = format!("{}:{}", node_ip(1), c.port).parse().unwrap();
    let known = mon_keys::known_nodes::KnownNodes::load(&c.dir.path().join("known_nodes")).unwrap();
    let user = signer(&c.user_key());
    let attacker: IpAddr = "127.0.0.202".parse().unwrap();
    let mut held = Vec::new();
    let mut refused = 0;
    for _ in 0..520 {
        let mut cs = count_session(&*user);
        let mut s = connect_from(attacker, n1);
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let _ = s.write_all(b"MON1\0");
        let _ = write_frame(&mut s, &cs.session_packet().to_bytes());
        let mut len = [0u8; 4];
        if s.read_exact(&mut len).is_err() {
            // The server closed this stream at once: no slot for it.
            refused += 1;
            continue;
        }
        let mut buf = vec![0u8; u32::from_be_bytes(len) as usize];
        s.read_exact(&mut buf).expect("the whole answer");
        let answer = Packet::from_bytes(&buf, MAX_STREAM_PACKET).expect("a MON packet");
        let go = cs.on_answer(answer, n1, &known).expect("admitted");
        write_frame(&mut s, &go.to_bytes()).unwrap();
        let mut result = read_packet(&mut s);
        if matches!(result, Packet::SessionOk { .. }) {
            result = read_packet(&mut s);
        }
        let (_, ack) = cs.on_result(result).expect("a result");
        let _ = write_frame(&mut s, &ack.to_bytes());
        held.push(s);
    }
    eprintln!("holding {} streams, {refused} refused", held.len());
    assert!(
        refused > 0 && held.len() < 512,
        "one address held {} client streams ({refused} refused)",
        held.len()
    );
    let home = tempfile::tempdir().unwrap();
    let r = run(client_with_key(&c, &c.user_key(), home.path()).args([
        "--json",
        "--timeout",
        "5",
        "count",
    ]));
    assert_eq!(r.code, 0, "another address is locked out: {r:?}");
    assert_eq!(r.json()["result"], 1, "{r:?}");
    drop(held);
}

/// A node stream's preamble claims the address the node listens at, and the node's checks
/// (a hop signature from an address its known_nodes line lists) trusted that claim. Servers
/// now connect from their listen address, so the claim must name the stream's own source
/// IP. Here an attacker holding n2's node key (a compromised node, its machine quarantined)
/// offers a fresh session to n1 from 127.0.0.203 on a stream claiming n2's address: before
/// this fix n1 accepted it as from n2 (`session.accept` with n2's address as its peer), so a
/// stolen node key worked from any address; now the stream is closed unread.
#[test]
fn a_node_stream_claiming_another_address_is_not_believed() {
    use mon_keys::hop;
    use mon_keys::nodekey::NodeKey;

    let c = cluster(2, 18842);
    let n1: SocketAddr = format!("{}:{}", node_ip(1), c.port).parse().unwrap();
    let n2 = format!("{}:{}", node_ip(2), c.port);
    let n2_key = NodeKey::load(&c.node_dir(2).join("config/node_ed25519_key")).expect("n2 key");
    let cs = super::principal::signed_session(&c.user_key(), vec![Query::Count], None);
    let sid = super::principal::hex(&*cs.body.session_id);
    let e_p = hop::Initiator::new(&mut rand::rngs::OsRng).public();
    let sig = hop::parent_signature(&n2_key, &cs.hash, &e_p, "n1").unwrap();
    let offer = Packet::Session {
        session: cs.signed.clone(),
        parent: "n2".into(),
        e_p: e_p.into(),
        parent_sig: Some(sig.into()),
        level: 1,
        budget_ms: 5_000,
    };
    let mut s = connect_from("127.0.0.203".parse().unwrap(), n1);
    let mut pre = b"MON1\x01".to_vec();
    pre.push(n2.len() as u8);
    pre.extend_from_slice(n2.as_bytes());
    s.write_all(&pre).unwrap();
    let _ = write_frame(&mut s, &offer.to_bytes());
    // The server closes the stream (or reads it); either way it is done with it within 2 s.
    s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let mut b = [0u8; 1];
    let _ = s.read(&mut b);
    std::thread::sleep(Duration::from_millis(500));
    let accepted: Vec<_> = super::events(&c, 1, "session.accept")
        .into_iter()
        .filter(|e| e["session_id"] == sid.as_str())
        .collect();
    assert!(
        accepted.is_empty(),
        "n1 took a session offered as n2 from another address: {accepted:?}"
    );
}
