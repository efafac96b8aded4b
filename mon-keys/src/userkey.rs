//! The user's SSH key: which key MON signs with, and how.
//!
//! Rules, in order ([`load_signer`]):
//! 1. `key = Some(FILE)` holding an OpenSSH private key: load it. Refused when group or others
//!    have any permission on it (as ssh does); a passphrase-protected key asks the callback.
//! 2. `key = Some(FILE)` holding a public key (`FILE.pub`): sign through ssh-agent with it.
//! 3. No key given, `SSH_AUTH_SOCK` set and the agent holds an Ed25519 key: the agent's first
//!    Ed25519 identity.
//! 4. Otherwise `~/.ssh/id_ed25519`; if there is none, [`KeyError::NoKey`] says what was tried.
//!
//! Only plain Ed25519 keys are accepted; RSA, ECDSA, DSA and security-key (`sk-*`) keys are
//! refused with [`KeyError::NotEd25519`] naming the file and the type.

mod agent;
mod file;

use std::io::Read as _;
use std::path::{Path, PathBuf};

use ssh_key::{Algorithm, PublicKey};
/// Re-exported so that passphrase callbacks need no direct `zeroize` dependency.
pub use zeroize::Zeroizing;

use crate::sshsig::Signer;

/// Largest key file MON reads (an Ed25519 key file is well under 1 KiB).
pub const MAX_KEY_FILE_LEN: u64 = 64 * 1024;

/// Which key to use, from the command line and the environment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyRequest {
    /// `--key FILE`: a private key file, or a public key (`.pub`) to use through ssh-agent.
    pub key: Option<PathBuf>,
    /// The ssh-agent socket (`SSH_AUTH_SOCK`), if any.
    pub agent_sock: Option<PathBuf>,
    /// The home directory (`HOME`), where `.ssh/id_ed25519` is looked up.
    pub home: Option<PathBuf>,
}

/// Why no signer could be loaded. Every message names the file (or agent) and says what to do.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The key file does not exist.
    #[error(
        "{file}: no such key file (create one with `ssh-keygen -t ed25519`, or pass --key FILE)"
    )]
    NotFound {
        /// The file.
        file: PathBuf,
    },
    /// The key file exists but cannot be read.
    #[error("cannot read key file {file}: {cause}")]
    Read {
        /// The file.
        file: PathBuf,
        /// The I/O error.
        cause: std::io::Error,
    },
    /// The path is not a regular file.
    #[error("{file} is not a regular file")]
    NotAFile {
        /// The path.
        file: PathBuf,
    },
    /// The key file is implausibly large.
    #[error("{file} is larger than {max} bytes: not an SSH key file")]
    TooLarge {
        /// The file.
        file: PathBuf,
        /// The limit.
        max: u64,
    },
    /// A private key that group or others may access.
    #[error(
        "permissions {mode:04o} for {file} are too open: a private key must not be accessible \
         by group or others (run `chmod 600 {file}`)"
    )]
    PermissionsTooOpen {
        /// The file.
        file: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// A key that is not a plain Ed25519 key.
    #[error(
        "MON needs an Ed25519 key: {file} is {kind} (create one with `ssh-keygen -t ed25519`)"
    )]
    NotEd25519 {
        /// The file (or agent identity) offered.
        file: PathBuf,
        /// Its key type, e.g. `ssh-rsa`.
        kind: String,
    },
    /// An SSH certificate where a plain key was expected.
    #[error(
        "{file} is an SSH certificate: MON v1 signs with plain Ed25519 keys, pass the key itself"
    )]
    Certificate {
        /// The file.
        file: PathBuf,
    },
    /// A private key in a format other than OpenSSH's.
    #[error(
        "{file} is a {label} file, not an OpenSSH private key (convert it with `ssh-keygen -p -f {file}`)"
    )]
    UnsupportedFormat {
        /// The file.
        file: PathBuf,
        /// The PEM label found.
        label: String,
    },
    /// The private key file does not parse.
    #[error("{file} is not a valid OpenSSH private key: {reason}")]
    BadPrivateKey {
        /// The file.
        file: PathBuf,
        /// What failed.
        reason: String,
    },
    /// The public key file does not parse.
    #[error("{file} is not a valid OpenSSH public key: {reason}")]
    BadPublicKey {
        /// The file.
        file: PathBuf,
        /// What failed.
        reason: String,
    },
    /// The passphrase does not decrypt the key.
    #[error("wrong passphrase for {file}")]
    WrongPassphrase {
        /// The file.
        file: PathBuf,
    },
    /// The passphrase could not be obtained (e.g. no terminal).
    #[error("{file} is passphrase-protected and {cause}: add it to ssh-agent (`ssh-add {file}`)")]
    PassphraseUnavailable {
        /// The file.
        file: PathBuf,
        /// Why the callback failed, phrased to follow "and", e.g. "there is no terminal to ask".
        cause: std::io::Error,
    },
    /// Decryption failed for a reason other than a wrong passphrase.
    #[error("cannot decrypt {file}: {reason}")]
    Decrypt {
        /// The file.
        file: PathBuf,
        /// What failed.
        reason: String,
    },
    /// The private half does not match the public half stored in the file.
    #[error("{file} is corrupt: its private key does not match its public key")]
    KeyMismatch {
        /// The file.
        file: PathBuf,
    },
    /// A public key was given, so the agent is needed, but there is none.
    #[error(
        "{file} is a public key, so MON signs through ssh-agent, but SSH_AUTH_SOCK is not set: \
         start ssh-agent and `ssh-add` the private key, or pass the private key file with --key"
    )]
    NoAgent {
        /// The public key file.
        file: PathBuf,
    },
    /// The agent socket cannot be reached.
    #[error("cannot connect to ssh-agent at {sock}: {cause} (is SSH_AUTH_SOCK stale?)")]
    AgentConnect {
        /// The socket.
        sock: PathBuf,
        /// The I/O error.
        cause: std::io::Error,
    },
    /// The agent answered badly.
    #[error("ssh-agent at {sock} failed: {reason}")]
    Agent {
        /// The socket.
        sock: PathBuf,
        /// What failed.
        reason: String,
    },
    /// The agent does not hold the requested key.
    #[error(
        "the ssh-agent at {sock} does not hold the key {fingerprint} of {file}: \
         add it with `ssh-add` and its private key file"
    )]
    NotInAgent {
        /// The public key file.
        file: PathBuf,
        /// The key's fingerprint.
        fingerprint: String,
        /// The socket.
        sock: PathBuf,
    },
    /// No key was given and none was found.
    #[error(
        "no Ed25519 key found; tried: {}. Create one with `ssh-keygen -t ed25519`, \
         add one to ssh-agent, or pass --key FILE",
        .tried.join("; ")
    )]
    NoKey {
        /// What was tried, in order, with why each failed.
        tried: Vec<String>,
    },
}

