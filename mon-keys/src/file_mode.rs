//! The one rule for files that decide trust (`known_nodes`, and each slice's
//! `allowed_signers`, `mon_policy` and `revoked_keys`): a file that group or others may write
//! is refused, since anyone who can write it decides who is trusted. The caller keeps what it
//! had before (last good policy, or nothing: deny) and reports [`WritableFile`], which names
//! the file, its mode and the fix.
//!
//! A trust file owned by anyone but root or the reading process's user is refused as well
//! ([`refuse_foreign_owner`]): its owner may write it whatever its mode.
//!
//! And the modes of the server's own state: its state directory is [`STATE_DIR_MODE`], the
//! files in it (replay journal, audit log) [`STATE_FILE_MODE`].

use std::fs::Metadata;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Permission bits that let group or others write a file.
pub const GROUP_OTHER_WRITE: u32 = 0o022;

/// Mode of a server's state directory: the owner only.
pub const STATE_DIR_MODE: u32 = 0o700;

/// Mode of the files in a server's state directory (replay journal, audit log).
pub const STATE_FILE_MODE: u32 = 0o600;

/// A trust-deciding file that group or others may write.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} {} is writable by group or others (mode {mode:04o}); anyone who can write it {consequence}: run `chmod go-w {}`", path.display(), path.display())]
pub struct WritableFile {
    /// What the file is (`known_nodes`, `allowed_signers`, …).
    pub what: String,
    /// The file.
    pub path: PathBuf,
    /// Its permission bits.
    pub mode: u32,
    /// What a writer could do (e.g. "can add nodes").
    pub consequence: String,
}

/// Refuses `meta` (of the open file `path`) when group or others may write it.
pub fn refuse_writable(
    what: &str,
    path: &Path,
    meta: &Metadata,
    consequence: &str,
) -> Result<(), WritableFile> {
    let mode = meta.permissions().mode() & 0o7777;
    if mode & GROUP_OTHER_WRITE != 0 {
        return Err(WritableFile {
            what: what.to_string(),
            path: path.to_path_buf(),
            mode,
            consequence: consequence.to_string(),
        });
    }
    Ok(())
}

/// A trust file owned by someone other than root or this process's user: its owner may
/// write it (or `chmod` it) whatever its mode says.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} {} is owned by uid {owner}, not by root or this process's user (uid {me}); its owner {consequence}: run `chown root {}`", path.display(), path.display())]
pub struct ForeignOwner {
    /// What the file is.
    pub what: String,
    /// The file.
    pub path: PathBuf,
    /// Its owner.
    pub owner: u32,
    /// This process's effective uid.
    pub me: u32,
    /// What its owner could do with it.
    pub consequence: String,
}

/// Refuses a file (its metadata `meta`, from the opened file) owned by anyone but root or
/// this process's effective user: the mode check ([`refuse_writable`]) says nothing about
/// what the owner may do.
pub fn refuse_foreign_owner(
    what: &str,
    path: &Path,
    meta: &Metadata,
    consequence: &str,
) -> Result<(), ForeignOwner> {
    use std::os::unix::fs::MetadataExt;
    // SAFETY: geteuid has no preconditions and cannot fail.
    #[allow(unsafe_code)]
    let me = unsafe { libc::geteuid() };
    let owner = meta.uid();
    if owner != 0 && owner != me {
        return Err(ForeignOwner {
            what: what.to_string(),
            path: path.to_path_buf(),
            owner,
            me,
            consequence: consequence.to_string(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::fs;

    /// Owned by root or by this process's user: fine; by anyone else (here `nobody`, when
    /// the test runs as root): refused, naming the file, the owner and the fix.
    #[test]
    fn a_file_owned_by_another_user_is_refused_and_named() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("mon_policy");
        fs::write(&p, "x").unwrap();
        let meta = fs::metadata(&p).unwrap();
        assert!(refuse_foreign_owner("policy file", &p, &meta, "can grant").is_ok());
        // SAFETY: geteuid has no preconditions.
        #[allow(unsafe_code)]
        if unsafe { libc::geteuid() } != 0 {
            return;
        }
        std::os::unix::fs::chown(&p, Some(65534), None).unwrap();
        let meta = fs::metadata(&p).unwrap();
        let e = refuse_foreign_owner("policy file", &p, &meta, "can grant").unwrap_err();
        let text = e.to_string();
        assert!(text.contains(&p.display().to_string()), "{text}");
        assert!(
            text.contains("uid 65534") && text.contains("chown root"),
            "{text}"
        );
    }

    #[test]
    fn group_or_other_write_is_refused_and_named() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("allowed_signers");
        fs::write(&p, "x").unwrap();
        for (mode, ok) in [
            (0o644, true),
            (0o600, true),
            (0o444, true),
            (0o664, false),
            (0o646, false),
            (0o666, false),
        ] {
            fs::set_permissions(&p, fs::Permissions::from_mode(mode)).unwrap();
            let meta = fs::metadata(&p).unwrap();
            let r = refuse_writable("allowed_signers", &p, &meta, "can change who may do what");
            assert_eq!(r.is_ok(), ok, "mode {mode:o}");
            if let Err(e) = r {
                let text = e.to_string();
                assert!(text.contains(&p.display().to_string()), "{text}");
                assert!(text.contains(&format!("{mode:04o}")), "{text}");
                assert!(text.contains("chmod go-w"), "{text}");
            }
        }
    }
}
