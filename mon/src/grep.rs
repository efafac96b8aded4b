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
use std::sync::atomic::{AtomicBool, Ordering};

use rustix::fs::{FileType, Mode, OFlags, ResolveFlags, CWD};

/// Default limit on the bytes read from one file: 256 MiB.
pub const DEFAULT_MAX_BYTES: u64 = 256 << 20;

/// Read size.
const CHUNK: usize = 64 * 1024;

/// The text of the error [`search`] stops with when its run is cancelled.
const CANCELLED: &str = "grep cancelled";

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
    /// The run was cancelled (a new Command of its session, Ctrl-C) while the file was read.
    #[error("{}: grep cancelled", path.display())]
    Cancelled {
        /// File.
        path: PathBuf,
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

/// At the byte limit without a match: `Ok(Some(false))` when the reader is at its end,
/// `Ok(None)` when more data follows.
fn more_after_limit<R: Read>(r: &mut R) -> io::Result<Option<bool>> {
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

/// Streaming search over a reader; `Ok(None)` when `max_bytes` were read without a match and
/// more data follows; an `Interrupted` error once `stop` is set (checked before each read).
fn search<R: Read>(
    mut r: R,
    word: &[u8],
    max_bytes: u64,
    chunk: usize,
    stop: &AtomicBool,
) -> io::Result<Option<bool>> {
    let keep = word.len().saturating_sub(1);
    let chunk = chunk.max(1);
    let mut window: Vec<u8> = Vec::with_capacity(keep + chunk);
    let mut read_total: u64 = 0;
    let mut buf = vec![0u8; chunk];
    loop {
        if stop.load(Ordering::Relaxed) {
            return Err(io::Error::new(io::ErrorKind::Interrupted, CANCELLED));
        }
        let want = usize::try_from(max_bytes.saturating_sub(read_total))
            .unwrap_or(usize::MAX)
            .min(chunk);
        if want == 0 {
            return more_after_limit(&mut r);
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
    grep_file_within(path, word, max_bytes, &[], &AtomicBool::new(false))
}

/// [`grep_file`] for a grep the policy allowed under `grep_paths` (one list of entries per
/// applying `mon_policy` line, as in `RunRequest::grep_paths`; empty: no restriction): the
/// real path of the opened file must match them too, else [`GrepError::OutsideGrepPaths`].
/// Reading stops ([`GrepError::Cancelled`]) once `stop` is set: the run was cancelled, and
/// aborting its task does not stop this blocking thread.
pub fn grep_file_within(
    path: &Path,
    word: &str,
    max_bytes: u64,
    grep_paths: &[Vec<String>],
    stop: &AtomicBool,
) -> Result<bool, GrepError> {
    grep_file_chunked(path, word, max_bytes, CHUNK, grep_paths, stop)
}

/// Where the kernel resolved the path to (through any symbolic link; `again` names the open
/// handle), checked with the policy's own matcher; a name that is not UTF-8 cannot match and
/// is refused.
fn check_grep_paths(path: &Path, again: &str, grep_paths: &[Vec<String>]) -> Result<(), GrepError> {
    let real = rustix::fs::readlinkat(CWD, again, Vec::new()).map_err(|e| open_err(path, e))?;
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
    Ok(())
}

/// Opens `path` for reading if it is a regular file whose real path `grep_paths` allow,
/// without opening anything else (see the module docs).
fn open_regular(path: &Path, grep_paths: &[Vec<String>]) -> Result<File, GrepError> {
    let handle = open_path_handle(path)?;
    let st = rustix::fs::fstat(&handle).map_err(|e| open_err(path, e))?;
    if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile {
        return Err(GrepError::NotRegular {
            path: path.to_path_buf(),
        });
    }
    let again = format!("/proc/thread-self/fd/{}", handle.as_raw_fd());
    if !grep_paths.is_empty() {
        check_grep_paths(path, &again, grep_paths)?;
    }
    let fd = rustix::fs::openat(
        CWD,
        again.as_str(),
        OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOCTTY,
        Mode::empty(),
    )
    .map_err(|e| open_err(path, e))?;
    Ok(File::from(fd))
}

fn open_err(path: &Path, e: rustix::io::Errno) -> GrepError {
    GrepError::Open {
        path: path.to_path_buf(),
        source: e.into(),
    }
}

/// An `O_PATH` handle on the absolute `path`, resolved without magic links and not on
/// procfs (nothing is opened for reading yet).
fn open_path_handle(path: &Path) -> Result<rustix::fd::OwnedFd, GrepError> {
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
    .map_err(|e| open_err(path, e))?;
    // Nothing on procfs: the worker thread shares the server's process, so /proc/self/… is
    // the server's (its memory map, its environment).
    let fs = rustix::fs::fstatfs(&handle).map_err(|e| open_err(path, e))?;
    if fs.f_type == rustix::fs::PROC_SUPER_MAGIC {
        return Err(GrepError::Proc {
            path: path.to_path_buf(),
        });
    }
    Ok(handle)
}

fn grep_file_chunked(
    path: &Path,
    word: &str,
    max_bytes: u64,
    chunk: usize,
    grep_paths: &[Vec<String>],
    stop: &AtomicBool,
) -> Result<bool, GrepError> {
    if word.is_empty() {
        return Err(GrepError::EmptyWord);
    }
    let file = open_regular(path, grep_paths)?;
    match search(file, word.as_bytes(), max_bytes, chunk, stop) {
        Ok(Some(found)) => Ok(found),
        Ok(None) => Err(GrepError::LimitReached {
            path: path.to_path_buf(),
            max: max_bytes,
        }),
        Err(_) if stop.load(Ordering::Relaxed) => Err(GrepError::Cancelled {
            path: path.to_path_buf(),
        }),
        Err(source) => Err(GrepError::Read {
            path: path.to_path_buf(),
            source,
        }),
    }
}

#[cfg(test)]
mod tests;