/// Loads the signer chosen by `req` under the rules of this module. `passphrase` is called
/// (at most once) only for a passphrase-protected private key file.
pub fn load_signer(
    req: &KeyRequest,
    passphrase: &mut dyn FnMut(&Path) -> std::io::Result<Zeroizing<String>>,
) -> Result<Box<dyn Signer>, KeyError> {
    if let Some(path) = &req.key {
        return load_given_key(req, path, passphrase);
    }
    let mut tried = Vec::new();
    if let Some(signer) = try_agent(req.agent_sock.as_deref(), &mut tried) {
        return Ok(signer);
    }
    if let Some(signer) = try_default_key_file(req.home.as_deref(), passphrase, &mut tried)? {
        return Ok(signer);
    }
    Err(KeyError::NoKey { tried })
}

/// `--key FILE`: a private key file is loaded; a public one names the agent key to use.
fn load_given_key(
    req: &KeyRequest,
    path: &Path,
    passphrase: &mut dyn FnMut(&Path) -> std::io::Result<Zeroizing<String>>,
) -> Result<Box<dyn Signer>, KeyError> {
    match read_key_file(path)? {
        KeyFile::Private { text, mode } => Ok(Box::new(file::load(path, &text, mode, passphrase)?)),
        KeyFile::Public(text) => {
            let public = parse_public_key(path, &text)?;
            let sock = req.agent_sock.as_deref().ok_or_else(|| KeyError::NoAgent {
                file: path.to_owned(),
            })?;
            Ok(Box::new(agent::signer_for(sock, path, &public)?))
        }
    }
}

/// The first Ed25519 key of the agent at `sock`, if any; otherwise notes in `tried` why not.
fn try_agent(sock: Option<&Path>, tried: &mut Vec<String>) -> Option<Box<dyn Signer>> {
    let Some(sock) = sock else {
        tried.push("ssh-agent (SSH_AUTH_SOCK is not set)".to_owned());
        return None;
    };
    match agent::first_ed25519(sock) {
        Ok(Ok(signer)) => return Some(Box::new(signer)),
        Ok(Err(held)) => tried.push(format!(
            "ssh-agent at {} (holds no Ed25519 key{})",
            sock.display(),
            if held.is_empty() {
                String::new()
            } else {
                format!(", only {}", held.join(", "))
            }
        )),
        Err(e) => tried.push(e.to_string()),
    }
    None
}

