//! Atomic landing of a pushed file, beneath its push dir.
//!
//! DEST's directory is opened beneath the push dir (from the deciding `push-dirs` entry)
//! without following a symbolic link in any component: `openat2` with
//! `RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS` where the kernel has it, else a walk of
//! `O_NOFOLLOW | O_DIRECTORY` opens, one component at a time. Everything else happens
//! relative to that directory handle: verified blocks are written at their offsets into a
//! temporary file created there (`O_EXCL`, mode 0600, name `.DEST.mon-push-XXXXXXXX`), and
//! [`Landing::commit`] fsyncs it, sets the final mode (`fchmod`), renames it over DEST
//! (`renameat`) and fsyncs the directory, so DEST is at every moment either its old content or
//! the complete new file. Dropping an uncommitted [`Landing`] removes the temporary file: a
//! failed or interrupted push leaves no partial file behind.
//!
//! A DEST that names a directory (ends in `/`, is the push dir, or is an existing directory)
//! or whose directory does not exist is refused at [`Landing::create`], before any block.
//! The caller runs all of this as the policy's run-as user (see `crate::as_user`), so the
//! file is created by, and owned by, that user.
//!
//! Space is checked up front (`fstatvfs`) and reserved (`posix_fallocate` where the file
//! system supports it), so "no space" is reported before any block arrives.
//!
//! A relay that does not land the file keeps its blocks in a [`Spool`]: an anonymous file
//! (`O_TMPFILE`) in the server's state dir that no path names and that vanishes with it.

use std::ffi::{CString, OsStr, OsString};
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, FileType, Mode, OFlags, ResolveFlags};

/// Longest part of DEST's file name kept in the temporary name (NAME_MAX is 255).
const MAX_NAME_PART: usize = 200;
/// Attempts at a fresh temporary name before giving up.
const NAME_ATTEMPTS: u32 = 16;
/// Setuid, setgid and sticky bits: landed only where the policy grants `allow-setid`.
pub const SETID_BITS: u32 = mon_proto::verify::SETID_BITS;

/// Why a file could not be landed.
#[derive(Debug, thiserror::Error)]
pub enum LandError {
    /// The file system has less free space than the file needs.
    #[error("not enough space in {}: the file needs {need} bytes, {free} are free", path.display())]
    NoSpace {
        /// The directory.
        path: PathBuf,
        /// Bytes needed.
        need: u64,
        /// Bytes free (for an unprivileged user).
        free: u64,
    },
    /// The run-as user may not create or replace the file.
    #[error("permission denied: {}", path.display())]
    Permission {
        /// The path refused.
        path: PathBuf,
    },
    /// DEST names a directory.
    #[error("{} is a directory: DEST names the file to write (e.g. {}/FILE)", path.display(), path.display())]
    IsDir {
        /// DEST.
        path: PathBuf,
    },
    /// DEST's directory does not exist (or a component of it is not a directory).
    #[error("directory {} does not exist: create it first (push creates no directories)", path.display())]
    NoDir {
        /// The directory.
        path: PathBuf,
    },
    /// A symbolic link (or a path leaving the push dir) is in the way.
    #[error("{}: a symbolic link is in the way below push dir {}; push destinations are resolved beneath the push dir without following symbolic links", path.display(), push_dir.display())]
    Symlink {
        /// DEST's directory.
        path: PathBuf,
        /// The push dir.
        push_dir: PathBuf,
    },
    /// DEST does not lie below the push dir.
    #[error("{} is not below push dir {}", path.display(), push_dir.display())]
    Outside {
        /// DEST.
        path: PathBuf,
        /// The push dir.
        push_dir: PathBuf,
    },
    /// Setuid, setgid or sticky bits without `allow-setid`.
    #[error("mode {mode:04o} has setuid, setgid or sticky bits, which mon_policy does not grant (allow-setid)")]
    SetId {
        /// The mode asked for.
        mode: u32,
    },
    /// Any other I/O failure.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path involved.
        path: PathBuf,
        /// The error.
        #[source]
        source: io::Error,
    },
}

