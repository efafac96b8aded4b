//! A signer backed by a key held in ssh-agent. Every request opens its own connection with
//! read and write timeouts, so a stuck agent cannot hang MON forever.

use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ssh_agent_client_rs::{Client, Identity};
use ssh_key::{Algorithm, PublicKey};

use super::KeyError;
use crate::crypto::ed25519::{PUBLIC_KEY_LEN, SIGNATURE_LEN};
use crate::sshsig::{self, wire, SignError, Signer};

/// How long one agent request may take (long enough for an `ssh-add -c` confirmation).
const AGENT_TIMEOUT: Duration = Duration::from_secs(60);

/// Signs through ssh-agent with one Ed25519 identity.
pub(crate) struct AgentSigner {
    sock: PathBuf,
    public: PublicKey,
    raw_public: [u8; PUBLIC_KEY_LEN],
    fingerprint: String,
}

fn connect(sock: &Path) -> std::io::Result<Client> {
    let stream = UnixStream::connect(sock)?;
    stream.set_read_timeout(Some(AGENT_TIMEOUT))?;
    stream.set_write_timeout(Some(AGENT_TIMEOUT))?;
    Ok(Client::with_read_write(Box::new(stream)))
}

/// The plain public keys the agent holds, in the agent's order (certificates skipped).
fn identities(sock: &Path) -> Result<Vec<PublicKey>, KeyError> {
    let mut client = connect(sock).map_err(|cause| KeyError::AgentConnect {
        sock: sock.to_owned(),
        cause,
    })?;
    let ids = client.list_all_identities().map_err(|e| KeyError::Agent {
        sock: sock.to_owned(),
        reason: format!("listing keys: {e}"),
    })?;
    Ok(ids
        .into_iter()
        .filter_map(|id| match id {
            Identity::PublicKey(pk) => Some(pk.into_owned()),
            Identity::Certificate(_) => None,
        })
        .collect())
}

impl AgentSigner {
    fn new(sock: &Path, public: PublicKey) -> Option<Self> {
        let raw_public = public.key_data().ed25519()?.0;
        Some(Self {
            sock: sock.to_owned(),
            fingerprint: sshsig::fingerprint(&public),
            public,
            raw_public,
        })
    }
}

/// The agent signer for the public key read from `file`, if the agent holds it.
pub(crate) fn signer_for(
    sock: &Path,
    file: &Path,
    public: &PublicKey,
) -> Result<AgentSigner, KeyError> {
    let not_in_agent = || KeyError::NotInAgent {
        file: file.to_owned(),
        fingerprint: sshsig::fingerprint(public),
        sock: sock.to_owned(),
    };
    let held = identities(sock)?
        .into_iter()
        .find(|k| k.key_data() == public.key_data())
        .ok_or_else(not_in_agent)?;
    // Keep the file's comment when the agent has none.
    let public = if held.comment().is_empty() {
        public.clone()
    } else {
        held
    };
    AgentSigner::new(sock, public).ok_or_else(|| KeyError::NotEd25519 {
        file: file.to_owned(),
        kind: "not ssh-ed25519".to_owned(),
    })
}

/// The agent's first Ed25519 identity, or (`Ok(Err(types))`) the key types it holds instead.
pub(crate) fn first_ed25519(sock: &Path) -> Result<Result<AgentSigner, Vec<String>>, KeyError> {
    let ids = identities(sock)?;
    let others: Vec<String> = ids
        .iter()
        .filter(|k| k.algorithm() != Algorithm::Ed25519)
        .map(|k| k.algorithm().as_str().to_owned())
        .collect();
    Ok(ids
        .into_iter()
        .filter(|k| k.algorithm() == Algorithm::Ed25519)
        .find_map(|k| AgentSigner::new(sock, k))
        .ok_or(others))
}

impl Signer for AgentSigner {
    fn public_key(&self) -> &PublicKey {
        &self.public
    }

    fn sign(&self, namespace: &str, msg: &[u8]) -> Result<Vec<u8>, SignError> {
        sshsig::check_sign_namespace(namespace)?;
        let refused = |reason: String| SignError::AgentRefused {
            sock: self.sock.clone(),
            fingerprint: self.fingerprint.clone(),
            reason,
        };
        let bad = |reason: String| SignError::AgentBadSignature {
            sock: self.sock.clone(),
            fingerprint: self.fingerprint.clone(),
            reason,
        };
        let data = crate::crypto::ed25519::sshsig_signed_data(namespace, msg)
            .ok_or_else(|| SignError::BadNamespace(String::new()))?;
        let mut client = connect(&self.sock).map_err(|cause| SignError::AgentConnect {
            sock: self.sock.clone(),
            cause,
        })?;
        let sig = client
            .sign(&self.public, &data)
            .map_err(|e| refused(e.to_string()))?;
        if sig.algorithm() != Algorithm::Ed25519 {
            return Err(bad(format!("algorithm {}", sig.algorithm().as_str())));
        }
        let raw: [u8; SIGNATURE_LEN] = sig
            .as_bytes()
            .try_into()
            .map_err(|_| bad(format!("{} signature bytes", sig.as_bytes().len())))?;
        let blob = wire::encode(&self.raw_public, namespace, &raw);
        // An agent is another process: check what it returned before anyone relies on it.
        sshsig::verify(&blob, namespace, msg).map_err(|e| bad(e.to_string()))?;
        Ok(blob)
    }

    fn describe(&self) -> String {
        format!(
            "ssh-agent key {} ({})",
            self.fingerprint,
            self.sock.display()
        )
    }
}
