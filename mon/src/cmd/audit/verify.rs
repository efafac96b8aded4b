//! `mon audit verify PATH…`: one chain across the files given, oldest first.

use std::path::{Path, PathBuf};

use mon_proto::audit::{BreakKind, ChainBreak, Verifier, VerifySummary};

use crate::exit;

/// Arguments of `mon audit verify`.
#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// A state dir (its audit.jsonl and rotated audit.jsonl.NNNNNNNNNN files, checked as one
    /// chain), or log files, oldest first (e.g. files copied off the node, then the state
    /// dir).
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
}

/// Where the chain breaks: the file, and the break in it.
struct Broken {
    file: PathBuf,
    brk: ChainBreak,
}

/// Verifies every file; prints one line saying intact or where it breaks.
pub fn run(args: VerifyArgs) -> anyhow::Result<u8> {
    let mut files = Vec::new();
    for p in &args.paths {
        files.extend(super::log_files(p)?);
    }
    // A set (a state dir, or several files) must account for its missing oldest records; a
    // single file is checked on its own.
    let whole_set = files.len() > 1 || args.paths.iter().any(|p| p.is_dir());
    let shown = args
        .paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(" ");
    let (text, code) = match verify_files(&files)? {
        Err(b) => broken(&b),
        Ok(s) => match (whole_set, s.unaccounted()) {
            (true, Some(what)) => broken(&Broken {
                file: files.first().cloned().unwrap_or_default(),
                brk: ChainBreak {
                    line_no: 1,
                    seq: s.first.as_ref().map(|f| f.seq),
                    what,
                },
            }),
            _ => intact(&shown, files.len(), &s, whole_set),
        },
    };
    super::with_stdout(|out| writeln!(out, "{text}"))?;
    Ok(code)
}

/// Feeds every line of `files`, in order, to one verifier.
fn verify_files(files: &[PathBuf]) -> anyhow::Result<Result<VerifySummary, Broken>> {
    let mut verifier = Verifier::new();
    for file in files {
        verifier.start_file();
        if let Err(brk) = verify_one(&mut verifier, file)? {
            return Ok(Err(Broken {
                file: file.clone(),
                brk,
            }));
        }
    }
    Ok(verifier.finish().map_err(|brk| Broken {
        file: files.last().cloned().unwrap_or_default(),
        brk,
    }))
}

/// The lines of one file; the first break, if any.
fn verify_one(verifier: &mut Verifier, file: &Path) -> anyhow::Result<Result<(), ChainBreak>> {
    let mut reader = super::open_file(file)?;
    while let Some(line) = reader
        .next_line()
        .map_err(|e| anyhow::anyhow!("cannot read audit log {}: {e}", file.display()))?
    {
        let res = if line.too_long {
            Err(verifier.push_unreadable(BreakKind::TooLong))
        } else if !line.complete {
            Err(verifier.push_unreadable(BreakKind::Incomplete))
        } else {
            verifier.push_bytes(&line.bytes)
        };
        if let Err(b) = res {
            return Ok(Err(b));
        }
    }
    Ok(Ok(()))
}

fn broken(b: &Broken) -> (String, u8) {
    (
        format!("{}: BROKEN at {}", b.file.display(), b.brk),
        exit::PARTIAL_OR_NEGATIVE,
    )
}

/// The line for an intact log `shown` of `n_files` files.
fn intact(shown: &str, n_files: usize, s: &VerifySummary, whole_set: bool) -> (String, u8) {
    let (Some(id), Some(last)) = (&s.log_id, s.last_seq) else {
        return (format!("{shown}: 0 records (empty log)"), exit::OK);
    };
    let first = s.first.as_ref().map_or(0, |f| f.seq);
    let files = if n_files > 1 {
        format!(" in {n_files} files")
    } else {
        String::new()
    };
    let start = match (&s.first, whole_set) {
        (Some(f), _) if f.seq == 0 => String::new(),
        (_, true) => format!("; seq 0..{} removed by retention", first.saturating_sub(1)),
        (Some(f), false) => format!(
            "; continues {} (not checked: give the state dir, or every file, to check the whole log)",
            f.continues.as_deref().unwrap_or("an earlier file")
        ),
        (None, false) => String::new(),
    };
    (
        format!(
            "{shown}: {} records intact{files} (log_id {id}, seq {first}..{last}){start}",
            s.records
        ),
        exit::OK,
    )
}
