//! Acting as a local user: what the server does for a user (exec, grep, push) it does with
//! the credentials of the policy's `run-as` user, never with its own (SECURITY.md, "Issue 10:
//! acting as the run-as user").
//!
//! - [`lookup`]: a user by name → uid, primary gid, supplementary groups, home;
//! - [`become_user`]: sets the calling thread's real, effective and saved uid and gid and its
//!   supplementary groups to the user's (Linux credentials are per thread; these are the raw
//!   system calls, not the libc wrappers that change every thread). Used in the `pre_exec` of
//!   an exec child (a process of its own);
//! - [`act_as_user_on_thread`]: for a thread of the server's own process (grep, push landing):
//!   the user's file-system uid and gid and supplementary groups, no effective capability, but
//!   real, effective and saved uid left at root. Signal and `prlimit` permission go by a
//!   task's real and saved uid, and a signal sent to a thread id reaches its whole process: a
//!   thread whose real or saved uid were the user's could be stopped or killed, with the
//!   whole server, by any process of that user (SECURITY.md, "Issue 10: worker threads");
//! - [`on_thread`]: runs a closure on a new, short-lived thread acting as the user (the
//!   thread ends with the closure, so the dropped credentials die with it); on a server not
//!   running as root, the closure runs as the server when the user is the server's own user,
//!   and is refused otherwise;
//! - [`check_untraceable`]: both refuse while `fs.suid_dumpable` is 1, when a thread or child
//!   holding the server's memory would become traceable by the user it acts as. Dropping
//!   credentials on a thread also leaves the server's process non-dumpable for good (the
//!   kernel's rule for a credential change; no core dumps of the server afterwards).

use std::ffi::{CStr, CString, OsStr};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use rustix::process::{Gid, Uid};

pub mod worker;

/// A local user account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Login name.
    pub name: String,
    /// User id.
    pub uid: u32,
    /// Primary group id.
    pub gid: u32,
    /// Supplementary groups (from the group database, the primary group included).
    pub groups: Vec<u32>,
    /// Home directory (`/` when the database has none).
    pub home: PathBuf,
}

/// Why the server cannot act as a user.
#[derive(Debug, thiserror::Error)]
pub enum AsUserError {
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
    #[error("cannot run as '{user}': the server runs as uid {euid}, not root; run the server as root or drop run-as for this slice")]
    NotRoot {
        /// User asked for.
        user: String,
        /// This process's effective uid.
        euid: u32,
    },
    /// Root, and no run-as: the server does not act for a user as root.
    #[error("run-as-missing: this server runs as root and the policy gives no run-as user; nothing is done as root for a user")]
    Missing,
    /// Dropping the credentials failed.
    #[error("cannot become run-as user '{user}': {source}")]
    Become {
        /// User.
        user: String,
        /// OS error.
        source: io::Error,
    },
    /// `fs.suid_dumpable` is 1: a thread (or a forked child) that becomes the user would be
    /// traceable by that user while it still holds the server's memory.
    #[error("cannot act as run-as user '{0}': the kernel setting fs.suid_dumpable is 1 (or unreadable), so the user could trace the server while it acts for them; set it to 0 or 2")]
    Traceable(String),
    /// The worker thread could not start or panicked.
    #[error("the worker thread acting as '{0}' failed")]
    Thread(String),
}

impl AsUserError {
    /// A stable reason code for results and audit records (docs/protocol.md).
    pub fn code(&self) -> &'static str {
        match self {
            AsUserError::Missing => "run-as-missing",
            AsUserError::NoSuchUser(_) => "no-such-user",
            AsUserError::NotRoot { .. } => "run-as-not-root",
            AsUserError::Traceable(_) => "run-as-traceable",
            AsUserError::Lookup { .. } | AsUserError::Become { .. } | AsUserError::Thread(_) => {
                "run-as-failed"
            }
        }
    }
}

/// This process's effective uid.
pub fn euid() -> u32 {
    rustix::process::geteuid().as_raw()
}

/// Whether this process runs as root (then it must act as a run-as user for users).
pub fn is_root() -> bool {
    euid() == 0
}

