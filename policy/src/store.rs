//! The multi-slice policy store of a server: `root/<slice>/{allowed_signers,mon_policy,revoked_keys}`.
//!
//! [`PolicyStore::reload_if_changed`] stats every policy file (size, mtime, ctime, inode) and
//! re-reads a slice whose files changed, or were modified within the last two seconds (file
//! times are coarse, so a second same-size write in one tick would otherwise go unseen); it
//! re-parses only when the contents differ. A slice whose new files do not load keeps its last
//! good policy (never fail open) and the error is reported once per change; a slice whose
//! first load fails has no policy and denies everything; a slice whose directory disappears
//! loses its policy. A root directory that cannot be read (e.g. no `slices/` yet) keeps every
//! policy and is reported once, again only when the error changes or after the root was read.
//! A file changing while it is read is retried on the next call.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::diag::Diagnostic;
use crate::slice::{now_unix_s, parse_slice_files, read_slice_files, SlicePolicy};
use crate::{ALLOWED_SIGNERS, MON_POLICY, REVOKED_KEYS};

/// Something the server should audit (`policy.load` / `policy.error`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreEvent {
    /// A slice's policy was (re)loaded from these files.
    Loaded {
        /// The slice name (its directory name).
        slice: String,
        /// The files it was built from.
        files: Vec<PathBuf>,
    },
    /// A slice's files were rejected; the last good policy (if any) stays in force.
    Error {
        /// The slice name (empty for the store root itself).
        slice: String,
        /// Every error found.
        diagnostics: Vec<Diagnostic>,
    },
}

/// What a policy file looked like when it was last read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    len: u64,
    mtime_s: i64,
    mtime_ns: i64,
    ctime_s: i64,
    ctime_ns: i64,
    ino: u64,
    dev: u64,
}

type Stamps = [Option<Stamp>; 3];

fn stamps(dir: &Path) -> Stamps {
    [ALLOWED_SIGNERS, MON_POLICY, REVOKED_KEYS].map(|n| {
        std::fs::metadata(dir.join(n)).ok().map(|m| Stamp {
            len: m.len(),
            mtime_s: m.mtime(),
            mtime_ns: m.mtime_nsec(),
            ctime_s: m.ctime(),
            ctime_ns: m.ctime_nsec(),
            ino: m.ino(),
            dev: m.dev(),
        })
    })
}

/// A file modified this recently (seconds) may be modified again within the same timestamp
/// tick (file times are coarse), so the slice is re-read on the next call until it settles.
const RACY_WINDOW_S: i64 = 2;

fn is_racy(stamps: &Stamps, now_s: i64) -> bool {
    stamps
        .iter()
        .flatten()
        .any(|s| now_s.saturating_sub(s.mtime_s.max(s.ctime_s)) <= RACY_WINDOW_S)
}

#[derive(Debug, Default)]
struct SliceEntry {
    policy: Option<Arc<SlicePolicy>>,
    /// Stamps of the files as last read (successfully or not).
    stamps: Option<Stamps>,
    /// Digest of the contents last parsed.
    digest: Option<u64>,
    /// The files were very recent when read: read them again next time.
    racy: bool,
    /// The files changed while they were read: read them again next time.
    retry: bool,
}

impl SliceEntry {
    /// Reads the slice directory `dir` again if its files changed (by stamps, then by
    /// contents); an event when the policy was parsed, `None` when nothing changed or the files
    /// were being written while read (tried again on the next call, keeping what we have).
    fn reload(&mut self, dir: &Path, slice: String, now: u64) -> Option<StoreEvent> {
        let before = stamps(dir);
        if self.stamps == Some(before) && !self.racy && !self.retry {
            return None;
        }
        let files = read_slice_files(dir);
        let after = stamps(dir);
        self.retry = after != before;
        if self.retry {
            // Written while we read it: try again on the next call, keep what we have.
            return None;
        }
        self.stamps = Some(after);
        self.racy = is_racy(&after, i64::try_from(now).unwrap_or(i64::MAX));
        let digest = files.digest();
        if self.digest == Some(digest) {
            return None; // touched, same contents
        }
        self.digest = Some(digest);
        Some(match parse_slice_files(&files, now).result {
            Ok((policy, _warnings)) => {
                let files = policy.files();
                self.policy = Some(Arc::new(policy));
                StoreEvent::Loaded { slice, files }
            }
            Err(diagnostics) => StoreEvent::Error { slice, diagnostics },
        })
    }
}

