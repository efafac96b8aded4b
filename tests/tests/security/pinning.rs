//! Issue 10, part 6: the client pins the entry it dialled.
//!
//! - A machine at n2's address that holds n1's node key (another known_nodes line: another
//!   name and address) and answers as "n1" is refused: "the key of ADDR does not match
//!   known_nodes FILE:LINE", exit 2, nothing sent after its SessionOk.
//! - A Deny that the pinned key did not sign is not believed (exit 2, not "denied").

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mon_proto::wire::packet::{Packet, MAX_STREAM_PACKET};
use mon_tests::{mon_bin, node_ip};

use super::{cluster, run};

/// The 1-based line of `file` that starts with `prefix`.
fn line_of(file: &Path, prefix: &str) -> usize {
    std::fs::read_to_string(file)
        .unwrap()
        .lines()
        .position(|l| l.starts_with(prefix))
        .expect("the line")
        + 1
}

/// A process stopped (by its pid) when dropped.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Answers the first client stream on `listener` with a Deny whose signature is all zeros.
fn fake_deny_entry(listener: TcpListener) -> std::thread::JoinHandle<bool> {
    std::thread::spawn(move || {
        listener.set_nonblocking(false).unwrap();
        let Ok((mut s, _)) = listener.accept() else {
            return false;
        };
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut pre = [0u8; 5];
        let mut len = [0u8; 4];
        if s.read_exact(&mut pre).is_err() || s.read_exact(&mut len).is_err() {
            return false;
        }
        let mut buf = vec![0u8; u32::from_be_bytes(len) as usize];
        if s.read_exact(&mut buf).is_err() {
            return false;
        }
        let Ok(Packet::Session { session, .. }) = Packet::from_bytes(&buf, MAX_STREAM_PACKET)
        else {
            return false;
        };
        let deny = Packet::Deny {
            session_hash: session.hash().into(),
            child: "n2".into(),
            code: "key-not-listed".into(),
            text: "your key is not welcome here".into(),
            sig: [0u8; 64].into(),
        }
        .to_bytes();
        let _ = s.write_all(&(deny.len() as u32).to_be_bytes());
        let _ = s.write_all(&deny);
        // Hold the stream until the client gives up on it.
        let mut rest = Vec::new();
        let _ = s.read_to_end(&mut rest);
        true
    })
}

#[test]
fn the_client_refuses_an_entry_holding_another_lines_key_and_an_unsigned_deny() {
    let mut c = cluster(2, 18154);
    let known = c.dir.path().join("known_nodes");
    let n2_addr = format!("{}:{}", node_ip(2), c.port);
    let n2_line = line_of(&known, "n2,");
    let expected = format!(
        "the key of {n2_addr} does not match known_nodes {}:{n2_line}",
        known.display()
    );
    c.kill(2);

    // 1. An unsigned Deny from n2's address.
    let listener = TcpListener::bind(&n2_addr).expect("bind n2's address");
    let fake = fake_deny_entry(listener);
    let r = run(c.client_via(2).args(["--timeout", "3", "count"]));
    assert!(fake.join().unwrap(), "the client never sent its Session");
    assert_eq!(r.code, 2, "an unsigned Deny was believed: {r:?}");
    assert!(!r.stderr.contains("denied by"), "{r:?}");
    assert!(
        r.stderr.contains(&format!(
            "is not signed by the key of known_nodes {}:{n2_line}",
            known.display()
        )),
        "{r:?}"
    );

    // 2. An impostor at n2's address with n1's node key, answering as n1.
    let fake_dir = tempfile::tempdir().unwrap();
    let conf = fake_dir.path().join("config");
    let st = Command::new("cp")
        .arg("-a")
        .arg(c.node_dir(1).join("config"))
        .arg(&conf)
        .status()
        .unwrap();
    assert!(st.success());
    let log = std::fs::File::create(fake_dir.path().join("server.log")).unwrap();
    let _impostor = Proc(
        Command::new(mon_bin())
            .arg("server")
            .arg("--config-dir")
            .arg(&conf)
            .arg("--state-dir")
            .arg(fake_dir.path().join("state"))
            .arg("--listen")
            .arg(&n2_addr)
            .arg("--name")
            .arg("n1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start the impostor"),
    );
    let t = Instant::now();
    while std::net::TcpStream::connect(&n2_addr).is_err() {
        assert!(
            t.elapsed() < Duration::from_secs(15),
            "the impostor listens"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let r = run(c.client_via(2).args(["--timeout", "3", "--json", "count"]));
    assert_eq!(r.code, 2, "the client took the impostor's answer: {r:?}");
    assert!(r.stderr.contains(&expected), "{r:?}");
    assert!(r.stdout.is_empty(), "{r:?}");

    // Control: the real n1, dialled at its own address, is taken.
    let r = run(c.client_via(1).args(["--timeout", "3", "--json", "count"]));
    assert!(r.code == 0 || r.code == 1, "{r:?}");
}
