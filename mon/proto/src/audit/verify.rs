//! Verifying a log: the hash of every record, the `seq` sequence and the `prev` links, within
//! one file and across the files of a rotated log.
//!
//! What this detects: an edited record (its hash no longer matches, or — if the editor
//! recomputed that hash — the next record's `prev` no longer matches), a deleted record (a gap
//! in `seq`), an inserted or duplicated record (`seq` repeats, or `prev` does not link), records
//! reordered, records from another log (`log_id` changes), and deleted leading records (the first
//! `seq` is not 0 and the first record is not a `log.rotate`). Across the files of a rotated log
//! (fed in order, [`Verifier::start_file`] before each): a removed or cut file (a `seq` gap at
//! the next file's first record) and oldest files removed without a `log.retention` record
//! saying so ([`VerifySummary::unaccounted`]). What it cannot detect: removing only the newest
//! records (or the newest file), or rewriting everything from some record on with recomputed
//! hashes — that needs signed checkpoints kept elsewhere (a later step).

use super::chain::{
    is_lower_hex, record_hash, split_hash, Chain, FORMAT_VERSION, GENESIS_PREV, MAX_LINE_BYTES,
};
use super::event::EventKind;
use super::record::AuditRecord;

/// An intact log (or an intact prefix being checked).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifySummary {
    /// Number of records.
    pub records: u64,
    /// The log id (`None` for an empty log).
    pub log_id: Option<String>,
    /// `seq` of the newest record (`None` for an empty log).
    pub last_seq: Option<u64>,
    /// `hash` of the newest record ([`GENESIS_PREV`] for an empty log).
    pub last_hash: String,
    /// The oldest record fed: its `seq`, `prev`, and for a `log.rotate` the file it continues
    /// (`None` for an empty log).
    pub first: Option<FirstRecord>,
    /// The newest `log.retention` seen: every record up to this `seq` was removed, the last of
    /// them with this `hash`.
    pub removed_through: Option<(u64, String)>,
}

/// The oldest record of what was verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FirstRecord {
    /// Its `seq` (0 unless the log was rotated and older files are not here).
    pub seq: u64,
    /// Its `prev`.
    pub prev: String,
    /// For a `log.rotate`: the previous file it names.
    pub continues: Option<String>,
}

impl VerifySummary {
    /// The chain state to append after the newest record (`None` for an empty log).
    pub fn chain(&self) -> Option<Chain> {
        let log_id = self.log_id.as_deref()?;
        let next = self.last_seq?.checked_add(1)?;
        Chain::resume(log_id, next, &self.last_hash).ok()
    }

    /// Why the records before the oldest one fed are missing unaccounted for, if they are:
    /// the oldest record continues a file that is not here, and no `log.retention` record says
    /// that retention removed it (a file deleted by hand, or moved away: verify it together
    /// with the others). `None` for a log that starts at `seq` 0 or whose missing start
    /// retention removed.
    pub fn unaccounted(&self) -> Option<BreakKind> {
        let first = self.first.as_ref()?;
        if first.seq == 0 {
            return None;
        }
        let missing = BreakKind::Unaccounted {
            first_seq: first.seq,
            file: first.continues.clone().unwrap_or_default(),
        };
        match &self.removed_through {
            Some((through, hash)) if through.saturating_add(1) == first.seq => {
                (hash != &first.prev).then_some(BreakKind::PrevMismatch)
            }
            Some((through, _)) if *through >= first.seq => None,
            _ => Some(missing),
        }
    }
}

