//! The one rule for files that decide trust (`known_nodes`, and each slice's
//! `allowed_signers`, `mon_policy` and `revoked_keys`): a file that group or others may write
//! is refused, since anyone who can write it decides who is trusted. The caller keeps what it
//! had before (last good policy, or nothing: deny) and reports [`WritableFile`], which names
//! the file, its mode and the fix.
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::fs;

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
