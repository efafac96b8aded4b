//! `mon audit verify FILE`.

use std::path::PathBuf;

use mon_proto::audit::{BreakKind, ChainBreak, Verifier, VerifySummary};

use crate::exit;

/// Arguments of `mon audit verify`.
#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// The log file (or a state dir holding audit.jsonl).
    pub file: PathBuf,
}

/// Verifies the whole file; prints one line saying intact or where it breaks.
pub fn run(args: VerifyArgs) -> anyhow::Result<u8> {
    let (path, mut reader) = super::open_log(&args.file)?;
    let shown = path.display();
    let mut verifier = Verifier::new();
    let mut brk: Option<ChainBreak> = None;
    while let Some(line) = reader
        .next_line()
        .map_err(|e| anyhow::anyhow!("cannot read audit log {shown}: {e}"))?
    {
        let res = if line.too_long {
            Err(verifier.push_unreadable(BreakKind::TooLong))
        } else if !line.complete {
            Err(verifier.push_unreadable(BreakKind::Incomplete))
        } else {
            verifier.push_bytes(&line.bytes)
        };
        if let Err(b) = res {
            brk = Some(b);
            break;
        }
    }
    let result = match brk {
        Some(b) => Err(b),
        None => verifier.finish(),
    };
    let (text, code) = verdict(&shown.to_string(), result);
    super::with_stdout(|out| writeln!(out, "{text}"))?;
    Ok(code)
}

/// The line `mon audit verify` prints for the log `shown`, and its exit code.
fn verdict(shown: &str, result: Result<VerifySummary, ChainBreak>) -> (String, u8) {
    match result {
        Ok(s) => match (s.log_id, s.last_seq) {
            (Some(id), Some(last)) => (
                format!(
                    "{shown}: {} records intact (log_id {id}, seq 0..{last})",
                    s.records
                ),
                exit::OK,
            ),
            _ => (format!("{shown}: 0 records (empty log)"), exit::OK),
        },
        Err(b) => (format!("{shown}: BROKEN at {b}"), exit::PARTIAL_OR_NEGATIVE),
    }
}
