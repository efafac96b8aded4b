//! `mon server init`: create a node key and print its known_nodes line. (stub)

use std::path::PathBuf;

/// Arguments of `mon server init`.
#[derive(Debug, clap::Args)]
pub struct InitArgs {
    /// Directory that will hold the node key (`node_ed25519_key`).
    #[arg(long)]
    pub config_dir: PathBuf,
    /// Node name (default: the host name).
    #[arg(long)]
    pub name: Option<String>,
}

/// Runs `mon server init` and returns the process exit code.
pub fn run(args: InitArgs) -> anyhow::Result<u8> {
    let _ = args;
    anyhow::bail!("not implemented")
}
