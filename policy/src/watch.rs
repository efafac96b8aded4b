//! Telling a server *when* its policy and known_nodes files may have changed, so that it checks
//! them ([`crate::PolicyStore::reload_if_changed`], known_nodes' mtime) only then instead of
//! stat-ing every file once a second.
//!
//! [`FileWatch`] is an inotify instance (Linux) watching, for every path it is given:
//! - the path itself, following symlinks (its contents: a file written through any name, a
//!   directory's entries);
//! - its parent directory (the path created, deleted, renamed over: an editor's atomic
//!   save);
//! - for a symlink, every hop of the chain the same way (the directory of each link and of
//!   its target: a `..data` swap as Kubernetes does, a target edited by rename in its own
//!   directory), and every symlinked directory on the way (an ancestor of the path or of a
//!   hop: a `current -> v1` link swapped in its own directory), at most [`MAX_HOPS`] hops;
//! - for a path that does not exist (yet), its nearest existing ancestor.
//!
//! A change only says "look again": what counts as a change stays the caller's stat-and-digest
//! check, exactly as with the once-a-second loop. Reading the files raises no event (no
//! `IN_OPEN`/`IN_ACCESS` in the mask). After each look the caller calls [`FileWatch::rewatch`]
//! (new slice directories, retargeted symlinks). An overflowed event queue, and a watched file system unmounted, count as a
//! change. Where inotify is not available (`inotify_init1` or a watch fails: other kernels,
//! the per-user instance or watch limits) or cannot see every change (a watched path on a
//! network or FUSE file system, whose edits made on other hosts raise no event),
//! [`FileWatch::new`] and [`FileWatch::rewatch`] fail and the caller keeps its stat loop.

use std::collections::{HashMap, HashSet};
use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};

use rustix::fs::inotify::{self, CreateFlags, ReadFlags, WatchFlags};

/// Symlink hops followed per path (Linux's own limit is 40).
pub const MAX_HOPS: usize = 40;

/// Events that may mean a change; never the ones reading a file raises.
fn mask() -> WatchFlags {
    WatchFlags::MODIFY
        | WatchFlags::ATTRIB
        | WatchFlags::CLOSE_WRITE
        | WatchFlags::MOVED_FROM
        | WatchFlags::MOVED_TO
        | WatchFlags::CREATE
        | WatchFlags::DELETE
        | WatchFlags::DELETE_SELF
        | WatchFlags::MOVE_SELF
}

/// An inotify watch over a set of paths (see the module docs).
#[derive(Debug)]
pub struct FileWatch {
    fd: OwnedFd,
    /// Watch descriptor of every watched path (file or directory, as given to the kernel).
    watched: HashMap<PathBuf, i32>,
}

impl FileWatch {
    /// A non-blocking inotify instance watching `paths` (see the module docs); an error when
    /// inotify or any watch cannot be set up.
    pub fn new(paths: &[PathBuf]) -> io::Result<FileWatch> {
        let fd = inotify::init(CreateFlags::NONBLOCK | CreateFlags::CLOEXEC)?;
        let mut w = FileWatch {
            fd,
            watched: HashMap::new(),
        };
        w.rewatch(paths)?;
        Ok(w)
    }

