#![allow(clippy::unwrap_used, clippy::expect_used)]
use super::*;

/// A stop flag never set.
static GO: AtomicBool = AtomicBool::new(false);

fn file_with(content: &[u8]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("log");
    std::fs::write(&p, content).unwrap();
    (dir, p)
}

#[test]
fn contains_basics() {
    assert!(contains(b"hello world", b"world"));
    assert!(contains(b"hello world", b"h"));
    assert!(!contains(b"hello world", b"worlds"));
    assert!(!contains(b"", b"a"));
    assert!(contains(b"aaab", b"aab"));
}

#[test]
fn finds_word_across_every_chunk_boundary() {
    let mut content = vec![b'.'; 100];
    content[40..45].copy_from_slice(b"ERROR");
    let (_d, p) = file_with(&content);
    for chunk in 1..=50 {
        assert!(
            grep_file_chunked(&p, "ERROR", DEFAULT_MAX_BYTES, chunk, &[], &GO).unwrap(),
            "chunk {chunk}"
        );
        assert!(
            !grep_file_chunked(&p, "ERRORS", DEFAULT_MAX_BYTES, chunk, &[], &GO).unwrap(),
            "chunk {chunk}"
        );
    }
}

#[test]
fn default_chunking_on_a_large_file() {
    let mut content = vec![b'x'; CHUNK * 3];
    let at = CHUNK * 2 - 3;
    content[at..at + 6].copy_from_slice(b"needle");
    let (_d, p) = file_with(&content);
    assert!(grep_file(&p, "needle", DEFAULT_MAX_BYTES).unwrap());
    assert!(!grep_file(&p, "needles", DEFAULT_MAX_BYTES).unwrap());
}

#[test]
fn fixed_string_not_regex() {
    let (_d, p) = file_with(b"a.c\nabc\n");
    assert!(grep_file(&p, "a.c", DEFAULT_MAX_BYTES).unwrap());
    assert!(!grep_file(&p, "a.*z", DEFAULT_MAX_BYTES).unwrap());
}

#[test]
fn stops_at_max_bytes_and_says_so() {
    let mut content = vec![b'.'; 1000];
    content[900..903].copy_from_slice(b"END");
    let (_d, p) = file_with(&content);
    let e = grep_file_chunked(&p, "END", 500, 64, &[], &GO).unwrap_err();
    assert!(matches!(e, GrepError::LimitReached { max: 500, .. }));
    assert!(e.to_string().contains(&p.display().to_string()), "{e}");
    // Found within the limit: fine. File exactly at the limit: searched whole.
    assert!(grep_file_chunked(&p, "END", 903, 64, &[], &GO).unwrap());
    assert!(!grep_file_chunked(&p, "NOPE", 1000, 64, &[], &GO).unwrap());
}

#[test]
fn errors_name_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.log");
    let e = grep_file(&missing, "x", DEFAULT_MAX_BYTES).unwrap_err();
    assert!(matches!(e, GrepError::Open { .. }));
    assert!(e.to_string().contains("missing.log"), "{e}");
    let e = grep_file(dir.path(), "x", DEFAULT_MAX_BYTES).unwrap_err();
    assert!(matches!(e, GrepError::NotRegular { .. }), "{e}");
    let (_d, p) = file_with(b"x");
    assert!(matches!(grep_file(&p, "", 10), Err(GrepError::EmptyWord)));
}

/// A relative path would start at the server's working directory (a directory the
/// run-as user may search below one it may not, say): refused whether or not it exists.
#[test]
fn a_relative_path_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let name = dir.path().join("x.log");
    std::fs::write(&name, b"KEY").unwrap();
    let cwd = std::env::current_dir().unwrap();
    let rel = pathdiff(&name, &cwd);
    assert!(rel.is_relative() && rel.exists(), "{rel:?}");
    for p in [rel, PathBuf::from("Cargo.toml"), PathBuf::from("../x")] {
        let e = grep_file(&p, "KEY", DEFAULT_MAX_BYTES).unwrap_err();
        assert!(matches!(e, GrepError::Relative { .. }), "{p:?}: {e}");
    }
}

