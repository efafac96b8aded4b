//! `mon server init`: create a node key and print its known_nodes line.

use std::fs::DirBuilder;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use mon_keys::known_nodes::validate_node_name;
use mon_keys::nodekey::{NodeKey, NODE_KEY_FILE};

use crate::exit;
use crate::out::{errln, outln};

/// Arguments of `mon server init`.
#[derive(Debug, clap::Args)]
pub struct InitArgs {
    /// Directory that will hold the node key (`node_ed25519_key`).
    #[arg(long, value_name = "DIR", default_value = crate::server::DEFAULT_CONFIG_DIR)]
    pub config_dir: PathBuf,
    /// Node name (default: the host name).
    #[arg(long)]
    pub name: Option<String>,
}

/// The host name, from the kernel or /etc/hostname.
fn host_name() -> anyhow::Result<String> {
    for file in ["/proc/sys/kernel/hostname", "/etc/hostname"] {
        if let Ok(text) = std::fs::read_to_string(file) {
            let name = text.trim();
            if !name.is_empty() {
                return Ok(name.to_string());
            }
        }
    }
    bail!("cannot determine the host name; pass --name NAME")
}

/// Creates `dir` with mode 0700 if it does not exist.
fn create_config_dir(dir: &Path) -> anyhow::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("cannot create config directory {}", dir.display()))
}

/// Runs `mon server init` and returns the process exit code.
pub fn run(args: InitArgs) -> anyhow::Result<u8> {
    let name = match args.name {
        Some(n) => n,
        None => host_name()?,
    };
    validate_node_name(&name).map_err(|e| anyhow::anyhow!("{e} (pass a valid --name)"))?;
    create_config_dir(&args.config_dir)?;
    let path = args.config_dir.join(NODE_KEY_FILE);
    let key = NodeKey::generate(&mut rand::rngs::OsRng);
    key.save(&path, &format!("mon-node {name}"))?;
    outln!("{name} {}", key.public_openssh());
    errln!(
        "mon: created node key {}\n\
         mon: add the line above to the deployment's known_nodes file on every node and client,\n\
         mon: with this node's IP addresses after its name (`{name},IP[,IP…] ssh-ed25519 …`) so it\n\
         mon: is also recognised by address. Start the server with --name {name}.",
        path.display()
    );
    Ok(exit::OK)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use mon_keys::known_nodes::{KnownNodes, Trust};
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn creates_dir_and_key_and_refuses_to_overwrite() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("etc/mon");
        let args = || InitArgs {
            config_dir: dir.clone(),
            name: Some("node1".into()),
        };
        assert_eq!(run(args()).unwrap(), exit::OK);
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        let key = NodeKey::load(&dir.join(NODE_KEY_FILE)).unwrap();
        let line = format!("node1 {}\n", key.public_openssh());
        let known = KnownNodes::parse(&line, Path::new("known_nodes")).unwrap();
        assert_eq!(known.check("node1", None, &key.public()), Trust::Trusted);

        let err = run(args()).unwrap_err().to_string();
        assert!(
            err.contains("node_ed25519_key") && err.contains("already exists"),
            "{err}"
        );
        assert_eq!(
            NodeKey::load(&dir.join(NODE_KEY_FILE)).unwrap().public(),
            key.public()
        );
    }

    #[test]
    fn rejects_bad_names() {
        let tmp = tempfile::tempdir().unwrap();
        for bad in ["", "a b", "n,1", "@client", "node*", "10.0.0.1", "-x"] {
            let args = InitArgs {
                config_dir: tmp.path().to_path_buf(),
                name: Some(bad.into()),
            };
            assert!(run(args).is_err(), "{bad:?}");
        }
        assert!(!tmp.path().join(NODE_KEY_FILE).exists());
    }
}
