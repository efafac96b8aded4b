//! `mon audit show|verify|export`, run as the built binary.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use base64::Engine as _;
use mon_proto::audit::{AuditEvent, Chain, EventKind, Outcome};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

fn mon(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mon"))
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("run mon")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn ts(ago: time::Duration) -> String {
    (OffsetDateTime::now_utc() - ago).format(&Rfc3339).unwrap()
}

const SID_A: [u8; 16] = [0xa1; 16];
const SID_B: [u8; 16] = [0xb2; 16];

/// A small log: 2 hours ago a denied session from bob; recently alice's session, an op, a
/// denied op, and a policy load in another slice.
fn sample_log(dir: &Path) -> (PathBuf, Vec<String>) {
    let mut c = Chain::new([9; 16]);
    let evs: Vec<(time::Duration, AuditEvent)> = vec![
        (
            time::Duration::hours(2),
            AuditEvent::new(EventKind::SessionDeny)
                .result(Outcome::Deny)
                .reason("not_in_allowed_signers", "key not listed for slice lab")
                .slice("lab")
                .key_fp("SHA256:bobbobbob")
                .session_id(&SID_B),
        ),
        (
            time::Duration::minutes(5),
            AuditEvent::new(EventKind::SessionAccept)
                .result(Outcome::Allow)
                .slice("lab")
                .principal("alice@lab")
                .key_fp("SHA256:alicealice")
                .policy_at("/etc/mon/lab/allowed_signers", 2)
                .session_id(&SID_A),
        ),
        (
            time::Duration::minutes(4),
            AuditEvent::new(EventKind::OpEnd)
                .result(Outcome::Ok)
                .slice("lab")
                .principal("alice@lab")
                .session_id(&SID_A)
                .op("exec")
                .argv(["uname", "-a", "\u{1b}[2Jx"])
                .exit_code(0)
                .duration_ms(7),
        ),
        (
            time::Duration::minutes(3),
            AuditEvent::new(EventKind::OpDeny)
                .result(Outcome::Deny)
                .reason("op_not_allowed", "exec not granted by mon_policy line 4")
                .slice("lab")
                .principal("alice@lab")
                .session_id(&SID_A)
                .op("exec")
                .argv(["rm", "-rf", "/"]),
        ),
        (
            time::Duration::minutes(1),
            AuditEvent::new(EventKind::PolicyLoad)
                .result(Outcome::Ok)
                .slice("ops")
                .policy_file("/etc/mon/ops/allowed_signers"),
        ),
    ];
    let lines: Vec<String> = evs
        .iter()
        .map(|(ago, ev)| c.seal("node-a", &ts(*ago), ev))
        .collect();
    let path = dir.join("audit.jsonl");
    std::fs::write(
        &path,
        lines.iter().map(|l| format!("{l}\n")).collect::<String>(),
    )
    .unwrap();
    (path, lines)
}

fn data_rows(out: &str) -> Vec<&str> {
    out.lines().skip(1).collect()
}

#[test]
fn show_prints_an_aligned_table() {
    let dir = tempfile::tempdir().unwrap();
    sample_log(dir.path());
    // default path ./audit.jsonl
    let o = mon(&["audit", "show"], dir.path());
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    let header = out.lines().next().unwrap();
    for col in [
        "TIME",
        "NODE",
        "EVENT",
        "RESULT",
        "PRINCIPAL",
        "SLICE",
        "OP",
        "REASON",
    ] {
        assert!(header.contains(col), "{header}");
    }
    let rows = data_rows(&out);
    assert_eq!(rows.len(), 5);
    let col = header.find("EVENT").unwrap();
    for r in &rows {
        assert_eq!(r.find("node-a"), header.find("NODE"), "aligned: {r}");
        assert_ne!(r.as_bytes()[col], b' ', "aligned: {r}");
    }
    assert!(rows[2].contains("ok exit 0 7 ms"), "{}", rows[2]);
    assert!(rows[2].contains("exec uname -a"), "{}", rows[2]);
    assert!(rows[0].contains("not_in_allowed_signers: key not listed"));
    assert!(
        !out.contains('\u{1b}'),
        "terminal escapes from records are neutralised"
    );
    assert!(out.contains("\\u{1b}[2Jx"));
}

#[test]
fn show_filters() {
    let dir = tempfile::tempdir().unwrap();
    let (path, lines) = sample_log(dir.path());
    let p = path.to_str().unwrap();
    let count = |args: &[&str]| {
        let mut all = vec!["audit", "show", p];
        all.extend_from_slice(args);
        let o = mon(&all, dir.path());
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", stderr(&o));
        data_rows(&stdout(&o)).len()
    };
    assert_eq!(count(&["--denied"]), 2);
    assert_eq!(count(&["--slice", "ops"]), 1);
    assert_eq!(count(&["--principal", "alice@lab"]), 3);
    assert_eq!(count(&["--key", "SHA256:bobbobbob"]), 1);
    assert_eq!(count(&["--key", "bobbobbob"]), 1);
    assert_eq!(count(&["--event", "session"]), 2);
    assert_eq!(count(&["--event", "op.deny"]), 1);
    assert_eq!(count(&["--event", "sess"]), 0);
    assert_eq!(count(&["--session", &hex::encode(SID_A)[..8]]), 3);
    assert_eq!(count(&["--since", "1h"]), 4);
    assert_eq!(count(&["--since", "2m"]), 1);
    assert_eq!(count(&["--since", &ts(time::Duration::minutes(150))]), 5);
    assert_eq!(count(&["--denied", "--since", "1h"]), 1);
    assert_eq!(count(&["--slice", "nope"]), 0);

    // --json prints the matching lines unchanged
    let o = mon(&["audit", "show", p, "--json", "--denied"], dir.path());
    assert_eq!(stdout(&o), format!("{}\n{}\n", lines[0], lines[3]));
    // a directory means DIR/audit.jsonl
    let o = mon(
        &["audit", "show", dir.path().to_str().unwrap(), "--json"],
        dir.path(),
    );
    assert_eq!(stdout(&o).lines().count(), 5);
}

#[test]
fn show_rejects_bad_since_and_unreadable_input() {
    let dir = tempfile::tempdir().unwrap();
    sample_log(dir.path());
    let o = mon(&["audit", "show", "--since", "yesterday"], dir.path());
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--since"), "{}", stderr(&o));
    let o = mon(&["audit", "show", "missing.jsonl"], dir.path());
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("missing.jsonl"), "{}", stderr(&o));
}

