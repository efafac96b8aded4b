//! MON reads allowed_signers as the real `ssh-keygen -Y verify` (OpenSSH 9.2) does: for every
//! principal, namespace and time tried, MON's signer-level decision matches ssh-keygen's.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::{Command, Stdio};

use common::*;
use mon_policy::{parse_time, Reason, SlicePolicy, CLASSES};

#[test]
fn allowed_signers_decisions_match_ssh_keygen_verify() {
    let tmp = tempfile::tempdir().unwrap();
    let k = keygen(tmp.path(), "user");
    let other = keygen(tmp.path(), "other");
    let allowed = format!(
        "# parity\n\
         alice,team-*,!team-evil namespaces=\"mon-query@mon,mon-exec@mon\",valid-after=\"20250101Z\",valid-before=\"20270101Z\" {0}\n\
         ops NAMESPACES=\"mon-*@mon\" {0} ops key\n\
         \"carol\" namespaces=\"mon-read@mon\",valid-before=\"20250101Z\" {0}\n\
         carol valid-after=\"20260101Z\" {0}\n\
         mallory {1}\n",
        k.line, other.line
    );
    let dir = slice_dir(tmp.path(), "s", Some(&allowed), None, None);
    let (policy, _) = SlicePolicy::load(&dir).unwrap();
    let as_file = dir.join("allowed_signers");
    let msg = tmp.path().join("session.cbor");
    std::fs::write(&msg, b"not really cbor, but signed bytes all the same").unwrap();

    let namespaces: Vec<&str> = CLASSES.iter().copied().chain(["file"]).collect();
    let mut compared = 0;
    let mut agreed_allow = 0;
    for ns in &namespaces {
        let sig = tmp.path().join(format!("{ns}.sig"));
        let st = Command::new("ssh-keygen")
            .args(["-q", "-Y", "sign", "-n", ns, "-f"])
            .arg(&k.private)
            .stdin(std::fs::File::open(&msg).unwrap())
            .stdout(std::fs::File::create(&sig).unwrap())
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert!(st.success(), "ssh-keygen -Y sign");
        for principal in [
            "alice",
            "team-x",
            "team-evil",
            "ops",
            "carol",
            "mallory",
            "bob",
        ] {
            for at in ["20240601Z", "20260601Z", "20280601Z"] {
                let ok_ssh = Command::new("ssh-keygen")
                    .args(["-Y", "verify", "-f"])
                    .arg(&as_file)
                    .args(["-I", principal, "-n", ns, "-s"])
                    .arg(&sig)
                    .arg(format!("-Overify-time={at}"))
                    .stdin(std::fs::File::open(&msg).unwrap())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .unwrap()
                    .success();
                let op = query();
                let mut r = req(&k.public, Some(principal), &op);
                r.namespace = ns;
                r.now_unix_s = parse_time(at).unwrap().unix_s;
                let d = policy.evaluate(&r);
                // "file" is no MON class: a granted but foreign namespace is op-not-in-class.
                let ok_mon = d.allowed || d.reason == Reason::OpNotInClass;
                assert_eq!(
                    ok_mon, ok_ssh,
                    "principal {principal}, namespace {ns}, at {at}: MON says {} ({}), ssh-keygen says {ok_ssh}",
                    d.reason.code(),
                    d.message
                );
                compared += 1;
                agreed_allow += usize::from(ok_ssh);
            }
        }
    }
    assert_eq!(compared, 126); // 21 cases × (5 classes + "file")
    assert!(
        agreed_allow > 10 && agreed_allow < 90,
        "the cases must exercise both answers: {agreed_allow}"
    );
}
