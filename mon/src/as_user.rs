//! Acting as the policy's `run-as` user: a dedicated OS thread whose credentials are the
//! user's.
//!
//! On Linux a thread's credentials (uids, gids, supplementary groups) are per-thread in the
//! kernel; the C library's `setuid` family broadcasts a change to every thread, so the raw
//! system calls are used here (`rustix::thread::set_thread_*`). A [`Worker`] thread drops to
//! the user for good (real, effective and saved ids, and the user's groups) before it runs
//! anything, so every file it creates is created by and owned by the user, and every
//! permission check is the user's; the server's other threads keep their privileges.
//!
//! Who to act as ([`resolve`]): a server running as root needs a `run-as` user, and refuses
//! without one (it never acts as root for a user by default); a server not running as root
//! acts as itself, and can only "act as" its own user.

use std::ffi::CString;
use std::io;
use std::sync::mpsc;
use std::thread::JoinHandle;

use rustix::thread::{Gid, Uid};

/// At most this many supplementary groups are taken from the group database.
const MAX_GROUPS: usize = 65_536;

/// Why a worker could not act as the user.
#[derive(Debug, thiserror::Error)]
pub enum AsUserError {
    /// A root server with no run-as on the deciding policy line.
    #[error("this server runs as root and the deciding mon_policy line has no run-as: refused rather than acting as root; the slice admin adds run-as=\"USER\" for this principal")]
    NoRunAs,
    /// The run-as user is unknown.
    #[error("run-as user '{0}' does not exist on this node")]
    NoSuchUser(String),
    /// The user database could not be read.
    #[error("cannot look up run-as user '{user}': {source}")]
    Lookup {
        /// User.
        user: String,
        /// OS error.
        source: io::Error,
    },
    /// Not root, and asked to act as someone else.
    #[error("cannot act as '{user}': the server runs as uid {euid}, not root; run the server as root or drop run-as for this slice")]
    NotRoot {
        /// User asked for.
        user: String,
        /// This process's effective uid.
        euid: u32,
    },
    /// The thread could not take the user's credentials (or could not start).
    #[error("cannot act as '{user}': {source}")]
    Switch {
        /// User.
        user: String,
        /// OS error.
        source: io::Error,
    },
}

impl AsUserError {
    /// A stable reason code for results and audit records.
    pub fn code(&self) -> &'static str {
        match self {
            AsUserError::NoRunAs => "no-run-as",
            AsUserError::NoSuchUser(_) => "no-such-user",
            AsUserError::Lookup { .. } | AsUserError::Switch { .. } => "run-as-failed",
            AsUserError::NotRoot { .. } => "run-as-not-root",
        }
    }
}

/// The credentials a worker takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Creds {
    /// User name.
    pub name: String,
    /// User id.
    pub uid: u32,
    /// Primary group.
    pub gid: u32,
    /// Supplementary groups (the primary one included).
    pub groups: Vec<u32>,
}

/// Whom a server with effective uid `euid` acts as for `run_as`: `Ok(None)` acts as the
/// server itself (only when it is not root), `Ok(Some)` as that user.
pub fn resolve(run_as: Option<&str>, euid: u32) -> Result<Option<Creds>, AsUserError> {
    let Some(user) = run_as else {
        return if euid == 0 {
            Err(AsUserError::NoRunAs)
        } else {
            Ok(None)
        };
    };
    let found = crate::exec::lookup_user(user)
        .map_err(|source| AsUserError::Lookup {
            user: user.to_string(),
            source,
        })?
        .ok_or_else(|| AsUserError::NoSuchUser(user.to_string()))?;
    if euid != 0 {
        return if found.uid == euid {
            Ok(None)
        } else {
            Err(AsUserError::NotRoot {
                user: user.to_string(),
                euid,
            })
        };
    }
    let groups = group_list(user, found.gid).map_err(|source| AsUserError::Lookup {
        user: user.to_string(),
        source,
    })?;
    Ok(Some(Creds {
        name: user.to_string(),
        uid: found.uid,
        gid: found.gid,
        groups,
    }))
}

/// The user's groups from the group database (`getgrouplist`), `gid` first.
#[allow(unsafe_code)]
fn group_list(user: &str, gid: u32) -> io::Result<Vec<u32>> {
    let cname = CString::new(user).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    let mut len: usize = 64;
    loop {
        let mut groups: Vec<libc::gid_t> = vec![0; len];
        let mut n = libc::c_int::try_from(len).unwrap_or(libc::c_int::MAX);
        // SAFETY: `cname` is NUL-terminated and outlives the call; `groups` has room for `n`
        // entries, and getgrouplist writes at most `n` of them and stores the count in `n`.
        let rc = unsafe { libc::getgrouplist(cname.as_ptr(), gid, groups.as_mut_ptr(), &mut n) };
        let got = usize::try_from(n).unwrap_or(0);
        if rc >= 0 {
            groups.truncate(got.min(len));
            let mut out = vec![gid];
            out.extend(groups.into_iter().filter(|g| *g != gid));
            return Ok(out);
        }
        if got <= len || got > MAX_GROUPS {
            return Err(io::Error::other(format!(
                "cannot list the groups of '{user}'"
            )));
        }
        len = got;
    }
}

