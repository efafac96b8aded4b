//! Node keys: the Ed25519 key each MON server holds (`CONFIG_DIR/node_ed25519_key`).
//!
//! The file is an unencrypted OpenSSH private key (`-----BEGIN OPENSSH PRIVATE KEY-----`), as
//! `ssh-keygen -t ed25519 -N ''` writes it, so admins can inspect it with
//! `ssh-keygen -y -f node_ed25519_key`. Like ssh, MON refuses a key file that group or others
//! can access. The public half is pinned in `known_nodes` ([`crate::known_nodes`]).
//!
//! Node signatures are always made over domain-separated messages (see [`crate::hop`]) and
//! verified with [`verify_node_sig`] (strict verification, weak keys rejected).

use std::fs::{self, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use ed25519_dalek::SigningKey;
use rand_core::{CryptoRng, RngCore};
use ssh_key::private::{Ed25519Keypair, KeypairData};
use ssh_key::{LineEnding, PrivateKey};
use zeroize::{ZeroizeOnDrop, Zeroizing};

pub use crate::crypto::link::NodeSigError;
use crate::crypto::link::{ed25519_sign, ed25519_verify_strict};

/// File name of the node key inside the config directory.
pub const NODE_KEY_FILE: &str = "node_ed25519_key";
/// Largest node key file read (an Ed25519 OpenSSH key is about 400 bytes).
pub const MAX_KEY_FILE_LEN: u64 = 64 * 1024;

/// Why a node key could not be loaded or saved. Every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum NodeKeyError {
    /// The file could not be read or written.
    #[error("node key {}: {source}", path.display())]
    Io {
        /// The key file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// `save` found a file already there.
    #[error("node key {} already exists; refusing to overwrite it (move it away first if you really want a new node key, then update known_nodes)", path.display())]
    Exists {
        /// The key file.
        path: PathBuf,
    },
    /// Group or others may access the file.
    #[error("permissions {mode:04o} for node key {} are too open; it must be readable by its owner only: run `chmod 600 {}`", path.display(), path.display())]
    TooOpen {
        /// The key file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The file is larger than [`MAX_KEY_FILE_LEN`].
    #[error("node key {} is {len} bytes, larger than any Ed25519 key file ({MAX_KEY_FILE_LEN} bytes max)", path.display())]
    TooLarge {
        /// The key file.
        path: PathBuf,
        /// Its length.
        len: u64,
    },
    /// The file is not an OpenSSH private key.
    #[error("node key {} is not an OpenSSH private key: {reason}", path.display())]
    Parse {
        /// The key file.
        path: PathBuf,
        /// What the decoder reported.
        reason: String,
    },
    /// The key is passphrase-protected.
    #[error("node key {} is passphrase-protected; a server starts unattended and needs an unencrypted key (`mon server init` makes one)", path.display())]
    Encrypted {
        /// The key file.
        path: PathBuf,
    },
    /// The key is not Ed25519.
    #[error("node key {} is a {algorithm} key; MON node keys are Ed25519 (`mon server init` makes one)", path.display())]
    WrongType {
        /// The key file.
        path: PathBuf,
        /// The algorithm found.
        algorithm: String,
    },
    /// The public half stored in the file does not belong to the private half.
    #[error("node key {} is corrupt: its public key does not match its private key", path.display())]
    Corrupt {
        /// The key file.
        path: PathBuf,
    },
    /// Encoding the key for `save` failed.
    #[error("node key {}: cannot encode the key: {reason}", path.display())]
    Encode {
        /// The key file.
        path: PathBuf,
        /// What the encoder reported.
        reason: String,
    },
}

/// A node's Ed25519 signing key. The secret is wiped on drop.
pub struct NodeKey {
    key: SigningKey,
}

// `SigningKey` wipes its secret on drop (ed25519-dalek `zeroize` feature).
impl ZeroizeOnDrop for NodeKey {}

impl std::fmt::Debug for NodeKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeKey")
            .field("public", &self.public_openssh())
            .finish_non_exhaustive()
    }
}

impl NodeKey {
    /// A fresh random node key.
    pub fn generate<R: RngCore + CryptoRng>(rng: &mut R) -> Self {
        NodeKey {
            key: SigningKey::generate(rng),
        }
    }