/// Why a record breaks the chain.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BreakKind {
    /// The line is not a well-formed v1 record (or not UTF-8, or empty, or too long).
    #[error("not a valid audit record ({0}): the line was edited or corrupted")]
    Malformed(String),
    /// The line is longer than [`MAX_LINE_BYTES`].
    #[error("line longer than {MAX_LINE_BYTES} bytes: not a record MON writes")]
    TooLong,
    /// The last line has no `\n`: a write torn by a crash (the server saves it aside and
    /// removes it on its next start), or the file was cut.
    #[error(
        "incomplete last line without a newline (a write torn by a crash, or the file was cut)"
    )]
    Incomplete,
    /// `v` is not a version this build understands.
    #[error("unsupported record version v={0} (this build reads v=1)")]
    Version(u64),
    /// The record's text does not hash to its `hash` field.
    #[error("hash mismatch: the record's content does not match its hash (the record was edited)")]
    HashMismatch,
    /// The first record is not `seq` 0.
    #[error("the first record has seq {0}, expected 0: the records before it were deleted")]
    FirstSeq(u64),
    /// The first record does not start from the genesis `prev`.
    #[error("the first record's prev is not the genesis value (64 zeros): records before it were deleted")]
    FirstPrev,
    /// The record belongs to another log.
    #[error(
        "log_id {found} differs from this log's {expected}: a record from another log was inserted"
    )]
    LogId {
        /// This log's id.
        expected: String,
        /// The record's id.
        found: String,
    },
    /// `seq` skips forward.
    #[error(
        "seq gap: expected seq {expected}, found {found}: record(s) deleted, or records reordered"
    )]
    SeqGap {
        /// The seq that should come next.
        expected: u64,
        /// The seq found.
        found: u64,
    },
    /// `seq` repeats or goes back.
    #[error("seq out of order: expected seq {expected}, found {found}: a record was inserted, duplicated or reordered")]
    SeqBack {
        /// The seq that should come next.
        expected: u64,
        /// The seq found.
        found: u64,
    },
    /// A file begins with a `log.rotate` record after a gap: the records between are missing.
    #[error("seq gap: expected seq {expected}, found {found}: records {expected}..{} are missing (this file continues {file}: it was cut, or a file between was removed)", found.saturating_sub(1))]
    MissingFile {
        /// The seq that should come next.
        expected: u64,
        /// The seq found.
        found: u64,
        /// The previous file the `log.rotate` record names.
        file: String,
    },
    /// The oldest file continues one that is not here, and no `log.retention` record accounts
    /// for it.
    #[error("records 0..{} are missing: this file continues {file}, which is not here, and no log.retention record says retention removed it (deleted or moved by hand; verify the moved files together with these)", first_seq.saturating_sub(1))]
    Unaccounted {
        /// The oldest `seq` present.
        first_seq: u64,
        /// The file the oldest record continues.
        file: String,
    },
    /// A `log.rotate` or `log.retention` record does not carry the file and record it names.
    #[error("{0}")]
    BadFileRecord(&'static str),
    /// `prev` does not equal the previous record's `hash`.
    #[error("prev mismatch: prev does not equal the hash of the record before it (a record was inserted or reordered, or the record before it was edited and re-hashed)")]
    PrevMismatch,
}

/// The first record that breaks the chain.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line_no}{}: {what}", seq.map(|s| format!(" (seq {s})")).unwrap_or_default())]
pub struct ChainBreak {
    /// 1-based line number in the file.
    pub line_no: usize,
    /// The record's `seq`, when it could be read.
    pub seq: Option<u64>,
    /// What is wrong.
    pub what: BreakKind,
}

#[derive(Debug, Clone)]
struct Tail {
    log_id: String,
    last_seq: u64,
    last_hash: String,
}

/// Streaming verifier: feed lines in file order with [`Verifier::push`], then
/// [`Verifier::finish`]. After the first break every further push returns that break again.
#[derive(Debug, Default, Clone)]
pub struct Verifier {
    line_no: usize,
    records: u64,
    tail: Option<Tail>,
    broken: Option<ChainBreak>,
    /// The next record is the first of a file (not the first file).
    file_start: bool,
    first: Option<FirstRecord>,
    removed_through: Option<(u64, String)>,
}

impl Verifier {
    /// A verifier at the start of a log.
    pub fn new() -> Verifier {
        Verifier::default()
    }

    /// Number of lines pushed so far (in the current file).
    pub fn line_no(&self) -> usize {
        self.line_no
    }

    /// The next line is line 1 of the next file of the same log (a rotated log's files are fed
    /// oldest first). Line numbers count from there.
    pub fn start_file(&mut self) {
        self.line_no = 0;
        self.file_start = self.tail.is_some();
    }

