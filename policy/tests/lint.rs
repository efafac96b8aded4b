//! `mon policy check` warnings and errors (library side).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::PathBuf;

use common::*;
use mon_policy::{check_paths, check_paths_report, CheckReport, Severity};

fn warnings_at(r: &CheckReport, file: &str, line: usize) -> Vec<String> {
    r.diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Warning)
        .filter(|d| d.file.ends_with(file) && d.line == line)
        .map(|d| d.message.clone())
        .collect()
}

fn has(ws: &[String], needle: &str) -> bool {
    ws.iter().any(|w| w.contains(needle))
}

#[test]
fn warnings() {
    let tmp = tempfile::tempdir().unwrap();
    let k: Vec<Key> = (0..9)
        .map(|i| keygen(tmp.path(), &format!("k{i}")))
        .collect();
    let allowed = format!(
        "clean@lab namespaces=\"mon-query@mon,mon-exec@mon\" {}\n\
         old@lab namespaces=\"mon-query@mon\",valid-before=\"20250101Z\" {}\n\
         future@lab namespaces=\"mon-query@mon\",valid-after=\"20270101Z\" {}\n\
         dup@lab namespaces=\"mon-query@mon\" {}\n\
         *,!root namespaces=\"mon-query@mon\" {}\n\
         wild@lab {}\n\
         star@lab namespaces=\"mon-*@mon\" {}\n\
         local@lab namespaces=\"mon-query@mon\",valid-before=\"20300101\" {}\n\
         git@lab namespaces=\"git\" {}\n\
         gone@lab namespaces=\"mon-query@mon\" {}\n",
        k[0].line,
        k[1].line,
        k[2].line,
        k[0].line,
        k[3].line,
        k[4].line,
        k[5].line,
        k[6].line,
        k[7].line,
        k[8].line
    );
    let mp = "clean@lab command=\"uptime\",run-as=\"mon\"\nstar@lab run-as=\"ops\"\n";
    let revoked = format!("{}\n", k[8].line);
    let dir = slice_dir(tmp.path(), "lab", Some(&allowed), Some(mp), Some(&revoked));
    let r = check_paths_report(&[dir], NOW);
    assert_eq!(r.errors(), 0, "{:#?}", r.diagnostics);
    assert!(r.unreadable.is_empty());
    let w = |line| warnings_at(&r, "allowed_signers", line);

    assert!(
        w(1).is_empty(),
        "a narrowed exec principal with run-as is clean: {:?}",
        w(1)
    );
    assert!(has(&w(2), "expired"), "{:?}", w(2));
    assert!(has(&w(3), "not valid yet"), "{:?}", w(3));
    assert!(
        has(&w(4), "duplicate key: also listed at line 1"),
        "{:?}",
        w(4)
    );
    assert!(has(&w(5), "matches every principal"), "{:?}", w(5));
    // No namespaces= grants everything: exec without narrowing, push without push-dirs, no run-as.
    assert!(has(&w(6), "may exec anything"), "{:?}", w(6));
    assert!(
        has(&w(6), "no namespaces= option grants every class"),
        "{:?}",
        w(6)
    );
    assert!(has(&w(6), "no push-dirs"), "{:?}", w(6));
    assert!(has(&w(6), "no run-as"), "{:?}", w(6));
    assert!(has(&w(6), "no grep-paths"), "{:?}", w(6));
    // mon-*@mon covers exec and push; run-as alone is not narrowing.
    assert!(has(&w(7), "may exec anything"), "{:?}", w(7));
    assert!(has(&w(7), "no push-dirs"), "{:?}", w(7));
    assert!(!has(&w(7), "no run-as"), "{:?}", w(7));
    // A wildcard namespace grants the audit class too, and is warned about by file and line.
    assert!(
        has(&w(7), "wildcard namespace grant \"mon-*@mon\""),
        "{:?}",
        w(7)
    );
    assert!(
        has(&w(7), "mon-audit@mon (reading every node's audit log)"),
        "{:?}",
        w(7)
    );
    assert!(!has(&w(1), "wildcard"), "{:?}", w(1));
    let d = r
        .diagnostics
        .iter()
        .find(|d| d.message.contains("wildcard namespace"))
        .unwrap();
    assert!(d.to_string().contains("allowed_signers:7:"), "{d}");
    assert!(has(&w(8), "has no zone"), "{:?}", w(8));
    assert!(has(&w(9), "grants no MON class"), "{:?}", w(9));
    assert!(has(&w(10), "revoked"), "{:?}", w(10));
    // Columns: the expiry warning points at valid-before, the zone warning at the time.
    let d = r
        .diagnostics
        .iter()
        .find(|d| d.line == 2 && d.message.contains("expired"))
        .unwrap();
    assert_eq!(d.col, "old@lab namespaces=\"mon-query@mon\",".len() + 1);
    assert!(d.to_string().contains("allowed_signers:2:"), "{d}");
}

