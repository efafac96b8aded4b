//! Running the command of `exec` (and of operator-defined resources) on this node.
//!
//! No shell unless asked (`shell`: `/bin/sh -c` with the arguments joined by spaces). Stdin is
//! `/dev/null`; stdout and stderr are read to the end but at most `cap` bytes of each are kept
//! (marked truncated). The command runs in its own process group; at the timeout the whole
//! group is killed (SIGKILL), so children it started die with it.
//!
//! `run_as`: a server running as root drops to that user's uid and primary gid (supplementary
//! groups are cleared), with `HOME`, `USER`, `LOGNAME` and the working directory set to the
//! user's; a server not running as root can only "run as" its own user.

use std::ffi::{CStr, CString, OsStr};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use mon_proto::agg::{capped_text, ExecOutcome};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::Command;

/// Why a command could not be run at all (an outcome, even a failing one, is not an error).
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// Empty argv.
    #[error("no command given")]
    Empty,
    /// An argument holds a NUL byte.
    #[error("an argument of the command contains a NUL byte")]
    Nul,
    /// The process could not be started.
    #[error("cannot run '{program}': {source}")]
    Spawn {
        /// Program.
        program: String,
        /// OS error.
        source: io::Error,
    },
    /// Waiting for the process failed.
    #[error("waiting for '{program}' failed: {source}")]
    Wait {
        /// Program.
        program: String,
        /// OS error.
        source: io::Error,
    },
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
    /// Not root, and asked to run as someone else.
    #[error("cannot run as '{user}': the server runs as uid {euid}, not root; run the server as root or drop run-as for this slice")]
    NotRoot {
        /// User asked for.
        user: String,
        /// This process's effective uid.
        euid: u32,
    },
}

/// A local user account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct User {
    pub(crate) uid: u32,
    pub(crate) gid: u32,
    pub(crate) home: PathBuf,
}

/// This process's effective uid.
#[allow(unsafe_code)]
pub(crate) fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// Looks a user up by name (getpwnam_r); `Ok(None)` if there is no such user.
#[allow(unsafe_code)]
pub(crate) fn lookup_user(name: &str) -> io::Result<Option<User>> {
    let cname = CString::new(name).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    let mut buf_len = 1024usize;
    loop {
        let mut buf: Vec<libc::c_char> = vec![0; buf_len];
        // SAFETY: `passwd` is a plain C struct of integers and pointers; all-zero is a valid
        // value that getpwnam_r overwrites.
        let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        // SAFETY: every pointer is valid for the call: `cname` is NUL-terminated, `pwd` and
        // `result` are live locals, and `buf` has `buf.len()` writable bytes.
        let rc = unsafe {
            libc::getpwnam_r(
                cname.as_ptr(),
                &mut pwd,
                buf.as_mut_ptr(),
                buf.len(),
                &mut result,
            )
        };
        if rc == libc::ERANGE && buf_len < (1 << 20) {
            buf_len *= 4;
            continue;
        }
        if rc != 0 {
            return Err(io::Error::from_raw_os_error(rc));
        }
        if result.is_null() {
            return Ok(None);
        }
        let home = if pwd.pw_dir.is_null() {
            PathBuf::from("/")
        } else {
            // SAFETY: on success pw_dir points to a NUL-terminated string inside `buf`, which
            // is still alive here.
            let dir = unsafe { CStr::from_ptr(pwd.pw_dir) };
            PathBuf::from(OsStr::from_bytes(dir.to_bytes()))
        };
        return Ok(Some(User {
            uid: pwd.pw_uid,
            gid: pwd.pw_gid,
            home,
        }));
    }
}

/// Sends SIGKILL to the process group `pgid`.
#[allow(unsafe_code)]
fn kill_group(pgid: u32) {
    if let Ok(pgid) = i32::try_from(pgid) {
        if pgid > 1 {
            // SAFETY: kill has no memory-safety preconditions; a negative pid names a process
            // group. The result is ignored: the group may already be gone.
            unsafe {
                libc::kill(-pgid, libc::SIGKILL);
            }
        }
    }
}

