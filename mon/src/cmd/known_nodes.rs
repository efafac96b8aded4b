//! `mon known-nodes add|remove|revoke`: edit a known_nodes file without a text editor. Every
//! edit is checked with the parser the server loads the file with, and the file is replaced
//! atomically ([`super::replace`]).

mod edit;
#[cfg(test)]
mod tests;

use std::fs::DirBuilder;
use std::os::unix::fs::DirBuilderExt as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use mon_keys::known_nodes::KnownNodes;

use super::replace::Original;
use crate::exit;
use crate::out::outln;

/// The file name of known_nodes in a config dir.
pub const KNOWN_NODES_FILE: &str = "known_nodes";

/// Mode of a known_nodes file the helpers create: public keys, readable by every client,
/// writable by its owner only.
const NEW_FILE_MODE: u32 = 0o644;

/// `mon known-nodes …`
#[derive(Debug, clap::Subcommand)]
pub enum KnownNodesCmd {
    /// Pin a node's key: adds the line `NAME,HOST ssh-ed25519 KEY`.
    ///
    /// HOST is the node's address or host name (also when it is NAME itself: the first entry
    /// names the node, the second is resolved to its address). KEY|FILE is the node's key (`ssh-ed25519 AAAA…`) or a file holding the line
    /// `mon server init` printed on that node (`NAME ssh-ed25519 AAAA…`, its name must be NAME)
    /// or a .pub line. Refuses a name, address or key the file already lists, and a revoked
    /// key. Edits CONFIG_DIR/known_nodes (or the file given with the global --known-nodes),
    /// created 0644 if missing.
    Add(AddArgs),
    /// Remove the lines pinning a node (its @revoked lines stay, so a revoked key stays
    /// refused).
    Remove(RemoveArgs),
    /// Revoke a node's key: the lines pinning it become `@revoked …`, refused under every
    /// name. With KEY|FILE, revoke that key of NAME (added as an @revoked line if no line
    /// pins it).
    Revoke(RevokeArgs),
}

/// Where the file to edit is.
#[derive(Debug, Clone, clap::Args)]
pub struct Where {
    /// The config dir whose known_nodes is edited (the global --known-nodes FILE names
    /// another file).
    #[arg(long, value_name = "DIR", default_value = super::DEFAULT_CONFIG_DIR)]
    pub config_dir: PathBuf,
}

/// Arguments of `mon known-nodes add`.
#[derive(Debug, clap::Args)]
pub struct AddArgs {
    /// The node's name (as `mon server init` printed it; its `--name`).
    pub name: String,
    /// The node's address or host name.
    pub host: String,
    /// The node's key `ssh-ed25519 AAAA…`, or a file holding it (`-` for stdin).
    #[arg(value_name = "KEY|FILE")]
    pub key: String,
    #[command(flatten)]
    pub at: Where,
}

/// Arguments of `mon known-nodes remove`.
#[derive(Debug, clap::Args)]
pub struct RemoveArgs {
    /// The node's name.
    pub name: String,
    #[command(flatten)]
    pub at: Where,
}

/// Arguments of `mon known-nodes revoke`.
#[derive(Debug, clap::Args)]
pub struct RevokeArgs {
    /// The node's name.
    pub name: String,
    /// The key to revoke (default: every key the node's lines pin), or a file holding it.
    #[arg(value_name = "KEY|FILE")]
    pub key: Option<String>,
    #[command(flatten)]
    pub at: Where,
}

/// Runs a `mon known-nodes` subcommand on `file` (the global `--known-nodes`, when given)
/// and returns the process exit code.
pub fn run(cmd: KnownNodesCmd, file: Option<&Path>) -> anyhow::Result<u8> {
    let target =
        |w: &Where| file.map_or_else(|| w.config_dir.join(KNOWN_NODES_FILE), Path::to_path_buf);
    match cmd {
        KnownNodesCmd::Add(a) => {
            let path = target(&a.at);
            let key = read_key(&a.key, &a.name)?;
            create_parent(&path)?;
            apply(&path, |text, known| {
                edit::add(text, known, &a.name, &a.host, &key)
            })
        }
        KnownNodesCmd::Remove(a) => apply(&target(&a.at), |text, known| {
            edit::remove(text, known, &a.name)
        }),
        KnownNodesCmd::Revoke(a) => {
            let key = a.key.as_deref().map(|k| read_key(k, &a.name)).transpose()?;
            apply(&target(&a.at), |text, known| {
                edit::revoke(text, known, &a.name, key.as_ref())
            })
        }
    }
}

/// Reads the file, applies `edit` to it, replaces it and prints what changed.
fn apply(
    path: &Path,
    edit: impl FnOnce(&str, &KnownNodes) -> Result<edit::Edited, String>,
) -> anyhow::Result<u8> {
    let orig = Original::read(path)?;
    let text = orig.text()?;
    let known = if orig.bytes.is_some() {
        // The checks the server makes (mode, owner, every line), before anything changes.
        KnownNodes::load(&orig.path).map_err(|e| {
            anyhow::anyhow!("{e}\nmon: fix {} first; nothing written", path.display())
        })?;
        KnownNodes::parse(&text, path)?
    } else {
        KnownNodes::parse("", path)?
    };
    let edited = edit(&text, &known).map_err(|m| anyhow::anyhow!("{m}"))?;
    orig.replace(edited.text.as_bytes(), NEW_FILE_MODE)?;
    for line in &edited.report {
        outln!("{line}");
    }
    Ok(exit::OK)
}

/// The node key of the `KEY|FILE` argument: a file (or `-`, stdin) when one is named so,
/// else the key text itself.
fn read_key(arg: &str, name: &str) -> anyhow::Result<[u8; 32]> {
    let (text, what) = if arg == "-" {
        let text =
            std::io::read_to_string(std::io::stdin()).context("reading the key from stdin")?;
        (text, "stdin".to_string())
    } else if !arg.trim_start().starts_with("ssh-") && Path::new(arg).exists() {
        let text = std::fs::read_to_string(arg).with_context(|| format!("cannot read {arg}"))?;
        (text, arg.to_string())
    } else {
        (arg.to_string(), "the key given".to_string())
    };
    edit::node_key_in(&text, &what, name).map_err(|m| anyhow::anyhow!("{m}"))
}

/// Creates the directory of a known_nodes file that does not exist yet (0755: it holds
/// public files).
fn create_parent(path: &Path) -> anyhow::Result<()> {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() && !dir.exists() => DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(dir)
            .with_context(|| format!("cannot create {}", dir.display())),
        _ => Ok(()),
    }
}
