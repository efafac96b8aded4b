//! Hop handshake and node keys: round trip, the checks each side makes, key files.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use mon_keys::hop::{
    parent_signature, respond, verify_parent_signature, ChildHello, HopError, Initiator, LinkKeys,
    Role, CHILD_HELLO_LEN, CLIENT_NAME,
};
use mon_keys::known_nodes::{KnownNodes, Trust};
use mon_keys::nodekey::{verify_node_sig, NodeKey, NodeKeyError, NodeSigError};
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;

const SESSION: [u8; 32] = [0x5a; 32];

struct Setup {
    rng: ChaCha20Rng,
    parent_key: NodeKey,
    child_key: NodeKey,
}

fn setup(seed: u64) -> Setup {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let parent_key = NodeKey::generate(&mut rng);
    let child_key = NodeKey::generate(&mut rng);
    Setup {
        rng,
        parent_key,
        child_key,
    }
}

/// A full handshake between "p1" and "c1"; returns (parent keys, child keys).
fn handshake(s: &mut Setup) -> (LinkKeys, LinkKeys) {
    let init = Initiator::new(&mut s.rng);
    let e_p = init.public();
    let psig = parent_signature(&s.parent_key, &SESSION, &e_p, "c1").unwrap();
    verify_parent_signature(&s.parent_key.public(), &SESSION, &e_p, "c1", &psig).unwrap();
    let (hello, child) = respond(&mut s.rng, &s.child_key, &SESSION, &e_p, "p1", "c1").unwrap();
    let parent = init
        .finish(&SESSION, "p1", "c1", &s.child_key.public(), &hello)
        .unwrap();
    (parent, child)
}

#[test]
fn round_trip_then_frames_both_ways_on_several_channels() {
    let mut s = setup(1);
    let (mut parent, mut child) = handshake(&mut s);
    assert_eq!(parent.role(), Role::Parent);
    assert_eq!(child.role(), Role::Child);
    assert_eq!(parent.transcript_hash(), child.transcript_hash());
    for ch in [0u64, 1, 2, 77, u64::MAX] {
        let (mut p_seal, mut p_open) = parent.channel(ch).unwrap();
        let (mut c_seal, mut c_open) = child.channel(ch).unwrap();
        for i in 0..3u8 {
            let down = format!("command {i} on {ch}");
            let frame = p_seal.seal(down.as_bytes()).unwrap();
            assert_ne!(
                &frame[8..8 + down.len()],
                down.as_bytes(),
                "plaintext visible on the wire"
            );
            assert_eq!(c_open.open(&frame).unwrap(), down.as_bytes());
            let up = vec![i; 1000];
            assert_eq!(p_open.open(&c_seal.seal(&up).unwrap()).unwrap(), up);
        }
    }
}

#[test]
fn first_hop_from_client_without_parent_signature() {
    let mut s = setup(2);
    let init = Initiator::new(&mut s.rng);
    let e_p = init.public();
    let (hello, mut child) = respond(
        &mut s.rng,
        &s.child_key,
        &SESSION,
        &e_p,
        CLIENT_NAME,
        "entry",
    )
    .unwrap();
    let mut client = init
        .finish(
            &SESSION,
            CLIENT_NAME,
            "entry",
            &s.child_key.public(),
            &hello,
        )
        .unwrap();
    let (mut seal, _) = client.channel(0).unwrap();
    let (_, mut open) = child.channel(0).unwrap();
    assert_eq!(open.open(&seal.seal(b"hi").unwrap()).unwrap(), b"hi");
}

#[test]
fn parent_signature_binds_key_session_ephemeral_and_child_name() {
    let mut s = setup(3);
    let e_p = Initiator::new(&mut s.rng).public();
    let sig = parent_signature(&s.parent_key, &SESSION, &e_p, "c1").unwrap();
    let pk = s.parent_key.public();
    verify_parent_signature(&pk, &SESSION, &e_p, "c1", &sig).unwrap();
    let bad = HopError::ParentSignature(NodeSigError::BadSignature);
    assert_eq!(
        verify_parent_signature(&pk, &SESSION, &e_p, "c2", &sig),
        Err(bad.clone())
    );
    assert_eq!(
        verify_parent_signature(&pk, &[0; 32], &e_p, "c1", &sig),
        Err(bad.clone())
    );
    assert_eq!(
        verify_parent_signature(&pk, &SESSION, &[9; 32], "c1", &sig),
        Err(bad.clone())
    );
    assert_eq!(
        verify_parent_signature(&s.child_key.public(), &SESSION, &e_p, "c1", &sig),
        Err(bad.clone())
    );
    let mut flipped = sig;
    flipped[10] ^= 1;
    assert_eq!(
        verify_parent_signature(&pk, &SESSION, &e_p, "c1", &flipped),
        Err(bad)
    );
    // Domain separation: the same bytes signed as a child transcript do not pass.
    assert!(verify_node_sig(&pk, b"anything", &sig).is_err());
}