/// Drops the calling thread (only it) to `c` for good.
fn become_user(c: &Creds) -> io::Result<()> {
    let groups: Vec<Gid> = c.groups.iter().map(|g| Gid::from_raw(*g)).collect();
    let gid = Gid::from_raw(c.gid);
    let uid = Uid::from_raw(c.uid);
    rustix::thread::set_thread_groups(&groups)?;
    rustix::thread::set_thread_res_gid(gid, gid, gid)?;
    rustix::thread::set_thread_res_uid(uid, uid, uid)?;
    // The kernel reports this thread's own ids: check that the switch took.
    if rustix::process::geteuid() != uid || rustix::process::getegid() != gid {
        return Err(io::Error::other("the thread's ids did not change"));
    }
    Ok(())
}

type Job<S> = Box<dyn FnOnce(&mut S) + Send>;

/// A thread running as one user and owning a state `S` (created on the thread, after the
/// switch); [`Worker::call`] runs a closure on it and waits for the answer.
pub struct Worker<S> {
    tx: Option<mpsc::Sender<Job<S>>>,
    thread: Option<JoinHandle<()>>,
}

impl<S> std::fmt::Debug for Worker<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Worker")
    }
}

impl<S: 'static> Worker<S> {
    /// Starts a thread that takes `creds` (none: keeps the server's, for a server that is not
    /// root) and then builds its state with `init`; the state's errors come back as `E`.
    pub fn spawn<E>(
        creds: Option<Creds>,
        init: impl FnOnce() -> Result<S, E> + Send + 'static,
    ) -> Result<Worker<S>, E>
    where
        E: From<AsUserError> + Send + 'static,
    {
        let (tx, rx) = mpsc::channel::<Job<S>>();
        let (ready_tx, ready_rx) = mpsc::channel::<Result<(), E>>();
        let name = creds.as_ref().map(|c| c.name.clone()).unwrap_or_default();
        let thread = std::thread::Builder::new()
            .name(format!("as-{name}"))
            .spawn(move || {
                if let Some(c) = &creds {
                    if let Err(source) = become_user(c) {
                        let _ = ready_tx.send(Err(E::from(AsUserError::Switch {
                            user: c.name.clone(),
                            source,
                        })));
                        return;
                    }
                }
                let mut state = match init() {
                    Ok(s) => s,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                let _ = ready_tx.send(Ok(()));
                while let Ok(job) = rx.recv() {
                    job(&mut state);
                }
                // `state` drops here, still as the user (e.g. removing a temporary file).
            })
            .map_err(|source| {
                E::from(AsUserError::Switch {
                    user: name.clone(),
                    source,
                })
            })?;
        let w = Worker {
            tx: Some(tx),
            thread: Some(thread),
        };
        match ready_rx.recv() {
            Ok(Ok(())) => Ok(w),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(E::from(AsUserError::Switch {
                user: name,
                source: io::Error::other("the worker thread ended"),
            })),
        }
    }

    /// Runs `f` on the worker's thread with its state; `None` if the thread is gone.
    pub fn call<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut S) -> R + Send + 'static,
    ) -> Option<R> {
        let (tx, rx) = mpsc::channel();
        let job: Job<S> = Box::new(move |s| {
            let _ = tx.send(f(s));
        });
        self.tx.as_ref()?.send(job).ok()?;
        rx.recv().ok()
    }
}

impl<S> Drop for Worker<S> {
    fn drop(&mut self) {
        // Closing the queue ends the thread, which drops its state as the user; wait for it
        // so that, e.g., a temporary file is gone when the session is.
        self.tx = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn root_without_run_as_is_refused_and_others_act_as_themselves() {
        assert!(matches!(resolve(None, 0), Err(AsUserError::NoRunAs)));
        assert_eq!(resolve(None, 0).unwrap_err().code(), "no-run-as");
        assert_eq!(resolve(None, 1000).unwrap(), None);
        assert!(matches!(
            resolve(Some("no-such-user-mon"), 0),
            Err(AsUserError::NoSuchUser(_))
        ));
        // uid 0 is "root" on every system this runs on.
        assert!(matches!(
            resolve(Some("root"), 4242),
            Err(AsUserError::NotRoot { euid: 4242, .. })
        ));
    }

    #[test]
    fn a_worker_runs_as_the_user_and_the_rest_of_the_process_does_not() {
        if crate::exec::euid() != 0 {
            eprintln!("skipped: needs root");
            return;
        }
        let c = resolve(Some("nobody"), 0).unwrap().unwrap();
        let uid = c.uid;
        let w: Worker<u32> = Worker::spawn::<AsUserError>(Some(c), || Ok(7)).unwrap();
        let (euid, state) = w
            .call(|s| (rustix::process::geteuid().as_raw(), *s))
            .unwrap();
        assert_eq!((euid, state), (uid, 7));
        // A root-only file is out of reach on the worker, still readable here.
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("secret");
        std::fs::write(&f, b"x").unwrap();
        std::fs::set_permissions(&f, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
        let f2 = f.clone();
        let r = w
            .call(move |_| std::fs::read(&f2).map_err(|e| e.kind()))
            .unwrap();
        assert_eq!(r, Err(io::ErrorKind::PermissionDenied));
        assert_eq!(std::fs::read(&f).unwrap(), b"x");
        assert_eq!(rustix::process::geteuid().as_raw(), 0);
    }
}