/// Looks a user up by name (getpwnam_r, getgrouplist); `Ok(None)` if there is no such user.
#[allow(unsafe_code)]
pub fn lookup(name: &str) -> io::Result<Option<User>> {
    let cname = CString::new(name).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: getpwnam_r gets a NUL-terminated name and the buffers `passwd_entry` provides.
    passwd_entry(|pwd, buf, len, result| unsafe {
        libc::getpwnam_r(cname.as_ptr(), pwd, buf, len, result)
    })
}

/// The name of the user this process runs as (getpwuid_r of the effective uid).
#[allow(unsafe_code)]
pub fn current_name() -> io::Result<String> {
    let me = euid();
    // SAFETY: getpwuid_r gets the buffers `passwd_entry` provides.
    let found = passwd_entry(|pwd, buf, len, result| unsafe {
        libc::getpwuid_r(me, pwd, buf, len, result)
    })?;
    found
        .map(|u| u.name)
        .ok_or_else(|| io::Error::other(format!("uid {me} has no entry in the user database")))
}

/// Calls a `getpw*_r` function with growing buffers and reads the entry it found.
#[allow(unsafe_code)]
fn passwd_entry(
    mut call: impl FnMut(
        *mut libc::passwd,
        *mut libc::c_char,
        usize,
        *mut *mut libc::passwd,
    ) -> libc::c_int,
) -> io::Result<Option<User>> {
    let mut buf_len = 1024usize;
    loop {
        let mut buf: Vec<libc::c_char> = vec![0; buf_len];
        // SAFETY: `passwd` is a plain C struct of integers and pointers; all-zero is a valid
        // value that getpw*_r overwrites.
        let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        // `pwd` and `result` are live locals, and `buf` has `buf.len()` writable bytes.
        let rc = call(&mut pwd, buf.as_mut_ptr(), buf.len(), &mut result);
        if rc == libc::ERANGE && buf_len < (1 << 20) {
            buf_len *= 4;
            continue;
        }
        if rc != 0 {
            return Err(io::Error::from_raw_os_error(rc));
        }
        if result.is_null() || pwd.pw_name.is_null() {
            return Ok(None);
        }
        // SAFETY: on success pw_name and pw_dir (when not null) point to NUL-terminated
        // strings inside `buf`, which is still alive here.
        return unsafe { user_of(&pwd) }.map(Some);
    }
}

/// The user a found `passwd` entry describes, with its groups.
///
/// # Safety
/// `pwd.pw_name` must point to a NUL-terminated string, and `pwd.pw_dir` be null or point to
/// one, both alive for the call (as `getpw*_r` leaves them in its buffer on success).
#[allow(unsafe_code)]
unsafe fn user_of(pwd: &libc::passwd) -> io::Result<User> {
    // SAFETY: the caller's promise.
    let name = unsafe { CStr::from_ptr(pwd.pw_name) };
    let home = if pwd.pw_dir.is_null() {
        PathBuf::from("/")
    } else {
        // SAFETY: the caller's promise.
        let dir = unsafe { CStr::from_ptr(pwd.pw_dir) };
        PathBuf::from(OsStr::from_bytes(dir.to_bytes()))
    };
    let groups = group_list(name, pwd.pw_gid)?;
    Ok(User {
        name: name.to_string_lossy().into_owned(),
        uid: pwd.pw_uid,
        gid: pwd.pw_gid,
        groups,
        home,
    })
}

/// The groups of user `name` whose primary group is `gid` (getgrouplist).
#[allow(unsafe_code)]
fn group_list(name: &CStr, gid: u32) -> io::Result<Vec<u32>> {
    let mut n: libc::c_int = 16;
    for _ in 0..8 {
        let len = usize::try_from(n).unwrap_or(16).max(1);
        let mut groups: Vec<libc::gid_t> = vec![0; len];
        let mut got = n;
        // SAFETY: `name` is NUL-terminated; `groups` has room for `got` entries, and
        // getgrouplist writes at most that many, storing the number found in `got`.
        let rc = unsafe { libc::getgrouplist(name.as_ptr(), gid, groups.as_mut_ptr(), &mut got) };
        if rc >= 0 {
            groups.truncate(usize::try_from(got).unwrap_or(0));
            return Ok(groups);
        }
        // Too small: `got` holds the number needed.
        n = got.max(n.saturating_mul(2)).min(1 << 16);
    }
    Err(io::Error::other("the user's group list keeps growing"))
}

