//! Issue 10, part 4: unauthenticated input costs nothing durable.
//!
//! - Sessions of 250 KB that fail before their signature verifies (an unknown key, the user's
//!   key with a broken signature, an undecodable body) sent over TCP get a refusal on their
//!   own stream but grow the audit log by almost nothing: they are junk, summarised per
//!   source, never one record (with the body) per packet. A session the user really signed
//!   and that was refused (expired) is audited once; the same bytes sent again are junk.
//! - A node whose state dir is full refuses sessions with `storage-unavailable` (the client
//!   exits non-zero naming the reason), keeps running, and serves again once space returns.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mon_keys::userkey::{load_signer, KeyRequest};
use mon_proto::agg::Query;
use mon_proto::client::{ClientSession, SessionRequest};
use mon_proto::wire::packet::{Packet, MAX_STREAM_PACKET};
use mon_proto::wire::session::{OverlayKind, OverlaySpec, SignedSession, SESSION_VERSION};
use mon_tests::{mon_bin, node_ip};
use rand::RngCore;

use super::{cluster, keygen, run};

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// A session signed with `key` whose exec arguments add up to about `size` bytes.
fn big_session(key: &Path, size: usize) -> ClientSession {
    big_session_at(key, size, now_ms())
}

/// As [`big_session`], issued at `issued_ms`.
fn big_session_at(key: &Path, size: usize, issued_ms: u64) -> ClientSession {
    let req = KeyRequest {
        key: Some(key.to_path_buf()),
        agent_sock: None,
        home: None,
    };
    let signer = load_signer(&req, &mut |_| Err(std::io::Error::other("no passphrase")))
        .expect("load the key");
    let sreq = SessionRequest {
        slice: "testbed".into(),
        principal: None,
        // One exec argument is at most 64 KiB (`MAX_EXEC_BYTES`): several operations.
        ops: (0..size.div_ceil(60_000))
            .map(|_| Query::Exec {
                argv: vec!["x".repeat(size / size.div_ceil(60_000))],
                shell: false,
                timeout_s: 5,
                where_: None,
            })
            .collect(),
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
    ClientSession::new(&mut rand::rngs::OsRng, &*signer, sreq, issued_ms).expect("sign")
}

/// Sends one packet on a new client stream; returns the first packet answered (if any).
fn exchange(addr: &str, packet: &[u8]) -> Option<Packet> {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(b"MON1\0").unwrap();
    s.write_all(&(packet.len() as u32).to_be_bytes()).unwrap();
    s.write_all(packet).unwrap();
    let mut len = [0u8; 4];
    s.read_exact(&mut len).ok()?;
    let mut buf = vec![0u8; u32::from_be_bytes(len) as usize];
    s.read_exact(&mut buf).ok()?;
    Packet::from_bytes(&buf, MAX_STREAM_PACKET).ok()
}

fn audit_len(c: &mon_tests::Cluster, i: u32) -> u64 {
    std::fs::metadata(c.node_dir(i).join("state/audit.jsonl"))
        .map(|m| m.len())
        .unwrap_or(0)
}

#[test]
fn junk_sessions_over_tcp_cost_the_audit_log_almost_nothing() {
    let mut c = cluster(2, 18150);
    let n1 = format!("{}:{}", node_ip(1), c.port);
    let home = tempfile::tempdir().unwrap();
    let stranger = keygen(home.path(), "stranger", "ed25519", "");
    let before = audit_len(&c, 1);
    const SIZE: usize = 240 * 1024;

    let mut codes = Vec::new();
    for i in 0..40 {
        let packet = match i % 3 {
            // A key the slice does not list (the signature is good).
            0 => big_session(&stranger, SIZE).session_packet(),
            // The user's key, its signature broken.
            1 => {
                let mut p = big_session(&c.user_key(), SIZE).session_packet();
                if let Packet::Session { session, .. } = &mut p {
                    let n = session.sshsig.len();
                    session.sshsig[n - 3] ^= 0x40;
                }
                p
            }
            // A body that does not decode.
            _ => {
                let mut p = big_session(&stranger, 16).session_packet();
                let mut body = vec![0u8; SIZE];
                rand::rngs::OsRng.fill_bytes(&mut body);
                if let Packet::Session { session, .. } = &mut p {
                    *session = SignedSession {
                        v: SESSION_VERSION,
                        body,
                        sshsig: session.sshsig.clone(),
                    };
                }
                p
            }
        };
        let bytes = packet.to_bytes();
        assert!(bytes.len() > 200 * 1024, "{}", bytes.len());
        // The client still hears why, on its own stream.
        match exchange(&n1, &bytes) {
            Some(Packet::Deny { code, .. }) => codes.push(code),
            other => panic!("junk session {i}: expected a Deny, got {other:?}"),
        }
    }
    assert!(codes.iter().any(|c| c == "key-not-listed"), "{codes:?}");
    assert!(codes.iter().any(|c| c == "bad-signature"), "{codes:?}");

    // A session the user really signed, refused after its signature verified (its join
    // window closed an hour ago), is audited once; captured and sent again 13 times, it is
    // junk.
    let old = big_session_at(&c.user_key(), SIZE, now_ms() - 3_600_000)
        .session_packet()
        .to_bytes();
    for _ in 0..13 {
        match exchange(&n1, &old) {
            Some(Packet::Deny { code, .. }) => assert_eq!(code, "session-expired"),
            other => panic!("expired session: expected a Deny, got {other:?}"),
        }
    }
    let expired = super::events(&c, 1, "session.deny");
    assert_eq!(expired.len(), 1, "{}", expired.len());
    let one_record = audit_len(&c, 1).saturating_sub(before);

    let grown = one_record.saturating_sub(
        expired
            .first()
            .map(|e| e.to_string().len() as u64)
            .unwrap_or(0),
    );
    assert!(
        grown < 64 * 1024,
        "40 junk sessions of 250 KB and 12 replays grew n1's audit log by {grown} bytes"
    );
    // Only the verified refusal was audited: no record carries an unverified body.
    assert_eq!(super::events(&c, 1, "session.deny").len(), 1);
    assert!(c.alive(1), "n1 died:\n{}", c.log(1));
    let r = run(c.client().args(["--json", "count"]));
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.json()["result"], 2, "{r:?}");
}

