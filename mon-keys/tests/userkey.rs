//! Loading the user's key: files, passphrases, permissions, key types and a real ssh-agent.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use common::*;
use mon_keys::sshsig::{self, Signer, NS_EXEC, NS_QUERY};
use mon_keys::userkey::{load_public_key, load_signer, KeyError, KeyRequest};
use zeroize::Zeroizing;

fn req(key: Option<&Path>, agent: Option<&Path>, home: Option<&Path>) -> KeyRequest {
    KeyRequest {
        key: key.map(Path::to_owned),
        agent_sock: agent.map(Path::to_owned),
        home: home.map(Path::to_owned),
    }
}

fn load(r: &KeyRequest) -> Result<Box<dyn Signer>, KeyError> {
    load_signer(r, &mut no_passphrase)
}

/// Signs with `signer` and checks the signature with `ssh-keygen -Y verify`.
fn assert_ssh_keygen_accepts(dir: &Path, signer: &dyn Signer, key: &Path) {
    let allowed = allowed_signers(dir, "alice@lab", key);
    let msg = dir.join("m");
    std::fs::write(&msg, b"hello").unwrap();
    let sig = dir.join("m.sig");
    std::fs::write(
        &sig,
        sshsig::armor(&signer.sign(NS_EXEC, b"hello").unwrap()),
    )
    .unwrap();
    assert!(ssh_keygen_verifies(
        &allowed,
        "alice@lab",
        NS_EXEC,
        &sig,
        &msg
    ));
    assert!(!ssh_keygen_verifies(
        &allowed,
        "alice@lab",
        NS_QUERY,
        &sig,
        &msg
    ));
}

fn public_of(key: &Path) -> ssh_key::PublicKey {
    load_public_key(&pub_path(key)).unwrap()
}

#[test]
fn unencrypted_key_loads_and_signs() {
    let dir = tempfile::tempdir().unwrap();
    let key = keygen(dir.path(), "id", "ed25519", "");
    let signer = load(&req(Some(&key), None, None)).unwrap();
    assert_eq!(signer.public_key().key_data(), public_of(&key).key_data());
    assert_eq!(signer.public_key().comment(), "alice@lab");
    assert_eq!(signer.describe(), key.display().to_string());
    assert_ssh_keygen_accepts(dir.path(), signer.as_ref(), &key);
}

#[test]
fn passphrase_key_right_and_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let key = keygen(dir.path(), "id", "ed25519", "secret");

    let mut asked: Vec<PathBuf> = Vec::new();
    let signer = load_signer(&req(Some(&key), None, None), &mut |p: &Path| {
        asked.push(p.to_owned());
        Ok(Zeroizing::new("secret".to_owned()))
    })
    .unwrap();
    assert_eq!(asked, vec![key.clone()]);
    assert_eq!(signer.public_key().comment(), "alice@lab");
    assert_ssh_keygen_accepts(dir.path(), signer.as_ref(), &key);

    let err = load_signer(&req(Some(&key), None, None), &mut |_: &Path| {
        Ok(Zeroizing::new("wrong".to_owned()))
    })
    .err()
    .unwrap();
    assert!(
        matches!(&err, KeyError::WrongPassphrase { file } if *file == key),
        "{err:?}"
    );
    assert!(err.to_string().contains(&key.display().to_string()));

    let err = load_signer(&req(Some(&key), None, None), &mut |_: &Path| {
        Err(std::io::Error::other("there is no terminal to ask"))
    })
    .err()
    .unwrap();
    assert_eq!(
        err.to_string(),
        format!(
            "{0} is passphrase-protected and there is no terminal to ask: add it to ssh-agent (`ssh-add {0}`)",
            key.display()
        )
    );
}

#[test]
fn group_or_world_accessible_key_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let key = keygen(dir.path(), "id", "ed25519", "");
    for mode in [0o644, 0o640, 0o604, 0o660] {
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(mode)).unwrap();
        let err = load(&req(Some(&key), None, None)).err().unwrap();
        assert!(matches!(err, KeyError::PermissionsTooOpen { mode: m, .. } if m == mode));
        let msg = err.to_string();
        assert!(
            msg.contains(&format!("permissions {mode:04o} for {}", key.display())),
            "{msg}"
        );
        assert!(msg.contains("chmod 600"), "{msg}");
    }
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o400)).unwrap();
    load(&req(Some(&key), None, None)).unwrap();
}

#[test]
fn missing_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope");
    let err = load(&req(Some(&missing), None, None)).err().unwrap();
    assert!(matches!(&err, KeyError::NotFound { file } if *file == missing));
    assert!(err.to_string().starts_with(&missing.display().to_string()));
    assert!(matches!(
        load_public_key(&missing),
        Err(KeyError::NotFound { .. })
    ));
}