impl LandError {
    /// A stable reason code for results and audit records.
    pub fn code(&self) -> &'static str {
        match self {
            LandError::NoSpace { .. } => "no-space",
            LandError::Permission { .. } => "permission",
            LandError::IsDir { .. } => "push-dest-dir",
            LandError::NoDir { .. } => "push-no-dir",
            LandError::Symlink { .. } => "push-symlink",
            LandError::Outside { .. } => "push-dir-denied",
            LandError::SetId { .. } => "setid-denied",
            LandError::Io { .. } => "io",
        }
    }

    /// Classifies an I/O error on `path`: permission and no-space errors get their own variant.
    fn from_io(path: &Path, source: io::Error, need: u64) -> LandError {
        if source.kind() == io::ErrorKind::PermissionDenied {
            return LandError::Permission {
                path: path.to_path_buf(),
            };
        }
        if matches!(source.raw_os_error(), Some(libc::ENOSPC | libc::EDQUOT)) {
            let dir = path.parent().unwrap_or(path);
            return LandError::NoSpace {
                path: dir.to_path_buf(),
                need,
                free: free_space(dir).unwrap_or(0),
            };
        }
        LandError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// A file being landed at DEST.
#[derive(Debug)]
pub struct Landing {
    dest: PathBuf,
    /// DEST's directory, opened beneath the push dir.
    dir: OwnedFd,
    dir_path: PathBuf,
    name: OsString,
    tmp: OsString,
    file: File,
    size: u64,
    committed: bool,
}

impl Landing {
    /// Creates the temporary file for a `size`-byte file landing at `dest` beneath
    /// `push_dir`, after checking that DEST names a file in an existing directory reached
    /// without a symbolic link, and the free space there.
    pub fn create(push_dir: &Path, dest: &Path, size: u64) -> Result<Landing, LandError> {
        let (parent, name) = split_beneath(push_dir, dest)?;
        let pd = rustix::fs::open(
            push_dir,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| match e {
            rustix::io::Errno::NOENT | rustix::io::Errno::NOTDIR => LandError::NoDir {
                path: push_dir.to_path_buf(),
            },
            e => LandError::from_io(push_dir, e.into(), size),
        })?;
        let dir_path = push_dir.join(&parent);
        let dir = if parent.as_os_str().is_empty() {
            pd
        } else {
            open_beneath(&pd, &parent).map_err(|e| dir_error(e, &dir_path, push_dir, size))?
        };
        match rustix::fs::statat(&dir, name.as_os_str(), AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) if FileType::from_raw_mode(st.st_mode) == FileType::Directory => {
                return Err(LandError::IsDir {
                    path: dest.to_path_buf(),
                })
            }
            Ok(_) | Err(rustix::io::Errno::NOENT) => {}
            Err(e) => return Err(LandError::from_io(dest, e.into(), size)),
        }
        let st = rustix::fs::fstatvfs(&dir)
            .map_err(|e| LandError::from_io(&dir_path, e.into(), size))?;
        #[allow(clippy::unnecessary_cast)] // the field types differ between platforms
        let free = (st.f_bavail as u64).saturating_mul(st.f_frsize as u64);
        check_space(&dir_path, size, free)?;
        let (tmp, file) = create_temp(dir.as_fd(), &dir_path, &name, size)?;
        let landing = Landing {
            dest: dest.to_path_buf(),
            dir,
            dir_path,
            name,
            tmp,
            file,
            size,
            committed: false,
        };
        landing.reserve()?;
        Ok(landing)
    }

    /// Reserves the file's blocks on disk (sparse file where the file system cannot).
    fn reserve(&self) -> Result<(), LandError> {
        reserve(&self.file, self.size)
            .map_err(|e| LandError::from_io(&self.temp_path(), e, self.size))
    }

    /// The destination path.
    pub fn dest(&self) -> &Path {
        &self.dest
    }

    /// The temporary file's path (for messages: the file is reached through its directory
    /// handle).
    pub fn temp_path(&self) -> PathBuf {
        self.dir_path.join(&self.tmp)
    }

    /// Writes a (verified) block at `offset`.
    pub fn write_block(&mut self, offset: u64, bytes: &[u8]) -> Result<(), LandError> {
        check_range(&self.temp_path(), self.size, offset, bytes.len())?;
        self.file
            .write_all_at(bytes, offset)
            .map_err(|e| LandError::from_io(&self.temp_path(), e, self.size))
    }

    /// Reads `len` bytes at `offset` back (to serve a block to a child).
    pub fn read_block(&self, offset: u64, len: usize) -> Result<Vec<u8>, LandError> {
        read_block(&self.file, &self.temp_path(), self.size, offset, len)
    }

    /// Makes the file durable, sets `mode` (permission bits, `& 0o7777`; set-id and sticky
    /// bits only with `allow_setid`), renames it over DEST and makes the rename durable. If
    /// only that last directory fsync fails, the new file is already at DEST and the error
    /// names the directory. Returns the landed file, to serve blocks from.
    pub fn commit(mut self, mode: u32, allow_setid: bool) -> Result<File, LandError> {
        let size = self.size;
        let mode = mode & 0o7777;
        if mode & SETID_BITS != 0 && !allow_setid {
            return Err(LandError::SetId { mode });
        }
        let tmp_path = self.temp_path();
        self.file
            .sync_all()
            .map_err(|e| LandError::from_io(&tmp_path, e, size))?;
        rustix::fs::fchmod(&self.file, Mode::from_raw_mode(mode))
            .map_err(|e| LandError::from_io(&tmp_path, e.into(), size))?;
        rustix::fs::renameat(
            &self.dir,
            self.tmp.as_os_str(),
            &self.dir,
            self.name.as_os_str(),
        )
        .map_err(|e| match e {
            rustix::io::Errno::ISDIR | rustix::io::Errno::NOTEMPTY | rustix::io::Errno::EXIST => {
                LandError::IsDir {
                    path: self.dest.clone(),
                }
            }
            e => LandError::from_io(&self.dest, e.into(), size),
        })?;
        self.committed = true;
        let landed = self
            .file
            .try_clone()
            .map_err(|e| LandError::from_io(&self.dest, e, size))?;
        rustix::fs::fsync(&self.dir)
            .map_err(|e| LandError::from_io(&self.dir_path, e.into(), size))?;
        Ok(landed)
    }
}

