//! The audit log of a real server: `mon audit verify` says intact, then finds an edited,
//! deleted or reordered record by line; `mon audit export` writes a recorded session that
//! `ssh-keygen -Y verify` checks against the slice's own allowed_signers.

use std::path::Path;
use std::process::{Command, Stdio};

use mon_tests::mon_bin;

use super::{cluster, run, signers_path, Ran};

fn verify(log: &Path) -> Ran {
    run(Command::new(mon_bin()).args(["audit", "verify"]).arg(log))
}

fn ssh_keygen_verify(signers: &Path, dir: &Path, ns: &str) -> Ran {
    run(Command::new("ssh-keygen")
        .args(["-Y", "verify", "-f"])
        .arg(signers)
        .args(["-I", "testbed-user", "-n", ns, "-s"])
        .arg(dir.join("session.sig"))
        .stdin(Stdio::from(
            std::fs::File::open(dir.join("session.cbor")).expect("session.cbor"),
        )))
}

#[test]
fn audit_log_verifies_finds_edits_and_exports_for_ssh_keygen() {
    let c = cluster(3, 18104);
    let r = run(c.client().args(["--json", "count"]));
    assert_eq!(r.code, 0, "{r:?}");
    let log = c.node_dir(1).join("state/audit.jsonl");

    // The real, live log is intact.
    let r = verify(&log);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("intact"), "{r:?}");

    // Snapshot its complete lines; take a session.accept that has records after it (the
    // settling counts made several), so that an edit there is "before the newest".
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = text
        .split_inclusive('\n')
        .filter(|l| l.ends_with('\n'))
        .collect();
    let (idx, rec) = lines
        .iter()
        .enumerate()
        .find_map(|(i, l)| {
            let v: serde_json::Value = serde_json::from_str(l).ok()?;
            (v["event"] == "session.accept" && i + 1 < lines.len()).then_some((i, v))
        })
        .expect("a session.accept record on n1 followed by others");
    let sid = rec["session_id"].as_str().unwrap().to_string();
    assert_eq!(rec["principal"], "testbed-user", "{rec}");

    // Export the session; ssh-keygen checks it with the slice's allowed_signers.
    let out = tempfile::tempdir().unwrap();
    let exp = out.path().join("export");
    let r = run(Command::new(mon_bin())
        .args(["audit", "export", &sid, "--log"])
        .arg(&log)
        .arg("--out")
        .arg(&exp));
    assert_eq!(r.code, 0, "{r:?}");
    let r = ssh_keygen_verify(&signers_path(&c, 1), &exp, "mon-query@mon");
    assert_eq!(r.code, 0, "ssh-keygen rejected the exported session: {r:?}");
    assert!(r.stdout.contains("testbed-user"), "{r:?}");
    // Control: the same check fails for another namespace and for an altered body.
    let r = ssh_keygen_verify(&signers_path(&c, 1), &exp, "mon-exec@mon");
    assert_ne!(r.code, 0, "{r:?}");
    let body = exp.join("session.cbor");
    let mut bytes = std::fs::read(&body).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 1;
    std::fs::write(&body, bytes).unwrap();
    let r = ssh_keygen_verify(&signers_path(&c, 1), &exp, "mon-query@mon");
    assert_ne!(r.code, 0, "{r:?}");

    // Tampered copies of the log: each is reported at the first bad line, exit 1.
    let write = |name: &str, ls: &[String]| {
        let p = out.path().join(name);
        std::fs::write(&p, ls.concat()).unwrap();
        p
    };
    let owned: Vec<String> = lines.iter().map(|s| s.to_string()).collect();
    let line_no = idx + 1;

    let mut edited = owned.clone();
    edited[idx] = edited[idx].replacen("\"result\":\"allow\"", "\"result\":\"deny\"", 1);
    assert_ne!(edited[idx], owned[idx]);
    let r = verify(&write("edited.jsonl", &edited));
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stdout.contains(&format!("line {line_no}")), "{r:?}");

    let mut deleted = owned.clone();
    deleted.remove(idx);
    let r = verify(&write("deleted.jsonl", &deleted));
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stdout.contains(&format!("line {line_no}")), "{r:?}");

    let mut swapped = owned.clone();
    swapped.swap(idx, idx + 1);
    let r = verify(&write("swapped.jsonl", &swapped));
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stdout.contains(&format!("line {line_no}")), "{r:?}");

    // Control: an untouched copy verifies.
    let r = verify(&write("copy.jsonl", &owned));
    assert_eq!(r.code, 0, "{r:?}");
}