#[test]
fn rsa_and_ecdsa_keys_are_refused_with_their_type() {
    let dir = tempfile::tempdir().unwrap();
    for (kind, name, pass) in [
        ("rsa", "ssh-rsa", ""),
        ("ecdsa", "ecdsa-sha2-nistp256", ""),
        ("rsa", "ssh-rsa", "secret"),
    ] {
        let key = keygen(dir.path(), &format!("{kind}{}", pass.len()), kind, pass);
        // The type is refused before any passphrase is asked for.
        let err = load(&req(Some(&key), None, None)).err().unwrap();
        assert!(
            matches!(&err, KeyError::NotEd25519 { file, kind } if *file == key && kind == name),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            format!(
                "MON needs an Ed25519 key: {} is {name} (create one with `ssh-keygen -t ed25519`)",
                key.display()
            )
        );
        let public = pub_path(&key);
        assert!(matches!(
            load_public_key(&public),
            Err(KeyError::NotEd25519 { kind, .. }) if kind == name
        ));
        let agent_dir = tempfile::tempdir().unwrap();
        let agent = Agent::start(agent_dir.path());
        assert!(matches!(
            load(&req(Some(&public), Some(&agent.sock), None)),
            Err(KeyError::NotEd25519 { .. })
        ));
    }
}