    /// Checks the next line (without its `\n`) given as raw bytes; non-UTF-8 is a break.
    pub fn push_bytes(&mut self, line: &[u8]) -> Result<(), ChainBreak> {
        match std::str::from_utf8(line) {
            Ok(s) => self.push(s),
            Err(_) => {
                self.line_no += 1;
                self.fail(None, BreakKind::Malformed("not UTF-8".into()))
            }
        }
    }

    /// Records a line that cannot be checked (too long, or the incomplete last line) as the
    /// next line's break.
    pub fn push_unreadable(&mut self, what: BreakKind) -> ChainBreak {
        if let Some(b) = &self.broken {
            return b.clone();
        }
        self.line_no += 1;
        self.record_break(None, what)
    }

    /// Checks the next line (without its `\n`).
    pub fn push(&mut self, line: &str) -> Result<(), ChainBreak> {
        if let Some(b) = &self.broken {
            return Err(b.clone());
        }
        self.line_no += 1;
        let rec = match check_line(line) {
            Ok(r) => r,
            Err((seq, what)) => return self.fail(seq, what),
        };
        let file_start = std::mem::take(&mut self.file_start);
        if let Err(what) = check_file_fields(&rec).and_then(|()| self.check_link(&rec, file_start))
        {
            return self.fail(Some(rec.seq), what);
        }
        if self.first.is_none() {
            self.first = Some(FirstRecord {
                seq: rec.seq,
                prev: rec.prev.clone(),
                continues: rec.file.clone().filter(|_| rec.seq > 0),
            });
        }
        if rec.event == EventKind::LogRetention.as_str() {
            if let (Some(s), Some(h)) = (rec.last_seq, &rec.last_hash) {
                if self.removed_through.as_ref().is_none_or(|(t, _)| s > *t) {
                    self.removed_through = Some((s, h.clone()));
                }
            }
        }
        self.records += 1;
        self.tail = Some(Tail {
            log_id: rec.log_id,
            last_seq: rec.seq,
            last_hash: rec.hash,
        });
        Ok(())
    }

    /// Checks that an intact record follows the tail: `seq` 0 and the genesis `prev` (or a
    /// `log.rotate`) first, then the same `log_id`, the next `seq` and `prev` equal to the last
    /// hash. A gap before a file's first record names the file it continues.
    fn check_link(&self, rec: &AuditRecord, file_start: bool) -> Result<(), BreakKind> {
        let Some(t) = &self.tail else {
            return check_first(rec);
        };
        if rec.log_id != t.log_id {
            return Err(BreakKind::LogId {
                expected: t.log_id.clone(),
                found: rec.log_id.clone(),
            });
        }
        match (check_next_seq(t.last_seq, rec.seq), &rec.file) {
            (Err(BreakKind::SeqGap { expected, found }), Some(file))
                if file_start && rec.event == EventKind::LogRotate.as_str() =>
            {
                return Err(BreakKind::MissingFile {
                    expected,
                    found,
                    file: file.clone(),
                });
            }
            (r, _) => r?,
        }
        if rec.prev != t.last_hash {
            return Err(BreakKind::PrevMismatch);
        }
        Ok(())
    }

    fn fail(&mut self, seq: Option<u64>, what: BreakKind) -> Result<(), ChainBreak> {
        Err(self.record_break(seq, what))
    }

    fn record_break(&mut self, seq: Option<u64>, what: BreakKind) -> ChainBreak {
        let b = ChainBreak {
            line_no: self.line_no,
            seq,
            what,
        };
        self.broken = Some(b.clone());
        b
    }

    /// The summary of everything pushed, or the first break.
    pub fn finish(self) -> Result<VerifySummary, ChainBreak> {
        if let Some(b) = self.broken {
            return Err(b);
        }
        Ok(match self.tail {
            None => VerifySummary {
                records: 0,
                log_id: None,
                last_seq: None,
                last_hash: GENESIS_PREV.to_owned(),
                first: None,
                removed_through: None,
            },
            Some(t) => VerifySummary {
                records: self.records,
                log_id: Some(t.log_id),
                last_seq: Some(t.last_seq),
                last_hash: t.last_hash,
                first: self.first,
                removed_through: self.removed_through,
            },
        })
    }
}

