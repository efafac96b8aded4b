//! `mon`: the MON client, server and admin tools.

mod asuser;
mod auditlog;
mod cli;
mod client;
mod clock;
mod cmd;
mod exec;
mod exit;
mod framing;
mod grep;
mod insecure;
#[allow(dead_code)] // used by the push driver (issue 4)
mod land;
mod resources;
mod server;
mod settings;
mod sim;
mod testbed;

fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let code = match cli::run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("mon: {e:#}");
            exit::LOCAL_ERROR
        }
    };
    std::process::ExitCode::from(code)
}