#[test]
fn security_key_public_key_is_refused() {
    // An sk-ssh-ed25519 public key (no hardware needed to write one down).
    let mut blob = Vec::new();
    for field in [
        &b"sk-ssh-ed25519@openssh.com"[..],
        &[0x11u8; 32][..],
        &b"ssh:"[..],
    ] {
        blob.extend_from_slice(&(field.len() as u32).to_be_bytes());
        blob.extend_from_slice(field);
    }
    use base64::Engine as _;
    let line = format!(
        "sk-ssh-ed25519@openssh.com {} alice@lab\n",
        base64::engine::general_purpose::STANDARD.encode(&blob)
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("id_ed25519_sk.pub");
    std::fs::write(&path, line).unwrap();
    let err = load_public_key(&path).unwrap_err();
    assert!(
        err.to_string().starts_with("MON needs an Ed25519 key:")
            && err.to_string().contains("sk-ssh-ed25519@openssh.com"),
        "{err}"
    );
}

#[test]
fn malformed_and_certificate_public_keys() {
    let dir = tempfile::tempdir().unwrap();
    let garbage = dir.path().join("garbage.pub");
    std::fs::write(&garbage, "ssh-ed25519 AAAA!!!! x\n").unwrap();
    assert!(matches!(
        load_public_key(&garbage),
        Err(KeyError::BadPublicKey { .. })
    ));
    let empty = dir.path().join("empty.pub");
    std::fs::write(&empty, "").unwrap();
    assert!(matches!(
        load_public_key(&empty),
        Err(KeyError::BadPublicKey { .. })
    ));

    let ca = keygen(dir.path(), "ca", "ed25519", "");
    let user = keygen(dir.path(), "user", "ed25519", "");
    let out = run(std::process::Command::new("ssh-keygen")
        .args(["-q", "-s"])
        .arg(&ca)
        .args(["-I", "alice", "-n", "alice"])
        .arg(pub_path(&user)));
    assert!(out.status.success(), "{out:?}");
    let cert = dir.path().join("user-cert.pub");
    assert!(matches!(
        load_public_key(&cert),
        Err(KeyError::Certificate { .. })
    ));
    // A private key where a public key is expected.
    assert!(matches!(
        load_public_key(&user),
        Err(KeyError::BadPublicKey { .. })
    ));
}

#[test]
fn public_key_without_agent_is_explained() {
    let dir = tempfile::tempdir().unwrap();
    let key = keygen(dir.path(), "id", "ed25519", "");
    let public = pub_path(&key);
    let err = load(&req(Some(&public), None, None)).err().unwrap();
    assert!(matches!(&err, KeyError::NoAgent { file } if *file == public));
    assert!(err.to_string().contains("SSH_AUTH_SOCK"));
}

#[test]
fn agent_signs_by_public_key_and_by_default() {
    let dir = tempfile::tempdir().unwrap();
    let key = keygen(dir.path(), "id", "ed25519", "");
    let other = keygen(dir.path(), "other", "ed25519", "");
    let rsa = keygen(dir.path(), "rsa", "rsa", "");
    let agent = Agent::start(dir.path());
    agent.add(&rsa);
    agent.add(&key);

    // --key FILE.pub: the agent signs with that key.
    let signer = load(&req(Some(&pub_path(&key)), Some(&agent.sock), None)).unwrap();
    assert_eq!(signer.public_key().key_data(), public_of(&key).key_data());
    assert!(
        signer.describe().starts_with("ssh-agent key SHA256:"),
        "{}",
        signer.describe()
    );
    assert!(signer.describe().contains(&ssh_keygen_fingerprint(&key)));
    assert_ssh_keygen_accepts(dir.path(), signer.as_ref(), &key);

    // No --key: the agent's first Ed25519 key (the RSA key before it is skipped), even if the
    // home directory has another key.
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir(home.path().join(".ssh")).unwrap();
    std::fs::copy(&other, home.path().join(".ssh/id_ed25519")).unwrap();
    let signer = load(&req(None, Some(&agent.sock), Some(home.path()))).unwrap();
    assert_eq!(signer.public_key().key_data(), public_of(&key).key_data());
    assert_ssh_keygen_accepts(dir.path(), signer.as_ref(), &key);

    // A public key the agent does not hold.
    let err = load(&req(Some(&pub_path(&other)), Some(&agent.sock), None))
        .err()
        .unwrap();
    assert!(matches!(&err, KeyError::NotInAgent { .. }), "{err:?}");
    assert!(err.to_string().contains(&ssh_keygen_fingerprint(&other)));

    // The key removed from the agent after loading: signing fails with a clear error.
    let out = run(std::process::Command::new("ssh-add")
        .env("SSH_AUTH_SOCK", &agent.sock)
        .arg("-D"));
    assert!(out.status.success());
    let err = signer.sign(NS_QUERY, b"x").unwrap_err();
    assert!(err.to_string().contains("refused to sign"), "{err}");
}

#[test]
fn default_falls_back_to_home_key_then_reports_what_was_tried() {
    let dir = tempfile::tempdir().unwrap();
    let rsa = keygen(dir.path(), "rsa", "rsa", "");
    let agent = Agent::start(dir.path());
    agent.add(&rsa);

    let home = tempfile::tempdir().unwrap();
    let err = load(&req(None, Some(&agent.sock), Some(home.path())))
        .err()
        .unwrap();
    let KeyError::NoKey { tried } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(tried.len(), 2, "{tried:?}");
    assert!(
        tried[0].contains("holds no Ed25519 key, only ssh-rsa"),
        "{tried:?}"
    );
    assert!(
        tried[1].contains(".ssh/id_ed25519 (no such file)"),
        "{tried:?}"
    );
    assert!(err.to_string().contains("ssh-keygen -t ed25519"));

    std::fs::create_dir(home.path().join(".ssh")).unwrap();
    let key = keygen(&home.path().join(".ssh"), "id_ed25519", "ed25519", "");
    let signer = load(&req(None, Some(&agent.sock), Some(home.path()))).unwrap();
    assert_eq!(signer.describe(), key.display().to_string());

    // No agent at all, or a stale socket: the home key.
    let signer = load(&req(None, None, Some(home.path()))).unwrap();
    assert_eq!(signer.describe(), key.display().to_string());
    let stale = dir.path().join("gone.sock");
    let signer = load(&req(None, Some(&stale), Some(home.path()))).unwrap();
    assert_eq!(signer.describe(), key.display().to_string());

    // The home key is held to the same rules as --key.
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    assert!(matches!(
        load(&req(None, None, Some(home.path()))),
        Err(KeyError::PermissionsTooOpen { .. })
    ));

    let err = load(&req(None, None, None)).err().unwrap();
    assert!(
        err.to_string().contains("SSH_AUTH_SOCK is not set"),
        "{err}"
    );
    assert!(err.to_string().contains("HOME is not set"), "{err}");
}

#[test]
fn pem_format_keys_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let key = keygen(dir.path(), "rsa", "rsa", "");
    let out = run(std::process::Command::new("ssh-keygen")
        .args(["-q", "-p", "-N", "", "-m", "PEM", "-f"])
        .arg(&key));
    assert!(out.status.success(), "{out:?}");
    assert!(std::fs::read_to_string(&key)
        .unwrap()
        .starts_with("-----BEGIN RSA PRIVATE KEY-----"));
    let err = load(&req(Some(&key), None, None)).err().unwrap();
    assert!(matches!(err, KeyError::NotEd25519 { .. }), "{err:?}");

    let p8 = dir.path().join("p8");
    std::fs::write(
        &p8,
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    std::fs::set_permissions(&p8, std::fs::Permissions::from_mode(0o600)).unwrap();
    let err = load(&req(Some(&p8), None, None)).err().unwrap();
    assert!(matches!(err, KeyError::UnsupportedFormat { .. }), "{err:?}");
    assert!(err.to_string().contains("ssh-keygen -p -f"), "{err}");
}
