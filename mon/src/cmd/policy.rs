//! `mon policy` subcommands. (stub: to be implemented)

/// `mon policy …`
#[derive(Debug, clap::Subcommand)]
pub enum PolicyCmd {
    /// Not implemented yet.
    Todo,
}

/// Runs a `mon policy` subcommand and returns the process exit code.
pub fn run(cmd: PolicyCmd) -> anyhow::Result<u8> {
    match cmd {
        PolicyCmd::Todo => anyhow::bail!("not implemented"),
    }
}
