//! Replacing a trust file (known_nodes, a slice's policy files) the way the admin helpers do:
//! the new contents go to a temporary file in the same directory, which takes the old file's
//! mode (never writable by group or others) and owner, is synced, and is renamed over the old
//! one, so a server reloading at any moment reads either the old file or the new one, whole.

use std::fs;
use std::io::Write as _;
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use mon_keys::file_mode::GROUP_OTHER_WRITE;

/// A trust file as read before an edit: where it really is and what it held.
#[derive(Debug)]
pub struct Original {
    /// The file as the user named it (for messages).
    pub shown: PathBuf,
    /// The file to replace (symbolic links resolved, so the link stays and its target changes).
    pub path: PathBuf,
    /// Its contents; `None` when it does not exist yet.
    pub bytes: Option<Vec<u8>>,
}

impl Original {
    /// Reads `path` (a missing file is `bytes: None`; its directory must exist).
    pub fn read(path: &Path) -> anyhow::Result<Original> {
        refuse_foreign_link(path)?;
        let real = match fs::canonicalize(path) {
            Ok(p) => p,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => path.to_path_buf(),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        let bytes = match fs::read(&real) {
            Ok(b) => Some(b),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        Ok(Original {
            shown: path.to_path_buf(),
            path: real,
            bytes,
        })
    }

    /// The contents as text (empty for a missing file).
    pub fn text(&self) -> anyhow::Result<String> {
        let bytes = self.bytes.clone().unwrap_or_default();
        String::from_utf8(bytes).with_context(|| format!("{} is not UTF-8", self.shown.display()))
    }

    /// Replaces the file with `contents`. A new file gets `new_mode`; an existing one keeps
    /// its mode without group and others' write bits, and its owner. Refuses when the file
    /// changed since it was read (another edit at the same time), leaving it as it is.
    pub fn replace(&self, contents: &[u8], new_mode: u32) -> anyhow::Result<()> {
        let path = &self.path;
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
        let old_meta = fs::metadata(path).ok();
        let mode = old_meta.as_ref().map_or(new_mode, |m| {
            m.permissions().mode() & 0o7777 & !GROUP_OTHER_WRITE
        });
        let mut tmp = tempfile::Builder::new()
            .prefix(&format!(".{name}."))
            .suffix(".tmp")
            .tempfile_in(dir)
            .with_context(|| format!("cannot create a temporary file in {}", dir.display()))?;
        let io = |e: std::io::Error| anyhow::anyhow!("cannot write {}: {e}", tmp_name(dir, name));
        tmp.write_all(contents).map_err(io)?;
        tmp.as_file()
            .set_permissions(fs::Permissions::from_mode(mode))
            .map_err(io)?;
        if let Some(m) = &old_meta {
            keep_owner(tmp.as_file(), m).map_err(io)?;
        }
        tmp.as_file().sync_all().map_err(io)?;
        if fs::read(path).ok() != self.bytes {
            anyhow::bail!(
                "{} changed while it was being edited (another edit at the same time?); nothing written: run the command again",
                self.shown.display()
            );
        }
        tmp.persist(path)
            .map_err(|e| anyhow::anyhow!("cannot replace {}: {}", self.shown.display(), e.error))?;
        // The rename is durable once the directory is.
        if let Ok(d) = fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }
}

/// Gives `file` the owner and group of the file it replaces, when they differ (only root can;
/// anyone else edits only files they own, which the temporary file already matches).
fn keep_owner(file: &fs::File, old: &fs::Metadata) -> std::io::Result<()> {
    let new = file.metadata()?;
    if new.uid() == old.uid() && new.gid() == old.gid() {
        return Ok(());
    }
    match std::os::unix::fs::fchown(file, Some(old.uid()), Some(old.gid())) {
        Ok(()) => Ok(()),
        // Not root: the file will be ours, which the loaders accept as well.
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => Ok(()),
        Err(e) => Err(e),
    }
}

fn tmp_name(dir: &Path, name: &str) -> String {
    format!("a temporary file for {name} in {}", dir.display())
}

/// A trust file reached through a symbolic link is edited only when the link and what it
/// points at belong to root or to the user running the command: a link planted by someone
/// who can write the directory (a slice admin's account, say) must not make root rewrite a
/// file elsewhere.
fn refuse_foreign_link(path: &Path) -> anyhow::Result<()> {
    let Ok(link) = fs::symlink_metadata(path) else {
        return Ok(());
    };
    if !link.file_type().is_symlink() {
        return Ok(());
    }
    let me = rustix::process::geteuid().as_raw();
    let ours = |uid: u32| uid == 0 || uid == me;
    let target = fs::metadata(path).ok().map(|m| m.uid());
    if !ours(link.uid()) || target.is_some_and(|uid| !ours(uid)) {
        anyhow::bail!(
            "{} is a symbolic link owned by another user (or to another user's file): \
             refusing to edit through it; replace the link with the file itself",
            path.display()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn mode(p: &Path) -> u32 {
        fs::metadata(p).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn a_new_file_gets_the_mode_asked_and_an_old_one_keeps_its_own_without_go_w() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("known_nodes");
        Original::read(&p)
            .unwrap()
            .replace(b"one\n", 0o644)
            .unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"one\n");
        assert_eq!(mode(&p), 0o644);

        fs::set_permissions(&p, fs::Permissions::from_mode(0o600)).unwrap();
        Original::read(&p)
            .unwrap()
            .replace(b"two\n", 0o644)
            .unwrap();
        assert_eq!(mode(&p), 0o600);

        fs::set_permissions(&p, fs::Permissions::from_mode(0o666)).unwrap();
        Original::read(&p)
            .unwrap()
            .replace(b"three\n", 0o644)
            .unwrap();
        assert_eq!(mode(&p), 0o644);
        assert_eq!(fs::read(&p).unwrap(), b"three\n");
        // No temporary file is left behind.
        assert_eq!(fs::read_dir(tmp.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_symbolic_link_stays_and_its_target_changes() {
        let tmp = tempfile::tempdir().unwrap();
        let target = tmp.path().join("real");
        fs::write(&target, "old\n").unwrap();
        let link = tmp.path().join("known_nodes");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        Original::read(&link)
            .unwrap()
            .replace(b"new\n", 0o644)
            .unwrap();
        assert!(fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(fs::read(&target).unwrap(), b"new\n");
    }

    #[test]
    fn an_edit_at_the_same_time_is_refused_and_loses_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("allowed_signers");
        fs::write(&p, "a\n").unwrap();
        let orig = Original::read(&p).unwrap();
        fs::write(&p, "a\nb\n").unwrap();
        let err = orig.replace(b"a\nc\n", 0o644).unwrap_err().to_string();
        assert!(err.contains("changed while it was being edited"), "{err}");
        assert_eq!(fs::read(&p).unwrap(), b"a\nb\n");
        assert_eq!(fs::read_dir(tmp.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_link_owned_by_another_user_is_not_followed() {
        if !rustix::process::geteuid().is_root() {
            eprintln!("skipped: needs root (to give the link to another user)");
            return;
        }
        let tmp = tempfile::tempdir().unwrap();
        let target = tmp.path().join("victim");
        fs::write(&target, b"# root's file\n").unwrap();
        let link = tmp.path().join("allowed_signers");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        // Root's own link is followed.
        assert!(Original::read(&link).is_ok());
        // A link planted by another user (nobody) is refused, and the target is untouched.
        std::os::unix::fs::lchown(&link, Some(65534), Some(65534)).unwrap();
        let e = Original::read(&link).unwrap_err().to_string();
        assert!(e.contains("symbolic link owned by another user"), "{e}");
        assert_eq!(fs::read(&target).unwrap(), b"# root's file\n");
    }
}
