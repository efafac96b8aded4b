//! Shared fixtures for mon-proto's tests, its verify benchmark and its fuzz targets (included
//! there with `#[path]`): an in-memory user key that signs SSHSIG like `ssh-keygen -Y sign`,
//! slice policies built from text, and signed sessions made by the real client code.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use mon_keys::nodekey::NodeKey;
use mon_keys::sshsig::{SignError, Signer};
use mon_policy::ssh_key::private::Ed25519Keypair;
use mon_policy::ssh_key::{HashAlg, LineEnding, PrivateKey, PublicKey};
use mon_policy::{PolicySources, SlicePolicy};
use mon_proto::agg::Query;
use mon_proto::client::{ClientSession, SessionRequest};
use mon_proto::wire::session::{OverlayKind, OverlaySpec};
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;

/// The slice every fixture uses.
pub const SLICE: &str = "lab";
/// The user's principal in the fixtures' allowed_signers.
pub const PRINCIPAL: &str = "alice@lab";
/// A fixed "now" (2025-01-01T00:00:00Z) in unix ms.
pub const NOW_MS: u64 = 1_735_689_600_000;

/// An Ed25519 user key held in memory (the stand-in for a key file or an agent key).
pub struct SeedSigner {
    key: PrivateKey,
    public: PublicKey,
}

impl SeedSigner {
    /// The key derived from `seed`.
    pub fn new(seed: [u8; 32]) -> SeedSigner {
        let key = PrivateKey::from(Ed25519Keypair::from_seed(&seed));
        let public = key.public_key().clone();
        SeedSigner { key, public }
    }

    /// `ssh-ed25519 AAAA…`, as in an allowed_signers line.
    pub fn openssh(&self) -> String {
        self.public.to_openssh().expect("encode public key")
    }
}

impl Signer for SeedSigner {
    fn public_key(&self) -> &PublicKey {
        &self.public
    }

    fn sign(&self, namespace: &str, msg: &[u8]) -> Result<Vec<u8>, SignError> {
        let sig = self
            .key
            .sign(namespace, HashAlg::Sha512, msg)
            .map_err(|e| SignError::BadNamespace(e.to_string()))?;
        let pem = sig
            .to_pem(LineEnding::LF)
            .map_err(|e| SignError::BadNamespace(e.to_string()))?;
        mon_keys::sshsig::dearmor(&pem).map_err(|e| SignError::BadNamespace(e.to_string()))
    }

    fn describe(&self) -> String {
        "in-memory test key".into()
    }
}

/// allowed_signers text: `others` unrelated keys (each on its own principal), then the user's
/// line granting `namespaces` with `options` (e.g. `valid-before="20200101"`).
pub fn allowed_signers(
    user: &SeedSigner,
    namespaces: &str,
    options: &str,
    others: usize,
) -> String {
    let mut rng = ChaCha20Rng::seed_from_u64(99);
    let mut text = String::from("# generated for tests\n");
    for i in 0..others {
        let k = NodeKey::generate(&mut rng);
        text.push_str(&format!(
            "user{i}@lab namespaces=\"mon-query@mon\" {} user{i}\n",
            k.public_openssh()
        ));
    }
    let opts = if options.is_empty() {
        String::new()
    } else {
        format!(",{options}")
    };
    text.push_str(&format!(
        "{PRINCIPAL} namespaces=\"{namespaces}\"{opts} {} alice\n",
        user.openssh()
    ));
    text
}

/// A slice policy from file contents (paths are only used in messages).
pub fn policy(allowed_signers: &str, mon_policy: Option<&str>) -> SlicePolicy {
    let dir = Path::new("/etc/mon/slices/lab");
    let a = dir.join("allowed_signers");
    let m = dir.join("mon_policy");
    let src = PolicySources {
        allowed_signers: (&a, allowed_signers.as_bytes()),
        mon_policy: mon_policy.map(|t| (m.as_path(), t.as_bytes())),
        revoked_keys: None,
    };
    match SlicePolicy::from_sources(&src) {
        Ok((p, _warnings)) => p,
        Err(e) => panic!("test policy does not load: {e}"),
    }
}

/// A session request as the `mon` client makes it.
pub fn request(ops: Vec<Query>) -> SessionRequest {
    SessionRequest {
        slice: SLICE.into(),
        principal: None,
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
        timeout_ms: 5_000,
        max_lifetime_s: 60,
        join_window_ms: 10_000,
    }
}

/// A session signed by `user` at `now_ms`, its random parts drawn from `seed`.
pub fn session(user: &SeedSigner, ops: Vec<Query>, now_ms: u64, seed: u64) -> ClientSession {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    ClientSession::new(&mut rng, user, request(ops), now_ms).expect("sign session")
}

/// Node `n1` at 127.0.0.2:7460 alone in its known_nodes, serving [`SLICE`] with `policy`;
/// returns it with its known_nodes and address (what a client checks its SessionOk against).
pub fn lone_node(
    policy: SlicePolicy,
) -> (
    mon_proto::node::Node,
    std::sync::Arc<mon_keys::known_nodes::KnownNodes>,
    std::net::SocketAddr,
) {
    lone_node_with(policy, |_| {})
}

/// [`lone_node`] with its configuration changed by `tweak` first.
pub fn lone_node_with(
    policy: SlicePolicy,
    tweak: impl FnOnce(&mut mon_proto::node::NodeConfig),
) -> (
    mon_proto::node::Node,
    std::sync::Arc<mon_keys::known_nodes::KnownNodes>,
    std::net::SocketAddr,
) {
    use std::net::{IpAddr, Ipv4Addr, SocketAddr};
    use std::sync::Arc;
    let key = NodeKey::generate(&mut ChaCha20Rng::seed_from_u64(1));
    let addr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)), 7460);
    let known = format!("n1,127.0.0.2 {}\n", key.public_openssh());
    let known = Arc::new(
        mon_keys::known_nodes::KnownNodes::parse(&known, Path::new("known_nodes")).unwrap(),
    );
    let mut cfg = mon_proto::node::NodeConfig::server("n1", addr);
    tweak(&mut cfg);
    let mut node = mon_proto::node::Node::new(
        cfg,
        key,
        known.clone(),
        mon_proto::replay::ReplayCache::new(mon_proto::replay::ReplayConfig::default()),
        1,
        [5; 32],
    );
    node.set_policies(std::collections::HashMap::from([(
        SLICE.to_string(),
        Arc::new(policy),
    )]));
    (node, known, addr)
}

/// A signed gossip Ping from `from` (its name, claimed address and key) carrying `entries`,
/// as a node sends it on the wire (sender node id 4242, nonce 1).
pub fn signed_ping(
    from: mon_proto::membership::MemberId,
    key: &NodeKey,
    entries: Vec<mon_proto::membership::Entry>,
    ts_ms: u64,
) -> Vec<u8> {
    use mon_proto::membership::{GossipMsg, Ping};
    use mon_proto::wire::packet::{GossipBody, Packet, GOSSIP_DOMAIN, PACKET_VERSION};
    let body = GossipBody {
        v: PACKET_VERSION,
        from,
        node_id: 4242,
        ts_ms,
        msg: GossipMsg::Ping(Ping {
            nonce: 1,
            sender_node_id: 4242,
            entries,
            aux: Vec::new(),
        }),
    };
    let signed = mon_proto::wire::encode(&body);
    let mut m = GOSSIP_DOMAIN.to_vec();
    m.extend_from_slice(&signed);
    Packet::Gossip {
        signed,
        sig: key.sign(&m).into(),
    }
    .to_bytes()
}
