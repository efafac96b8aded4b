//! `mon key` subcommands, and the client's way of loading the user's key from the command line
//! and the environment (`SSH_AUTH_SOCK`, `HOME`, a passphrase prompt on the terminal).

use std::path::{Path, PathBuf};

use crate::out::outln;
use anyhow::Context as _;
use mon_keys::sshsig::{self, Signer};
use mon_keys::userkey::{self, KeyRequest, Zeroizing};

/// `mon key …`
#[derive(Debug, clap::Subcommand)]
pub enum KeyCmd {
    /// Show which key MON would sign with: fingerprint, type, comment and where it comes from.
    ///
    /// Without --key (before or after `key show`), MON_KEY or `key` in the client config: the
    /// first Ed25519 key in ssh-agent (SSH_AUTH_SOCK), else ~/.ssh/id_ed25519.
    Show(ShowArgs),
}

/// Arguments of `mon key show`.
#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    /// An OpenSSH Ed25519 private key, or its public key (FILE.pub) to sign through ssh-agent.
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Runs a `mon key` subcommand and returns the process exit code. `global`: the client's
/// options given before the command, with the environment and the config file
/// (`mon --key FILE key show` and `MON_KEY` show that key).
pub fn run(cmd: KeyCmd, global: crate::client::GlobalArgs) -> anyhow::Result<u8> {
    match cmd {
        KeyCmd::Show(args) => show(&ShowArgs {
            key: args.key.or(global.key),
            json: args.json || global.json,
        }),
    }
}

/// The key request for `--key` (if given), with `SSH_AUTH_SOCK` and `HOME` from the environment.
pub fn request_from_env(key: Option<PathBuf>) -> KeyRequest {
    let var = |name: &str| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    KeyRequest {
        key,
        agent_sock: var("SSH_AUTH_SOCK"),
        home: var("HOME"),
    }
}

/// Asks for the passphrase of `path` on the controlling terminal (never on stdin).
pub fn terminal_passphrase(path: &Path) -> std::io::Result<Zeroizing<String>> {
    if std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .is_err()
    {
        return Err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "there is no terminal to ask",
        ));
    }
    rpassword::prompt_password(format!("Enter passphrase for {}: ", path.display()))
        .map(Zeroizing::new)
        .map_err(|e| {
            std::io::Error::new(
                e.kind(),
                format!("the passphrase could not be read from the terminal ({e})"),
            )
        })
}

/// Loads the signer MON uses for `--key` (or the defaults), prompting on the terminal for a
/// passphrase if needed. Call this before contacting any server.
pub fn load_signer(key: Option<PathBuf>) -> anyhow::Result<Box<dyn Signer>> {
    let req = request_from_env(key);
    userkey::load_signer(&req, &mut terminal_passphrase).context("cannot load your SSH key")
}

fn show(args: &ShowArgs) -> anyhow::Result<u8> {
    let signer = load_signer(args.key.clone())?;
    let public = signer.public_key();
    let fingerprint = sshsig::fingerprint(public);
    let kind = public.algorithm().as_str().to_owned();
    let openssh = public
        .to_openssh()
        .context("cannot encode the public key")?;
    if args.json {
        let v = serde_json::json!({
            "fingerprint": fingerprint,
            "type": kind,
            "comment": public.comment(),
            "source": signer.describe(),
            "public_key": openssh,
        });
        outln!("{v}");
    } else {
        let printable = |s: &str| s.escape_debug().to_string();
        outln!("fingerprint: {fingerprint}");
        outln!("type:        {kind}");
        outln!("comment:     {}", printable(public.comment()));
        outln!("source:      {}", printable(&signer.describe()));
        outln!("public key:  {}", printable(&openssh));
    }
    Ok(crate::exit::OK)
}