/// `~/.ssh/id_ed25519` under `home`, if it exists; a missing file (or `HOME`) is noted in
/// `tried`, any other failure is an error.
fn try_default_key_file(
    home: Option<&Path>,
    passphrase: &mut dyn FnMut(&Path) -> std::io::Result<Zeroizing<String>>,
    tried: &mut Vec<String>,
) -> Result<Option<Box<dyn Signer>>, KeyError> {
    let Some(home) = home else {
        tried.push("~/.ssh/id_ed25519 (HOME is not set)".to_owned());
        return Ok(None);
    };
    let path = home.join(".ssh").join("id_ed25519");
    match read_key_file(&path) {
        Ok(KeyFile::Private { text, mode }) => {
            Ok(Some(Box::new(file::load(&path, &text, mode, passphrase)?)))
        }
        Ok(KeyFile::Public(_)) => Err(KeyError::BadPrivateKey {
            file: path,
            reason: "it holds a public key".to_owned(),
        }),
        Err(KeyError::NotFound { file }) => {
            tried.push(format!("{} (no such file)", file.display()));
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// A signer for an unencrypted OpenSSH Ed25519 private key held in memory (`text`, as in an
/// `id_ed25519` file); `label` names it in messages. For tests and the simulator, which make
/// their keys in-process; users' keys go through [`load_signer`]. Same checks as a key file,
/// except permissions; an encrypted key is refused.
pub fn signer_from_openssh(text: &str, label: &str) -> Result<Box<dyn Signer>, KeyError> {
    let mut no_passphrase = |_: &Path| -> std::io::Result<Zeroizing<String>> {
        Err(std::io::Error::other(
            "in-memory keys must not be encrypted",
        ))
    };
    Ok(Box::new(file::load(
        Path::new(label),
        text,
        0o600,
        &mut no_passphrase,
    )?))
}

/// Loads an OpenSSH public key file (`.pub`): exactly one plain Ed25519 key.
pub fn load_public_key(path: &Path) -> Result<PublicKey, KeyError> {
    match read_key_file(path)? {
        KeyFile::Public(text) => parse_public_key(path, &text),
        KeyFile::Private { .. } => Err(KeyError::BadPublicKey {
            file: path.to_owned(),
            reason: "it holds a private key; pass the .pub file".to_owned(),
        }),
    }
}

/// A key file's contents, classified by its first line.
enum KeyFile {
    /// A PEM-armored private key (OpenSSH or not), with the file's permission bits.
    Private { text: Zeroizing<String>, mode: u32 },
    /// Anything else: treated as a public key line.
    Public(Zeroizing<String>),
}

fn read_key_file(path: &Path) -> Result<KeyFile, KeyError> {
    let (bytes, meta) = read_capped(path)?;
    let text = match std::str::from_utf8(&bytes) {
        Ok(s) => Zeroizing::new(s.to_owned()),
        Err(_) => {
            return Err(KeyError::BadPublicKey {
                file: path.to_owned(),
                reason: "the file is not text".to_owned(),
            })
        }
    };
    if text.trim_start().starts_with("-----BEGIN ") {
        use std::os::unix::fs::PermissionsExt as _;
        Ok(KeyFile::Private {
            text,
            mode: meta.permissions().mode() & 0o7777,
        })
    } else {
        Ok(KeyFile::Public(text))
    }
}

/// Reads the regular file at `path`, at most [`MAX_KEY_FILE_LEN`] bytes, with its metadata.
fn read_capped(path: &Path) -> Result<(Zeroizing<Vec<u8>>, std::fs::Metadata), KeyError> {
    let file = path.to_owned();
    let io_err = |cause: std::io::Error| {
        if cause.kind() == std::io::ErrorKind::NotFound {
            KeyError::NotFound { file: file.clone() }
        } else {
            KeyError::Read {
                file: file.clone(),
                cause,
            }
        }
    };
    let too_large = || KeyError::TooLarge {
        file: path.to_owned(),
        max: MAX_KEY_FILE_LEN,
    };
    let f = std::fs::File::open(path).map_err(io_err)?;
    let meta = f.metadata().map_err(io_err)?;
    if !meta.is_file() {
        return Err(KeyError::NotAFile {
            file: path.to_owned(),
        });
    }
    if meta.len() > MAX_KEY_FILE_LEN {
        return Err(too_large());
    }
    let mut bytes = Zeroizing::new(Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0)));
    f.take(MAX_KEY_FILE_LEN + 1)
        .read_to_end(&mut bytes)
        .map_err(io_err)?;
    if bytes.len() as u64 > MAX_KEY_FILE_LEN {
        return Err(too_large());
    }
    Ok((bytes, meta))
}

fn parse_public_key(path: &Path, text: &str) -> Result<PublicKey, KeyError> {
    let bad = |reason: &str| KeyError::BadPublicKey {
        file: path.to_owned(),
        reason: reason.to_owned(),
    };
    let mut lines = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'));
    let line = lines.next().ok_or_else(|| bad("the file is empty"))?;
    if lines.next().is_some() {
        return Err(bad("it holds more than one line; give a file with one key"));
    }
    let kind = line.split_whitespace().next().unwrap_or_default();
    if kind.ends_with("-cert-v01@openssh.com") {
        return Err(KeyError::Certificate {
            file: path.to_owned(),
        });
    }
    let key = PublicKey::from_openssh(line).map_err(|e| bad(&e.to_string()))?;
    check_ed25519(path, key.algorithm())?;
    Ok(key)
}

/// Refuses any key type but plain Ed25519, naming the type.
fn check_ed25519(path: &Path, alg: Algorithm) -> Result<(), KeyError> {
    if alg == Algorithm::Ed25519 {
        Ok(())
    } else {
        Err(KeyError::NotEd25519 {
            file: path.to_owned(),
            kind: alg.as_str().to_owned(),
        })
    }
}