/// `to` relative to `from` (both absolute): enough `..` to reach `/`, then `to`.
fn pathdiff(to: &Path, from: &Path) -> PathBuf {
    let mut p = PathBuf::new();
    for _ in from.components().skip(1) {
        p.push("..");
    }
    p.push(to.strip_prefix("/").unwrap());
    p
}

/// `grep-paths`: the real path of the opened file decides, not the path's text: a
/// symbolic link below an allowed directory leading outside it is refused (naming both),
/// one leading inside is followed; directory and glob entries match as in the policy.
#[test]
fn grep_paths_check_the_real_path() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    let logs = root.join("logs");
    let private = root.join("private");
    std::fs::create_dir(&logs).unwrap();
    std::fs::create_dir(&private).unwrap();
    let secret = private.join("token.txt");
    std::fs::write(&secret, b"TOKEN").unwrap();
    let log = logs.join("app.log");
    std::fs::write(&log, b"TOKEN").unwrap();
    let out = logs.join("escape.log");
    std::os::unix::fs::symlink(&secret, &out).unwrap();
    let inside = logs.join("inside.log");
    std::os::unix::fs::symlink(&log, &inside).unwrap();
    let outer = root.join("outer.log");
    std::os::unix::fs::symlink(&log, &outer).unwrap();
    let dir_entry = vec![vec![logs.display().to_string()]];
    let glob = vec![vec![format!("{}/*.log", logs.display())]];
    for g in [&dir_entry, &glob] {
        let e = grep_file_within(&out, "TOKEN", DEFAULT_MAX_BYTES, g, &GO).unwrap_err();
        assert!(matches!(e, GrepError::OutsideGrepPaths { .. }), "{e}");
        let m = e.to_string();
        assert!(m.contains("escape.log") && m.contains("token.txt"), "{m}");
        assert!(m.starts_with("grep-path-denied: "), "{m}");
        assert!(m.contains("outside grep-paths"), "{m}");
        assert!(grep_file_within(&log, "TOKEN", DEFAULT_MAX_BYTES, g, &GO).unwrap());
        assert!(grep_file_within(&inside, "TOKEN", DEFAULT_MAX_BYTES, g, &GO).unwrap());
        // A link outside leading inside: the file read is inside, allowed here (the
        // policy's check on the text refuses such a path first).
        assert!(grep_file_within(&outer, "TOKEN", DEFAULT_MAX_BYTES, g, &GO).unwrap());
    }
    // Every restricting line must allow it.
    let two = vec![
        vec![logs.display().to_string()],
        vec![private.display().to_string()],
    ];
    let e = grep_file_within(&log, "TOKEN", DEFAULT_MAX_BYTES, &two, &GO).unwrap_err();
    assert!(matches!(e, GrepError::OutsideGrepPaths { .. }), "{e}");
    // No entries: no restriction.
    assert!(grep_file_within(&out, "TOKEN", DEFAULT_MAX_BYTES, &[], &GO).unwrap());
}

#[test]
fn fifo_does_not_block() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo");
    let st = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(st.success());
    let e = grep_file(&fifo, "x", DEFAULT_MAX_BYTES).unwrap_err();
    assert!(matches!(e, GrepError::NotRegular { .. }), "{e}");
}

/// A device is never opened: a character device with no driver behind it (major 240, a
/// "local/experimental" number) fails any real open with ENXIO, so "not a regular file"
/// proves only its type was looked at. Needs root (mknod).
#[test]
fn a_device_is_not_opened() {
    if !crate::asuser::is_root() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let dev = dir.path().join("dev");
    let st = std::process::Command::new("mknod")
        .arg(&dev)
        .args(["c", "240", "0"])
        .status()
        .unwrap();
    assert!(st.success());
    let e = grep_file(&dev, "x", DEFAULT_MAX_BYTES).unwrap_err();
    assert!(matches!(e, GrepError::NotRegular { .. }), "{e}");
}

