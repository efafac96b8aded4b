//! known_nodes parsing, errors and lookups.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::IpAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use mon_keys::known_nodes::{KnownNodes, KnownNodesError, Trust, MAX_FILE_LEN};
use mon_keys::nodekey::NodeKey;
use proptest::prelude::*;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;

fn keys(n: usize) -> Vec<NodeKey> {
    let mut rng = ChaCha20Rng::seed_from_u64(42);
    (0..n).map(|_| NodeKey::generate(&mut rng)).collect()
}

fn ip(s: &str) -> Option<IpAddr> {
    Some(s.parse().unwrap())
}

fn parse(text: &str) -> Result<KnownNodes, KnownNodesError> {
    KnownNodes::parse(text, Path::new("/etc/mon/known_nodes"))
}

/// The `file:line:col: message` text of a parse error.
fn error(text: &str) -> String {
    let err = parse(text).unwrap_err();
    assert!(matches!(err, KnownNodesError::Parse { .. }), "{err:?}");
    err.to_string()
}

#[test]
fn lookups_by_name_ip_pattern_and_revocation() {
    let k = keys(6);
    let text = format!(
        "# deployment nodes\n\
         \n\
         node1,192.0.2.11 {} node one\n\
         Node2 {}\n\
         rack3-*,!rack3-bad {}\n\
         \t  # indented comment\n\
         10.1.0.* {}\r\n\
         @revoked old-node {}\n\
         2001:db8::7 {}\n",
        k[0].public_openssh(),
        k[1].public_openssh(),
        k[2].public_openssh(),
        k[3].public_openssh(),
        k[4].public_openssh(),
        k[5].public_openssh(),
    );
    let kn = parse(&text).unwrap();
    assert_eq!(kn.len(), 6);
    assert_eq!(kn.entries().count(), 5);
    assert_eq!(kn.revoked_entries().count(), 1);

    let first = kn.entries().next().unwrap();
    assert_eq!(first.names().collect::<Vec<_>>(), ["node1"]);
    assert_eq!(first.ips().collect::<Vec<_>>(), [ip("192.0.2.11").unwrap()]);
    assert_eq!(first.comment(), "node one");
    assert_eq!(first.line(), 3);
    assert_eq!(first.key(), &k[0].public());
    assert_eq!(first.key_openssh(), k[0].public_openssh());

    assert_eq!(kn.check("node1", None, &k[0].public()), Trust::Trusted);
    assert_eq!(
        kn.check("NODE1", None, &k[0].public()),
        Trust::Trusted,
        "case-insensitive"
    );
    assert_eq!(kn.check("node2", None, &k[1].public()), Trust::Trusted);
    assert_eq!(kn.check("node1", None, &k[1].public()), Trust::Mismatch);
    assert_eq!(kn.check("node9", None, &k[0].public()), Trust::Unknown);
    // By IP when the name is not listed, including IPv4-mapped IPv6.
    assert_eq!(
        kn.check("other", ip("192.0.2.11"), &k[0].public()),
        Trust::Trusted
    );
    assert_eq!(
        kn.check("other", ip("::ffff:192.0.2.11"), &k[0].public()),
        Trust::Trusted
    );
    assert_eq!(
        kn.check("other", ip("192.0.2.11"), &k[1].public()),
        Trust::Mismatch
    );
    // The name decides when it is listed, whatever the IP says.
    assert_eq!(
        kn.check("node2", ip("192.0.2.11"), &k[0].public()),
        Trust::Mismatch
    );
    // Wildcards and negation.
    assert_eq!(kn.check("rack3-17", None, &k[2].public()), Trust::Trusted);
    assert_eq!(kn.check("rack3-bad", None, &k[2].public()), Trust::Unknown);
    assert_eq!(
        kn.check("anything", ip("10.1.0.200"), &k[3].public()),
        Trust::Trusted
    );
    assert_eq!(
        kn.check("anything", ip("10.2.0.200"), &k[3].public()),
        Trust::Unknown
    );
    assert_eq!(
        kn.check("v6", ip("2001:db8:0::7"), &k[5].public()),
        Trust::Trusted
    );
    // Revoked keys are refused under any name.
    assert_eq!(kn.check("old-node", None, &k[4].public()), Trust::Revoked);
    assert_eq!(kn.check("node1", None, &k[4].public()), Trust::Revoked);
}

