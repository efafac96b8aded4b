//! One principal per session (issue 10, part 3). The testbed user's key is listed as
//! `ops@lab,alice@lab`, and `mon_policy` gives the two principals different `run-as`,
//! `nodes=`, `grep-paths=` and `command=`. A session whose operations would each pass under a
//! different principal is denied, and the audit record names the one principal it was decided
//! under; a session that one principal allows runs as that principal's `run-as` user.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mon_keys::userkey::{load_signer, KeyRequest};
use mon_proto::agg::Query;
use mon_proto::client::{ClientSession, SessionRequest};
use mon_proto::wire::packet::{Packet, MAX_STREAM_PACKET};
use mon_proto::wire::session::{OverlayKind, OverlaySpec};
use mon_tests::node_ip;

use super::{client_with_key, cluster_with, events, pub_line, run, set_mon_policy, set_signers};

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// A session of `ops` signed with `key` for the testbed slice, naming `principal` (if any).
pub fn signed_session(key: &Path, ops: Vec<Query>, principal: Option<&str>) -> ClientSession {
    let req = KeyRequest {
        key: Some(key.to_path_buf()),
        agent_sock: None,
        home: None,
    };
    let signer = load_signer(&req, &mut |_| Err(std::io::Error::other("no passphrase")))
        .expect("load the key");
    let sreq = SessionRequest {
        slice: "testbed".into(),
        principal: principal.map(str::to_string),
        ops,
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
pub fn exchange(addr: &str, packet: &[u8]) -> Packet {
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

pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn grep(file: &str) -> Query {
    Query::Grep {
        word: "root".into(),
        file: file.into(),
    }
}

fn exec(argv: &[&str]) -> Query {
    Query::Exec {
        argv: argv.iter().map(|s| s.to_string()).collect(),
        shell: false,
        timeout_s: 10,
        where_: None,
    }
}

#[test]
fn a_session_is_decided_under_one_principal() {
    // The operator allows both principals' run-as users for the slice (server.conf's list
    // and the flag's combine).
    let c = cluster_with(3, 18180, |_| {
        vec!["--run-as-users".into(), "testbed daemon,nobody".into()]
    });
    let n1 = format!("{}:{}", node_ip(1), c.port);
    let key = c.user_key();
    let home = tempfile::tempdir().unwrap();
    // ops@lab: grep in /etc, only `uptime`, as nobody, on n1 and n2.
    // alice@lab: grep in /home, only `id …`, as daemon, everywhere.
    set_mon_policy(
        &c,
        "ops@lab grep-paths=\"/etc\",command=\"uptime\",run-as=\"nobody\",nodes=\"n1,n2\"\n\
         alice@lab grep-paths=\"/home\",command=\"id*\",run-as=\"daemon\"\n",
    );
    set_signers(
        &c,
        &format!(
            "ops@lab,alice@lab namespaces=\"mon-*@mon\" {}\n",
            pub_line(&key)
        ),
    );

    // grep /etc/passwd passes only as ops@lab, exec id only as alice@lab: together, denied.
    // (Before the fix, each operation found its own principal and the session ran `id` as
    // ops@lab's run-as user.)
    let cs = signed_session(&key, vec![grep("/etc/passwd"), exec(&["id", "-un"])], None);
    let sid = hex(&*cs.body.session_id);
    let answer = exchange(&n1, &cs.session_packet().to_bytes());
    let Packet::Deny { code, text, .. } = &answer else {
        panic!("a session mixing principals was not denied: {answer:?}");
    };
    assert_eq!(code, "command-denied", "{text}");
    assert!(text.contains("no single principal"), "{text}");
    let denies: Vec<_> = events(&c, 1, "session.deny")
        .into_iter()
        .filter(|e| e["session_id"] == sid.as_str())
        .collect();
    assert_eq!(denies.len(), 1, "{denies:?}");
    assert_eq!(denies[0]["principal"], "ops@lab", "{}", denies[0]);
    assert!(
        events(&c, 1, "session.accept")
            .iter()
            .all(|e| e["session_id"] != sid.as_str()),
        "the mixed session was accepted"
    );

    // `mon policy explain` with the same operations shows the same decision.
    let explain = |extra: &[&str]| {
        run(std::process::Command::new(mon_tests::mon_bin())
            .args(["policy", "explain", "--node", "n1", "--slice-dir"])
            .arg(c.node_dir(1).join("config/slices/testbed"))
            .arg("--key")
            .arg(key.with_extension("pub"))
            .args(extra))
    };
    let r = explain(&["grep", "root", "/etc/passwd", "--and", "exec", "id", "-un"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stdout.starts_with("deny\n"), "{r:?}");
    assert!(r.stdout.contains("command-denied"), "{r:?}");
    assert!(r.stdout.contains("principal:  ops@lab"), "{r:?}");
    let r = explain(&["grep", "root", "/home", "--and", "exec", "id", "-un"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("principal:  alice@lab"), "{r:?}");
    assert!(r.stdout.contains("run-as:     daemon"), "{r:?}");

    // The same operations naming alice@lab: denied by alice's grep-paths, audited as alice.
    let cs = signed_session(
        &key,
        vec![grep("/etc/passwd"), exec(&["id", "-un"])],
        Some("alice@lab"),
    );
    let sid = hex(&*cs.body.session_id);
    let answer = exchange(&n1, &cs.session_packet().to_bytes());
    assert!(
        matches!(&answer, Packet::Deny { code, .. } if code == "grep-path-denied"),
        "{answer:?}"
    );
    let d = events(&c, 1, "session.deny")
        .into_iter()
        .find(|e| e["session_id"] == sid.as_str())
        .expect("a session.deny");
    assert_eq!(d["principal"], "alice@lab", "{d}");

    // A session one principal allows whole (grep in /home and `id`): accepted as alice@lab.
    let cs = signed_session(&key, vec![grep("/home"), exec(&["id", "-un"])], None);
    let sid = hex(&*cs.body.session_id);
    let answer = exchange(&n1, &cs.session_packet().to_bytes());
    assert!(matches!(answer, Packet::SessionOk { .. }), "{answer:?}");
    let a = events(&c, 1, "session.accept")
        .into_iter()
        .find(|e| e["session_id"] == sid.as_str())
        .expect("a session.accept");
    assert_eq!(a["principal"], "alice@lab", "{a}");

    // Through the real client: `id -un` runs as alice@lab's run-as user on every node
    // (nodes= of ops@lab does not matter: ops@lab is not the deciding principal).
    let r = run(client_with_key(&c, &key, home.path()).args(["--json", "exec", "--", "id", "-un"]));
    assert_eq!(r.code, 0, "{r:?}");
    let v = r.json();
    let groups = v["result"].as_array().expect("groups");
    assert_eq!(groups.len(), 1, "{v}");
    assert_eq!(groups[0]["stdout"], "daemon\n", "{v}");
    assert_eq!(groups[0]["nodes"].as_array().map(Vec::len), Some(3), "{v}");
    let starts: Vec<_> = events(&c, 1, "op.start");
    let last = starts.last().expect("an op.start on n1");
    assert_eq!(last["principal"], "alice@lab", "{last}");

    // Naming ops@lab: `id` is not its command; denied, audited as ops@lab.
    let r = run(client_with_key(&c, &key, home.path()).args([
        "--principal",
        "ops@lab",
        "exec",
        "--",
        "id",
        "-un",
    ]));
    assert_eq!(r.code, 3, "{r:?}");
    assert!(r.stderr.contains("[command-denied]"), "{r:?}");
    let last = events(&c, 1, "session.deny");
    assert_eq!(last.last().unwrap()["principal"], "ops@lab");
}