    /// Loads an unencrypted OpenSSH Ed25519 private key file.
    ///
    /// Refused: a file group or others can access (mode & 0o077), a file larger than
    /// [`MAX_KEY_FILE_LEN`], an encrypted key, a non-Ed25519 key, a key whose public half
    /// does not match.
    pub fn load(path: &Path) -> Result<Self, NodeKeyError> {
        let text = read_private_file(path)?;
        let private = PrivateKey::from_openssh(&*text).map_err(|e| NodeKeyError::Parse {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        if private.is_encrypted() {
            return Err(NodeKeyError::Encrypted {
                path: path.to_path_buf(),
            });
        }
        let KeypairData::Ed25519(pair) = private.key_data() else {
            return Err(NodeKeyError::WrongType {
                path: path.to_path_buf(),
                algorithm: private.algorithm().to_string(),
            });
        };
        let key = SigningKey::from(&pair.private);
        if key.verifying_key().to_bytes() != pair.public.0 {
            return Err(NodeKeyError::Corrupt {
                path: path.to_path_buf(),
            });
        }
        Ok(NodeKey { key })
    }

    /// Writes the key as an unencrypted OpenSSH private key with `comment`, mode 0600.
    ///
    /// Never overwrites: an existing file yields [`NodeKeyError::Exists`]. A partly written
    /// file is removed again.
    pub fn save(&self, path: &Path, comment: &str) -> Result<(), NodeKeyError> {
        let encode = |e: ssh_key::Error| NodeKeyError::Encode {
            path: path.to_path_buf(),
            reason: e.to_string(),
        };
        let pair = Ed25519Keypair::from(&self.key);
        let private = PrivateKey::new(KeypairData::Ed25519(pair), comment).map_err(encode)?;
        let pem = private.to_openssh(LineEnding::LF).map_err(encode)?;
        let mut file = create_new_private(path)?;
        let written = file
            .write_all(pem.as_bytes())
            .and_then(|()| file.sync_all());
        if let Err(source) = written {
            drop(file);
            let _ = fs::remove_file(path);
            return Err(NodeKeyError::Io {
                path: path.to_path_buf(),
                source,
            });
        }
        Ok(())
    }

    /// The raw 32-byte Ed25519 public key.
    pub fn public(&self) -> [u8; 32] {
        self.key.verifying_key().to_bytes()
    }

    /// The public key in OpenSSH format, `ssh-ed25519 AAAA…` (no comment).
    pub fn public_openssh(&self) -> String {
        public_openssh(&self.public())
    }

    /// Ed25519 signature of `msg`. Callers pass domain-separated messages only.
    pub fn sign(&self, msg: &[u8]) -> [u8; 64] {
        ed25519_sign(&self.key, msg)
    }
}

/// Reads a node key file, refusing one group or others can access or one larger than
/// [`MAX_KEY_FILE_LEN`].
fn read_private_file(path: &Path) -> Result<Zeroizing<Vec<u8>>, NodeKeyError> {
    let io = |source| NodeKeyError::Io {
        path: path.to_path_buf(),
        source,
    };
    let meta = fs::metadata(path).map_err(io)?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(NodeKeyError::TooOpen {
            path: path.to_path_buf(),
            mode,
        });
    }
    if meta.len() > MAX_KEY_FILE_LEN {
        return Err(NodeKeyError::TooLarge {
            path: path.to_path_buf(),
            len: meta.len(),
        });
    }
    let mut text = Zeroizing::new(Vec::new());
    fs::File::open(path)
        .and_then(|f| f.take(MAX_KEY_FILE_LEN + 1).read_to_end(&mut text))
        .map_err(io)?;
    if text.len() as u64 > MAX_KEY_FILE_LEN {
        return Err(NodeKeyError::TooLarge {
            path: path.to_path_buf(),
            len: text.len() as u64,
        });
    }
    Ok(text)
}

/// Creates `path` with mode 0600; an existing file is [`NodeKeyError::Exists`].
fn create_new_private(path: &Path) -> Result<fs::File, NodeKeyError> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|source| {
            if source.kind() == std::io::ErrorKind::AlreadyExists {
                NodeKeyError::Exists {
                    path: path.to_path_buf(),
                }
            } else {
                NodeKeyError::Io {
                    path: path.to_path_buf(),
                    source,
                }
            }
        })
}

/// The SSH wire blob of an Ed25519 public key: string "ssh-ed25519", string key.
pub(crate) fn ed25519_blob(public: &[u8; 32]) -> [u8; 51] {
    let mut blob = [0u8; 51];
    blob[..4].copy_from_slice(&11u32.to_be_bytes());
    blob[4..15].copy_from_slice(b"ssh-ed25519");
    blob[15..19].copy_from_slice(&32u32.to_be_bytes());
    blob[19..].copy_from_slice(public);
    blob
}

/// Formats a raw Ed25519 public key as OpenSSH does: `ssh-ed25519 BASE64`.
pub fn public_openssh(public: &[u8; 32]) -> String {
    format!(
        "ssh-ed25519 {}",
        base64::engine::general_purpose::STANDARD.encode(ed25519_blob(public))
    )
}

/// Verifies a node signature strictly (`verify_strict`), rejecting invalid and weak keys.
pub fn verify_node_sig(public: &[u8; 32], msg: &[u8], sig: &[u8; 64]) -> Result<(), NodeSigError> {
    ed25519_verify_strict(public, msg, sig)
}
