//! Resolving DEST beneath its push dir: a textual check that DEST names a file strictly
//! below the push dir, then its directory opened without following a symbolic link in any
//! component (`openat2` with `RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS`, else a walk of
//! `O_NOFOLLOW | O_DIRECTORY` opens).

use std::ffi::OsString;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, FileType, Mode, OFlags, ResolveFlags};

use super::{LandError, NAME_ATTEMPTS};

/// Checks DEST textually against `push_dir`: DEST must name a file strictly below it.
/// Returns DEST's directory relative to `push_dir` (empty: the push dir itself) and the
/// file name.
pub(super) fn split_beneath(
    push_dir: &Path,
    dest: &Path,
) -> Result<(PathBuf, OsString), LandError> {
    let bytes = dest.as_os_str().as_bytes();
    if bytes.ends_with(b"/") || bytes.ends_with(b"/.") {
        return Err(LandError::IsDir {
            path: dest.to_path_buf(),
        });
    }
    let outside = || LandError::Outside {
        path: dest.to_path_buf(),
        push_dir: push_dir.to_path_buf(),
    };
    let (Some(d), Some(p)) = (dest.to_str(), push_dir.to_str()) else {
        return Err(outside());
    };
    let d = mon_policy::normalize_abs_path(d).map_err(|_| outside())?;
    let p = mon_policy::normalize_abs_path(p).map_err(|_| outside())?;
    if d == p {
        return Err(LandError::IsDir {
            path: dest.to_path_buf(),
        });
    }
    let rel = if p == "/" {
        d.strip_prefix('/')
    } else {
        d.strip_prefix(p.as_str()).and_then(|r| r.strip_prefix('/'))
    }
    .ok_or_else(outside)?;
    let rel = Path::new(rel);
    let name = rel.file_name().ok_or_else(outside)?.to_os_string();
    let parent = rel.parent().unwrap_or(Path::new("")).to_path_buf();
    Ok((parent, name))
}

/// Opens directory `rel` (normalised, relative, no `..`) beneath `base` without following a
/// symbolic link: `openat2` where the kernel has it, else one component at a time.
pub(super) fn open_beneath(base: &OwnedFd, rel: &Path) -> rustix::io::Result<OwnedFd> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC | OFlags::NOFOLLOW;
    let resolve = ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS;
    for _ in 0..NAME_ATTEMPTS {
        match rustix::fs::openat2(base, rel, flags, Mode::empty(), resolve) {
            // A concurrent rename elsewhere on the system: try again.
            Err(rustix::io::Errno::AGAIN) => continue,
            // No openat2: walk. ENOTDIR: a symbolic link or a file in the way; the walk
            // (which never follows a link either) tells which.
            Err(rustix::io::Errno::NOSYS | rustix::io::Errno::NOTDIR) => {
                return walk_beneath(base.as_fd(), rel)
            }
            r => return r,
        }
    }
    Err(rustix::io::Errno::AGAIN)
}

/// The fallback of [`open_beneath`]: each component opened `O_NOFOLLOW | O_DIRECTORY`
/// relative to the previous one; `.`, `..` and symbolic links are refused (`ELOOP`/`EXDEV`).
pub(super) fn walk_beneath(base: BorrowedFd<'_>, rel: &Path) -> rustix::io::Result<OwnedFd> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC | OFlags::NOFOLLOW;
    let mut cur: OwnedFd = rustix::fs::openat(base, ".", flags, Mode::empty())?;
    for comp in rel.components() {
        let std::path::Component::Normal(c) = comp else {
            return Err(rustix::io::Errno::XDEV);
        };
        match rustix::fs::openat(&cur, c, flags, Mode::empty()) {
            Ok(next) => cur = next,
            Err(e @ (rustix::io::Errno::LOOP | rustix::io::Errno::NOTDIR)) => {
                // O_NOFOLLOW|O_DIRECTORY on a symbolic link: say it is one.
                return match rustix::fs::statat(&cur, c, AtFlags::SYMLINK_NOFOLLOW) {
                    Ok(st) if FileType::from_raw_mode(st.st_mode) == FileType::Symlink => {
                        Err(rustix::io::Errno::LOOP)
                    }
                    _ => Err(e),
                };
            }
            Err(e) => return Err(e),
        }
    }
    Ok(cur)
}

/// The landing error for failing to open DEST's directory `dir` beneath `push_dir`.
pub(super) fn dir_error(e: rustix::io::Errno, dir: &Path, push_dir: &Path, need: u64) -> LandError {
    match e {
        rustix::io::Errno::LOOP | rustix::io::Errno::XDEV => LandError::Symlink {
            path: dir.to_path_buf(),
            push_dir: push_dir.to_path_buf(),
        },
        rustix::io::Errno::NOENT | rustix::io::Errno::NOTDIR => LandError::NoDir {
            path: dir.to_path_buf(),
        },
        e => LandError::from_io(dir, e.into(), need),
    }
}
