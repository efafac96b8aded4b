//! Issue 10, class 5: bounded sessions and streams per source and per key. One key, one
//! address or one declared frame length cannot take what the other users of a node need:
//! the session table has per-key (and per-slice) shares, a session whose parent never sends
//! its go leaves after the join window, one key can start sessions at a monitoring loop's
//! pace indefinitely, refusals for a limit exit 4 and say when to retry, and streams that
//! have not authenticated are capped per source address and may not send large frames.

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mon_keys::known_nodes::KnownNodes;
use mon_keys::sshsig::Signer;
use mon_keys::userkey::{load_signer, KeyRequest};
use mon_proto::agg::Query;
use mon_proto::client::{ClientSession, SessionRequest};
use mon_proto::node::DEFAULT_MAX_SESSIONS;
use mon_proto::wire::packet::{Packet, MAX_STREAM_PACKET};
use mon_proto::wire::session::{OverlayKind, OverlaySpec};
use mon_tests::{node_ip, Cluster};

use super::{client_with_key, cluster, keygen, pub_line, run, set_signers, signers_path, Ran};

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

/// A count session; `long`: the longest timeout, lifetime and join window the servers take
/// (a session that would hold its slot for ten minutes and more on a server that waits for
/// its deadline).
fn count_session(signer: &dyn Signer, long: bool) -> ClientSession {
    let (timeout_ms, max_lifetime_s, join_window_ms) = if long {
        (600_000, 3600, 600_000)
    } else {
        (3_000, 60, 8_000)
    };
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
        timeout_ms,
        max_lifetime_s,
        join_window_ms,
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

/// Opens a client stream to `addr` and sends the Session; returns the stream (kept open: a
/// closed client stream ends its sessions) and the entry's answer.
fn offer(addr: SocketAddr, cs: &ClientSession) -> (TcpStream, Packet) {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(b"MON1\0").unwrap();
    write_frame(&mut s, &cs.session_packet().to_bytes()).unwrap();
    let answer = read_packet(&mut s);
    (s, answer)
}

/// Sessions sent and never given their go, each with its open client stream.
struct Held(Vec<(TcpStream, Vec<u8>)>);

impl Held {
    /// Sends each Session again on its stream, as a retransmission, so that no stream goes
    /// idle: only the missing go may free the slots.
    fn keep_alive(&mut self) {
        for (s, packet) in &mut self.0 {
            let _ = write_frame(s, packet);
        }
    }
}

/// Opens sessions of `signer` at `addr` and never sends their go, until the node refuses one
/// or `most` are held. Returns the held sessions and the refusal (code, text), if any.
fn hold_sessions(
    addr: SocketAddr,
    signer: &dyn Signer,
    most: usize,
) -> (Held, Option<(String, String)>) {
    let mut held = Vec::new();
    for _ in 0..most {
        let cs = count_session(signer, true);
        match offer(addr, &cs) {
            (s, Packet::SessionOk { .. }) => held.push((s, cs.session_packet().to_bytes())),
            (_, Packet::Deny { code, text, .. }) => return (Held(held), Some((code, text))),
            (_, other) => panic!("unexpected answer {other:?}"),
        }
    }
    (Held(held), None)
}

/// A second key, `other@lab`, allowed to query.
fn second_key(c: &Cluster, home: &Path) -> std::path::PathBuf {
    let key = keygen(home, "other", "ed25519", "");
    let original = std::fs::read_to_string(signers_path(c, 1)).unwrap();
    let text = format!(
        "{original}other@lab namespaces=\"mon-query@mon\" {}\n",
        pub_line(&key)
    );
    set_signers(c, &text);
    key
}

fn count(c: &Cluster, key: &Path, home: &Path) -> Ran {
    run(client_with_key(c, key, home).args(["--json", "--timeout", "5", "count"]))
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

/// TCP connections to `to` from the given source addresses (any port), as std streams.
fn connect_from(sources: &[IpAddr], to: SocketAddr) -> Vec<Option<TcpStream>> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut out = Vec::new();
        for src in sources {
            let sock = tokio::net::TcpSocket::new_v4().unwrap();
            sock.bind(SocketAddr::new(*src, 0)).unwrap();
            let s = tokio::time::timeout(Duration::from_secs(5), sock.connect(to))
                .await
                .ok()
                .and_then(Result::ok)
                .and_then(|s| s.into_std().ok());
            if let Some(s) = &s {
                s.set_nonblocking(false).unwrap();
            }
            out.push(s);
        }
        out
    })
}