#[test]
fn a_revoked_key_also_listed_as_trusted_is_revoked_and_not_an_entry() {
    let k = keys(1);
    let text = format!("n1 {0}\n@revoked n1 {0}\n", k[0].public_openssh());
    let kn = parse(&text).unwrap();
    assert_eq!(kn.check("n1", None, &k[0].public()), Trust::Revoked);
    assert_eq!(kn.entries().count(), 0);
}

#[test]
fn parse_errors_name_file_line_and_column() {
    let k = keys(1);
    let key = k[0].public_openssh();
    let b64 = key.strip_prefix("ssh-ed25519 ").unwrap();
    let cases: Vec<(String, &str)> = vec![
        (
            format!("# c\nnode1,[node1]:x {key}\n"),
            "/etc/mon/known_nodes:2:7: \"x\" is not a port number",
        ),
        (
            format!("node1:22 {key}\n"),
            "/etc/mon/known_nodes:1:1: \"node1:22\" is neither an IP address nor a name",
        ),
        (
            format!("|1|abc|def {key}\n"),
            "/etc/mon/known_nodes:1:1: hashed host names",
        ),
        (
            format!("n1,,n2 {key}\n"),
            "/etc/mon/known_nodes:1:4: empty host pattern",
        ),
        (
            format!("n1,n/2 {key}\n"),
            "/etc/mon/known_nodes:1:5: invalid character '/'",
        ),
        (
            format!("n1,!n/2 {key}\n"),
            "/etc/mon/known_nodes:1:6: invalid character '/'",
        ),
        (
            format!("!n1 {key}\n"),
            "/etc/mon/known_nodes:1:1: the host field has only negated patterns",
        ),
        (
            format!("{key}\n"),
            "/etc/mon/known_nodes:1:1: the line starts with the key type",
        ),
        (
            "n1 ssh-rsa AAAAB3NzaC1yc2E\n".into(),
            "/etc/mon/known_nodes:1:4: MON node keys are Ed25519, found ssh-rsa",
        ),
        (
            "n1 ssh-ed448 AAAA\n".into(),
            "/etc/mon/known_nodes:1:4: expected key type `ssh-ed25519`",
        ),
        ("n1\n".into(), "/etc/mon/known_nodes:1:3: missing key type"),
        (
            "n1  ssh-ed25519\n".into(),
            "/etc/mon/known_nodes:1:16: missing base64 key",
        ),
        (
            "n1 ssh-ed25519 AAAA!!\n".into(),
            "/etc/mon/known_nodes:1:16: key is not valid base64",
        ),
        (
            format!("n1 ssh-ed25519 {}\n", &b64[..b64.len() - 4]),
            "/etc/mon/known_nodes:1:16: key blob has 48 bytes",
        ),
        (
            format!("n1 ssh-ed25519 {}\n", &b64[..b64.len() - 1]),
            "/etc/mon/known_nodes:1:16: key is not valid base64",
        ),
        (
            // An ssh-rsa blob under an ssh-ed25519 label.
            "n1 ssh-ed25519 AAAAB3NzaC1yc2EAAAADAQABAAAAgQC7\n".into(),
            "/etc/mon/known_nodes:1:16: key blob is not an ssh-ed25519 key",
        ),
        (
            format!("@cert-authority * {key}\n"),
            "/etc/mon/known_nodes:1:1: @cert-authority is not supported yet",
        ),
        (
            format!("@trusted n1 {key}\n"),
            "/etc/mon/known_nodes:1:1: unknown marker \"@trusted\"",
        ),
        (
            "@revoked\n".into(),
            "/etc/mon/known_nodes:1:9: missing host names",
        ),
        (
            format!("n1 {key}\nnœud,n\u{e9}2 {key}\n"),
            "/etc/mon/known_nodes:2:2: invalid character 'œ'",
        ),
    ];
    for (text, want) in cases {
        let got = error(&text);
        assert!(
            got.starts_with(want),
            "for {text:?}\n got: {got}\nwant: {want}"
        );
    }
}

#[test]
fn weak_keys_are_rejected_in_the_file() {
    // ssh-ed25519 blob whose key is the identity point (small order).
    let mut blob = vec![0, 0, 0, 11];
    blob.extend_from_slice(b"ssh-ed25519");
    blob.extend_from_slice(&[0, 0, 0, 32]);
    let mut point = [0u8; 32];
    point[0] = 1;
    blob.extend_from_slice(&point);
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(&blob);
    let got = error(&format!("n1 ssh-ed25519 {b64}\n"));
    assert!(got.contains(":1:16:") && got.contains("weak"), "{got}");
}