impl Drop for Landing {
    fn drop(&mut self) {
        if !self.committed {
            let _ = rustix::fs::unlinkat(&self.dir, self.tmp.as_os_str(), AtFlags::empty());
        }
    }
}

/// A relay's copy of the blocks: an anonymous file, never landed.
#[derive(Debug)]
pub struct Spool {
    file: File,
    path: PathBuf,
    size: u64,
}

impl Spool {
    /// An anonymous `size`-byte file in `dir` (the server's state dir).
    pub fn create(dir: &Path, size: u64) -> Result<Spool, LandError> {
        let free = free_space(dir).map_err(|e| LandError::from_io(dir, e, size))?;
        check_space(dir, size, free)?;
        let file = tempfile::tempfile_in(dir).map_err(|e| LandError::from_io(dir, e, size))?;
        reserve(&file, size).map_err(|e| LandError::from_io(dir, e, size))?;
        Ok(Spool {
            file,
            path: dir.to_path_buf(),
            size,
        })
    }

    /// Writes a (verified) block at `offset`.
    pub fn write_block(&mut self, offset: u64, bytes: &[u8]) -> Result<(), LandError> {
        check_range(&self.path, self.size, offset, bytes.len())?;
        self.file
            .write_all_at(bytes, offset)
            .map_err(|e| LandError::from_io(&self.path, e, self.size))
    }

    /// Reads `len` bytes at `offset` back (to serve a block to a child).
    pub fn read_block(&self, offset: u64, len: usize) -> Result<Vec<u8>, LandError> {
        read_block(&self.file, &self.path, self.size, offset, len)
    }
}

/// Reads `len` bytes at `offset` of a `size`-byte `file`.
pub fn read_block(
    file: &File,
    path: &Path,
    size: u64,
    offset: u64,
    len: usize,
) -> Result<Vec<u8>, LandError> {
    check_range(path, size, offset, len)?;
    let mut buf = vec![0u8; len];
    file.read_exact_at(&mut buf, offset)
        .map_err(|e| LandError::from_io(path, e, size))?;
    Ok(buf)
}

