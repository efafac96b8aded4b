//! `filter grep WORD FILE`: does a fixed string occur in a file?
//!
//! Fixed-string search (not a regular expression), streaming in chunks that overlap by
//! `word.len() - 1` bytes so a word spanning two chunks is found, reading at most `max_bytes`.
//!
//! Only regular files are searched, and nothing else is ever opened: the path is resolved
//! with `O_PATH` (which opens no device, FIFO or socket: no driver `open`, no blocking) and
//! without magic links (`RESOLVE_NO_MAGICLINKS`), files on procfs are refused (the worker
//! thread shares the server's process: `/proc/self` is the server), its type checked with
//! `fstat`, and only a regular file is then reopened for reading through
//! `/proc/thread-self/fd/N` (the same inode, with the permission check of a real open). Every
//! step runs with the calling thread's credentials: the server calls [`grep_file`] through
//! [`crate::asuser::on_thread`], so path lookup, symlinks and the read permission are checked
//! as the run-as user. This is blocking IO: the server calls it from
//! `tokio::task::spawn_blocking`.
//!
//! `grep-paths=` (mon_policy) is checked by the policy on the path's text; the path may pass
//! through symbolic links a local user placed below an allowed directory. So
//! [`grep_file_within`] also checks the file actually opened: the real path of the `O_PATH`
//! handle (`/proc/thread-self/fd/N`, as the kernel resolved it) must match the same entries
//! with the policy's own matcher ([`mon_policy::grep_path_allowed`]), else nothing is read.

use std::fs::File;
use std::io::{self, Read};
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};

use rustix::fs::{FileType, Mode, OFlags, ResolveFlags, CWD};

/// Default limit on the bytes read from one file: 256 MiB.
pub const DEFAULT_MAX_BYTES: u64 = 256 << 20;

/// Read size.
const CHUNK: usize = 64 * 1024;

/// Why a file could not be searched.
#[derive(Debug, thiserror::Error)]
pub enum GrepError {
    /// Nothing to search for.
    #[error("grep: the word to search for is empty")]
    EmptyWord,
    /// The file could not be opened.
    #[error("cannot open {}: {source}", path.display())]
    Open {
        /// File.
        path: PathBuf,
        /// OS error.
        source: io::Error,
    },
    /// Not a regular file.
    #[error("{} is not a regular file", path.display())]
    NotRegular {
        /// File.
        path: PathBuf,
    },
    /// A relative path: it would resolve against the server's working directory, which the
    /// run-as user might not be able to reach by any absolute path.
    #[error("{}: grep needs an absolute path", path.display())]
    Relative {
        /// File.
        path: PathBuf,
    },
    /// A file on procfs (per-process files would be the server's).
    #[error("{} is on /proc: grep does not read procfs files (use exec)", path.display())]
    Proc {
        /// File.
        path: PathBuf,
    },
    /// The opened file's real path (symbolic links resolved) is outside `grep-paths=`.
    #[error("{}: {} resolves to {}, outside grep-paths: not searched", mon_policy::Reason::GrepPathDenied.code(), path.display(), real.display())]
    OutsideGrepPaths {
        /// File as asked.
        path: PathBuf,
        /// Where it resolves.
        real: PathBuf,
    },
    /// Reading failed.
    #[error("error reading {}: {source}", path.display())]
    Read {
        /// File.
        path: PathBuf,
        /// OS error.
        source: io::Error,
    },
    /// The word is not in the first `max` bytes and the file is longer.
    #[error("{}: the word is not in the first {max} bytes; the file is larger and the rest was not searched", path.display())]
    LimitReached {
        /// File.
        path: PathBuf,
        /// Bytes searched.
        max: u64,
    },
}

/// Whether `needle` (non-empty) occurs in `hay`.
fn contains(hay: &[u8], needle: &[u8]) -> bool {
    let Some((&first, rest)) = needle.split_first() else {
        return true;
    };
    let mut start = 0;
    while start + needle.len() <= hay.len() {
        let Some(off) = hay[start..=hay.len() - needle.len()]
            .iter()
            .position(|&b| b == first)
        else {
            return false;
        };
        let at = start + off;
        if &hay[at + 1..at + needle.len()] == rest {
            return true;
        }
        start = at + 1;
    }
    false
}