/// A tmpfs mounted on a directory, unmounted (lazily, so open files do not block it) when
/// dropped, whatever the test's outcome.
struct Tmpfs(PathBuf);

impl Tmpfs {
    /// None when mounting is not permitted here.
    fn mount(dir: &Path, size: &str) -> Option<Tmpfs> {
        let st = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size},mode=0700")])
            .arg("tmpfs")
            .arg(dir)
            .status()
            .ok()?;
        st.success().then(|| Tmpfs(dir.to_path_buf()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Fills the file system of `dir` with `dir/filler` until a write fails (at most 64 MiB).
fn fill(dir: &Path) -> PathBuf {
    let path = dir.join("filler");
    let mut f = std::fs::File::create(&path).unwrap();
    let chunk = vec![0u8; 4096];
    for _ in 0..16 * 1024 {
        if f.write_all(&chunk).and_then(|()| f.sync_all()).is_err() {
            break;
        }
    }
    path
}

#[test]
fn a_full_state_dir_refuses_sessions_keeps_the_server_and_serves_again() {
    let mut c = cluster(2, 18152);
    let state = c.node_dir(1).join("state");
    // The state dir moves onto a 1 MiB tmpfs, with its files.
    c.kill(1);
    let saved = tempfile::tempdir().unwrap();
    for f in ["audit.jsonl", "replay.journal"] {
        let _ = std::fs::copy(state.join(f), saved.path().join(f));
    }
    let Some(_mount) = Tmpfs::mount(&state, "1M") else {
        eprintln!("SKIPPED: mounting a tmpfs is not permitted here (needs root)");
        return;
    };
    for f in ["audit.jsonl", "replay.journal"] {
        let _ = std::fs::copy(saved.path().join(f), state.join(f));
    }
    c.restart(1, &[]);
    let got = c.settle(2, super::SETTLE);
    assert!(got >= 2, "n1 on a tmpfs: {got}\n{}", c.log(1));

    // Full: sessions through n1 are refused with a clear reason; n1 keeps running.
    let filler = fill(&state);
    let mut refused = None;
    for _ in 0..6 {
        let r = run(c.client().arg("count"));
        if r.stderr.contains("[storage-unavailable]") {
            refused = Some(r);
            break;
        }
    }
    let r = refused.unwrap_or_else(|| panic!("no storage-unavailable refusal:\n{}", c.log(1)));
    assert_ne!(r.code, 0, "{r:?}");
    assert!(r.stderr.contains("frees space"), "{r:?}");
    // Still refused, and still running.
    let r = run(c.client().arg("count"));
    assert_ne!(r.code, 0, "{r:?}");
    assert!(r.stderr.contains("[storage-unavailable]"), "{r:?}");
    assert!(c.alive(1), "n1 exited on a full disk:\n{}", c.log(1));
    assert!(c.log(1).contains("refusing new sessions"), "{}", c.log(1));

    // Restarted on the full disk, n1 starts (failing closed) instead of exiting.
    c.restart(1, &[]);
    let t = Instant::now();
    loop {
        let r = run(c.client().args(["--timeout", "2", "count"]));
        if r.stderr.contains("[storage-unavailable]") {
            assert_ne!(r.code, 0, "{r:?}");
            break;
        }
        assert!(c.alive(1), "n1 did not start on a full disk:\n{}", c.log(1));
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "n1 restarted on a full disk does not refuse: {r:?}\n{}",
            c.log(1)
        );
        std::thread::sleep(Duration::from_millis(300));
    }

    // Space returns: n1 serves again within about 10 s.
    std::fs::remove_file(&filler).unwrap();
    let t = Instant::now();
    loop {
        let r = run(c.client().args(["--json", "count"]));
        if r.code == 0 && r.json()["result"] == 2 {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(15),
            "n1 does not serve again after space returned: {r:?}\n{}",
            c.log(1)
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    let resumed = super::events(&c, 1, "storage.resume");
    assert!(!resumed.is_empty(), "no storage.resume record");
    // The log still verifies end to end.
    let v = run(Command::new(mon_bin())
        .args(["audit", "verify"])
        .arg(state.join("audit.jsonl")));
    assert_eq!(v.code, 0, "{v:?}");
    assert!(c.alive(1));
}