#[test]
fn child_not_pinned_or_revoked_is_not_trusted_and_wrong_key_fails_finish() {
    let mut s = setup(4);
    let stranger = NodeKey::generate(&mut s.rng);
    let text = format!(
        "p1 {}\nc1,192.0.2.1 {}\n@revoked * {}\n",
        s.parent_key.public_openssh(),
        s.child_key.public_openssh(),
        stranger.public_openssh()
    );
    let known = KnownNodes::parse(&text, Path::new("known_nodes")).unwrap();
    assert_eq!(
        known.check("c1", None, &s.child_key.public()),
        Trust::Trusted
    );
    let ip = "192.0.2.1".parse().ok();
    assert_eq!(
        known.check("renamed", ip, &s.child_key.public()),
        Trust::Trusted
    );
    let other = NodeKey::generate(&mut s.rng);
    assert_eq!(known.check("c9", None, &other.public()), Trust::Unknown);
    assert_eq!(known.check("c1", None, &other.public()), Trust::Mismatch);
    assert_eq!(known.check("c1", None, &stranger.public()), Trust::Revoked);

    // A child answering with an unpinned key: finish against the pinned key fails.
    let init = Initiator::new(&mut s.rng);
    let e_p = init.public();
    let (hello, _) = respond(&mut s.rng, &other, &SESSION, &e_p, "p1", "c1").unwrap();
    assert_eq!(
        init.finish(&SESSION, "p1", "c1", &s.child_key.public(), &hello)
            .unwrap_err(),
        HopError::ChildSignature(NodeSigError::BadSignature)
    );
}

#[test]
fn wrong_child_signature_or_confirmation_fails_finish() {
    let mut s = setup(5);
    let ck = s.child_key.public();
    let run = |s: &mut Setup, edit: &dyn Fn(&mut ChildHello), p_name: &str, session: &[u8; 32]| {
        let init = Initiator::new(&mut s.rng);
        let e_p = init.public();
        let (mut hello, _) = respond(&mut s.rng, &s.child_key, &SESSION, &e_p, "p1", "c1").unwrap();
        edit(&mut hello);
        init.finish(session, p_name, "c1", &ck, &hello).map(|_| ())
    };
    assert_eq!(run(&mut s, &|_| {}, "p1", &SESSION), Ok(()));
    for i in [0usize, 31, 63] {
        assert_eq!(
            run(&mut s, &|h| h.sig[i] ^= 0x01, "p1", &SESSION),
            Err(HopError::ChildSignature(NodeSigError::BadSignature)),
            "sig byte {i}"
        );
    }
    for i in 0..16 {
        assert_eq!(
            run(&mut s, &|h| h.confirm[i] ^= 0x80, "p1", &SESSION),
            Err(HopError::BadConfirmation)
        );
    }
    // A replaced e_c changes dh and th: confirmation fails.
    assert_eq!(
        run(&mut s, &|h| h.e_c[5] ^= 0x01, "p1", &SESSION),
        Err(HopError::BadConfirmation)
    );
    // Transcript binds names and session.
    assert_eq!(
        run(&mut s, &|_| {}, "p2", &SESSION),
        Err(HopError::BadConfirmation)
    );
    assert_eq!(
        run(&mut s, &|_| {}, "p1", &[1; 32]),
        Err(HopError::BadConfirmation)
    );
}

#[test]
fn weak_or_invalid_child_key_rejected() {
    let mut s = setup(6);
    let init = Initiator::new(&mut s.rng);
    let e_p = init.public();
    let (hello, _) = respond(&mut s.rng, &s.child_key, &SESSION, &e_p, "p1", "c1").unwrap();
    let mut identity = [0u8; 32];
    identity[0] = 1; // the Ed25519 identity point: small order
    assert_eq!(
        init.finish(&SESSION, "p1", "c1", &identity, &hello)
            .unwrap_err(),
        HopError::ChildSignature(NodeSigError::WeakKey)
    );
}