/// The first record of a chain: `seq` 0 and the genesis `prev`, or the `log.rotate` that
/// begins a later file of a rotated log (its older files are checked by
/// [`VerifySummary::unaccounted`]).
fn check_first(rec: &AuditRecord) -> Result<(), BreakKind> {
    if rec.seq > 0 && rec.event == EventKind::LogRotate.as_str() {
        return Ok(());
    }
    if rec.seq != 0 {
        return Err(BreakKind::FirstSeq(rec.seq));
    }
    if rec.prev != GENESIS_PREV {
        return Err(BreakKind::FirstPrev);
    }
    Ok(())
}

/// A `log.rotate` names the record before it (`last_seq` = `seq` − 1, `last_hash` = `prev`);
/// a `log.retention` names a file and its last record.
fn check_file_fields(rec: &AuditRecord) -> Result<(), BreakKind> {
    let named = rec.file.is_some() && rec.last_seq.is_some();
    let hash_ok = rec
        .last_hash
        .as_deref()
        .is_some_and(|h| is_lower_hex(h, 64));
    if rec.event == EventKind::LogRotate.as_str() {
        let links = rec.last_seq.and_then(|s| s.checked_add(1)) == Some(rec.seq)
            && rec.last_hash.as_deref() == Some(rec.prev.as_str());
        if !(named && hash_ok && links) {
            return Err(BreakKind::BadFileRecord(
                "log.rotate does not name the record before it (file, last_seq = seq - 1, last_hash = prev)",
            ));
        }
    } else if rec.event == EventKind::LogRetention.as_str() && !(named && hash_ok) {
        return Err(BreakKind::BadFileRecord(
            "log.retention does not name the removed file and its last record",
        ));
    }
    Ok(())
}

/// The record after the one numbered `last_seq` must be numbered next: no gap, no step back.
fn check_next_seq(last_seq: u64, seq: u64) -> Result<(), BreakKind> {
    let Some(expected) = last_seq.checked_add(1) else {
        return Err(BreakKind::Malformed("seq overflows".into()));
    };
    if seq > expected {
        return Err(BreakKind::SeqGap {
            expected,
            found: seq,
        });
    }
    if seq < expected {
        return Err(BreakKind::SeqBack {
            expected,
            found: seq,
        });
    }
    Ok(())
}

/// Verifies a whole log given as lines in file order (without `\n`); returns the summary or the
/// first record that breaks the chain. Never panics, whatever the input.
pub fn verify_lines<'a>(
    lines: impl IntoIterator<Item = &'a str>,
) -> Result<VerifySummary, ChainBreak> {
    let mut v = Verifier::new();
    for line in lines {
        v.push(line)?;
    }
    v.finish()
}

/// Checks one line on its own: size, record syntax, format version, the `hash` field last and
/// matching the line's hash over `prev`. The error carries the record's `seq` once it is known.
fn check_line(line: &str) -> Result<AuditRecord, (Option<u64>, BreakKind)> {
    if line.len() > MAX_LINE_BYTES {
        return Err((None, BreakKind::TooLong));
    }
    if line.is_empty() {
        return Err((None, BreakKind::Malformed("empty line".into())));
    }
    let rec = AuditRecord::parse(line).map_err(|e| (None, BreakKind::Malformed(e.to_string())))?;
    let seq = Some(rec.seq);
    if rec.v != FORMAT_VERSION {
        return Err((seq, BreakKind::Version(rec.v)));
    }
    let Some((unhashed, claimed)) = split_hash(line) else {
        let what = "\"hash\" is not the last field or not 64 lowercase hex digits";
        return Err((seq, BreakKind::Malformed(what.into())));
    };
    if claimed != rec.hash {
        return Err((seq, BreakKind::Malformed("duplicate \"hash\" field".into())));
    }
    if !is_lower_hex(&rec.log_id, 32) || !is_lower_hex(&rec.prev, 64) {
        let what = "log_id or prev is not lowercase hex of the right length";
        return Err((seq, BreakKind::Malformed(what.into())));
    }
    if record_hash(&rec.prev, unhashed.as_bytes()) != rec.hash {
        return Err((seq, BreakKind::HashMismatch));
    }
    Ok(rec)
}