/// Reads `r` to the end, keeping at most `cap` bytes in `buf`; sets `over` if more came.
async fn drain<R: AsyncRead + Unpin>(r: Option<R>, buf: &mut Vec<u8>, cap: usize, over: &mut bool) {
    let Some(mut r) = r else { return };
    let mut chunk = [0u8; 8192];
    loop {
        match r.read(&mut chunk).await {
            Ok(0) => return,
            Ok(n) => {
                let room = cap.saturating_sub(buf.len());
                let take = n.min(room);
                buf.extend_from_slice(&chunk[..take]);
                if take < n {
                    *over = true;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return,
        }
    }
}

/// Runs a command and returns its outcome (see the module docs).
///
/// Errors only when the command cannot run at all: empty argv, unknown run-as user, not root
/// for run-as, spawn failure (e.g. program not found).
pub async fn run(
    argv: &[String],
    shell: bool,
    timeout: Duration,
    run_as: Option<&str>,
    cap: usize,
) -> Result<ExecOutcome, ExecError> {
    let (first, rest) = argv.split_first().ok_or(ExecError::Empty)?;
    if argv.iter().any(|a| a.contains('\0')) {
        return Err(ExecError::Nul);
    }
    let (program, args): (String, Vec<String>) = if shell {
        (
            "/bin/sh".to_string(),
            vec!["-c".to_string(), argv.join(" ")],
        )
    } else {
        (first.clone(), rest.to_vec())
    };
    let mut cmd = Command::new(&program);
    cmd.args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .process_group(0);

    if let Some(user) = run_as {
        let name = user.to_string();
        let found = tokio::task::spawn_blocking(move || lookup_user(&name))
            .await
            .map_err(|e| ExecError::Lookup {
                user: user.to_string(),
                source: io::Error::other(e),
            })?
            .map_err(|source| ExecError::Lookup {
                user: user.to_string(),
                source,
            })?
            .ok_or_else(|| ExecError::NoSuchUser(user.to_string()))?;
        let me = euid();
        if me == 0 {
            cmd.uid(found.uid)
                .gid(found.gid)
                .env("HOME", &found.home)
                .env("USER", user)
                .env("LOGNAME", user)
                .current_dir(if found.home.is_dir() {
                    found.home.clone()
                } else {
                    PathBuf::from("/")
                });
        } else if found.uid != me {
            return Err(ExecError::NotRoot {
                user: user.to_string(),
                euid: me,
            });
        }
    }

    let mut child = cmd.spawn().map_err(|source| ExecError::Spawn {
        program: program.clone(),
        source,
    })?;
    let pgid = child.id();
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let (mut out_over, mut err_over) = (false, false);

    let finished = {
        let work = async {
            let (_, _, status) = tokio::join!(
                drain(stdout, &mut out, cap, &mut out_over),
                drain(stderr, &mut err, cap, &mut err_over),
                child.wait()
            );
            status
        };
        tokio::time::timeout(timeout, work).await
    };
    let (status, timed_out) = match finished {
        Ok(status) => (status, false),
        Err(_elapsed) => {
            if let Some(pgid) = pgid {
                kill_group(pgid);
            }
            let _ = child.start_kill();
            // Reap it; SIGKILL cannot be ignored, but never wait forever.
            let status = match tokio::time::timeout(Duration::from_secs(5), child.wait()).await {
                Ok(s) => s,
                Err(_) => Err(io::Error::from(io::ErrorKind::TimedOut)),
            };
            (status, true)
        }
    };
    let status = status.map_err(|source| ExecError::Wait {
        program: program.clone(),
        source,
    })?;
    let (stdout, cut_out) = capped_text(&out, cap);
    let (stderr, cut_err) = capped_text(&err, cap);
    Ok(ExecOutcome {
        exit: status.code(),
        signal: status.signal(),
        stdout,
        stderr,
        timed_out,
        truncated: out_over || err_over || cut_out || cut_err,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    const T: Duration = Duration::from_secs(20);

    #[tokio::test]
    async fn exit_code_and_stdout_without_shell() {
        let o = run(&s(&["sh", "-c", "echo hi; exit 3"]), false, T, None, 1024)
            .await
            .unwrap();
        assert_eq!(o.exit, Some(3));
        assert_eq!(o.signal, None);
        assert_eq!(o.stdout, "hi\n");
        assert_eq!(o.stderr, "");
        assert!(!o.timed_out && !o.truncated);
    }

    #[tokio::test]
    async fn no_shell_means_no_interpretation() {
        let o = run(&s(&["echo", "a;", "$HOME", "|", "x"]), false, T, None, 1024)
            .await
            .unwrap();
        assert_eq!(o.stdout, "a; $HOME | x\n");
        let o = run(
            &s(&["echo", "a", "&&", "echo", "b", ">&2"]),
            true,
            T,
            None,
            1024,
        )
        .await
        .unwrap();
        assert_eq!(o.stdout, "a\n");
        assert_eq!(o.stderr, "b\n");
        assert_eq!(o.exit, Some(0));
    }

    #[tokio::test]
    async fn stdin_is_null() {
        let o = run(&s(&["cat"]), false, T, None, 1024).await.unwrap();
        assert_eq!(o.exit, Some(0));
        assert_eq!(o.stdout, "");
    }

    #[tokio::test]
    async fn output_is_read_whole_but_capped() {
        let o = run(
            &s(&["sh", "-c", "yes | head -c 200000; echo done >&2"]),
            false,
            T,
            None,
            1000,
        )
        .await
        .unwrap();
        assert_eq!(o.exit, Some(0));
        assert_eq!(o.stdout.len(), 1000);
        assert!(o.stdout.starts_with("y\ny\n"));
        assert_eq!(o.stderr, "done\n");
        assert!(o.truncated);
    }

    #[tokio::test]
    async fn signal_is_reported() {
        let o = run(&s(&["sh", "-c", "kill -TERM $$"]), false, T, None, 1024)
            .await
            .unwrap();
        assert_eq!(o.exit, None);
        assert_eq!(o.signal, Some(libc::SIGTERM));
    }

    fn dead(pid: &str) -> bool {
        // Gone, or a zombie waiting for a reaper.
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Err(_) => true,
            Ok(stat) => stat
                .rsplit_once(')')
                .map(|(_, rest)| rest.trim_start().starts_with('Z'))
                .unwrap_or(false),
        }
    }

    #[tokio::test]
    async fn timeout_kills_the_whole_group() {
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("pid");
        let script = format!(
            "sleep 60 & echo $! > {}; echo started; wait; echo never",
            pidfile.display()
        );
        let o = run(
            &s(&["sh", "-c", &script]),
            false,
            Duration::from_secs(1),
            None,
            1024,
        )
        .await
        .unwrap();
        assert!(o.timed_out);
        assert_eq!(o.signal, Some(libc::SIGKILL));
        assert_eq!(o.stdout, "started\n");
        let pid = std::fs::read_to_string(&pidfile).unwrap();
        let pid = pid.trim();
        // The background sleep was in the group: it must die (poll while init reaps it).
        let mut gone = false;
        for _ in 0..100 {
            if dead(pid) {
                gone = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(gone, "background process {pid} survived the timeout");
    }

    #[tokio::test]
    async fn spawn_failure_is_an_error_naming_the_program() {
        let e = run(&s(&["/nonexistent/prog", "x"]), false, T, None, 1024)
            .await
            .unwrap_err();
        assert!(matches!(e, ExecError::Spawn { .. }));
        assert!(e.to_string().contains("/nonexistent/prog"), "{e}");
        assert!(matches!(
            run(&[], false, T, None, 10).await,
            Err(ExecError::Empty)
        ));
    }

    #[tokio::test]
    async fn run_as() {
        let err = run(&s(&["true"]), false, T, Some("no_such_user_mon"), 10)
            .await
            .unwrap_err();
        assert!(matches!(err, ExecError::NoSuchUser(_)), "{err}");
        if euid() == 0 {
            let o = run(&s(&["id", "-u"]), false, T, Some("nobody"), 100)
                .await
                .unwrap();
            let nobody = lookup_user("nobody").unwrap().unwrap();
            assert_eq!(o.stdout.trim(), nobody.uid.to_string());
            let o = run(&s(&["id", "-G"]), false, T, Some("nobody"), 100)
                .await
                .unwrap();
            assert_eq!(o.stdout.trim(), nobody.gid.to_string());
        } else {
            let err = run(&s(&["true"]), false, T, Some("root"), 10)
                .await
                .unwrap_err();
            assert!(matches!(err, ExecError::NotRoot { .. }), "{err}");
        }
    }

    #[test]
    fn lookup_root() {
        let root = lookup_user("root").unwrap().unwrap();
        assert_eq!(root.uid, 0);
        assert_eq!(lookup_user("no_such_user_mon").unwrap(), None);
    }
}
