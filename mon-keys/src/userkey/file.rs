//! A signer backed by an OpenSSH Ed25519 private key file.

use std::path::{Path, PathBuf};

use ssh_key::{PrivateKey, PublicKey};
use zeroize::Zeroizing;

use super::{check_ed25519, KeyError};
use crate::crypto::ed25519::SecretKey;
use crate::sshsig::{self, SignError, Signer};

/// Signs with an Ed25519 secret key loaded from a file; the secret is zeroized on drop.
pub(crate) struct FileSigner {
    path: PathBuf,
    public: PublicKey,
    secret: SecretKey,
}

impl Signer for FileSigner {
    fn public_key(&self) -> &PublicKey {
        &self.public
    }

    fn sign(&self, namespace: &str, msg: &[u8]) -> Result<Vec<u8>, SignError> {
        sshsig::sign_with_secret(&self.secret, namespace, msg)
    }

    fn describe(&self) -> String {
        self.path.display().to_string()
    }
}

/// Parses, checks and (if needed) decrypts the private key `text` read from `path`.
/// Checks, in order: permissions, format, key type, passphrase, consistency.
pub(crate) fn load(
    path: &Path,
    text: &str,
    mode: u32,
    passphrase: &mut dyn FnMut(&Path) -> std::io::Result<Zeroizing<String>>,
) -> Result<FileSigner, KeyError> {
    let file = || path.to_owned();
    if mode & 0o077 != 0 {
        return Err(KeyError::PermissionsTooOpen { file: file(), mode });
    }
    check_pem_label(path, text)?;

    let key = PrivateKey::from_openssh(text).map_err(|e| KeyError::BadPrivateKey {
        file: file(),
        reason: e.to_string(),
    })?;
    // The key type is stored in the clear, so a wrong type is refused before any passphrase.
    check_ed25519(path, key.algorithm())?;

    let key = if key.is_encrypted() {
        decrypt(path, &key, passphrase)?
    } else {
        key
    };
    let secret = consistent_secret(path, &key)?;
    Ok(FileSigner {
        path: file(),
        public: key.public_key().clone(),
        secret,
    })
}

/// Decrypts `key` with the passphrase asked for `path`.
fn decrypt(
    path: &Path,
    key: &PrivateKey,
    passphrase: &mut dyn FnMut(&Path) -> std::io::Result<Zeroizing<String>>,
) -> Result<PrivateKey, KeyError> {
    let file = || path.to_owned();
    let pass = passphrase(path).map_err(|cause| KeyError::PassphraseUnavailable {
        file: file(),
        cause,
    })?;
    key.decrypt(pass.as_bytes()).map_err(|e| match e {
        ssh_key::Error::Crypto => KeyError::WrongPassphrase { file: file() },
        other => KeyError::Decrypt {
            file: file(),
            reason: other.to_string(),
        },
    })
}

/// The Ed25519 secret of the decrypted `key`, checked against the public half stored with it.
fn consistent_secret(path: &Path, key: &PrivateKey) -> Result<SecretKey, KeyError> {
    let pair = key
        .key_data()
        .ed25519()
        .ok_or_else(|| KeyError::NotEd25519 {
            file: path.to_owned(),
            kind: key.algorithm().as_str().to_owned(),
        })?;
    let mut seed = Zeroizing::new([0u8; 32]);
    seed.copy_from_slice(pair.private.as_ref());
    let secret = SecretKey::from_seed(&seed);
    if secret.public_key() != pair.public.0 {
        return Err(KeyError::KeyMismatch {
            file: path.to_owned(),
        });
    }
    Ok(secret)
}

/// OpenSSH private keys carry the label `OPENSSH PRIVATE KEY`; name the others.
fn check_pem_label(path: &Path, text: &str) -> Result<(), KeyError> {
    let first = text.trim_start().lines().next().unwrap_or_default();
    let label = first
        .strip_prefix("-----BEGIN ")
        .and_then(|l| l.strip_suffix("-----"))
        .unwrap_or(first);
    let kind = match label {
        "OPENSSH PRIVATE KEY" => return Ok(()),
        "RSA PRIVATE KEY" => "ssh-rsa (PEM)",
        "EC PRIVATE KEY" => "ecdsa (PEM)",
        "DSA PRIVATE KEY" => "ssh-dss (PEM)",
        other => {
            return Err(KeyError::UnsupportedFormat {
                file: path.to_owned(),
                label: other.chars().take(40).collect(),
            })
        }
    };
    Err(KeyError::NotEd25519 {
        file: path.to_owned(),
        kind: kind.to_owned(),
    })
}
