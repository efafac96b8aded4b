//! Writing for the user: results on stdout, diagnostics on stderr, never a panic on a closed
//! pipe, colour only where it belongs.
//!
//! `println!` panics when stdout is a closed pipe (`mon members | head -1`: Rust ignores
//! SIGPIPE, so the write fails with EPIPE). [`outln!`] and [`out!`] write to stdout instead and,
//! once stdout is gone, drop what follows quietly: the command goes on and exits with its usual
//! status, as ripgrep does. [`errln!`] does the same for stderr.

use std::fmt;
use std::io::{self, IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};

/// Set once a write to stdout failed: later output is dropped.
static STDOUT_GONE: AtomicBool = AtomicBool::new(false);

/// Writes to stdout; a closed pipe ends output quietly, another error is reported once on
/// stderr.
pub fn write_stdout(args: fmt::Arguments<'_>) {
    if STDOUT_GONE.load(Ordering::Relaxed) {
        return;
    }
    if let Err(e) = io::stdout().lock().write_fmt(args) {
        STDOUT_GONE.store(true, Ordering::Relaxed);
        if !is_broken_pipe(&e) {
            write_stderr(format_args!("mon: cannot write to stdout: {e}\n"));
        }
    }
}

/// Writes to stderr, ignoring errors (there is nowhere left to report them).
pub fn write_stderr(args: fmt::Arguments<'_>) {
    let _ = io::stderr().lock().write_fmt(args);
}

/// Whether an I/O error is a closed pipe.
pub fn is_broken_pipe(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::BrokenPipe
}

/// Whether an error (from any layer) comes from a closed pipe: the command then ends quietly.
pub fn error_is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain()
        .filter_map(|c| c.downcast_ref::<io::Error>())
        .any(is_broken_pipe)
}

/// The line `mon: ERROR` a failed command ends with. An error may carry a node's words (the
/// entry's name, its slices, a refusal, a protocol error): their control characters are shown
/// escaped, as everywhere node text reaches a human (`mon_proto::shown`).
pub fn error_line(e: &anyhow::Error) -> String {
    format!("mon: {}", mon_proto::shown::shown_output(&format!("{e:#}")))
}

/// Whether colour may be written to stderr: only on a terminal, and never when `NO_COLOR` is
/// set to a non-empty value (no-color.org).
pub fn stderr_colour() -> bool {
    colour_allowed(stderr_is_terminal(), std::env::var_os("NO_COLOR"))
}

/// The colour rule itself: a terminal, and `NO_COLOR` unset or empty (no-color.org).
pub fn colour_allowed(terminal: bool, no_color: Option<std::ffi::OsString>) -> bool {
    terminal && no_color.is_none_or(|v| v.is_empty())
}

/// Whether stdout is a terminal (a command's output is then shown escaped:
/// `client::session::command_output`).
pub fn stdout_is_terminal() -> bool {
    io::stdout().is_terminal()
}

/// Whether stderr is a terminal (a line may be rewritten in place).
pub fn stderr_is_terminal() -> bool {
    io::stderr().is_terminal()
}

/// `println!` that never panics: see the module doc.
macro_rules! outln {
    () => {
        $crate::out::write_stdout(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::out::write_stdout(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// `print!` that never panics: see the module doc.
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::out::write_stdout(format_args!($($arg)*))
    };
}

/// `eprintln!` that never panics: see the module doc.
macro_rules! errln {
    ($($arg:tt)*) => {
        $crate::out::write_stderr(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// `eprint!` that never panics.
macro_rules! err {
    ($($arg:tt)*) => {
        $crate::out::write_stderr(format_args!($($arg)*))
    };
}

pub(crate) use {err, errln, out, outln};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_line_shows_a_nodes_escape_sequences_escaped() {
        let e = anyhow::anyhow!("n1\u{1b}]0;x\u{7} denied the session: no [policy]")
            .context("opening the session");
        assert_eq!(
            error_line(&e),
            r"mon: opening the session: n1\u{1b}]0;x\u{7} denied the session: no [policy]"
        );
    }

    #[test]
    fn a_closed_pipe_is_recognised_through_the_error_chain() {
        let e = anyhow::Error::from(io::Error::from(io::ErrorKind::BrokenPipe))
            .context("writing the answer");
        assert!(error_is_broken_pipe(&e));
        let e = anyhow::anyhow!("something else");
        assert!(!error_is_broken_pipe(&e));
    }
}