/// X25519 points of small order (and their non-canonical aliases): all yield a zero secret.
fn low_order_points() -> Vec<[u8; 32]> {
    let hex = [
        "0000000000000000000000000000000000000000000000000000000000000000",
        "0100000000000000000000000000000000000000000000000000000000000000",
        "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
        "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    ];
    hex.iter()
        .map(|h| {
            let mut out = [0u8; 32];
            for (i, b) in out.iter_mut().enumerate() {
                *b = u8::from_str_radix(&h[2 * i..2 * i + 2], 16).unwrap();
            }
            out
        })
        .collect()
}

#[test]
fn non_contributory_points_rejected_on_both_sides() {
    let mut s = setup(7);
    for point in low_order_points() {
        assert_eq!(
            respond(&mut s.rng, &s.child_key, &SESSION, &point, "p1", "c1").unwrap_err(),
            HopError::NonContributory,
            "e_p {point:02x?}"
        );
        let init = Initiator::new(&mut s.rng);
        let e_p = init.public();
        let (mut hello, _) = respond(&mut s.rng, &s.child_key, &SESSION, &e_p, "p1", "c1").unwrap();
        hello.e_c = point;
        assert_eq!(
            init.finish(&SESSION, "p1", "c1", &s.child_key.public(), &hello)
                .unwrap_err(),
            HopError::NonContributory
        );
    }
}

#[test]
fn names_are_checked() {
    let mut s = setup(8);
    let e_p = Initiator::new(&mut s.rng).public();
    let long = "n".repeat(256);
    assert_eq!(
        respond(&mut s.rng, &s.child_key, &SESSION, &e_p, "", "c1").unwrap_err(),
        HopError::InvalidName { len: 0 }
    );
    assert_eq!(
        respond(&mut s.rng, &s.child_key, &SESSION, &e_p, "p1", &long).unwrap_err(),
        HopError::InvalidName { len: 256 }
    );
    assert_eq!(
        parent_signature(&s.parent_key, &SESSION, &e_p, &long).unwrap_err(),
        HopError::InvalidName { len: 256 }
    );
    assert!(respond(
        &mut s.rng,
        &s.child_key,
        &SESSION,
        &e_p,
        "p1",
        &"n".repeat(255)
    )
    .is_ok());
}

#[test]
fn child_hello_encoding_is_strict() {
    let mut s = setup(9);
    let init = Initiator::new(&mut s.rng);
    let e_p = init.public();
    let (hello, _) = respond(&mut s.rng, &s.child_key, &SESSION, &e_p, "p1", "c1").unwrap();
    let bytes = hello.to_bytes();
    assert_eq!(bytes.len(), CHILD_HELLO_LEN);
    assert_eq!(ChildHello::from_bytes(&bytes).unwrap(), hello);
    assert_eq!(
        ChildHello::from_bytes(&bytes[..111]).unwrap_err(),
        HopError::HelloLength { len: 111 }
    );
    let mut longer = bytes.to_vec();
    longer.push(0);
    assert_eq!(
        ChildHello::from_bytes(&longer).unwrap_err(),
        HopError::HelloLength { len: 113 }
    );
    init.finish(
        &SESSION,
        "p1",
        "c1",
        &s.child_key.public(),
        &ChildHello::from_bytes(&bytes).unwrap(),
    )
    .unwrap();
}

#[test]
fn a_channel_is_handed_out_once() {
    let mut s = setup(10);
    let (mut parent, _) = handshake(&mut s);
    parent.channel(3).unwrap();
    assert_eq!(
        parent.channel(3).unwrap_err(),
        HopError::ChannelInUse { channel: 3 }
    );
    parent.channel(4).unwrap();
}

#[test]
fn secrets_wipe_on_drop() {
    fn zeroize_on_drop<T: zeroize::ZeroizeOnDrop>() {}
    zeroize_on_drop::<NodeKey>();
    zeroize_on_drop::<LinkKeys>();
    zeroize_on_drop::<Initiator>();
    zeroize_on_drop::<mon_keys::frame::Sealer>();
    zeroize_on_drop::<mon_keys::frame::Opener>();
}

// ---- node key files -------------------------------------------------------------------

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn node_key_save_load_round_trip_and_ssh_keygen_reads_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("node_ed25519_key");
    let key = NodeKey::generate(&mut ChaCha20Rng::seed_from_u64(11));
    key.save(&path, "mon-node n1").unwrap();
    assert_eq!(mode(&path), 0o600);
    let loaded = NodeKey::load(&path).unwrap();
    assert_eq!(loaded.public(), key.public());
    let sig = loaded.sign(b"msg");
    verify_node_sig(&key.public(), b"msg", &sig).unwrap();
    assert!(key
        .public_openssh()
        .starts_with("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI"));

    let out = Command::new("ssh-keygen")
        .arg("-y")
        .arg("-f")
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = String::from_utf8(out.stdout).unwrap();
    assert!(printed.starts_with(&key.public_openssh()), "{printed}");

    match key.save(&path, "again") {
        Err(NodeKeyError::Exists { path: p }) => assert_eq!(p, path),
        other => panic!("expected Exists, got {other:?}"),
    }
    assert_eq!(
        NodeKey::load(&path).unwrap().public(),
        key.public(),
        "file untouched"
    );
}

