//! A long-lived thread acting as one user: push landing keeps one per landing push, so every
//! file operation of that push (create, write, read-back, fsync, fchmod, rename, clean-up)
//! happens with the user's credentials and the file is created by and owned by the user.
//!
//! The thread acts as the user for good (file-system ids, groups, no effective capability,
//! by [`super::act_as_user_on_thread`]) before it builds its state; the server's other threads
//! keep their privileges. Its real, effective and saved uid stay root so that the user's
//! processes cannot signal it (which would stop or kill the whole server). Whom to act as is [`super::resolve`]'s decision, as for every other action.

use std::sync::mpsc;
use std::thread::JoinHandle;

use super::{act_as_user_on_thread, creds, AsUserError, User};

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

/// The worker thread's life: becomes `user`, builds its state (either failure goes to
/// `ready` and ends the thread), then runs the jobs until the worker is dropped.
fn worker_thread<S, E>(
    user: Option<User>,
    init: impl FnOnce() -> Result<S, E>,
    rx: mpsc::Receiver<Job<S>>,
    ready: mpsc::Sender<Result<(), E>>,
) where
    E: From<AsUserError>,
{
    if let Some(u) = &user {
        let (groups, uid, gid) = creds(u);
        // Checks itself that the kernel took the thread's new file-system ids.
        let switched = act_as_user_on_thread(&groups, uid, gid);
        if let Err(source) = switched {
            let _ = ready.send(Err(E::from(AsUserError::Become {
                user: u.name.clone(),
                source,
            })));
            return;
        }
    }
    let mut state = match init() {
        Ok(s) => s,
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    let _ = ready.send(Ok(()));
    while let Ok(job) = rx.recv() {
        job(&mut state);
    }
    // `state` drops here, still as the user (e.g. removing a temporary file).
}

impl<S: 'static> Worker<S> {
    /// Starts a thread that becomes `user` (none: keeps the server's credentials, which
    /// [`super::resolve`] allows only on a server not running as root) and then builds its
    /// state with `init`; the state's errors come back as `E`.
    pub fn spawn<E>(
        user: Option<User>,
        init: impl FnOnce() -> Result<S, E> + Send + 'static,
    ) -> Result<Worker<S>, E>
    where
        E: From<AsUserError> + Send + 'static,
    {
        let (tx, rx) = mpsc::channel::<Job<S>>();
        let (ready_tx, ready_rx) = mpsc::channel::<Result<(), E>>();
        let name = user.as_ref().map(|u| u.name.clone()).unwrap_or_default();
        let thread = std::thread::Builder::new()
            .name(format!("as-{name}"))
            .spawn(move || worker_thread(user, init, rx, ready_tx))
            .map_err(|_| E::from(AsUserError::Thread(name.clone())))?;
        let w = Worker {
            tx: Some(tx),
            thread: Some(thread),
        };
        match ready_rx.recv() {
            Ok(Ok(())) => Ok(w),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(E::from(AsUserError::Thread(name))),
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

    /// Queues `f` on the worker's thread without waiting: `done` gets its answer on that
    /// thread. Jobs run in the order they were queued (a later [`Worker::call`] waits for
    /// this one). False if the thread is gone (then neither runs).
    pub fn submit<R: 'static>(
        &self,
        f: impl FnOnce(&mut S) -> R + Send + 'static,
        done: impl FnOnce(R) + Send + 'static,
    ) -> bool {
        let job: Job<S> = Box::new(move |s| done(f(s)));
        self.tx.as_ref().is_some_and(|tx| tx.send(job).is_ok())
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
    use super::super::{euid, resolve};
    use super::*;
    use std::io;

    #[test]
    fn a_worker_runs_as_the_user_and_the_rest_of_the_process_does_not() {
        if euid() != 0 {
            eprintln!("skipped: needs root");
            return;
        }
        let Ok(Some(u)) = resolve(Some("nobody")) else {
            eprintln!("skipped: no user nobody, or fs.suid_dumpable is 1");
            return;
        };
        let uid = u.uid;
        let w: Worker<u32> = Worker::spawn::<AsUserError>(Some(u), || Ok(7)).unwrap();
        #[allow(unsafe_code)]
        let (fsuid, state) = w
            // SAFETY: an invalid id (-1) changes nothing and returns the current one.
            .call(|s| (unsafe { libc::syscall(libc::SYS_setfsuid, u32::MAX) }, *s))
            .unwrap();
        assert_eq!((fsuid, state), (i64::from(uid), 7));
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

    /// Signal permission goes by a task's real and saved uid: a thread whose real or saved
    /// uid were the user's would let any process of that user stop or kill the whole server
    /// (a signal to a thread id goes to its process), or lower its limits (prlimit). The
    /// worker's thread must not be signalable by the user. Needs root and `setpriv`.
    #[test]
    fn the_user_cannot_signal_the_workers_thread() {
        if euid() != 0 {
            eprintln!("skipped: needs root");
            return;
        }
        let Ok(Some(u)) = resolve(Some("nobody")) else {
            eprintln!("skipped: no user nobody, or fs.suid_dumpable is 1");
            return;
        };
        let (uid, gid) = (u.uid, u.gid);
        let w: Worker<()> = Worker::spawn::<AsUserError>(Some(u), || Ok(())).unwrap();
        let tid = w
            .call(|_| rustix::thread::gettid().as_raw_nonzero().get())
            .unwrap();
        let as_user_kill0 = |pid: i32| {
            std::process::Command::new("setpriv")
                .arg(format!("--reuid={uid}"))
                .arg(format!("--regid={gid}"))
                .arg("--clear-groups")
                .args(["kill", "-0", &pid.to_string()])
                .stderr(std::process::Stdio::null())
                .status()
        };
        let Ok(st) = as_user_kill0(tid) else {
            eprintln!("skipped: no setpriv");
            return;
        };
        assert!(
            !st.success(),
            "the run-as user may signal the worker thread {tid} (and so the whole server)"
        );
        let main = i32::try_from(std::process::id()).unwrap();
        assert!(!as_user_kill0(main).unwrap().success());
        drop(w);
    }
}
