//! `mon audit` subcommands. (stub: to be implemented)

/// `mon audit …`
#[derive(Debug, clap::Subcommand)]
pub enum AuditCmd {
    /// Not implemented yet.
    Todo,
}

/// Runs a `mon audit` subcommand and returns the process exit code.
pub fn run(cmd: AuditCmd) -> anyhow::Result<u8> {
    match cmd {
        AuditCmd::Todo => anyhow::bail!("not implemented"),
    }
}
