//! A signed session captured and sent again to a real server over its TCP port: it is never
//! accepted twice, and the replay journal in the state dir makes a restarted server refuse it
//! too.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mon_keys::userkey::{load_signer, KeyRequest};
use mon_proto::agg::Query;
use mon_proto::client::{ClientSession, SessionRequest};
use mon_proto::wire::packet::{Packet, MAX_STREAM_PACKET};
use mon_proto::wire::session::{OverlayKind, OverlaySpec};
use mon_tests::{node_ip, Cluster};

use super::{cluster, events, run};

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A session signed with the testbed user's key, as `mon count` would make it.
fn signed_session(key: &Path) -> ClientSession {
    let req = KeyRequest {
        key: Some(key.to_path_buf()),
        agent_sock: None,
        home: None,
    };
    let signer = load_signer(&req, &mut |_| Err(std::io::Error::other("no passphrase")))
        .expect("load the testbed key");
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
        timeout_ms: 2_000,
        max_lifetime_s: 120,
        join_window_ms: 60_000,
    };
    ClientSession::new(&mut rand::rngs::OsRng, &*signer, sreq, now_ms()).expect("sign")
}

/// Opens a client stream to `addr`, sends one packet, returns the first packet answered.
fn exchange(addr: &str, packet: &[u8]) -> Packet {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(b"MON1\0").unwrap();
    s.write_all(&(packet.len() as u32).to_be_bytes()).unwrap();
    s.write_all(packet).unwrap();
    let mut len = [0u8; 4];
    s.read_exact(&mut len).expect("an answer");
    let mut buf = vec![0u8; u32::from_be_bytes(len) as usize];
    s.read_exact(&mut buf).expect("the whole answer");
    Packet::from_bytes(&buf, MAX_STREAM_PACKET).expect("a MON packet")
}

fn accepts(c: &Cluster, i: u32, sid: &str) -> usize {
    events(c, i, "session.accept")
        .iter()
        .filter(|e| e["session_id"] == sid)
        .count()
}

fn journal(c: &Cluster, i: u32) -> String {
    std::fs::read_to_string(c.node_dir(i).join("state/replay.journal")).unwrap_or_default()
}

#[test]
fn replayed_session_is_refused_before_and_after_a_restart() {
    let mut c = cluster(3, 18105);
    let n1 = format!("{}:{}", node_ip(1), c.port);
    let cs = signed_session(&c.user_key());
    let bytes = cs.session_packet().to_bytes();
    let sid = hex(&*cs.body.session_id);
    let hash = hex(&cs.hash);

    // First delivery: accepted (we never complete the handshake, so nothing runs).
    let first = exchange(&n1, &bytes);
    let Packet::SessionOk { child, .. } = &first else {
        panic!("expected SessionOk, got {first:?}");
    };
    assert_eq!(child, "n1");
    assert_eq!(accepts(&c, 1, &sid), 1);
    assert!(
        journal(&c, 1).lines().any(|l| l.starts_with(&hash)),
        "the journal records the session before it runs"
    );

    // The same bytes again on a new connection: no second accept. The answer is a Prune,
    // or (while the first session's state lingers) the very same SessionOk again.
    let again = exchange(&n1, &bytes);
    match &again {
        Packet::Prune { child, .. } => assert_eq!(child, "n1"),
        Packet::SessionOk { .. } => assert_eq!(again, first, "a fresh handshake for a replay"),
        other => panic!("unexpected answer to a replay: {other:?}"),
    }
    assert_eq!(accepts(&c, 1, &sid), 1, "a replay was accepted");

    // Restart n1 (SIGKILL, so nothing is flushed at exit): the journal survives.
    c.restart(1, &[]);
    let t = Instant::now();
    while TcpStream::connect(&n1).is_err() {
        assert!(
            t.elapsed() < Duration::from_secs(15),
            "n1 did not come back"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        journal(&c, 1).lines().any(|l| l.starts_with(&hash)),
        "the restarted server's journal still lists the session:\n{}",
        journal(&c, 1)
    );
    let starts = events(&c, 1, "server.start").len();
    assert_eq!(starts, 2, "n1 started twice");

    // The replay after the restart: a Prune signed by n1, never a second accept.
    let after = exchange(&n1, &bytes);
    assert!(
        matches!(&after, Packet::Prune { child, .. } if child == "n1"),
        "expected a Prune after the restart, got {after:?}"
    );
    assert_eq!(accepts(&c, 1, &sid), 1, "accepted again after a restart");

    // The log chain continues across the restart, and the cluster still works.
    let r = run(std::process::Command::new(mon_tests::mon_bin())
        .args(["audit", "verify"])
        .arg(c.node_dir(1).join("state/audit.jsonl")));
    assert_eq!(r.code, 0, "{r:?}");
    assert!(c.settle(3, super::SETTLE) >= 3, "{}", c.log(1));
}
