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

use rustix::fs::{AtFlags, FileType, Mode, OFlags};

mod beneath;

#[cfg(test)]
use beneath::walk_beneath;
use beneath::{dir_error, open_beneath, split_beneath};

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
        let dir_path = push_dir.join(&parent);
        let dir = open_dest_dir(push_dir, &parent, &dir_path, size)?;
        match rustix::fs::statat(&dir, name.as_os_str(), AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) if FileType::from_raw_mode(st.st_mode) == FileType::Directory => {
                return Err(LandError::IsDir {
                    path: dest.to_path_buf(),
                })
            }
            Ok(_) | Err(rustix::io::Errno::NOENT) => {}
            Err(e) => return Err(LandError::from_io(dest, e.into(), size)),
        }
        check_space(&dir_path, size, free_space_at(&dir, &dir_path, size)?)?;
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
        self.rename_over_dest()?;
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

impl Landing {
    /// Renames the temporary file over DEST (a directory there is [`LandError::IsDir`]).
    fn rename_over_dest(&self) -> Result<(), LandError> {
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
            e => LandError::from_io(&self.dest, e.into(), self.size),
        })
    }
}

/// The bytes free to an unprivileged user on the file system of `dir`.
fn free_space_at(dir: &OwnedFd, dir_path: &Path, size: u64) -> Result<u64, LandError> {
    let st = rustix::fs::fstatvfs(dir).map_err(|e| LandError::from_io(dir_path, e.into(), size))?;
    #[allow(clippy::unnecessary_cast)] // the field types differ between platforms
    Ok((st.f_bavail as u64).saturating_mul(st.f_frsize as u64))
}

/// Opens DEST's directory `parent` (relative) beneath `push_dir` without following a
/// symbolic link; `dir_path` names it in errors.
fn open_dest_dir(
    push_dir: &Path,
    parent: &Path,
    dir_path: &Path,
    size: u64,
) -> Result<OwnedFd, LandError> {
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
    if parent.as_os_str().is_empty() {
        return Ok(pd);
    }
    open_beneath(&pd, parent).map_err(|e| dir_error(e, dir_path, push_dir, size))
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
mod tests;
