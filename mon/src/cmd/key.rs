//! `mon key` subcommands. (stub: to be implemented)

/// `mon key …`
#[derive(Debug, clap::Subcommand)]
pub enum KeyCmd {
    /// Not implemented yet.
    Todo,
}

/// Runs a `mon key` subcommand and returns the process exit code.
pub fn run(cmd: KeyCmd) -> anyhow::Result<u8> {
    match cmd {
        KeyCmd::Todo => anyhow::bail!("not implemented"),
    }
}