#[test]
fn load_checks_permissions_size_and_utf8() {
    let dir = tempfile::tempdir().unwrap();
    let k = keys(1);
    let path = dir.path().join("known_nodes");
    std::fs::write(&path, format!("n1 {}\n", k[0].public_openssh())).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let kn = KnownNodes::load(&path).unwrap();
    assert_eq!(kn.check("n1", None, &k[0].public()), Trust::Trusted);
    assert_eq!(kn.source(), path);

    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o664)).unwrap();
    let err = KnownNodes::load(&path).unwrap_err();
    assert!(
        matches!(err, KnownNodesError::Writable { mode: 0o664, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("chmod go-w"));

    // Mode 0644 but owned by another user (only root can hand it over): refused.
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    if std::os::unix::fs::MetadataExt::uid(&std::fs::metadata(&path).unwrap()) == 0 {
        std::os::unix::fs::chown(&path, Some(65534), None).unwrap();
        let err = KnownNodes::load(&path).unwrap_err();
        assert!(matches!(err, KnownNodesError::Owner(_)), "{err:?}");
        assert!(err.to_string().contains("owned by uid 65534"), "{err}");
        std::os::unix::fs::chown(&path, Some(0), None).unwrap();
    }

    let bad = dir.path().join("bad_utf8");
    std::fs::write(&bad, b"# ok\nn1 \xff\n").unwrap();
    std::fs::set_permissions(&bad, std::fs::Permissions::from_mode(0o600)).unwrap();
    let msg = KnownNodes::load(&bad).unwrap_err().to_string();
    assert!(msg.ends_with("bad_utf8:2:4: invalid UTF-8"), "{msg}");

    let big = dir.path().join("big");
    std::fs::write(&big, vec![b'#'; MAX_FILE_LEN + 1]).unwrap();
    std::fs::set_permissions(&big, std::fs::Permissions::from_mode(0o600)).unwrap();
    assert!(matches!(
        KnownNodes::load(&big).unwrap_err(),
        KnownNodesError::TooLarge { .. }
    ));

    let missing = KnownNodes::load(&dir.path().join("missing")).unwrap_err();
    assert!(matches!(missing, KnownNodesError::Io { .. }));
    assert!(missing.to_string().contains("missing"));
}

#[test]
fn a_key_made_by_ssh_keygen_can_be_pinned() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("node_ed25519_key");
    let st = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "node7 comment", "-f"])
        .arg(&path)
        .status()
        .unwrap();
    assert!(st.success());
    let pubkey = std::fs::read_to_string(dir.path().join("node_ed25519_key.pub")).unwrap();
    let kn = parse(&format!("node7,192.0.2.7 {pubkey}")).unwrap();
    let node = NodeKey::load(&path).unwrap();
    assert_eq!(kn.check("node7", None, &node.public()), Trust::Trusted);
    assert_eq!(kn.entries().next().unwrap().comment(), "node7 comment");
}

fn sample_file() -> String {
    let k = keys(3);
    format!(
        "# nodes\nn1,192.0.2.1 {}\nrack-* {} c\n@revoked old {}\n",
        k[0].public_openssh(),
        k[1].public_openssh(),
        k[2].public_openssh()
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn parse_never_panics_on_random_text(text in "\\PC{0,400}") {
        let _ = parse(&text);
    }

    #[test]
    fn parse_never_panics_on_random_lines(
        lines in proptest::collection::vec("[@!|\\[\\]:,*?a-z0-9 .#\t/+=A-Z-]{0,120}", 0..8)
    ) {
        let _ = parse(&lines.join("\n"));
    }

    #[test]
    fn parse_never_panics_on_mutated_files(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<char>()), 1..6)
    ) {
        let mut chars: Vec<char> = sample_file().chars().collect();
        for (idx, c) in edits {
            let i = idx.index(chars.len());
            chars[i] = c;
        }
        let text: String = chars.into_iter().collect();
        if let Ok(kn) = parse(&text) {
            let k = keys(1);
            let _ = kn.check("n1", "192.0.2.1".parse().ok(), &k[0].public());
        }
    }
}