/// The file is opened with the thread's credentials: as `nobody`, a root-only file is
/// refused, and so is a world-readable file reached through a symlink into a directory
/// `nobody` cannot search. Needs root.
#[test]
fn opens_with_the_threads_credentials() {
    use std::os::unix::fs::PermissionsExt;
    if !crate::asuser::is_root() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let secret = dir.path().join("secret");
    std::fs::write(&secret, b"KEY").unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    let closed = dir.path().join("closed");
    std::fs::create_dir(&closed).unwrap();
    std::fs::set_permissions(&closed, std::fs::Permissions::from_mode(0o700)).unwrap();
    std::fs::write(closed.join("open"), b"KEY").unwrap();
    std::fs::set_permissions(closed.join("open"), std::fs::Permissions::from_mode(0o644)).unwrap();
    let link = dir.path().join("link");
    std::os::unix::fs::symlink(closed.join("open"), &link).unwrap();
    let public = dir.path().join("public");
    std::fs::write(&public, b"KEY").unwrap();
    std::fs::set_permissions(&public, std::fs::Permissions::from_mode(0o644)).unwrap();

    // As root all three are read.
    for p in [&secret, &link, &public] {
        assert!(grep_file(p, "KEY", DEFAULT_MAX_BYTES).unwrap(), "{p:?}");
    }
    let as_nobody = |p: PathBuf| {
        crate::asuser::on_thread(Some("nobody"), move || {
            grep_file(&p, "KEY", DEFAULT_MAX_BYTES)
        })
        .unwrap()
    };
    for p in [&secret, &link] {
        let e = as_nobody(p.clone()).unwrap_err();
        assert!(matches!(e, GrepError::Open { .. }), "{e}");
        assert!(e.to_string().contains("Permission denied"), "{e}");
    }
    assert!(as_nobody(public.clone()).unwrap());
}

/// The worker thread shares the server's process: /proc's per-process files and magic
/// links (/proc/self/fd/N, cwd, root) would let it see the server's memory map or reach
/// files below directories it cannot search. Grep reads nothing on procfs and follows no
/// magic link. Needs root.
#[test]
fn no_proc_files_and_no_magic_links() {
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::PermissionsExt;
    if !crate::asuser::is_root() {
        return;
    }
    // A world-readable file in a world-searchable directory below one nobody cannot
    // search; the server holds the inner directory open.
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    let inner = dir.path().join("inner");
    std::fs::create_dir(&inner).unwrap();
    std::fs::set_permissions(&inner, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(inner.join("open.log"), b"KEY").unwrap();
    std::fs::set_permissions(
        inner.join("open.log"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let held = std::fs::File::open(&inner).unwrap();
    let through_fd = PathBuf::from(format!("/proc/self/fd/{}/open.log", held.as_raw_fd()));
    let as_nobody = |p: PathBuf, word: &'static str| {
        crate::asuser::on_thread(Some("nobody"), move || {
            grep_file(&p, word, DEFAULT_MAX_BYTES)
        })
        .unwrap()
    };
    let e = as_nobody(through_fd, "KEY").unwrap_err();
    assert!(matches!(e, GrepError::Open { .. }), "{e}");
    for p in ["/proc/self/maps", "/proc/self/status", "/proc/cpuinfo"] {
        let e = as_nobody(PathBuf::from(p), "a").unwrap_err();
        assert!(matches!(e, GrepError::Proc { .. }), "{e}");
    }
    drop(held);
}

/// A reader that is never at its end and sets `stop` (a cancel) at its first read.
struct Endless<'a> {
    stop: &'a AtomicBool,
    reads: usize,
}

impl Read for Endless<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.reads += 1;
        self.stop.store(true, Ordering::Relaxed);
        buf.fill(b'.');
        Ok(buf.len())
    }
}

#[test]
fn a_cancelled_grep_stops_reading() {
    // A cancelled run's blocking thread is not stopped by aborting its task, and the node
    // frees its run slot at once: without the stop, this read 256 MiB.
    let stop = AtomicBool::new(false);
    let mut r = Endless {
        stop: &stop,
        reads: 0,
    };
    let e = search(&mut r, b"ERROR", DEFAULT_MAX_BYTES, CHUNK, &stop).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::Interrupted);
    assert_eq!(r.reads, 1, "read on after the cancel");
}