/// Looks up `name`, naming the user in errors.
pub fn find(name: &str) -> Result<User, AsUserError> {
    lookup(name)
        .map_err(|source| AsUserError::Lookup {
            user: name.to_string(),
            source,
        })?
        .ok_or_else(|| AsUserError::NoSuchUser(name.to_string()))
}

/// Where the kernel says whether processes that change credentials stay traceable.
const SUID_DUMPABLE: &str = "/proc/sys/fs/suid_dumpable";

/// Refuses to become `user` when the kernel would leave the server's memory traceable by
/// that user: a thread or forked child that drops to a user keeps the server's memory (the
/// node key included), and with `fs.suid_dumpable=1` ("debug", documented as insecure) the
/// kernel marks it dumpable, so a process of that user could `ptrace` it. With 0 or 2 it is
/// not dumpable and only root may trace it.
pub fn check_untraceable(user: &str) -> Result<(), AsUserError> {
    match std::fs::read_to_string(SUID_DUMPABLE) {
        Ok(v) if matches!(v.trim(), "0" | "2") => Ok(()),
        _ => Err(AsUserError::Traceable(user.to_string())),
    }
}

/// Sets the calling thread's supplementary groups, then real/effective/saved gid, then
/// real/effective/saved uid to `user`'s. Only system calls, no allocation: safe in the
/// `pre_exec` of a child. After it succeeds for a non-root user the thread cannot get its
/// privileges back.
pub fn become_user(groups: &[Gid], uid: Uid, gid: Gid) -> io::Result<()> {
    rustix::thread::set_thread_groups(groups)?;
    rustix::thread::set_thread_res_gid(gid, gid, gid)?;
    rustix::thread::set_thread_res_uid(uid, uid, uid)?;
    Ok(())
}

/// Makes the calling thread of the server's process access files as the user: supplementary
/// groups, then file-system gid and uid set to the user's, then every effective capability
/// dropped (permission checks then are exactly the user's). Real, effective and saved ids stay
/// the server's, so the user's processes may not signal this thread (a signal to a thread id
/// stops or kills its whole process) nor change its process's limits (see the module docs).
/// Only raw per-thread system calls.
#[allow(unsafe_code)]
pub fn act_as_user_on_thread(groups: &[Gid], uid: Uid, gid: Gid) -> io::Result<()> {
    rustix::thread::set_thread_groups(groups)?;
    // SAFETY: setfsgid/setfsuid take an integer and change only the calling thread's
    // credentials; an invalid id (-1) changes nothing and returns the current one.
    let (fsgid, fsuid) = unsafe {
        libc::syscall(libc::SYS_setfsgid, gid.as_raw());
        let fsgid = libc::syscall(libc::SYS_setfsgid, u32::MAX);
        libc::syscall(libc::SYS_setfsuid, uid.as_raw());
        let fsuid = libc::syscall(libc::SYS_setfsuid, u32::MAX);
        (fsgid, fsuid)
    };
    if fsgid != i64::from(gid.as_raw()) || fsuid != i64::from(uid.as_raw()) {
        return Err(io::Error::other(
            "the thread's file-system ids did not change",
        ));
    }
    let mut caps = rustix::thread::capabilities(None)?;
    caps.effective = rustix::thread::CapabilitySet::empty();
    rustix::thread::set_capabilities(None, caps)?;
    Ok(())
}

/// `user`'s credentials in the form [`become_user`] takes.
pub fn creds(user: &User) -> (Vec<Gid>, Uid, Gid) {
    (
        user.groups.iter().map(|&g| Gid::from_raw(g)).collect(),
        Uid::from_raw(user.uid),
        Gid::from_raw(user.gid),
    )
}