/// Streaming search over a reader; `Ok(None)` when `max_bytes` were read without a match and
/// more data follows.
fn search<R: Read>(
    mut r: R,
    word: &[u8],
    max_bytes: u64,
    chunk: usize,
) -> io::Result<Option<bool>> {
    let keep = word.len().saturating_sub(1);
    let chunk = chunk.max(1);
    let mut window: Vec<u8> = Vec::with_capacity(keep + chunk);
    let mut read_total: u64 = 0;
    let mut buf = vec![0u8; chunk];
    loop {
        let want = usize::try_from(max_bytes.saturating_sub(read_total))
            .unwrap_or(usize::MAX)
            .min(chunk);
        if want == 0 {
            // At the limit: is there more?
            let mut one = [0u8; 1];
            loop {
                match r.read(&mut one) {
                    Ok(0) => return Ok(Some(false)),
                    Ok(_) => return Ok(None),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
        }
        let n = match r.read(&mut buf[..want]) {
            Ok(0) => return Ok(Some(false)),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        read_total += n as u64;
        window.extend_from_slice(&buf[..n]);
        if contains(&window, word) {
            return Ok(Some(true));
        }
        // Keep only the tail that could start a match spanning into the next chunk.
        let drop = window.len().saturating_sub(keep);
        window.drain(..drop);
    }
}

/// Whether the fixed string `word` occurs in the regular file `path`, reading at most
/// `max_bytes` (errors name the path). No `grep-paths=` restriction: see
/// [`grep_file_within`] (the server always calls that).
#[cfg(test)]
pub fn grep_file(path: &Path, word: &str, max_bytes: u64) -> Result<bool, GrepError> {
    grep_file_within(path, word, max_bytes, &[])
}

/// [`grep_file`] for a grep the policy allowed under `grep_paths` (one list of entries per
/// applying `mon_policy` line, as in `RunRequest::grep_paths`; empty: no restriction): the
/// real path of the opened file must match them too, else [`GrepError::OutsideGrepPaths`].
pub fn grep_file_within(
    path: &Path,
    word: &str,
    max_bytes: u64,
    grep_paths: &[Vec<String>],
) -> Result<bool, GrepError> {
    grep_file_chunked(path, word, max_bytes, CHUNK, grep_paths)
}

/// Opens `path` for reading if it is a regular file whose real path `grep_paths` allow,
/// without opening anything else (see the module docs).
fn open_regular(path: &Path, grep_paths: &[Vec<String>]) -> Result<File, GrepError> {
    let open_err = |e: rustix::io::Errno| GrepError::Open {
        path: path.to_path_buf(),
        source: e.into(),
    };
    // Relative paths start at the server's working directory (shared by the worker thread),
    // where the user might have no way in: a directory the user may search below one the
    // user may not.
    if !path.is_absolute() {
        return Err(GrepError::Relative {
            path: path.to_path_buf(),
        });
    }
    // No magic link (/proc/PID/fd/N, cwd, root, exe): they would reach, from the server's
    // process, what the run-as user could not (openat2, Linux 5.6; older kernels: refused).
    let handle = rustix::fs::openat2(
        CWD,
        path,
        OFlags::PATH | OFlags::CLOEXEC,
        Mode::empty(),
        ResolveFlags::NO_MAGICLINKS,
    )
    .map_err(open_err)?;
    // Nothing on procfs: the worker thread shares the server's process, so /proc/self/… is
    // the server's (its memory map, its environment).
    let fs = rustix::fs::fstatfs(&handle).map_err(open_err)?;
    if fs.f_type == rustix::fs::PROC_SUPER_MAGIC {
        return Err(GrepError::Proc {
            path: path.to_path_buf(),
        });
    }
    let st = rustix::fs::fstat(&handle).map_err(open_err)?;
    if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile {
        return Err(GrepError::NotRegular {
            path: path.to_path_buf(),
        });
    }
    let again = format!("/proc/thread-self/fd/{}", handle.as_raw_fd());
    // Where the kernel resolved the path to (through any symbolic link), checked with the
    // policy's own matcher; a name that is not UTF-8 cannot match and is refused.
    if !grep_paths.is_empty() {
        let real = rustix::fs::readlinkat(CWD, again.as_str(), Vec::new()).map_err(open_err)?;
        let real = PathBuf::from(std::ffi::OsString::from_vec(real.into_bytes()));
        let ok = real
            .to_str()
            .is_some_and(|r| mon_policy::grep_path_allowed(r, grep_paths));
        if !ok {
            return Err(GrepError::OutsideGrepPaths {
                path: path.to_path_buf(),
                real,
            });
        }
    }
    let fd = rustix::fs::openat(
        CWD,
        again.as_str(),
        OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOCTTY,
        Mode::empty(),
    )
    .map_err(open_err)?;
    Ok(File::from(fd))
}

fn grep_file_chunked(
    path: &Path,
    word: &str,
    max_bytes: u64,
    chunk: usize,
    grep_paths: &[Vec<String>],
) -> Result<bool, GrepError> {
    if word.is_empty() {
        return Err(GrepError::EmptyWord);
    }
    let file = open_regular(path, grep_paths)?;
    match search(file, word.as_bytes(), max_bytes, chunk) {
        Ok(Some(found)) => Ok(found),
        Ok(None) => Err(GrepError::LimitReached {
            path: path.to_path_buf(),
            max: max_bytes,
        }),
        Err(source) => Err(GrepError::Read {
            path: path.to_path_buf(),
            source,
        }),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

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
                grep_file_chunked(&p, "ERROR", DEFAULT_MAX_BYTES, chunk, &[]).unwrap(),
                "chunk {chunk}"
            );
            assert!(
                !grep_file_chunked(&p, "ERRORS", DEFAULT_MAX_BYTES, chunk, &[]).unwrap(),
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
        let e = grep_file_chunked(&p, "END", 500, 64, &[]).unwrap_err();
        assert!(matches!(e, GrepError::LimitReached { max: 500, .. }));
        assert!(e.to_string().contains(&p.display().to_string()), "{e}");
        // Found within the limit: fine. File exactly at the limit: searched whole.
        assert!(grep_file_chunked(&p, "END", 903, 64, &[]).unwrap());
        assert!(!grep_file_chunked(&p, "NOPE", 1000, 64, &[]).unwrap());
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
            let e = grep_file_within(&out, "TOKEN", DEFAULT_MAX_BYTES, g).unwrap_err();
            assert!(matches!(e, GrepError::OutsideGrepPaths { .. }), "{e}");
            let m = e.to_string();
            assert!(m.contains("escape.log") && m.contains("token.txt"), "{m}");
            assert!(m.starts_with("grep-path-denied: "), "{m}");
            assert!(m.contains("outside grep-paths"), "{m}");
            assert!(grep_file_within(&log, "TOKEN", DEFAULT_MAX_BYTES, g).unwrap());
            assert!(grep_file_within(&inside, "TOKEN", DEFAULT_MAX_BYTES, g).unwrap());
            // A link outside leading inside: the file read is inside, allowed here (the
            // policy's check on the text refuses such a path first).
            assert!(grep_file_within(&outer, "TOKEN", DEFAULT_MAX_BYTES, g).unwrap());
        }
        // Every restricting line must allow it.
        let two = vec![
            vec![logs.display().to_string()],
            vec![private.display().to_string()],
        ];
        let e = grep_file_within(&log, "TOKEN", DEFAULT_MAX_BYTES, &two).unwrap_err();
        assert!(matches!(e, GrepError::OutsideGrepPaths { .. }), "{e}");
        // No entries: no restriction.
        assert!(grep_file_within(&out, "TOKEN", DEFAULT_MAX_BYTES, &[]).unwrap());
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
        std::fs::set_permissions(closed.join("open"), std::fs::Permissions::from_mode(0o644))
            .unwrap();
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
}