/// 520 idle streams from one address (more than the server's 512 stream slots) leave room
/// for a real client on another address: streams that have not authenticated are capped
/// per source address.
#[test]
fn idle_streams_from_one_address_leave_room_for_a_client() {
    let c = cluster(1, 18160);
    let home = tempfile::tempdir().unwrap();
    let n1: SocketAddr = format!("{}:{}", node_ip(1), c.port).parse().unwrap();
    let attacker: IpAddr = "127.0.0.200".parse().unwrap();
    let mut idle = connect_from(&vec![attacker; 520], n1);
    // Each says it is a client, then sends nothing more (held for the stream idle time).
    for s in idle.iter_mut().flatten() {
        let _ = s.write_all(b"MON1\0");
    }
    std::thread::sleep(Duration::from_millis(500));
    let r = count(&c, &c.user_key(), home.path());
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.json()["result"], 1, "{r:?}");
    // The attacker's streams beyond its share were closed at once.
    let mut closed = 0;
    for s in idle.iter_mut().flatten() {
        s.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
        let mut b = [0u8; 1];
        match s.read(&mut b) {
            Ok(0) => closed += 1,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => closed += 1,
            _ => {}
        }
    }
    assert!(
        closed >= 400,
        "only {closed} of 520 idle streams were closed"
    );
    drop(idle);
}

/// 32 streams declaring 15 MiB frames, each sending 4 MiB of it, do not make the server
/// allocate them: before a stream has carried an authenticated frame only a Session-sized
/// frame is read, and buffers grow with the bytes that arrive.
#[test]
fn declared_large_frames_cost_no_memory() {
    let c = cluster(1, 18161);
    let n1: SocketAddr = format!("{}:{}", node_ip(1), c.port).parse().unwrap();
    let pid = c.pid(1).expect("n1 runs");
    let before = vm_rss_kib(pid);
    let sources: Vec<IpAddr> = (0..32u8)
        .map(|k| IpAddr::from([127, 0, 3, k + 1]))
        .collect();
    let mut streams: Vec<TcpStream> = connect_from(&sources, n1).into_iter().flatten().collect();
    assert_eq!(streams.len(), 32);
    let chunk = vec![0x5au8; 256 * 1024];
    for s in &mut streams {
        s.set_write_timeout(Some(Duration::from_secs(2))).unwrap();
        let _ = s.write_all(b"MON1\0");
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
        "the server's RSS grew by {grown} KiB ({before} → {after})"
    );
    drop(streams);
    // And the server still serves.
    let home = tempfile::tempdir().unwrap();
    let r = count(&c, &c.user_key(), home.path());
    assert_eq!(r.code, 0, "{r:?}");
}