/// Whom the server acts as for `run_as`: `Ok(Some(user))` to become on a root server (the
/// kernel checked not to leave the server traceable by them), `Ok(None)` to act as the server
/// itself (only a server not running as root, for its own user or no run-as). A root server
/// with no run-as is refused ([`AsUserError::Missing`]): it never acts as root for a user.
pub fn resolve(run_as: Option<&str>) -> Result<Option<User>, AsUserError> {
    let me = euid();
    let user = match run_as {
        Some(name) => find(name)?,
        None if me == 0 => return Err(AsUserError::Missing),
        None => return Ok(None),
    };
    if me != 0 {
        return if user.uid == me {
            Ok(None)
        } else {
            Err(AsUserError::NotRoot {
                user: user.name,
                euid: me,
            })
        };
    }
    check_untraceable(&user.name)?;
    Ok(Some(user))
}

/// Runs `f` as the run-as user `run_as` (see the module docs). On a root server: on a new
/// thread that has become the user, and `run_as` is required. On a non-root server: on a new
/// thread as the server, when `run_as` is absent or names the server's own user.
pub fn on_thread<T, F>(run_as: Option<&str>, f: F) -> Result<T, AsUserError>
where
    T: Send,
    F: FnOnce() -> T + Send,
{
    let user = resolve(run_as)?;
    let name = user.as_ref().map(|u| u.name.clone()).unwrap_or_default();
    std::thread::scope(|scope| {
        let worker = std::thread::Builder::new()
            .name("mon-asuser".into())
            .spawn_scoped(scope, move || {
                if let Some(u) = &user {
                    let (groups, uid, gid) = creds(u);
                    act_as_user_on_thread(&groups, uid, gid).map_err(|source| {
                        AsUserError::Become {
                            user: u.name.clone(),
                            source,
                        }
                    })?;
                }
                Ok(f())
            })
            .map_err(|_| AsUserError::Thread(name.clone()))?;
        worker.join().map_err(|_| AsUserError::Thread(name))?
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn lookup_root_and_unknown() {
        let root = lookup("root").unwrap().unwrap();
        assert_eq!(root.uid, 0);
        assert!(root.groups.contains(&0), "{root:?}");
        assert_eq!(lookup("no_such_user_mon").unwrap(), None);
        let me = current_name().unwrap();
        assert_eq!(lookup(&me).unwrap().unwrap().uid, euid());
        assert!(matches!(
            find("no_such_user_mon"),
            Err(AsUserError::NoSuchUser(_))
        ));
    }

    #[test]
    fn untraceable_follows_the_kernel_setting() {
        let v = std::fs::read_to_string(SUID_DUMPABLE).unwrap_or_default();
        let safe = matches!(v.trim(), "0" | "2");
        assert_eq!(
            check_untraceable("nobody").is_ok(),
            safe,
            "suid_dumpable {v:?}"
        );
    }

    #[test]
    fn the_thread_has_the_users_credentials_and_the_server_keeps_its_own() {
        let before = euid();
        if before == 0 {
            let nobody = find("nobody").unwrap();
            let (uid, gid, groups, euid) = on_thread(Some("nobody"), || {
                #[allow(unsafe_code)]
                // SAFETY: an invalid id (-1) changes nothing and returns the current one.
                let (u, g) = unsafe {
                    (
                        libc::syscall(libc::SYS_setfsuid, u32::MAX),
                        libc::syscall(libc::SYS_setfsgid, u32::MAX),
                    )
                };
                (
                    u32::try_from(u).unwrap(),
                    u32::try_from(g).unwrap(),
                    rustix::process::getgroups().unwrap(),
                    rustix::process::geteuid().as_raw(),
                )
            })
            .unwrap();
            assert_eq!((uid, gid), (nobody.uid, nobody.gid));
            // Real/effective/saved stay root: the user cannot signal the thread.
            assert_eq!(euid, 0);
            let groups: Vec<u32> = groups.iter().map(|g| g.as_raw()).collect();
            assert_eq!(groups, nobody.groups);
            assert!(matches!(on_thread(None, || ()), Err(AsUserError::Missing)));
        } else {
            assert!(matches!(
                on_thread(Some("root"), || ()),
                Err(AsUserError::NotRoot { .. })
            ));
            assert_eq!(on_thread(None, euid).unwrap(), before);
        }
        // Only the worker thread changed.
        assert_eq!(euid(), before);
    }
}
