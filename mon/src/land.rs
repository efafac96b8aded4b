//! Atomic landing of a pushed file.
//!
//! Verified blocks are written at their offsets into a temporary file created next to DEST
//! (`O_EXCL`, mode 0600, name `.DEST.mon-push-XXXXXXXX`). [`Landing::commit`] fsyncs it, sets
//! the final mode, renames it over DEST and fsyncs the directory, so DEST is at every moment
//! either its old content or the complete new file. Dropping an uncommitted [`Landing`] removes
//! the temporary file: a failed or interrupted push leaves no partial file behind.
//!
//! Space is checked up front (`statvfs`) and reserved (`posix_fallocate` where the file system
//! supports it), so "no space" is reported before any block arrives.

use std::ffi::{CString, OsStr, OsString};
use std::fs::{self, File, OpenOptions, Permissions};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Longest part of DEST's file name kept in the temporary name (NAME_MAX is 255).
const MAX_NAME_PART: usize = 200;
/// Attempts at a fresh temporary name before giving up.
const NAME_ATTEMPTS: u32 = 16;

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
    /// The server may not create or replace the file.
    #[error("permission denied: {}", path.display())]
    Permission {
        /// The path refused.
        path: PathBuf,
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
    dir: PathBuf,
    tmp: PathBuf,
    file: File,
    size: u64,
    committed: bool,
}

impl Landing {
    /// Creates the temporary file for a `size`-byte file landing at `dest`, after checking the
    /// free space of `dest`'s directory.
    pub fn create(dest: &Path, size: u64) -> Result<Landing, LandError> {
        let invalid = |msg: &str| LandError::Io {
            path: dest.to_path_buf(),
            source: io::Error::new(io::ErrorKind::InvalidInput, msg.to_string()),
        };
        let name = dest
            .file_name()
            .ok_or_else(|| invalid("the destination has no file name"))?;
        let dir = match dest.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let free = free_space(&dir).map_err(|e| LandError::from_io(&dir, e, size))?;
        check_space(&dir, size, free)?;
        let (tmp, file) = create_temp(&dir, name, size)?;
        let landing = Landing {
            dest: dest.to_path_buf(),
            dir,
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
        if self.size > 0 {
            match fallocate(&self.file, self.size) {
                Ok(()) => {}
                Err(e)
                    if matches!(
                        e.raw_os_error(),
                        Some(libc::EOPNOTSUPP | libc::EINVAL | libc::ENOSYS)
                    ) => {}
                Err(e) => return Err(LandError::from_io(&self.tmp, e, self.size)),
            }
        }
        self.file
            .set_len(self.size)
            .map_err(|e| LandError::from_io(&self.tmp, e, self.size))
    }

    /// The destination path.
    pub fn dest(&self) -> &Path {
        &self.dest
    }

    /// The temporary file's path.
    pub fn temp_path(&self) -> &Path {
        &self.tmp
    }

    /// Writes a (verified) block at `offset`.
    pub fn write_block(&mut self, offset: u64, bytes: &[u8]) -> Result<(), LandError> {
        self.check_range(offset, bytes.len())?;
        self.file
            .write_all_at(bytes, offset)
            .map_err(|e| LandError::from_io(&self.tmp, e, self.size))
    }

    /// Reads `len` bytes at `offset` back (to serve a block to a child).
    pub fn read_block(&self, offset: u64, len: usize) -> Result<Vec<u8>, LandError> {
        self.check_range(offset, len)?;
        let mut buf = vec![0u8; len];
        self.file
            .read_exact_at(&mut buf, offset)
            .map_err(|e| LandError::from_io(&self.tmp, e, self.size))?;
        Ok(buf)
    }

    fn check_range(&self, offset: u64, len: usize) -> Result<(), LandError> {
        match offset.checked_add(len as u64) {
            Some(end) if end <= self.size => Ok(()),
            _ => Err(LandError::Io {
                path: self.tmp.clone(),
                source: io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!(
                        "{len} bytes at offset {offset} do not fit in a {}-byte file",
                        self.size
                    ),
                ),
            }),
        }
    }

    /// Makes the file durable, sets `mode` (permission bits, `& 0o7777`), renames it over DEST
    /// and makes the rename durable. If only that last directory fsync fails, the new file is
    /// already at DEST and the error names the directory.
    pub fn commit(mut self, mode: u32) -> Result<(), LandError> {
        let size = self.size;
        self.file
            .sync_all()
            .map_err(|e| LandError::from_io(&self.tmp, e, size))?;
        self.file
            .set_permissions(Permissions::from_mode(mode & 0o7777))
            .map_err(|e| LandError::from_io(&self.tmp, e, size))?;
        fs::rename(&self.tmp, &self.dest).map_err(|e| LandError::from_io(&self.dest, e, size))?;
        self.committed = true;
        File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| LandError::from_io(&self.dir, e, size))
    }
}