    /// Watches `paths` as they are now: adds what is new, drops what is no longer needed.
    /// An error (e.g. the watch limit) leaves the watches as they were: the caller should fall
    /// back to polling.
    pub fn rewatch(&mut self, paths: &[PathBuf]) -> io::Result<()> {
        let mut want: HashSet<PathBuf> = HashSet::new();
        for p in paths {
            watch_set(p, &mut want);
        }
        if let Some(p) = want.iter().find(|p| on_remote_fs(p)) {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                format!(
                    "{} is on a network or FUSE file system, where inotify misses changes made elsewhere",
                    p.display()
                ),
            ));
        }
        let mut next = HashMap::new();
        for p in want {
            match inotify::add_watch(&self.fd, &p, mask()) {
                Ok(wd) => {
                    next.insert(p, wd);
                }
                // Gone since we looked (or not ours to read): its parent's watch covers its
                // return, and the caller looks again then.
                Err(rustix::io::Errno::NOENT | rustix::io::Errno::NOTDIR) => {}
                Err(e) => return Err(e.into()),
            }
        }
        let keep: HashSet<i32> = next.values().copied().collect();
        for (_, wd) in self.watched.drain() {
            if !keep.contains(&wd) {
                // Already gone when its inode was deleted (IN_IGNORED): nothing to undo.
                let _ = inotify::remove_watch(&self.fd, wd);
            }
        }
        self.watched = next;
        Ok(())
    }

    /// Reads every pending event without waiting: whether any says something may have
    /// changed (a queue overflow does). `WouldBlock` ends the read; other errors are returned.
    pub fn take_changes(&mut self) -> io::Result<bool> {
        let mut buf = [MaybeUninit::<u8>::uninit(); 4096];
        let mut reader = inotify::Reader::new(&self.fd, &mut buf);
        let mut changed = false;
        loop {
            match reader.next() {
                Ok(ev) => {
                    let f = ev.events();
                    // An unmounted file system (one mounted over it may hold other files).
                    if f.intersects(ReadFlags::QUEUE_OVERFLOW | ReadFlags::UNMOUNT)
                        || f.intersects(ReadFlags::from_bits_truncate(mask().bits()))
                    {
                        changed = true;
                    }
                }
                Err(rustix::io::Errno::WOULDBLOCK) => return Ok(changed),
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// How many paths are watched (for logs and tests).
    pub fn watches(&self) -> usize {
        self.watched.len()
    }
}

impl AsFd for FileWatch {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl AsRawFd for FileWatch {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

/// File systems (`statfs` magic numbers) whose changes made on another host, or by a FUSE
/// daemon, raise no inotify event here: NFS, SMB/CIFS (three), FUSE (and virtiofs), Ceph, 9p,
/// AFS, Coda, OCFS2, GFS2.
const REMOTE_FS: [u64; 11] = [
    0x6969,
    0x517B,
    0xFF53_4D42,
    0xFE53_4D42,
    0x6573_5546,
    0x00C3_6400,
    0x0102_1997,
    0x5346_414F,
    0x7375_7245,
    0x7461_636F,
    0x0116_1970,
];

/// Whether `path` is on a file system in [`REMOTE_FS`] (not when it cannot be asked).
fn on_remote_fs(path: &Path) -> bool {
    rustix::fs::statfs(path).is_ok_and(|s| {
        // `f_type` is a signed word on some targets: compare its low 32 bits.
        #[allow(clippy::cast_sign_loss, clippy::unnecessary_cast)]
        let t = (s.f_type as u64) & 0xFFFF_FFFF;
        REMOTE_FS.contains(&t)
    })
}

/// Adds to `out` what to watch for `path` (see the module docs), following at most
/// [`MAX_HOPS`] symlinks in all.
fn watch_set(path: &Path, out: &mut HashSet<PathBuf>) {
    let mut budget = MAX_HOPS;
    watch_chain(path, out, &mut budget);
}

/// The symlinks among the ancestors of `p` (a directory on the way that is a link: a
/// `current -> v1` swapped for `v2` in its own directory, which no watch on the files below
/// it sees): each watched as a chain of its own (its directory, its target's).
fn watch_linked_ancestors(p: &Path, out: &mut HashSet<PathBuf>, budget: &mut usize) {
    for a in p.ancestors().skip(1) {
        if a.as_os_str().is_empty() || *budget == 0 {
            return;
        }
        if std::fs::symlink_metadata(a).is_ok_and(|m| m.file_type().is_symlink()) {
            watch_chain(a, out, budget);
        }
    }
}

/// [`watch_set`] for one chain of symlinks from `path`, spending `budget` per hop.
fn watch_chain(path: &Path, out: &mut HashSet<PathBuf>, budget: &mut usize) {
    let mut p = path.to_path_buf();
    while *budget > 0 {
        *budget -= 1;
        watch_linked_ancestors(&p, out, budget);
        let parent = p.parent().map(Path::to_path_buf);
        match std::fs::symlink_metadata(&p) {
            Err(_) => {
                // Not there: the nearest existing ancestor sees it appear.
                let mut a = parent;
                while let Some(d) = a {
                    if d.as_os_str().is_empty() || d.is_dir() {
                        if !d.as_os_str().is_empty() {
                            out.insert(d);
                        }
                        break;
                    }
                    a = d.parent().map(Path::to_path_buf);
                }
                return;
            }
            Ok(m) => {
                if let Some(d) = parent.filter(|d| !d.as_os_str().is_empty()) {
                    out.insert(d);
                }
                if !m.file_type().is_symlink() {
                    out.insert(p);
                    return;
                }
                // The target itself (following the whole chain), then the next hop's directory.
                if p.exists() {
                    out.insert(p.clone());
                }
                let Ok(target) = std::fs::read_link(&p) else {
                    return;
                };
                p = match p.parent() {
                    Some(d) if target.is_relative() => d.join(target),
                    _ => target,
                };
            }
        }
    }
}
