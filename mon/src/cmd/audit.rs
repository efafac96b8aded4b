//! `mon audit show|verify|export`: review, check and export the server's audit log.

mod armor;
mod export;
mod show;
mod verify;

use std::fs::File;
use std::io::{BufReader, Write};
use std::path::{Path, PathBuf};

use anyhow::Context as _;

use crate::auditlog::{self, LineReader};

/// `mon audit …`
#[derive(Debug, clap::Subcommand)]
pub enum AuditCmd {
    /// Print audit records as a table (or JSON lines), filtered.
    Show(show::ShowArgs),
    /// Check the hash chain and seq of a log: exit 0 intact, 1 broken (naming the first bad
    /// line), 2 unreadable. Removing only the newest records cannot be detected (that needs
    /// signed checkpoints).
    Verify(verify::VerifyArgs),
    /// Write a recorded session's body and signature (session.cbor, session.sig) so that
    /// `ssh-keygen -Y verify` can check it; prints the command. Exit 0, 1 not found, 2 error.
    Export(export::ExportArgs),
}

/// Runs a `mon audit` subcommand and returns the process exit code.
pub fn run(cmd: AuditCmd) -> anyhow::Result<u8> {
    match cmd {
        AuditCmd::Show(a) => show::run(a),
        AuditCmd::Verify(a) => verify::run(a),
        AuditCmd::Export(a) => export::run(a),
    }
}

/// The default log location: `./audit.jsonl`.
fn default_log() -> PathBuf {
    PathBuf::from(auditlog::FILE_NAME)
}

/// Opens a log given as a file or a state dir.
fn open_log(path: &Path) -> anyhow::Result<(PathBuf, LineReader<BufReader<File>>)> {
    let path = auditlog::resolve(path);
    let file =
        File::open(&path).with_context(|| format!("cannot read audit log {}", path.display()))?;
    Ok((path, LineReader::new(BufReader::new(file))))
}

/// Runs `f` on a locked, buffered stdout; a closed pipe (`| head`) is not an error.
fn with_stdout(f: impl FnOnce(&mut dyn Write) -> std::io::Result<()>) -> anyhow::Result<()> {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    match f(&mut out).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(e).context("cannot write to stdout")
        }
        _ => Ok(()),
    }
}