impl Drop for Landing {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_file(&self.tmp);
        }
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

/// Creates a fresh temporary file (`O_CREAT|O_EXCL`, mode 0600) in `dir`.
fn create_temp(dir: &Path, name: &OsStr, size: u64) -> Result<(PathBuf, File), LandError> {
    let mut last = None;
    for _ in 0..NAME_ATTEMPTS {
        let tmp = dir.join(temp_name(name, rand::random::<u32>()));
        match OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
        {
            Ok(f) => return Ok((tmp, f)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
                return Err(LandError::Permission {
                    path: dir.to_path_buf(),
                })
            }
            Err(e) => return Err(LandError::from_io(&tmp, e, size)),
        }
    }
    Err(LandError::Io {
        path: dir.to_path_buf(),
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
        let mut l = Landing::create(&dest, data.len() as u64).unwrap();
        let tmp = l.temp_path().to_path_buf();
        let tmp_name = tmp.file_name().unwrap().to_string_lossy().into_owned();
        assert!(tmp_name.starts_with(".app.bin.mon-push-"), "{tmp_name}");
        assert_eq!(tmp.parent(), Some(d.path()), "created in DEST's directory");
        assert_eq!(mode_of(&tmp), 0o600, "private while being written");
        assert!(!dest.exists(), "nothing at DEST before commit");
        for (i, chunk) in data.chunks(4096).enumerate().rev() {
            l.write_block((i * 4096) as u64, chunk).unwrap();
        }
        assert_eq!(l.read_block(4096, 10).unwrap(), &data[4096..4106]);
        l.commit(0o750).unwrap();
        assert_eq!(fs::read(&dest).unwrap(), data);
        assert_eq!(mode_of(&dest), 0o750);
        assert!(leftovers(d.path()).is_empty());
    }

    #[test]
    fn drop_without_commit_leaves_nothing() {
        let d = tempfile::tempdir().unwrap();
        let dest = d.path().join("f");
        let mut l = Landing::create(&dest, 100).unwrap();
        l.write_block(0, &[1; 50]).unwrap();
        let tmp = l.temp_path().to_path_buf();
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
        let mut l = Landing::create(&dest, 3).unwrap();
        l.write_block(0, b"new").unwrap();
        assert_eq!(
            fs::read(&dest).unwrap(),
            b"old content",
            "untouched until commit"
        );
        l.commit(0o644).unwrap();
        assert_eq!(fs::read(&dest).unwrap(), b"new");
        let mut buf = String::new();
        io::Read::read_to_string(&mut &old, &mut buf).unwrap();
        assert_eq!(
            buf, "old content",
            "readers of the old file are not disturbed"
        );
        // an interrupted replacement leaves the old file in place
        let l = Landing::create(&dest, 5).unwrap();
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
        let e = Landing::create(&dest, 1 << 62).unwrap_err();
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
        let mut l = Landing::create(&d.path().join("f"), 10).unwrap();
        let e = l.write_block(8, &[0; 3]).unwrap_err();
        assert_eq!(e.code(), "io");
        assert!(l.write_block(u64::MAX, &[0]).is_err());
        assert!(l.read_block(5, 6).is_err());
    }

    #[test]
    fn dest_that_is_a_directory_fails_at_commit_and_cleans_up() {
        let d = tempfile::tempdir().unwrap();
        let dest = d.path().join("sub");
        fs::create_dir(&dest).unwrap();
        fs::write(dest.join("keep"), b"x").unwrap();
        let l = Landing::create(&dest, 0).unwrap();
        let e = l.commit(0o644).unwrap_err();
        assert_eq!(e.code(), "io", "{e}");
        assert!(dest.join("keep").exists());
        assert!(leftovers(d.path()).is_empty());
    }

    #[test]
    fn missing_directory_and_no_file_name_are_errors() {
        let d = tempfile::tempdir().unwrap();
        let e = Landing::create(&d.path().join("nope/f"), 1).unwrap_err();
        assert_eq!(e.code(), "io");
        assert!(e.to_string().contains("nope"), "{e}");
        assert!(Landing::create(Path::new("/"), 1).is_err());
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
        let e = Landing::create(&ro.join("f"), 1).unwrap_err();
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
