//! SSHSIG interoperability with the real `ssh-keygen -Y sign/verify`, in both directions.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use mon_keys::sshsig::{self, SigError, NS_EXEC, NS_QUERY};
use mon_keys::userkey::{load_signer, KeyRequest};

fn file_request(key: &std::path::Path) -> KeyRequest {
    KeyRequest {
        key: Some(key.to_owned()),
        agent_sock: None,
        home: None,
    }
}

#[test]
fn mon_signature_verifies_with_ssh_keygen() {
    let dir = tempfile::tempdir().unwrap();
    let key = keygen(dir.path(), "id", "ed25519", "");
    let allowed = allowed_signers(dir.path(), "alice@lab", &key);
    let msg = dir.path().join("session.cbor");
    let body = b"\xa2av\x01bnsmmon-query@mon binary \x00\xff body";
    std::fs::write(&msg, body).unwrap();

    let signer = load_signer(&file_request(&key), &mut no_passphrase).unwrap();
    let blob = signer.sign(NS_QUERY, body).unwrap();
    assert!(blob.len() <= sshsig::MAX_SSHSIG_LEN);
    let sig = dir.path().join("session.sig");
    std::fs::write(&sig, sshsig::armor(&blob)).unwrap();

    assert!(ssh_keygen_verifies(
        &allowed,
        "alice@lab",
        NS_QUERY,
        &sig,
        &msg
    ));
    assert!(!ssh_keygen_verifies(
        &allowed,
        "alice@lab",
        NS_EXEC,
        &sig,
        &msg
    ));
    assert!(!ssh_keygen_verifies(
        &allowed, "bob@lab", NS_QUERY, &sig, &msg
    ));
    std::fs::write(&msg, b"another body").unwrap();
    assert!(!ssh_keygen_verifies(
        &allowed,
        "alice@lab",
        NS_QUERY,
        &sig,
        &msg
    ));

    // And MON itself agrees.
    let info = sshsig::verify(&blob, NS_QUERY, body).unwrap();
    assert_eq!(info.fingerprint, ssh_keygen_fingerprint(&key));
    assert_eq!(info.fingerprint, sshsig::fingerprint(signer.public_key()));
}

#[test]
fn ssh_keygen_signature_verifies_with_mon() {
    let dir = tempfile::tempdir().unwrap();
    let key = keygen(dir.path(), "id", "ed25519", "");
    let msg = dir.path().join("msg");
    let body = b"a session body signed by ssh-keygen\n";
    std::fs::write(&msg, body).unwrap();
    let text = ssh_keygen_sign(&key, NS_QUERY, &msg, &[]);

    let blob = sshsig::dearmor(&text).unwrap();
    // MON writes the armor byte for byte as ssh-keygen does.
    assert_eq!(sshsig::armor(&blob), text);

    let info = sshsig::verify(&blob, NS_QUERY, body).unwrap();
    assert_eq!(info.namespace, NS_QUERY);
    assert_eq!(info.fingerprint, ssh_keygen_fingerprint(&key));
    assert_eq!(sshsig::inspect(&blob).unwrap(), info);

    assert!(matches!(
        sshsig::verify(&blob, NS_QUERY, b"a session body signed by ssh-keygen!"),
        Err(SigError::Crypto { .. })
    ));
    assert!(matches!(
        sshsig::verify(&blob, NS_EXEC, body),
        Err(SigError::WrongNamespace { .. })
    ));
}

#[test]
fn sha256_and_rsa_signatures_from_ssh_keygen_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let msg = dir.path().join("msg");
    std::fs::write(&msg, b"m").unwrap();

    let ed = keygen(dir.path(), "ed", "ed25519", "");
    let text = ssh_keygen_sign(&ed, NS_QUERY, &msg, &["-O", "hashalg=sha256"]);
    let blob = sshsig::dearmor(&text).unwrap();
    let err = sshsig::inspect(&blob).unwrap_err();
    assert_eq!(err, SigError::UnsupportedHash("sha256".into()));
    assert!(err.to_string().contains("sha512"), "{err}");
    assert!(sshsig::verify(&blob, NS_QUERY, b"m").is_err());

    let rsa = keygen(dir.path(), "rsa", "rsa", "");
    let text = ssh_keygen_sign(&rsa, NS_QUERY, &msg, &[]);
    let blob = sshsig::dearmor(&text).unwrap();
    assert_eq!(
        sshsig::inspect(&blob).unwrap_err(),
        SigError::UnsupportedKeyType("ssh-rsa".into())
    );
}

#[test]
fn signatures_from_ssh_key_crate_verify() {
    // A third, independent implementation (the ssh-key crate) produces signatures MON accepts.
    let sk =
        ssh_key::PrivateKey::random(&mut rand_core::OsRng, ssh_key::Algorithm::Ed25519).unwrap();
    let sig = sk
        .sign(NS_QUERY, ssh_key::HashAlg::Sha512, b"body")
        .unwrap();
    let pem = sig.to_pem(ssh_key::LineEnding::LF).unwrap();
    let blob = sshsig::dearmor(&pem).unwrap();
    let info = sshsig::verify(&blob, NS_QUERY, b"body").unwrap();
    assert_eq!(info.public_key.key_data(), sk.public_key().key_data());
}
