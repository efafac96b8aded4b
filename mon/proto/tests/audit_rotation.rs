//! The hash chain across the files of a rotated log: each new file begins with a `log.rotate`
//! record naming the previous file's last record, and verifying the files in order finds a
//! removed middle file, an edited record, a cut file, and oldest files removed without a
//! `log.retention` record.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use mon_proto::audit::{
    AuditEvent, BreakKind, Chain, ChainBreak, EventKind, Outcome, Verifier, VerifySummary,
};

fn op(i: u64) -> AuditEvent {
    AuditEvent::new(EventKind::OpEnd)
        .result(Outcome::Ok)
        .op("exec")
        .duration_ms(i)
}

/// A log of `files` files of `per` records each (after its `log.rotate`), named `f0`, `f1`…
fn rotated(files: usize, per: u64) -> (Chain, Vec<(String, Vec<String>)>) {
    let mut c = Chain::new([7; 16]);
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for f in 0..files {
        let mut lines = Vec::new();
        if let Some((prev_name, _)) = out.last() {
            let last_seq = c.next_seq() - 1;
            let prev = c.prev().to_owned();
            let ev = AuditEvent::new(EventKind::LogRotate)
                .result(Outcome::Ok)
                .file_end(prev_name.clone(), last_seq, &prev);
            lines.push(c.seal("n", "t", &ev));
        }
        for i in 0..per {
            lines.push(c.seal("n", "t", &op(i)));
        }
        out.push((format!("f{f}"), lines));
    }
    (c, out)
}

/// Verifies the files in order; a break comes with the file it is in.
fn verify(files: &[(String, Vec<String>)]) -> Result<VerifySummary, (String, ChainBreak)> {
    let mut v = Verifier::new();
    for (name, lines) in files {
        v.start_file();
        for l in lines {
            v.push(l).map_err(|b| (name.clone(), b))?;
        }
    }
    let s = v.finish().map_err(|b| ("?".to_string(), b))?;
    if let Some(what) = s.unaccounted() {
        let first = files.first().map(|(n, _)| n.clone()).unwrap_or_default();
        return Err((
            first,
            ChainBreak {
                line_no: 1,
                seq: s.first.as_ref().map(|f| f.seq),
                what,
            },
        ));
    }
    Ok(s)
}

#[test]
fn a_rotated_log_verifies_as_one_chain() {
    let (c, files) = rotated(4, 5);
    let s = verify(&files).expect("intact");
    assert_eq!(s.records, 4 * 5 + 3);
    assert_eq!(s.last_seq, Some(c.next_seq() - 1));
    assert_eq!(s.first.as_ref().map(|f| f.seq), Some(0));
    // The new file's first record names the previous file's last hash.
    let last_of_f0: serde_json::Value = serde_json::from_str(files[0].1.last().unwrap()).unwrap();
    let first_of_f1: serde_json::Value = serde_json::from_str(&files[1].1[0]).unwrap();
    assert_eq!(first_of_f1["event"], "log.rotate");
    assert_eq!(first_of_f1["file"], "f0");
    assert_eq!(first_of_f1["last_hash"], last_of_f0["hash"]);
    assert_eq!(first_of_f1["prev"], last_of_f0["hash"]);
    assert_eq!(first_of_f1["last_seq"], last_of_f0["seq"]);
}

#[test]
fn a_removed_middle_file_is_found_at_the_next_files_first_line() {
    let (_, mut files) = rotated(4, 5);
    files.remove(1);
    let (file, b) = verify(&files).unwrap_err();
    assert_eq!((file.as_str(), b.line_no), ("f2", 1));
    assert!(
        matches!(&b.what, BreakKind::MissingFile { expected: 5, found: 11, file } if file == "f1"),
        "{b}"
    );
    assert!(b.to_string().contains("records 5..10 are missing"), "{b}");
}