#[test]
fn show_skips_garbage_lines_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let (path, lines) = sample_log(dir.path());
    std::fs::write(&path, format!("{}\nnot json\n{}\n", lines[0], lines[1])).unwrap();
    let o = mon(&["audit", "show"], dir.path());
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(data_rows(&stdout(&o)).len(), 2);
    assert!(
        stderr(&o).contains("audit.jsonl:2: skipped"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn verify_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let (path, lines) = sample_log(dir.path());
    let p = path.to_str().unwrap();

    let o = mon(&["audit", "verify", p], dir.path());
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    let expect = format!(
        "{p}: 5 records intact (log_id {}, seq 0..4)\n",
        hex::encode([9u8; 16])
    );
    assert_eq!(stdout(&o), expect);

    let write = |ls: &[String]| {
        std::fs::write(
            &path,
            ls.iter().map(|l| format!("{l}\n")).collect::<String>(),
        )
        .unwrap()
    };
    // edited field
    let mut edited = lines.clone();
    edited[2] = edited[2].replace("\"exit_code\":0", "\"exit_code\":1");
    write(&edited);
    let o = mon(&["audit", "verify", p], dir.path());
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).contains("line 3 (seq 2): hash mismatch"),
        "{}",
        stdout(&o)
    );

    // deleted middle record
    let mut deleted = lines.clone();
    deleted.remove(1);
    write(&deleted);
    let o = mon(&["audit", "verify", p], dir.path());
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).contains("line 2 (seq 2): seq gap"),
        "{}",
        stdout(&o)
    );

    // reordered
    let mut swapped = lines.clone();
    swapped.swap(2, 3);
    write(&swapped);
    let o = mon(&["audit", "verify", p], dir.path());
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("line 3"), "{}", stdout(&o));

    // torn last line
    std::fs::write(&path, format!("{}\n{}", lines[0], &lines[1][..20])).unwrap();
    let o = mon(&["audit", "verify", p], dir.path());
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).contains("line 2: incomplete last line"),
        "{}",
        stdout(&o)
    );

    // truncating the newest records is not detectable (documented)
    write(&lines[..3]);
    assert_eq!(
        mon(&["audit", "verify", p], dir.path()).status.code(),
        Some(0)
    );

    // empty log
    std::fs::write(&path, "").unwrap();
    let o = mon(&["audit", "verify", p], dir.path());
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).contains("0 records"));

    // unreadable
    let o = mon(&["audit", "verify", "nope.jsonl"], dir.path());
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn export_not_found_and_bad_id() {
    let dir = tempfile::tempdir().unwrap();
    sample_log(dir.path());
    let o = mon(&["audit", "export", "00112233", "--out", "x"], dir.path());
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("no session.accept"), "{}", stderr(&o));
    // recorded without body
    let o = mon(
        &["audit", "export", &hex::encode(SID_A), "--out", "x"],
        dir.path(),
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("without its body"), "{}", stderr(&o));
    let o = mon(&["audit", "export", "zz", "--out", "x"], dir.path());
    assert_eq!(o.status.code(), Some(2));
    assert!(!dir.path().join("x").exists());
}

