#![allow(clippy::unwrap_used)]

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

use mon_keys::known_nodes::{KnownNodes, Trust};
use mon_keys::nodekey::{public_openssh, NodeKey};

use super::*;

fn key() -> [u8; 32] {
    NodeKey::generate(&mut rand::rngs::OsRng).public()
}

fn where_(dir: &Path) -> Where {
    Where {
        config_dir: dir.to_path_buf(),
    }
}

fn add(dir: &Path, name: &str, host: &str, key: &str) -> anyhow::Result<u8> {
    let cmd = KnownNodesCmd::Add(AddArgs {
        name: name.into(),
        host: host.into(),
        key: key.into(),
        at: where_(dir),
    });
    run(cmd, None)
}

fn remove(dir: &Path, name: &str) -> anyhow::Result<u8> {
    run(
        KnownNodesCmd::Remove(RemoveArgs {
            name: name.into(),
            at: where_(dir),
        }),
        None,
    )
}

fn revoke(dir: &Path, name: &str, key: Option<String>) -> anyhow::Result<u8> {
    run(
        KnownNodesCmd::Revoke(RevokeArgs {
            name: name.into(),
            key,
            at: where_(dir),
        }),
        None,
    )
}

fn file(dir: &Path) -> String {
    std::fs::read_to_string(dir.join(KNOWN_NODES_FILE)).unwrap()
}

fn loaded(dir: &Path) -> KnownNodes {
    KnownNodes::load(&dir.join(KNOWN_NODES_FILE)).unwrap()
}

#[test]
fn add_writes_the_lines_a_server_loads_and_trusts() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("etc/mon");
    let (k1, k2, k3) = (key(), key(), key());
    // The line `mon server init` prints, saved to a file.
    let line_file = tmp.path().join("qs1.line");
    std::fs::write(&line_file, format!("qs1,qs1 {}\n", public_openssh(&k1))).unwrap();
    add(&dir, "qs1", "qs1", line_file.to_str().unwrap()).unwrap();
    add(&dir, "qs2", "10.201.0.12", &public_openssh(&k2)).unwrap();
    add(&dir, "qs3", "qs3.example.org", &public_openssh(&k3)).unwrap();
    assert_eq!(
        file(&dir),
        format!(
            "qs1,qs1 {}\nqs2,10.201.0.12 {}\nqs3,qs3.example.org {}\n",
            public_openssh(&k1),
            public_openssh(&k2),
            public_openssh(&k3)
        )
    );
    let mode = std::fs::metadata(dir.join(KNOWN_NODES_FILE))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o644);
    let known = loaded(&dir);
    assert_eq!(known.check("qs1", None, &k1), Trust::Trusted);
    assert_eq!(
        known.check("qs2", Some("10.201.0.12".parse().unwrap()), &k2),
        Trust::Trusted
    );
    assert_eq!(known.check("qs3", None, &k3), Trust::Trusted);
    assert_eq!(known.check("qs1", None, &k2), Trust::Mismatch);
}

#[test]
fn add_keeps_what_the_file_had_and_appends_after_a_missing_newline() {
    let tmp = tempfile::tempdir().unwrap();
    let k1 = key();
    let k2 = key();
    let text = format!("# the lab\nqs1,qs1 {} first node", public_openssh(&k1));
    std::fs::write(tmp.path().join(KNOWN_NODES_FILE), &text).unwrap();
    std::fs::set_permissions(
        tmp.path().join(KNOWN_NODES_FILE),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    add(tmp.path(), "qs2", "qs2", &public_openssh(&k2)).unwrap();
    assert_eq!(
        file(tmp.path()),
        format!("{text}\nqs2,qs2 {}\n", public_openssh(&k2))
    );
    let mode = std::fs::metadata(tmp.path().join(KNOWN_NODES_FILE))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "the file keeps its mode");
}

#[test]
fn duplicates_are_refused_with_the_line_that_has_them() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (k1, k2) = (key(), key());
    add(dir, "qs1", "10.201.0.11", &public_openssh(&k1)).unwrap();
    let before = file(dir);
    let cases = [
        // (name, host, key, expected message)
        (
            "qs1",
            "qs1",
            k2,
            "known_nodes:1 already lists qs1 (key SHA256:",
        ),
        ("QS1", "qs1", k2, "already lists QS1"),
        (
            "qs1",
            "qs1",
            k1,
            "already lists qs1 with this key; nothing to do",
        ),
        (
            "qs9",
            "qs9",
            k1,
            "this key is already pinned for qs1,10.201.0.11 at",
        ),
        (
            "qs9",
            "10.201.0.11",
            k2,
            "already lists 10.201.0.11 (for qs1,10.201.0.11)",
        ),
    ];
    for (name, host, k, want) in cases {
        let err = add(dir, name, host, &public_openssh(&k))
            .unwrap_err()
            .to_string();
        assert!(err.contains(want), "{name} {host}: {err}");
    }
    assert_eq!(file(dir), before, "nothing written");
}