#[test]
fn a_clean_slice_has_no_diagnostics() {
    let tmp = tempfile::tempdir().unwrap();
    let k = keygen(tmp.path(), "k");
    let allowed = format!(
        "alice@lab namespaces=\"mon-query@mon,mon-read@mon,mon-push@mon\" {}\n",
        k.line
    );
    let mp = "alice@lab push-dirs=\"/srv/apps\",grep-paths=\"/var/log\",run-as=\"deploy\"\n";
    let dir = slice_dir(tmp.path(), "lab", Some(&allowed), Some(mp), None);
    assert_eq!(check_paths(&[dir]), vec![]);
}

/// Issue 10: read, exec and push without run-as are refused by a root server, and read
/// without grep-paths may read anything the run-as user can: both are warned about.
#[test]
fn read_exec_push_without_run_as_and_read_without_grep_paths() {
    let tmp = tempfile::tempdir().unwrap();
    let k: Vec<Key> = (0..4)
        .map(|i| keygen(tmp.path(), &format!("k{i}")))
        .collect();
    let allowed = format!(
        "reader@lab namespaces=\"mon-read@mon\" {}\n\
         boxed@lab namespaces=\"mon-read@mon\" {}\n\
         runner@lab namespaces=\"mon-exec@mon\" {}\n\
         pusher@lab namespaces=\"mon-push@mon\" {}\n",
        k[0].line, k[1].line, k[2].line, k[3].line
    );
    let mp = "boxed@lab grep-paths=\"/var/log\",run-as=\"nobody\"\n\
              runner@lab command=\"uptime\"\n\
              pusher@lab push-dirs=\"/srv\"\n";
    let dir = slice_dir(tmp.path(), "lab", Some(&allowed), Some(mp), None);
    let r = check_paths_report(&[dir], NOW);
    assert_eq!(r.errors(), 0, "{:#?}", r.diagnostics);
    let w = |line| warnings_at(&r, "allowed_signers", line);
    assert!(has(&w(1), "no run-as"), "{:?}", w(1));
    assert!(has(&w(1), "run-as-missing"), "{:?}", w(1));
    assert!(has(&w(1), "no grep-paths"), "{:?}", w(1));
    assert!(w(2).is_empty(), "{:?}", w(2));
    assert!(has(&w(3), "no run-as"), "{:?}", w(3));
    assert!(!has(&w(3), "grep-paths"), "{:?}", w(3));
    assert!(has(&w(4), "no run-as"), "{:?}", w(4));
}

#[test]
fn directories_of_slices_files_by_name_and_unreadable_paths() {
    let tmp = tempfile::tempdir().unwrap();
    let k = keygen(tmp.path(), "k");
    let slices = tmp.path().join("slices");
    std::fs::create_dir(&slices).unwrap();
    slice_dir(
        &slices,
        "a",
        Some(&format!("alice namespaces=\"mon-query@mon\" {}\n", k.line)),
        None,
        None,
    );
    slice_dir(
        &slices,
        "b",
        Some("bob ssh-ed25519 !!\n"),
        Some("bob nope=\"1\"\n"),
        None,
    );
    slice_dir(&slices, "c", None, Some("carol run-as=\"c\"\n"), None);
    let r = check_paths_report(std::slice::from_ref(&slices), NOW);
    let errs: Vec<String> = r
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| d.to_string())
        .collect();
    assert_eq!(errs.len(), 3, "{errs:#?}");
    assert!(errs[0].contains("slices/b/allowed_signers:1:"), "{errs:#?}");
    assert!(
        errs[1].contains("slices/b/mon_policy:1:5: error: unknown option"),
        "{errs:#?}"
    );
    assert!(
        errs[2].contains("slices/c/allowed_signers: error: missing"),
        "{errs:#?}"
    );
    assert!(r.unreadable.is_empty());

    // A candidate file checked by its name before it is moved into place.
    let new = tmp.path().join("allowed_signers.new");
    std::fs::write(&new, format!("x@lab valid-before=\"2025\" {}\n", k.line)).unwrap();
    let r = check_paths_report(std::slice::from_ref(&new), NOW);
    assert_eq!(r.errors(), 1);
    assert_eq!(r.diagnostics[0].line, 1);
    // Unknown file names are errors; missing paths are unreadable.
    let other = tmp.path().join("notes.txt");
    std::fs::write(&other, "hello").unwrap();
    let missing = PathBuf::from("/nonexistent/slice");
    let r = check_paths_report(&[other, missing.clone()], NOW);
    assert_eq!(r.errors(), 2);
    assert_eq!(r.unreadable, vec![missing]);
    // An empty directory is neither a slice nor a directory of slices.
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let r = check_paths_report(&[empty], NOW);
    assert_eq!(r.errors(), 1);
    assert!(r.diagnostics[0].message.contains("not a slice directory"));
}
