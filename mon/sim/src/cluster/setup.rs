//! Key material and configuration of a simulated deployment, all made in memory: node keys,
//! the `known_nodes` text, the user's key and signer, and the slice policy (the same files
//! `mon testbed` writes to disk).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;

use mon_keys::known_nodes::KnownNodes;
use mon_keys::nodekey::NodeKey;
use mon_keys::sshsig::Signer;
use mon_policy::ssh_key::private::Ed25519Keypair;
use mon_policy::ssh_key::{LineEnding, PrivateKey};
use mon_policy::{PolicySources, SlicePolicy};
use rand::RngCore;
use rand_chacha::ChaCha20Rng;

use super::SimError;
use mon_proto::roster::Roster;

/// The slice every simulated session runs in.
pub const SLICE: &str = "sim";
/// The port every simulated node listens on.
pub const PORT: u16 = 7460;
/// The directory the slice's policy lets the user push into (`push-dirs`).
pub const PUSH_DIR: &str = "/srv/sim";
/// The simulated client's address.
pub const CLIENT_IP: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));

/// Name of node `i` (0-based index): `n1`, `n2`, … as in `mon testbed`.
pub fn node_name(i: usize) -> String {
    format!("n{}", i + 1)
}

/// Address of node `i` (0-based index): 10.0.0.1, 10.0.0.2, …, port [`PORT`].
pub fn node_addr(i: usize) -> SocketAddr {
    let n = (i as u32).wrapping_add(1);
    let b = n.to_be_bytes();
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, b[1], b[2], b[3])), PORT)
}

/// Everything the nodes and the client share.
pub(crate) struct Deployment {
    /// Node keys, by index (taken by the nodes when they are built).
    pub keys: Vec<Option<NodeKey>>,
    /// The trusted node list.
    pub known: Arc<KnownNodes>,
    /// Its roster, shared by every node.
    pub roster: Arc<Roster>,
    /// The slice policy every node loads.
    pub policies: HashMap<String, Arc<SlicePolicy>>,
    /// The user's signer.
    pub signer: Box<dyn Signer>,
}

/// Makes `n` node keys, the known_nodes list, a user key and a policy allowing it every
/// namespace of the slice [`SLICE`].
pub(crate) fn deploy(n: usize, rng: &mut ChaCha20Rng) -> Result<Deployment, SimError> {
    let keys: Vec<NodeKey> = (0..n).map(|_| NodeKey::generate(rng)).collect();
    let known = known_nodes(&keys)?;
    let roster = Arc::new(Roster::from_known(&known));
    let (signer, public) = user_key(rng)?;
    let mut policies = HashMap::new();
    policies.insert(SLICE.to_string(), Arc::new(slice_policy(&public)?));
    Ok(Deployment {
        keys: keys.into_iter().map(Some).collect(),
        known: Arc::new(known),
        roster,
        policies,
        signer,
    })
}

/// The known_nodes list of the nodes with `keys` (node `i` at [`node_addr`]`(i)`).
fn known_nodes(keys: &[NodeKey]) -> Result<KnownNodes, SimError> {
    let mut text = String::with_capacity(keys.len() * 100);
    for (i, k) in keys.iter().enumerate() {
        text.push_str(&format!(
            "{},{} {}\n",
            node_name(i),
            node_addr(i).ip(),
            k.public_openssh()
        ));
    }
    KnownNodes::parse(&text, Path::new("sim/known_nodes"))
        .map_err(|e| SimError::Setup(e.to_string()))
}

/// A random Ed25519 user key `sim-user`: its signer and its public key (OpenSSH).
fn user_key(rng: &mut ChaCha20Rng) -> Result<(Box<dyn Signer>, String), SimError> {
    let mut seed = [0u8; 32];
    rng.fill_bytes(&mut seed);
    let mut user = PrivateKey::from(Ed25519Keypair::from_seed(&seed));
    user.set_comment("sim-user");
    let user_text = user
        .to_openssh(LineEnding::LF)
        .map_err(|e| SimError::Setup(format!("encoding the user key: {e}")))?;
    let signer = mon_keys::userkey::signer_from_openssh(&user_text, "sim/user_ed25519")
        .map_err(|e| SimError::Setup(e.to_string()))?;
    let public = user
        .public_key()
        .to_openssh()
        .map_err(|e| SimError::Setup(format!("encoding the user key: {e}")))?;
    Ok((signer, public))
}

/// The slice's policy: the user key `public` may sign every MON namespace, and push beneath
/// [`PUSH_DIR`].
fn slice_policy(public: &str) -> Result<SlicePolicy, SimError> {
    let signers = format!("sim-user namespaces=\"mon-*@mon\" {public}\n");
    let mon_policy = format!("sim-user push-dirs=\"{PUSH_DIR}\"\n");
    let sources = PolicySources {
        allowed_signers: (Path::new("sim/allowed_signers"), signers.as_bytes()),
        mon_policy: Some((Path::new("sim/mon_policy"), mon_policy.as_bytes())),
        revoked_keys: None,
    };
    let (policy, _warnings) = SlicePolicy::from_sources(&sources)
        .map_err(|e| SimError::Setup(format!("slice policy: {e}")))?;
    Ok(policy)
}