#[test]
fn node_key_from_ssh_keygen_loads() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k");
    let st = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "x", "-f"])
        .arg(&path)
        .status()
        .unwrap();
    assert!(st.success());
    let key = NodeKey::load(&path).unwrap();
    let pubtext = std::fs::read_to_string(dir.path().join("k.pub")).unwrap();
    assert!(pubtext.starts_with(&key.public_openssh()));
}

#[test]
fn node_key_refusals_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("node_ed25519_key");
    NodeKey::generate(&mut ChaCha20Rng::seed_from_u64(12))
        .save(&path, "")
        .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
    let err = NodeKey::load(&path).unwrap_err();
    assert!(
        matches!(err, NodeKeyError::TooOpen { mode: 0o640, .. }),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains(&path.display().to_string()) && msg.contains("chmod 600"),
        "{msg}"
    );

    let missing = dir.path().join("nope");
    let err = NodeKey::load(&missing).unwrap_err();
    assert!(matches!(err, NodeKeyError::Io { .. }));
    assert!(err.to_string().contains("nope"));

    let garbage = dir.path().join("garbage");
    std::fs::write(&garbage, "not a key\n").unwrap();
    std::fs::set_permissions(&garbage, std::fs::Permissions::from_mode(0o600)).unwrap();
    assert!(matches!(
        NodeKey::load(&garbage).unwrap_err(),
        NodeKeyError::Parse { .. }
    ));

    let enc = dir.path().join("enc");
    let st = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "secret-pass", "-f"])
        .arg(&enc)
        .status()
        .unwrap();
    assert!(st.success());
    assert!(matches!(
        NodeKey::load(&enc).unwrap_err(),
        NodeKeyError::Encrypted { .. }
    ));

    let ecdsa = dir.path().join("ecdsa");
    let st = Command::new("ssh-keygen")
        .args(["-q", "-t", "ecdsa", "-N", "", "-f"])
        .arg(&ecdsa)
        .status()
        .unwrap();
    assert!(st.success());
    let err = NodeKey::load(&ecdsa).unwrap_err();
    assert!(matches!(err, NodeKeyError::WrongType { .. }), "{err:?}");
    assert!(err.to_string().contains("Ed25519"));
}

/// A forged or corrupted child answer fails and leaves the initiator usable: the real answer
/// that arrives after it still completes the handshake (issue 10, part 7).
#[test]
fn a_forged_answer_does_not_use_up_the_initiator() {
    let mut s = setup(9);
    let init = Initiator::new(&mut s.rng);
    let e_p = init.public();
    let (hello, mut child) = respond(&mut s.rng, &s.child_key, &SESSION, &e_p, "p1", "c1").unwrap();
    let mut forged = hello.clone();
    forged.sig[0] ^= 1;
    let mut bad_confirm = hello.clone();
    bad_confirm.confirm[0] ^= 1;
    let (other, _) = respond(&mut s.rng, &s.parent_key, &SESSION, &e_p, "p1", "c1").unwrap();
    for bad in [forged, bad_confirm, other] {
        assert!(init
            .finish(&SESSION, "p1", "c1", &s.child_key.public(), &bad)
            .is_err());
    }
    let mut parent = init
        .finish(&SESSION, "p1", "c1", &s.child_key.public(), &hello)
        .unwrap();
    let (mut p_seal, _) = parent.channel(0).unwrap();
    let (_, mut c_open) = child.channel(0).unwrap();
    assert_eq!(c_open.open(&p_seal.seal(b"go").unwrap()).unwrap(), b"go");
}