#[test]
fn bad_arguments_are_refused_before_anything_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let k = public_openssh(&key());
    let other = tmp.path().join("qs2.line");
    std::fs::write(&other, format!("qs2 {k}\n")).unwrap();
    let cases = [
        (
            "qs1",
            "qs1",
            "ssh-rsa AAAAB3NzaC1yc2E",
            "MON node keys are Ed25519, found ssh-rsa",
        ),
        ("qs1", "qs1", "ssh-ed25519 AAAA", "key"),
        (
            "qs1",
            "qs1",
            other.to_str().unwrap(),
            "is the known_nodes line of qs2, not of qs1",
        ),
        ("qs*", "qs1", &k, "contains '*'"),
        ("qs1", "a,b", &k, "give one address or host name"),
        ("qs1", "qs1:7460", &k, "known_nodes:1:5: \"qs1:7460\""),
    ];
    for (name, host, key, want) in cases {
        let err = add(dir, name, host, key).unwrap_err().to_string();
        assert!(err.contains(want), "{name} {host} {key}: {err}");
    }
    assert!(!dir.join(KNOWN_NODES_FILE).exists());
    let private = tmp.path().join("node_ed25519_key");
    NodeKey::generate(&mut rand::rngs::OsRng)
        .save(&private, "x")
        .unwrap();
    let err = add(dir, "qs1", "qs1", private.to_str().unwrap())
        .unwrap_err()
        .to_string();
    assert!(err.contains("is a private key"), "{err}");
}

#[test]
fn a_file_the_server_would_refuse_is_not_edited() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join(KNOWN_NODES_FILE);
    std::fs::write(&path, "qs1 ssh-rsa AAAA\n").unwrap();
    let err = add(tmp.path(), "qs2", "qs2", &public_openssh(&key()))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("known_nodes:1:5") && err.contains("nothing written"),
        "{err}"
    );
    std::fs::write(&path, "").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).unwrap();
    let err = add(tmp.path(), "qs2", "qs2", &public_openssh(&key()))
        .unwrap_err()
        .to_string();
    assert!(err.contains("chmod go-w"), "{err}");
}

#[test]
fn remove_drops_the_nodes_lines_and_keeps_the_rest() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (k1, k2) = (key(), key());
    std::fs::write(
        dir.join(KNOWN_NODES_FILE),
        format!(
            "# fleet\nqs1,qs1 {}\n# second\nqs2,10.0.0.2 {}\n",
            public_openssh(&k1),
            public_openssh(&k2)
        ),
    )
    .unwrap();
    remove(dir, "QS2").unwrap();
    assert_eq!(
        file(dir),
        format!("# fleet\nqs1,qs1 {}\n# second\n", public_openssh(&k1))
    );
    assert_eq!(loaded(dir).check("qs2", None, &k2), Trust::Unknown);
    let err = remove(dir, "qs2").unwrap_err().to_string();
    assert!(
        err.contains("no line of") && err.contains("lists qs2"),
        "{err}"
    );
}

#[test]
fn revoke_turns_the_line_into_a_revoked_one_refused_under_every_name() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (k1, k2) = (key(), key());
    add(dir, "qs1", "10.201.0.11", &public_openssh(&k1)).unwrap();
    add(dir, "qs2", "qs2", &public_openssh(&k2)).unwrap();
    revoke(dir, "qs1", None).unwrap();
    assert_eq!(
        file(dir),
        format!(
            "@revoked qs1,10.201.0.11 {}\nqs2,qs2 {}\n",
            public_openssh(&k1),
            public_openssh(&k2)
        )
    );
    let known = loaded(dir);
    assert_eq!(known.check("qs1", None, &k1), Trust::Revoked);
    assert_eq!(known.check("qs7", None, &k1), Trust::Revoked);
    assert_eq!(known.check("qs2", None, &k2), Trust::Trusted);

    // Its @revoked line stays on remove, and its key cannot come back under a new name.
    let err = remove(dir, "qs1").unwrap_err().to_string();
    assert!(err.contains("has only @revoked lines"), "{err}");
    let err = add(dir, "qs9", "qs9", &public_openssh(&k1))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("this key is revoked (") && err.contains(":1)"),
        "{err}"
    );
    let err = revoke(dir, "qs1", None).unwrap_err().to_string();
    assert!(err.contains("has only @revoked lines"), "{err}");
}

#[test]
fn revoke_with_a_key_revokes_that_key_even_when_no_line_pins_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (old, new) = (key(), key());
    add(dir, "qs1", "qs1", &public_openssh(&new)).unwrap();
    revoke(dir, "qs1", Some(public_openssh(&old))).unwrap();
    assert_eq!(
        file(dir),
        format!(
            "qs1,qs1 {}\n@revoked qs1 {}\n",
            public_openssh(&new),
            public_openssh(&old)
        )
    );
    let known = loaded(dir);
    assert_eq!(known.check("qs1", None, &new), Trust::Trusted);
    assert_eq!(known.check("qs1", None, &old), Trust::Revoked);
    let err = revoke(dir, "qs1", Some(public_openssh(&old)))
        .unwrap_err()
        .to_string();
    assert!(err.contains("is already revoked"), "{err}");
}

#[test]
fn the_global_known_nodes_flag_names_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("my_known_nodes");
    let k = key();
    let cmd = KnownNodesCmd::Add(AddArgs {
        name: "qs1".into(),
        host: "qs1".into(),
        key: public_openssh(&k),
        at: where_(&tmp.path().join("unused")),
    });
    run(cmd, Some(&path)).unwrap();
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        format!("qs1,qs1 {}\n", public_openssh(&k))
    );
    assert!(!tmp.path().join("unused").exists());
}
