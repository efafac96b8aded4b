//! `mon`: the MON client, server and admin tools.

mod cmd;
#[allow(dead_code)]
mod exec;
mod exit;
#[allow(dead_code)]
mod grep;
#[allow(dead_code)]
mod resources;

use clap::{Parser, Subcommand};

/// MON — management overlay network: instant commands over on-demand overlays, signed with
/// your SSH key and checked against each slice's policy on every node.
#[derive(Debug, Parser)]
#[command(name = "mon", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Slice policy tools for admins: check files, explain a decision.
    #[command(subcommand)]
    Policy(cmd::policy::PolicyCmd),
    /// Audit log tools for operators: show, verify, export.
    #[command(subcommand)]
    Audit(cmd::audit::AuditCmd),
    /// User key tools: show which key MON would sign with.
    #[command(subcommand)]
    Key(cmd::key::KeyCmd),
    /// Server commands.
    #[command(subcommand)]
    Server(ServerCmd),
}

#[derive(Debug, Subcommand)]
enum ServerCmd {
    /// Create this node's key and print its known_nodes line.
    Init(cmd::server_init::InitArgs),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Policy(c) => cmd::policy::run(c),
        Command::Audit(c) => cmd::audit::run(c),
        Command::Key(c) => cmd::key::run(c),
        Command::Server(ServerCmd::Init(a)) => cmd::server_init::run(a),
    };
    match result {
        Ok(code) => std::process::ExitCode::from(code),
        Err(e) => {
            eprintln!("mon: {e:#}");
            std::process::ExitCode::from(exit::LOCAL_ERROR)
        }
    }
}
