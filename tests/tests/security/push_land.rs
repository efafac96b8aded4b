//! Issue 10, push landing: a push acts as the policy's run-as user (the file is created by
//! and owned by that user, who cannot write where it may not), set-id bits need
//! `allow-setid`, DEST is resolved beneath the push dir without following symbolic links,
//! a DEST naming a directory (or in a missing one) is refused naming the path, and nodes
//! skipped by `--where` create nothing.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use mon_tests::{mon_bin, Cluster};

use super::{cluster, run, set_mon_policy, Ran};

/// The testbed's push dir, owned by `nobody` (the tests run as root).
fn push_root(c: &Cluster) -> PathBuf {
    let d = c.dir.path().join("push");
    let (uid, gid) = nobody();
    std::os::unix::fs::chown(&d, Some(uid), Some(gid)).unwrap();
    d
}

/// Node i's own directory below the push dir, owned by the push dir's owner.
fn node_push_dir(c: &Cluster, i: u32) -> PathBuf {
    let d = push_root(c).join(format!("n{i}"));
    if !d.exists() {
        std::fs::create_dir(&d).unwrap();
        let owner = std::fs::metadata(push_root(c)).unwrap();
        std::os::unix::fs::chown(&d, Some(owner.uid()), Some(owner.gid())).unwrap();
    }
    d
}

/// uid and gid of `nobody`.
fn nobody() -> (u32, u32) {
    let id = |flag: &str| -> u32 {
        let r = run(Command::new("id").args([flag, "nobody"]));
        assert_eq!(r.code, 0, "{r:?}");
        r.stdout.trim().parse().unwrap()
    };
    (id("-u"), id("-g"))
}

/// The testbed's policy line with `extra` options.
fn policy(c: &Cluster, extra: &str) -> String {
    format!(
        "testbed-user push-dirs=\"{}\"{extra}\n",
        push_root(c).display()
    )
}

fn payload(c: &Cluster) -> PathBuf {
    let p = c.dir.path().join("payload.bin");
    std::fs::write(&p, b"pushed by the push_land tests\n".repeat(5000)).unwrap();
    p
}

/// `mon --json push SRC DEST --mode MODE [sub…]` through node 1.
fn push(c: &Cluster, src: &Path, dest: &str, mode: &str, sub: &[&str]) -> Ran {
    run(c
        .client()
        .arg("--json")
        .arg("push")
        .arg(src)
        .arg(dest)
        .args(["--mode", mode])
        .args(sub))
}

/// The node's reason in the result's `failed` list.
fn failure(r: &Ran, node: u32) -> String {
    let v = r.json();
    v["failed"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|f| f["node"] == format!("n{node}"))
        .map(|f| f["reason"].as_str().unwrap_or_default().to_string())
        .unwrap_or_else(|| panic!("n{node} did not fail: {r:?}"))
}

/// Every entry below `dir` (recursively), as paths.
fn entries(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if e.file_type().unwrap().is_dir() {
                todo.push(p.clone());
            }
            out.push(p);
        }
    }
    out
}

fn temp_files(dir: &Path) -> Vec<PathBuf> {
    entries(dir)
        .into_iter()
        .filter(|p| p.to_string_lossy().contains(".mon-push-"))
        .collect()
}

fn dest(c: &Cluster, rest: &str) -> String {
    format!("{}/{{node}}/{rest}", push_root(c).display())
}