fn run_ok(cmd: &mut Command) -> Output {
    let o = cmd.output().expect("spawn");
    assert!(o.status.success(), "{cmd:?}: {}{}", stdout(&o), stderr(&o));
    o
}

fn dearmor(armored: &str) -> Vec<u8> {
    let b64: String = armored
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap()
}

/// A session signed by the real `ssh-keygen -Y sign`, recorded, exported, and checked by the
/// real `ssh-keygen -Y verify` with the command `mon audit export` prints.
#[test]
fn export_verifies_with_ssh_keygen() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let key = d.join("key");
    run_ok(
        Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-C", "alice@lab", "-f"])
            .arg(&key),
    );
    let body: Vec<u8> = (0..=255u8).chain(b"\n\0session".iter().copied()).collect();
    std::fs::write(d.join("body.cbor"), &body).unwrap();
    run_ok(
        Command::new("ssh-keygen")
            .args(["-Y", "sign", "-n", "mon-query@mon", "-f"])
            .arg(&key)
            .arg(d.join("body.cbor")),
    );
    let armored = std::fs::read_to_string(d.join("body.cbor.sig")).unwrap();
    let blob = dearmor(&armored);

    let slice_dir = d.join("slice dir");
    std::fs::create_dir(&slice_dir).unwrap();
    let pubkey = std::fs::read_to_string(key.with_extension("pub")).unwrap();
    let allowed = slice_dir.join("allowed_signers");
    std::fs::write(
        &allowed,
        format!("alice@lab namespaces=\"mon-query@mon\" {pubkey}"),
    )
    .unwrap();

    let sid = [0x5e; 16];
    let mut c = Chain::new([1; 16]);
    let mut log = String::new();
    log.push_str(&c.seal(
        "node-a",
        &ts(time::Duration::ZERO),
        &AuditEvent::new(EventKind::ServerStart),
    ));
    log.push('\n');
    let ev = AuditEvent::new(EventKind::SessionAccept)
        .result(Outcome::Allow)
        .slice("lab")
        .principal("alice@lab")
        .policy_at(allowed.to_str().unwrap(), 1)
        .session_id(&sid)
        .session(&body, &blob);
    log.push_str(&c.seal("node-a", &ts(time::Duration::ZERO), &ev));
    log.push('\n');
    let state = d.join("state");
    std::fs::create_dir(&state).unwrap();
    std::fs::write(state.join("audit.jsonl"), log).unwrap();

    let o = mon(
        &[
            "audit",
            "export",
            &hex::encode(sid),
            "--log",
            "state",
            "--out",
            "out",
        ],
        d,
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out_dir = d.join("out");
    assert_eq!(std::fs::read(out_dir.join("session.cbor")).unwrap(), body);
    assert_eq!(
        std::fs::read_to_string(out_dir.join("session.sig")).unwrap(),
        armored,
        "armor identical to ssh-keygen's"
    );

    let printed = stdout(&o);
    let cmd = printed
        .lines()
        .find(|l| l.starts_with("ssh-keygen -Y verify"))
        .unwrap_or_else(|| panic!("no command printed: {printed}"));
    assert!(cmd.contains("-I alice@lab -n mon-query@mon"), "{cmd}");
    // run exactly the printed command
    let o = run_ok(
        Command::new("sh")
            .arg("-c")
            .arg(cmd)
            .current_dir(d)
            .stdin(Stdio::null()),
    );
    assert!(
        stdout(&o).contains("Good \"mon-query@mon\" signature for alice@lab"),
        "{}",
        stdout(&o)
    );

    // and a tampered body fails the same check
    std::fs::write(out_dir.join("session.cbor"), b"tampered").unwrap();
    let o = Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .current_dir(d)
        .output()
        .unwrap();
    assert!(!o.status.success());
}
