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
mod logging;
mod out;
mod resources;
mod server;
mod settings;
mod sim;
mod testbed;
mod units;
mod web;

fn main() -> std::process::ExitCode {
    let code = match cli::run() {
        Ok(code) => code,
        // A closed pipe ends the command quietly (`mon audit show | head`), as ripgrep does.
        Err(e) if out::error_is_broken_pipe(&e) => exit::OK,
        Err(e) => {
            out::errln!("{}", out::error_line(&e));
            exit::LOCAL_ERROR
        }
    };
    std::process::ExitCode::from(code)
}