#[test]
fn push_lands_as_the_run_as_user_who_cannot_write_where_it_may_not() {
    let c = cluster(3, 18140);
    set_mon_policy(&c, &policy(&c, ",run-as=\"nobody\""));
    let (uid, gid) = nobody();
    assert_ne!(
        uid, 0,
        "the tests run as root; the push dir belongs to nobody"
    );
    let src = payload(&c);
    let want = std::fs::read(&src).unwrap();
    for i in 1..=3 {
        node_push_dir(&c, i);
    }
    let r = push(&c, &src, &dest(&c, "app.bin"), "0640", &[]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.json()["done"], 3, "{r:?}");
    for i in 1..=3 {
        let p = node_push_dir(&c, i).join("app.bin");
        let m = std::fs::metadata(&p).unwrap();
        assert_eq!(
            (m.uid(), m.gid()),
            (uid, gid),
            "{} owned by nobody",
            p.display()
        );
        assert_eq!(m.permissions().mode() & 0o7777, 0o640);
        assert_eq!(std::fs::read(&p).unwrap(), want);
    }

    // A root-only directory inside the push dir: nobody may not write there.
    for i in 1..=3 {
        let d = node_push_dir(&c, i).join("rootonly");
        std::fs::create_dir(&d).unwrap();
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let r = push(&c, &src, &dest(&c, "rootonly/app.bin"), "0640", &[]);
    assert_eq!(r.code, 1, "{r:?}");
    for i in 1..=3 {
        let why = failure(&r, i);
        assert!(why.starts_with("permission: "), "n{i}: {why}");
        assert!(why.contains("rootonly"), "n{i}: {why}");
        let d = node_push_dir(&c, i).join("rootonly");
        assert_eq!(entries(&d), Vec::<PathBuf>::new(), "n{i}: nothing created");
    }

    // Without run-as, a root server refuses rather than landing as root.
    set_mon_policy(&c, &policy(&c, ""));
    let r = push(&c, &src, &dest(&c, "asroot.bin"), "0640", &[]);
    assert_ne!(r.code, 0, "{r:?}");
    assert!(
        r.stdout.contains("run-as") || r.stderr.contains("run-as"),
        "{r:?}"
    );
    for i in 1..=3 {
        assert!(!node_push_dir(&c, i).join("asroot.bin").exists(), "n{i}");
        assert_eq!(temp_files(&node_push_dir(&c, i)), Vec::<PathBuf>::new());
    }
}

#[test]
fn setid_bits_are_refused_unless_the_policy_grants_allow_setid() {
    let c = cluster(3, 18141);
    set_mon_policy(&c, &policy(&c, ",run-as=\"nobody\""));
    let src = payload(&c);
    for i in 1..=3 {
        node_push_dir(&c, i);
    }
    for mode in ["4755", "2755", "1755"] {
        let r = push(&c, &src, &dest(&c, "tool"), mode, &[]);
        assert_eq!(r.code, 3, "--mode {mode}: {r:?}");
        assert_eq!(r.json()["code"], "setid-denied", "{r:?}");
        assert!(r.stderr.contains("allow-setid"), "{r:?}");
        for i in 1..=3 {
            assert!(!node_push_dir(&c, i).join("tool").exists(), "n{i}");
        }
    }

    // Granted explicitly: lands with the bits, owned by the run-as user; `mon policy check`
    // warns about the grant.
    let text = policy(&c, ",run-as=\"nobody\",allow-setid");
    set_mon_policy(&c, &text);
    let check = run(Command::new(mon_bin())
        .args(["policy", "check"])
        .arg(c.node_dir(1).join("config/slices/testbed")));
    assert!(
        check.stdout.contains("allow-setid") || check.stderr.contains("allow-setid"),
        "{check:?}"
    );
    let r = push(&c, &src, &dest(&c, "tool"), "4755", &[]);
    assert_eq!(r.code, 0, "{r:?}");
    let (uid, _) = nobody();
    for i in 1..=3 {
        let m = std::fs::metadata(node_push_dir(&c, i).join("tool")).unwrap();
        assert_eq!(m.permissions().mode() & 0o7777, 0o4755, "n{i}");
        assert_eq!(m.uid(), uid, "n{i}");
    }
}

#[test]
fn a_symlink_inside_the_push_dir_cannot_take_a_push_outside() {
    let c = cluster(3, 18142);
    set_mon_policy(&c, &policy(&c, ",run-as=\"nobody\""));
    let src = payload(&c);
    let outside = c.dir.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    let (uid, gid) = nobody();
    std::os::unix::fs::chown(&outside, Some(uid), Some(gid)).unwrap();
    for i in 1..=3 {
        std::os::unix::fs::symlink(&outside, node_push_dir(&c, i).join("link")).unwrap();
        std::fs::create_dir(node_push_dir(&c, i).join("sub")).unwrap();
        std::os::unix::fs::chown(node_push_dir(&c, i).join("sub"), Some(uid), Some(gid)).unwrap();
        std::os::unix::fs::symlink("../link", node_push_dir(&c, i).join("sub/up")).unwrap();
    }
    for rest in ["link/app.bin", "sub/up/app.bin"] {
        let r = push(&c, &src, &dest(&c, rest), "0644", &[]);
        assert_eq!(r.code, 1, "{rest}: {r:?}");
        for i in 1..=3 {
            let why = failure(&r, i);
            assert!(why.starts_with("push-symlink: "), "n{i} {rest}: {why}");
            assert!(why.contains("symbolic link"), "n{i}: {why}");
        }
        assert_eq!(entries(&outside), Vec::<PathBuf>::new(), "{rest}");
    }
}

#[test]
fn a_dest_naming_a_directory_or_in_a_missing_one_is_refused_naming_the_path() {
    let c = cluster(3, 18143);
    set_mon_policy(&c, &policy(&c, ",run-as=\"nobody\""));
    let src = payload(&c);
    for i in 1..=3 {
        node_push_dir(&c, i);
    }
    // Textual: the client refuses a DEST ending in '/' before any node sees it.
    let slash = dest(&c, "");
    let r = push(&c, &src, &slash, "0644", &[]);
    assert_ne!(r.code, 0, "{r:?}");
    assert!(r.stderr.contains(&slash), "{r:?}");
    assert!(r.stderr.contains("directory"), "{r:?}");

    // The push dir itself: every node's policy refuses it.
    let root = push_root(&c).display().to_string();
    let r = push(&c, &src, &root, "0644", &[]);
    assert_eq!(r.code, 3, "{r:?}");
    assert_eq!(r.json()["code"], "push-dest-dir", "{r:?}");
    assert!(r.stderr.contains(&root), "{r:?}");

    // An existing directory (`{node}` is each node's directory), and a missing parent:
    // each node fails at land time, naming the path, before any block moves.
    let cases = [
        (format!("{root}/{{node}}"), "push-dest-dir: ", ""),
        (dest(&c, "nope/app.bin"), "push-no-dir: ", "/nope"),
    ];
    for (d, code, tail) in cases {
        let r = push(&c, &src, &d, "0644", &[]);
        assert_eq!(r.code, 1, "{d}: {r:?}");
        for i in 1..=3 {
            let why = failure(&r, i);
            assert!(why.starts_with(code), "n{i} {d}: {why}");
            let path = format!("{root}/n{i}{tail}");
            assert!(why.contains(&path), "n{i}: {why} names {path}");
            let audit = c.audit(i);
            assert!(
                !audit
                    .iter()
                    .any(|a| a["event"] == "push.serve" || a["event"] == "push.fetch"),
                "n{i}: no block moved"
            );
        }
    }
    for i in 1..=3 {
        assert_eq!(
            entries(&node_push_dir(&c, i)),
            Vec::<PathBuf>::new(),
            "n{i}"
        );
    }
}

#[test]
fn nodes_skipped_by_where_create_nothing() {
    // Operator-defined resource `role`: 1 on n2 only.
    let c = Cluster::start(3, 18144, |i| {
        vec![
            "--resource".into(),
            format!("role=echo {}", u32::from(i == 2)),
        ]
    });
    let got = c.settle(3, super::SETTLE);
    assert_eq!(got, 3, "{}", c.log(1));
    set_mon_policy(&c, &policy(&c, ",run-as=\"nobody\""));
    let src = payload(&c);
    for i in 1..=3 {
        node_push_dir(&c, i);
    }
    let r = push(
        &c,
        &src,
        &dest(&c, "app.bin"),
        "0644",
        &["--where", "role", "EQ", "1"],
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.json()["done"], 1, "{r:?}");
    assert_eq!(r.json()["skipped"], 2, "{r:?}");
    assert!(node_push_dir(&c, 2).join("app.bin").exists());
    // Right after the push (the sessions still live): nothing at all on skipped nodes.
    for i in [1, 3] {
        assert_eq!(
            entries(&node_push_dir(&c, i)),
            Vec::<PathBuf>::new(),
            "n{i}"
        );
    }
}
