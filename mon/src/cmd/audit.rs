//! `mon audit show|verify|export`: review, check and export the server's audit log;
//! `mon audit fleet`: review every node's, through the overlay.

mod armor;
mod export;
pub mod fleet;
mod show;
mod verify;

use std::fs::File;
use std::io::{BufReader, Write};
use std::path::{Path, PathBuf};

use anyhow::Context as _;

use crate::auditlog::{self, LineReader};
use crate::client::GlobalArgs;

/// `mon audit …`
#[derive(Debug, clap::Subcommand)]
pub enum AuditCmd {
    /// Print audit records as a table (or JSON lines), filtered.
    Show(show::ShowArgs),
    /// Check the hash chain and seq of a log, across its rotated files: exit 0 intact, 1
    /// broken (naming the file and the first bad line), 2 unreadable. Removing only the newest
    /// records cannot be detected (that needs signed checkpoints).
    Verify(verify::VerifyArgs),
    /// Write a recorded session's body and signature (session.cbor, session.sig) so that
    /// `ssh-keygen -Y verify` can check it; prints the command. Exit 0, 1 not found, 2 error.
    Export(export::ExportArgs),
    /// Review every node's audit records through the overlay: counts by event, principal and
    /// node, the newest matching records with their node names, and whether each node's hash
    /// chain verified. Needs a key granted `mon-audit@mon` in the slice; nodes return only
    /// that slice's records, and the read is itself audited. Exit codes as for queries (1
    /// also when a node's chain did not verify).
    Fleet(fleet::FleetArgs),
}

/// Runs a `mon audit` subcommand and returns the process exit code.
pub fn run(cmd: AuditCmd) -> anyhow::Result<u8> {
    match cmd {
        AuditCmd::Show(a) => show::run(a),
        AuditCmd::Verify(a) => verify::run(a),
        AuditCmd::Export(a) => export::run(a),
        AuditCmd::Fleet(a) => fleet::run(GlobalArgs::default(), a),
    }
}

/// The default log location: `./audit.jsonl`.
fn default_log() -> PathBuf {
    PathBuf::from(auditlog::FILE_NAME)
}

/// The files a path names, oldest first: a state dir's log with its rotated files
/// (`audit.jsonl.<seq>`), or the one file given.
fn log_files(path: &Path) -> anyhow::Result<Vec<PathBuf>> {
    if !path.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let log = path.join(auditlog::FILE_NAME);
    let set = auditlog::files::log_set(&log)
        .with_context(|| format!("cannot list the audit log files in {}", path.display()))?;
    if set.is_empty() {
        anyhow::bail!(
            "no audit log in {}: expected {} (and rotated files {}.NNNNNNNNNN)",
            path.display(),
            auditlog::FILE_NAME,
            auditlog::FILE_NAME
        );
    }
    Ok(set)
}

/// Opens one file of a log for reading line by line.
fn open_file(path: &Path) -> anyhow::Result<LineReader<BufReader<File>>> {
    let file =
        File::open(path).with_context(|| format!("cannot read audit log {}", path.display()))?;
    Ok(LineReader::new(BufReader::new(file)))
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
