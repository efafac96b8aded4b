//! When the server looks at its policy files and known_nodes again: when the kernel says they
//! may have changed ([`mon_policy::FileWatch`], inotify), instead of stat-ing them every second.
//!
//! What counts as a change is still decided by the checks themselves
//! ([`mon_policy::PolicyStore::reload_if_changed`]: stamps and contents; known_nodes' mtime),
//! which run:
//! - when the watch has reported events and then been quiet for [`QUIET`] (at most
//!   [`QUIET_MAX`] after the first): an edit is picked up sooner than by the loop, and a
//!   change made of many steps (a directory removed file by file, a deploy tool writing
//!   several files) is read once it is whole, not half way (which would log and audit a
//!   spurious error);
//! - on the next once-a-second tick while the store is unsettled (a file written within the
//!   last two seconds, or while it was read) or a known_nodes reload was under way;
//! - every [`FULL_CHECK_TICKS`] ticks regardless, for what a watch cannot see (a file system
//!   mounted over a watched directory);
//! - on every tick, as before, when there is no watch: inotify unavailable (instance or watch
//!   limits, another kernel), a watched path on a network or FUSE file system, or a watch that
//!   failed later.

use std::path::PathBuf;
use std::time::Duration;

use mon_policy::FileWatch;
use tokio::io::unix::AsyncFd;
use tokio::time::Instant;

/// With a working watch, the files are checked anyway every this many ticks (seconds).
pub(super) const FULL_CHECK_TICKS: u32 = 60;

/// The files are checked once the watch has reported no event for this long...
pub(super) const QUIET: Duration = Duration::from_millis(150);

/// ... or this long after the first event not yet checked, whichever comes first.
pub(super) const QUIET_MAX: Duration = Duration::from_secs(1);

/// The watch over the server's config files, and whether they are due for a check.
pub(super) struct Watcher {
    watch: Option<AsyncFd<FileWatch>>,
    /// Check on the next tick (the last check must be repeated, or the watch failed).
    dirty: bool,
    /// Events not checked yet: when the first and the last came.
    events: Option<(Instant, Instant)>,
    ticks: u32,
}

impl Watcher {
    /// Watches `paths` (the policy store's and known_nodes); without inotify, a watcher whose
    /// every tick is due.
    pub(super) fn new(paths: &[PathBuf]) -> Watcher {
        // `AsyncFd::new` is deprecated for types whose `as_raw_fd` could change or close under
        // it; a FileWatch owns its inotify fd for its whole life and always returns that one,
        // which is what `AsyncFd::register` (unsafe, and this crate has no unsafe code) asks.
        #[allow(deprecated)]
        let watch = match FileWatch::new(paths).and_then(AsyncFd::new) {
            Ok(w) => {
                tracing::debug!(
                    watches = w.get_ref().watches(),
                    "watching policy and known_nodes files"
                );
                Some(w)
            }
            Err(e) => {
                tracing::info!(
                    "no file watch ({e}): policy and known_nodes files are checked every second"
                );
                None
            }
        };
        Watcher {
            watch,
            dirty: false,
            events: None,
            ticks: 0,
        }
    }

    /// Whether the once-a-second tick should check the files; `unsettled`: the policy store
    /// must be read again ([`mon_policy::PolicyStore::unsettled`]).
    pub(super) fn due(&mut self, unsettled: bool) -> bool {
        self.ticks = self.ticks.wrapping_add(1);
        self.watch.is_none() || self.dirty || unsettled || self.ticks % FULL_CHECK_TICKS == 0
    }

    /// When the files are due for a check after the watch's events: once it has been quiet
    /// for [`QUIET`], at most [`QUIET_MAX`] after the first event; `None` without events.
    pub(super) fn settle_at(&self) -> Option<Instant> {
        self.events
            .map(|(first, last)| (last + QUIET).min(first + QUIET_MAX))
    }

    /// Resolves when the watch reports that a file may have changed (never without a watch),
    /// which [`Watcher::settle_at`] then waits out. A watch that fails is dropped (the files are
    /// then checked every tick) and resolves too.
    /// Cancel-safe: no event is lost when another branch of the loop wins.
    pub(super) async fn changed(&mut self) {
        let Some(afd) = self.watch.as_mut() else {
            return std::future::pending().await;
        };
        let err = loop {
            let mut guard = match afd.readable_mut().await {
                Ok(g) => g,
                Err(e) => break e,
            };
            // Reads every pending event (to EAGAIN), so the fd is not ready any more.
            let r = guard.get_inner_mut().take_changes();
            guard.clear_ready();
            match r {
                Ok(true) => {
                    let now = Instant::now();
                    self.events = Some((self.events.map_or(now, |(first, _)| first), now));
                    return;
                }
                Ok(false) => {}
                Err(e) => break e,
            }
        };
        self.fall_back(&err);
    }

    /// After a check of the files: watch `paths` as they are now (new slices, retargeted
    /// links); `again`: check on the next tick too (a known_nodes reload was under way).
    pub(super) fn checked(&mut self, paths: &[PathBuf], again: bool) {
        self.dirty = again;
        self.events = None;
        if let Some(w) = self.watch.as_mut() {
            if let Err(e) = w.get_mut().rewatch(paths) {
                self.fall_back(&e);
            }
        }
    }

    fn fall_back(&mut self, e: &std::io::Error) {
        if self.watch.take().is_some() {
            tracing::warn!(
                "file watch failed ({e}): policy and known_nodes files are checked every second"
            );
        }
        self.dirty = true;
    }
}