fn check_range(path: &Path, size: u64, offset: u64, len: usize) -> Result<(), LandError> {
    match offset.checked_add(len as u64) {
        Some(end) if end <= size => Ok(()),
        _ => Err(LandError::Io {
            path: path.to_path_buf(),
            source: io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{len} bytes at offset {offset} do not fit in a {size}-byte file"),
            ),
        }),
    }
}

/// Reserves `size` bytes for `file` (sparse where the file system cannot) and sets its length.
fn reserve(file: &File, size: u64) -> io::Result<()> {
    if size > 0 {
        match fallocate(file, size) {
            Ok(()) => {}
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::EOPNOTSUPP | libc::EINVAL | libc::ENOSYS)
                ) => {}
            Err(e) => return Err(e),
        }
    }
    file.set_len(size)
}

/// Checks DEST textually against `push_dir`: DEST must name a file strictly below it.
/// Returns DEST's directory relative to `push_dir` (empty: the push dir itself) and the
/// file name.
fn split_beneath(push_dir: &Path, dest: &Path) -> Result<(PathBuf, OsString), LandError> {
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
fn open_beneath(base: &OwnedFd, rel: &Path) -> rustix::io::Result<OwnedFd> {
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
fn walk_beneath(base: BorrowedFd<'_>, rel: &Path) -> rustix::io::Result<OwnedFd> {
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
fn dir_error(e: rustix::io::Errno, dir: &Path, push_dir: &Path, need: u64) -> LandError {
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

/// `NoSpace` unless `free` bytes hold `need` bytes.
pub fn check_space(dir: &Path, need: u64, free: u64) -> Result<(), LandError> {
    if need > free {
        return Err(LandError::NoSpace {
            path: dir.to_path_buf(),
            need,
            free,
        });
    }
    Ok(())
}

/// The temporary name for DEST's file name `name`: `.NAME.mon-push-XXXXXXXX`.
fn temp_name(name: &OsStr, suffix: u32) -> OsString {
    let bytes = name.as_bytes();
    let part = bytes.get(..MAX_NAME_PART).unwrap_or(bytes);
    let mut out = OsString::from(".");
    out.push(OsStr::from_bytes(part));
    out.push(format!(".mon-push-{suffix:08x}"));
    out
}

/// Creates a fresh temporary file (`O_CREAT|O_EXCL`, mode 0600) in directory `dir`.
fn create_temp(
    dir: BorrowedFd<'_>,
    dir_path: &Path,
    name: &OsStr,
    size: u64,
) -> Result<(OsString, File), LandError> {
    let mut last = None;
    for _ in 0..NAME_ATTEMPTS {
        let tmp = temp_name(name, rand::random::<u32>());
        match rustix::fs::openat(
            dir,
            tmp.as_os_str(),
            OFlags::RDWR | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o600),
        ) {
            Ok(fd) => return Ok((tmp, File::from(fd))),
            Err(rustix::io::Errno::EXIST) => last = Some(io::Error::from(rustix::io::Errno::EXIST)),
            Err(rustix::io::Errno::ACCESS | rustix::io::Errno::PERM) => {
                return Err(LandError::Permission {
                    path: dir_path.to_path_buf(),
                })
            }
            Err(e) => return Err(LandError::from_io(&dir_path.join(&tmp), e.into(), size)),
        }
    }
    Err(LandError::Io {
        path: dir_path.to_path_buf(),
        source: last.unwrap_or_else(|| io::Error::other("no temporary name")),
    })
}

/// Bytes available to an unprivileged user on the file system holding `dir`.
#[allow(unsafe_code)]
fn free_space(dir: &Path) -> io::Result<u64> {
    let c = CString::new(dir.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains a NUL byte"))?;
    let mut st = std::mem::MaybeUninit::<libc::statvfs>::zeroed();
    // SAFETY: `c` is a valid NUL-terminated C string that outlives the call, and `st` points to
    // writable, properly aligned memory for one `statvfs`, which the call only writes.
    let rc = unsafe { libc::statvfs(c.as_ptr(), st.as_mut_ptr()) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: statvfs returned 0, so it filled the struct (which was zeroed anyway).
    let st = unsafe { st.assume_init() };
    #[allow(clippy::unnecessary_cast)] // the field types differ between platforms
    Ok((st.f_bavail as u64).saturating_mul(st.f_frsize as u64))
}

/// Reserves `len` bytes for `file` with `posix_fallocate`.
#[allow(unsafe_code)]
fn fallocate(file: &File, len: u64) -> io::Result<()> {
    use std::os::unix::io::AsRawFd;
    let len = libc::off_t::try_from(len)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "file too large"))?;
    // SAFETY: the descriptor is open and owned by `file` for the whole call; posix_fallocate
    // takes no pointers and returns an error number instead of setting errno.
    let rc = unsafe { libc::posix_fallocate(file.as_raw_fd(), 0, len) };
    if rc != 0 {
        return Err(io::Error::from_raw_os_error(rc));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use std::fs::{self, Permissions};
    use std::os::unix::fs::PermissionsExt;

    fn leftovers(dir: &Path) -> Vec<String> {
        fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains(".mon-push-"))
            .collect()
    }

    fn mode_of(p: &Path) -> u32 {
        fs::metadata(p).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn lands_blocks_written_out_of_order_with_the_mode_asked() {
        let d = tempfile::tempdir().unwrap();
        let dest = d.path().join("app.bin");
        let data: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        let mut l = Landing::create(d.path(), &dest, data.len() as u64).unwrap();
        let tmp = l.temp_path();
        let tmp_name = tmp.file_name().unwrap().to_string_lossy().into_owned();
        assert!(tmp_name.starts_with(".app.bin.mon-push-"), "{tmp_name}");
        assert_eq!(tmp.parent(), Some(d.path()), "created in DEST's directory");
        assert_eq!(mode_of(&tmp), 0o600, "private while being written");
        assert!(!dest.exists(), "nothing at DEST before commit");
        for (i, chunk) in data.chunks(4096).enumerate().rev() {
            l.write_block((i * 4096) as u64, chunk).unwrap();
        }
        assert_eq!(l.read_block(4096, 10).unwrap(), &data[4096..4106]);
        l.commit(0o750, false).unwrap();
        assert_eq!(fs::read(&dest).unwrap(), data);
        assert_eq!(mode_of(&dest), 0o750);
        assert!(leftovers(d.path()).is_empty());
    }

    #[test]
    fn drop_without_commit_leaves_nothing() {
        let d = tempfile::tempdir().unwrap();
        let dest = d.path().join("f");
        let mut l = Landing::create(d.path(), &dest, 100).unwrap();
        l.write_block(0, &[1; 50]).unwrap();
        let tmp = l.temp_path();
        assert!(tmp.exists());
        drop(l);
        assert!(!tmp.exists());
        assert!(!dest.exists());
        assert!(leftovers(d.path()).is_empty());
    }

    #[test]
    fn existing_dest_is_replaced_atomically() {
        let d = tempfile::tempdir().unwrap();
        let dest = d.path().join("f");
        fs::write(&dest, b"old content").unwrap();
        let old = File::open(&dest).unwrap();
        let mut l = Landing::create(d.path(), &dest, 3).unwrap();
        l.write_block(0, b"new").unwrap();
        assert_eq!(
            fs::read(&dest).unwrap(),
            b"old content",
            "untouched until commit"
        );
        l.commit(0o644, false).unwrap();
        assert_eq!(fs::read(&dest).unwrap(), b"new");
        let mut buf = String::new();
        io::Read::read_to_string(&mut &old, &mut buf).unwrap();
        assert_eq!(
            buf, "old content",
            "readers of the old file are not disturbed"
        );
        // an interrupted replacement leaves the old file in place
        let l = Landing::create(d.path(), &dest, 5).unwrap();
        drop(l);
        assert_eq!(fs::read(&dest).unwrap(), b"new");
    }

    #[test]
    fn no_space_is_reported_before_writing() {
        let dir = Path::new("/srv/x");
        check_space(dir, 10, 10).unwrap();
        let e = check_space(dir, 11, 10).unwrap_err();
        assert_eq!(e.code(), "no-space");
        assert_eq!(
            e.to_string(),
            "not enough space in /srv/x: the file needs 11 bytes, 10 are free"
        );
        // a real directory cannot hold 2^62 bytes
        let d = tempfile::tempdir().unwrap();
        let dest = d.path().join("huge");
        let e = Landing::create(d.path(), &dest, 1 << 62).unwrap_err();
        assert!(
            matches!(e, LandError::NoSpace { need, .. } if need == 1 << 62),
            "{e}"
        );
        assert!(leftovers(d.path()).is_empty());
        assert!(!dest.exists());
    }

    #[test]
    fn writes_outside_the_file_are_refused() {
        let d = tempfile::tempdir().unwrap();
        let mut l = Landing::create(d.path(), &d.path().join("f"), 10).unwrap();
        let e = l.write_block(8, &[0; 3]).unwrap_err();
        assert_eq!(e.code(), "io");
        assert!(l.write_block(u64::MAX, &[0]).is_err());
        assert!(l.read_block(5, 6).is_err());
    }

    #[test]
    fn dest_that_is_a_directory_is_refused_before_anything_is_created() {
        let d = tempfile::tempdir().unwrap();
        let dest = d.path().join("sub");
        fs::create_dir(&dest).unwrap();
        fs::write(dest.join("keep"), b"x").unwrap();
        let e = Landing::create(d.path(), &dest, 0).unwrap_err();
        assert_eq!(e.code(), "push-dest-dir", "{e}");
        assert!(e.to_string().contains("/sub is a directory"), "{e}");
        assert!(dest.join("keep").exists());
        assert!(leftovers(d.path()).is_empty());
        // textually: ends in '/', or is the push dir itself
        for dest in [
            format!("{}/f/", d.path().display()),
            format!("{}/.", d.path().display()),
            d.path().display().to_string(),
        ] {
            let e = Landing::create(d.path(), Path::new(&dest), 0).unwrap_err();
            assert_eq!(e.code(), "push-dest-dir", "{dest}: {e}");
            assert!(e.to_string().contains(&dest), "{e}");
        }
        assert!(leftovers(d.path()).is_empty());
    }

    #[test]
    fn missing_directory_and_no_file_name_are_errors() {
        let d = tempfile::tempdir().unwrap();
        let e = Landing::create(d.path(), &d.path().join("nope/f"), 1).unwrap_err();
        assert_eq!(e.code(), "push-no-dir");
        assert!(e.to_string().contains("nope does not exist"), "{e}");
        // a file where a directory should be
        fs::write(d.path().join("file"), b"x").unwrap();
        let e = Landing::create(d.path(), &d.path().join("file/f"), 1).unwrap_err();
        assert_eq!(e.code(), "push-no-dir", "{e}");
        assert!(Landing::create(Path::new("/"), Path::new("/"), 1).is_err());
        let e = Landing::create(&d.path().join("gone"), &d.path().join("gone/f"), 1).unwrap_err();
        assert_eq!(e.code(), "push-no-dir", "{e}");
    }

    #[test]
    fn a_symlink_in_any_component_is_refused_and_nothing_is_created_outside() {
        use std::os::unix::fs::symlink;
        let d = tempfile::tempdir().unwrap();
        let push = d.path().join("push");
        let outside = d.path().join("outside");
        fs::create_dir_all(push.join("real/deeper")).unwrap();
        fs::create_dir(&outside).unwrap();
        symlink(&outside, push.join("link")).unwrap();
        symlink("../outside", push.join("real/rel")).unwrap();
        symlink(push.join("real"), push.join("inside")).unwrap();
        for dest in ["link/f", "real/rel/f", "inside/f", "inside/deeper/f"] {
            let e = Landing::create(&push, &push.join(dest), 1).unwrap_err();
            assert_eq!(e.code(), "push-symlink", "{dest}: {e}");
            assert!(e.to_string().contains("symbolic link"), "{e}");
        }
        // the walk used where openat2 is missing refuses the same
        let pd =
            rustix::fs::open(&push, OFlags::RDONLY | OFlags::DIRECTORY, Mode::empty()).unwrap();
        for rel in ["link", "real/rel", "inside", "inside/deeper"] {
            let e = walk_beneath(pd.as_fd(), Path::new(rel)).unwrap_err();
            assert_eq!(e, rustix::io::Errno::LOOP, "{rel}");
        }
        assert!(walk_beneath(pd.as_fd(), Path::new("real/deeper")).is_ok());
        assert_eq!(
            walk_beneath(pd.as_fd(), Path::new("real/none")).unwrap_err(),
            rustix::io::Errno::NOENT
        );
        assert_eq!(fs::read_dir(&outside).unwrap().count(), 0);
        // DEST itself a symlink: replaced, never written through
        fs::write(outside.join("target"), b"keep").unwrap();
        symlink(outside.join("target"), push.join("real/app")).unwrap();
        let mut l = Landing::create(&push, &push.join("real/app"), 3).unwrap();
        l.write_block(0, b"new").unwrap();
        l.commit(0o644, false).unwrap();
        assert_eq!(fs::read(outside.join("target")).unwrap(), b"keep");
        assert_eq!(fs::read(push.join("real/app")).unwrap(), b"new");
        assert!(!fs::symlink_metadata(push.join("real/app"))
            .unwrap()
            .file_type()
            .is_symlink());
    }

    #[test]
    fn setid_bits_need_allow_setid() {
        let d = tempfile::tempdir().unwrap();
        let dest = d.path().join("suid");
        for mode in [0o4755, 0o2755, 0o1755] {
            let l = Landing::create(d.path(), &dest, 0).unwrap();
            let e = l.commit(mode, false).unwrap_err();
            assert_eq!(e.code(), "setid-denied", "{mode:o}");
            assert!(!dest.exists());
        }
        assert!(leftovers(d.path()).is_empty());
        let l = Landing::create(d.path(), &dest, 0).unwrap();
        l.commit(0o4755, true).unwrap();
        assert_eq!(mode_of(&dest), 0o4755);
    }

    #[test]
    fn dest_outside_the_push_dir_is_refused() {
        let d = tempfile::tempdir().unwrap();
        let push = d.path().join("push");
        fs::create_dir(&push).unwrap();
        for dest in [d.path().join("f"), d.path().join("pushx/f")] {
            let e = Landing::create(&push, &dest, 1).unwrap_err();
            assert_eq!(e.code(), "push-dir-denied", "{e}");
        }
    }

    #[test]
    fn a_spool_is_anonymous() {
        let d = tempfile::tempdir().unwrap();
        let mut s = Spool::create(d.path(), 10).unwrap();
        s.write_block(2, b"abc").unwrap();
        assert_eq!(s.read_block(2, 3).unwrap(), b"abc");
        assert!(s.write_block(8, b"abc").is_err());
        assert_eq!(fs::read_dir(d.path()).unwrap().count(), 0);
    }

    #[test]
    fn read_only_directory_is_a_permission_error_naming_it() {
        let d = tempfile::tempdir().unwrap();
        let ro = d.path().join("ro");
        fs::create_dir(&ro).unwrap();
        fs::set_permissions(&ro, Permissions::from_mode(0o500)).unwrap();
        if File::create(ro.join("probe")).is_ok() {
            eprintln!("skipped: running with privileges that ignore directory permissions");
            return;
        }
        let e = Landing::create(d.path(), &ro.join("f"), 1).unwrap_err();
        assert_eq!(e.code(), "permission");
        assert!(e.to_string().ends_with("/ro"), "{e}");
    }

    #[test]
    fn io_errors_are_classified() {
        let p = Path::new("/srv/app/f");
        let e = LandError::from_io(p, io::Error::from(io::ErrorKind::PermissionDenied), 1);
        assert!(matches!(&e, LandError::Permission { path } if path == p));
        for errno in [libc::ENOSPC, libc::EDQUOT] {
            let e = LandError::from_io(p, io::Error::from_raw_os_error(errno), 7);
            assert!(
                matches!(&e, LandError::NoSpace { path, need: 7, .. } if path == Path::new("/srv/app")),
                "{e}"
            );
        }
        let e = LandError::from_io(p, io::Error::from_raw_os_error(libc::EIO), 1);
        assert_eq!(e.code(), "io");
        assert!(e.to_string().starts_with("/srv/app/f: "), "{e}");
    }

    #[test]
    fn long_names_are_shortened() {
        let name = "n".repeat(250);
        let t = temp_name(OsStr::new(&name), 0xabc);
        assert!(t.len() <= 255);
        assert!(t.to_string_lossy().ends_with(".mon-push-00000abc"));
    }
}