/// Policies of every slice under a root directory, reloaded when their files change.
#[derive(Debug)]
pub struct PolicyStore {
    root: PathBuf,
    slices: BTreeMap<String, SliceEntry>,
    /// The root's read error last reported (so that it is reported once, not on every call).
    root_error: Option<String>,
}

impl PolicyStore {
    /// Opens `root` (e.g. `CONFIG_DIR/slices`) and loads every slice directory in it.
    pub fn open(root: &Path) -> (PolicyStore, Vec<StoreEvent>) {
        let mut store = PolicyStore {
            root: root.to_path_buf(),
            slices: BTreeMap::new(),
            root_error: None,
        };
        let events = store.reload_if_changed();
        (store, events)
    }

    /// Reloads the slices whose files changed since the last call (cheap when nothing did):
    /// new slice directories are loaded, removed ones lose their policy.
    pub fn reload_if_changed(&mut self) -> Vec<StoreEvent> {
        let mut events = Vec::new();
        let names = match self.slice_names() {
            Ok(n) => n,
            Err(e) => {
                // The root is unreadable: keep every policy as it is; say so once.
                let message = format!("cannot read the slices directory: {e}");
                if self.root_error.as_ref() != Some(&message) {
                    events.push(StoreEvent::Error {
                        slice: String::new(),
                        diagnostics: vec![Diagnostic::error(&self.root, 0, 0, message.clone())],
                    });
                    self.root_error = Some(message);
                }
                return events;
            }
        };
        self.root_error = None;
        self.forget_removed(&names, &mut events);
        let now = now_unix_s();
        for slice in names {
            let dir = self.root.join(&slice);
            let entry = self.slices.entry(slice.clone()).or_default();
            if let Some(event) = entry.reload(&dir, slice, now) {
                events.push(event);
            }
        }
        events
    }

    /// Drops the slices whose directory is gone; one that had a policy reports it.
    fn forget_removed(&mut self, names: &[String], events: &mut Vec<StoreEvent>) {
        let gone: Vec<String> = self
            .slices
            .keys()
            .filter(|k| !names.contains(k))
            .cloned()
            .collect();
        for slice in gone {
            if let Some(entry) = self.slices.remove(&slice) {
                if entry.policy.is_some() {
                    events.push(StoreEvent::Error {
                        diagnostics: vec![Diagnostic::error(
                            &self.root.join(&slice),
                            0,
                            0,
                            "slice directory removed: the slice now denies everything",
                        )],
                        slice,
                    });
                }
            }
        }
    }

    /// Whether a slice must be read again on the next call although nothing may signal a
    /// change (files modified within the racy window, or written while they were read): a
    /// caller that checks only on change notifications ([`crate::FileWatch`]) keeps calling
    /// [`PolicyStore::reload_if_changed`] once a second while this holds.
    pub fn unsettled(&self) -> bool {
        self.slices.values().any(|e| e.racy || e.retry)
    }

    /// The paths whose changes [`PolicyStore::reload_if_changed`] looks for: the root, every
    /// slice directory and every policy file in it (for [`crate::FileWatch`]).
    pub fn watch_paths(&self) -> Vec<PathBuf> {
        let mut paths = vec![self.root.clone()];
        for slice in self.slices.keys() {
            let dir = self.root.join(slice);
            for f in [ALLOWED_SIGNERS, MON_POLICY, REVOKED_KEYS] {
                paths.push(dir.join(f));
            }
            paths.push(dir);
        }
        paths
    }

    /// The current policy of `slice`; `None` when it has none (deny everything:
    /// [`Decision::no_policy`](crate::Decision::no_policy)).
    pub fn get(&self, slice: &str) -> Option<Arc<SlicePolicy>> {
        self.slices.get(slice).and_then(|e| e.policy.clone())
    }

    /// Decides `req` in `slice`: [`SlicePolicy::evaluate`], or a `no-policy` denial when the
    /// slice has no valid policy.
    pub fn evaluate(&self, slice: &str, req: &crate::Request<'_>) -> crate::Decision {
        match self.get(slice) {
            Some(p) => p.evaluate(req),
            None => crate::Decision::no_policy(slice),
        }
    }

    /// The slices that have a valid policy, sorted.
    pub fn slices(&self) -> Vec<String> {
        self.slices
            .iter()
            .filter(|(_, e)| e.policy.is_some())
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn slice_names(&self) -> std::io::Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in std::fs::read_dir(&self.root)? {
            let entry = entry?;
            let Some(name) = entry.file_name().to_str().map(str::to_string) else {
                continue;
            };
            if name.starts_with('.') || !entry.path().is_dir() {
                continue;
            }
            names.push(name);
        }
        names.sort();
        Ok(names)
    }
}