/// One key holding as many sessions as it can (each never sent its go, each with the longest
/// timeout) fills its share of the session table, not the table: another key still counts,
/// and the first key's next session is refused with exit 4, the code and when to retry.
#[test]
fn one_key_filling_its_share_leaves_another_key_able_to_count() {
    let c = cluster(1, 18162);
    let home = tempfile::tempdir().unwrap();
    let other = second_key(&c, home.path());
    let n1: SocketAddr = format!("{}:{}", node_ip(1), c.port).parse().unwrap();
    let hog = signer(&c.user_key());
    let (held, refusal) = hold_sessions(n1, &*hog, DEFAULT_MAX_SESSIONS);
    assert!(!held.0.is_empty());

    let r = count(&c, &other, home.path());
    assert_eq!(r.code, 0, "another key is locked out: {r:?}");
    assert_eq!(r.json()["result"], 1, "{r:?}");

    let (code, text) = refusal.expect("the key's share is smaller than the table");
    assert_eq!(code, "busy-key", "{text}");
    let r = count(&c, &c.user_key(), home.path());
    assert_eq!(r.code, 4, "refused, retry later: {r:?}");
    assert!(r.stderr.contains("[busy-key]"), "{r:?}");
    assert!(r.stderr.contains("retry"), "{r:?}");
    assert!(!r.stderr.contains("ask the slice admin"), "{r:?}");
    drop(held);
}

/// Sessions whose go never comes (the client sent the Session and stopped) leave the table
/// after the join window, not at their signed deadline: the key's next session gets a slot.
#[test]
fn a_session_without_go_is_dropped_after_the_join_window() {
    let c = cluster(1, 18163);
    let home = tempfile::tempdir().unwrap();
    let n1: SocketAddr = format!("{}:{}", node_ip(1), c.port).parse().unwrap();
    let hog = signer(&c.user_key());
    let (mut held, refusal) = hold_sessions(n1, &*hog, DEFAULT_MAX_SESSIONS);
    eprintln!(
        "holding {} sessions; then refused: {refusal:?}",
        held.0.len()
    );
    // The sessions of the cluster's settling counts linger a few seconds: once they are
    // gone, take whatever they left too.
    std::thread::sleep(Duration::from_secs(6));
    held.keep_alive();
    let (more, refusal) = hold_sessions(n1, &*hog, DEFAULT_MAX_SESSIONS);
    held.0.extend(more.0);
    eprintln!(
        "holding {} sessions; then refused: {refusal:?}",
        held.0.len()
    );
    let t = Instant::now();
    let last = loop {
        held.keep_alive();
        let r = count(&c, &c.user_key(), home.path());
        eprintln!(
            "after {:?}: exit {}, {}",
            t.elapsed(),
            r.code,
            r.stderr.trim()
        );
        if r.code == 0 || t.elapsed() > Duration::from_secs(90) {
            break r;
        }
        std::thread::sleep(Duration::from_millis(1000));
    };
    assert_eq!(
        last.code, 0,
        "the held sessions still fill the table: {last:?}"
    );
    assert_eq!(last.json()["result"], 1, "{last:?}");
    drop(held);
}

/// One key starting sessions in a loop (each run to its result, as `mon count` does) for
/// more than the old per-key cap of the replay cache is never refused.
#[test]
fn a_monitoring_loop_of_one_key_is_never_refused() {
    let c = cluster(1, 18164);
    let n1: SocketAddr = format!("{}:{}", node_ip(1), c.port).parse().unwrap();
    let known = KnownNodes::load(&c.dir.path().join("known_nodes")).unwrap();
    let user = signer(&c.user_key());
    let total = 2_100;
    let t = Instant::now();
    for i in 0..total {
        let mut cs = count_session(&*user, false);
        let (mut s, answer) = offer(n1, &cs);
        let go = match cs.on_answer(answer, n1, &known) {
            Ok(go) => go,
            Err(e) => panic!("session {i} of one key refused: {e}"),
        };
        write_frame(&mut s, &go.to_bytes()).unwrap();
        let mut result = read_packet(&mut s);
        if matches!(result, Packet::SessionOk { .. }) {
            result = read_packet(&mut s);
        }
        let (r, ack) = cs.on_result(result).expect("a result");
        let _ = write_frame(&mut s, &ack.to_bytes());
        assert_eq!(r.partials[0].coverage().answered, 1, "session {i}");
    }
    let secs = t.elapsed().as_secs_f64();
    eprintln!(
        "{total} sessions of one key in {secs:.1} s ({:.0}/s)",
        f64::from(total) / secs
    );
}