#[test]
fn an_edited_record_in_an_old_file_is_found_at_its_line() {
    let (_, mut files) = rotated(3, 5);
    files[1].1[3] = files[1].1[3].replacen("\"duration_ms\":2", "\"duration_ms\":9", 1);
    let (file, b) = verify(&files).unwrap_err();
    assert_eq!((file.as_str(), b.line_no), ("f1", 4));
    assert_eq!(b.what, BreakKind::HashMismatch);
}

#[test]
fn a_cut_file_is_found_at_the_next_files_first_line() {
    let (_, mut files) = rotated(3, 5);
    files[0].1.truncate(3);
    let (file, b) = verify(&files).unwrap_err();
    assert_eq!((file.as_str(), b.line_no), ("f1", 1));
    assert!(
        matches!(
            b.what,
            BreakKind::MissingFile {
                expected: 3,
                found: 5,
                ..
            }
        ),
        "{b}"
    );
}

#[test]
fn oldest_files_removed_by_hand_are_unaccounted() {
    let (_, mut files) = rotated(3, 5);
    files.remove(0);
    let (file, b) = verify(&files).unwrap_err();
    assert_eq!((file.as_str(), b.line_no), ("f1", 1));
    assert!(
        matches!(&b.what, BreakKind::Unaccounted { first_seq: 5, file } if file == "f0"),
        "{b}"
    );
    // A file on its own (not a set) verifies; the caller decides whether the start matters.
    let mut v = Verifier::new();
    for l in &files[1].1 {
        v.push(l).unwrap();
    }
    assert!(v.finish().unwrap().unaccounted().is_some());
}

#[test]
fn oldest_files_removed_by_retention_are_accounted_for() {
    let (mut c, mut files) = rotated(3, 5);
    // Retention removes f0 and says so in the current file; then f0 goes.
    let last_of_f0: serde_json::Value = serde_json::from_str(files[0].1.last().unwrap()).unwrap();
    let ev = AuditEvent::new(EventKind::LogRetention)
        .result(Outcome::Ok)
        .file_end("f0", 4, last_of_f0["hash"].as_str().unwrap());
    files[2].1.push(c.seal("n", "t", &ev));
    // Still there (a crash before the delete): intact.
    verify(&files).expect("intact with f0 still present");
    files.remove(0);
    let s = verify(&files).expect("intact after retention");
    assert_eq!(s.first.as_ref().map(|f| f.seq), Some(5));
    assert_eq!(s.removed_through.as_ref().map(|r| r.0), Some(4));
    // Removing the next oldest by hand is not covered by that record.
    files.remove(0);
    let (_, b) = verify(&files).unwrap_err();
    assert!(
        matches!(b.what, BreakKind::Unaccounted { first_seq: 11, .. }),
        "{b}"
    );
}

#[test]
fn a_record_deleted_before_a_files_log_rotate_is_not_hidden_by_it() {
    // The first file of a set must begin with seq 0 or a log.rotate: deleting a rotated file's
    // leading log.rotate leaves a file that begins with an ordinary record.
    let (_, mut files) = rotated(2, 5);
    files.remove(0);
    files[0].1.remove(0);
    let (file, b) = verify(&files).unwrap_err();
    assert_eq!((file.as_str(), b.line_no), ("f1", 1));
    assert_eq!(b.what, BreakKind::FirstSeq(6));
}

#[test]
fn a_log_rotate_that_does_not_name_the_record_before_it_is_a_break() {
    let mut c = Chain::new([7; 16]);
    let a = c.seal("n", "t", &op(0));
    let bad = AuditEvent::new(EventKind::LogRotate).file_end("f0", 5, &"a".repeat(64));
    let b = c.seal("n", "t", &bad);
    let mut v = Verifier::new();
    v.push(&a).unwrap();
    v.start_file();
    let brk = v.push(&b).unwrap_err();
    assert!(matches!(brk.what, BreakKind::BadFileRecord(_)), "{brk}");
}
