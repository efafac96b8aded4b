//! Running the command of `exec` (and of operator-defined resources) on this node.
//!
//! No shell unless asked (`shell`: `/bin/sh -c` with the arguments joined by spaces). Stdin is
//! `/dev/null`; stdout and stderr are read to the end but at most `cap` bytes of each are kept
//! (marked truncated). The command runs in its own session and process group, without the
//! server's controlling terminal; at the timeout the whole group is killed (SIGKILL), so
//! children it started die with it.
//!
//! `run_as`: a server running as root drops to that user's uid, gid and supplementary groups
//! (real, effective and saved; [`crate::asuser::become_user`] in the child before `exec`), with
//! `HOME`, `USER`, `LOGNAME` and the working directory set to the user's, and none of the
//! server's environment (a fixed `PATH` only); a server not running as root can only "run as"
//! its own user.

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::ExitStatusExt;
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
    /// The run-as user cannot be acted as.
    #[error(transparent)]
    AsUser(#[from] crate::asuser::AsUserError),
}

/// The `PATH` of a command run as a user (the server's own environment is not passed on).
const USER_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

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

/// Kills the process group it holds when dropped: a run whose task is aborted (the node
/// cancelled it, e.g. a newer command of its interactive session began) leaves nothing of
/// its command running. Disarmed once the child is reaped (its id may then be reused).
struct KillGroupOnDrop(Option<u32>);

impl Drop for KillGroupOnDrop {
    fn drop(&mut self) {
        if let Some(pgid) = self.0.take() {
            kill_group(pgid);
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
    let (program, mut cmd) = command(argv, shell)?;
    if let Some(user) = run_as {
        as_user(&mut cmd, user).await?;
    }
    let child = cmd.spawn().map_err(|source| ExecError::Spawn {
        program: program.clone(),
        source,
    })?;
    let (status, timed_out, out, err) = wait_capped(child, timeout, cap).await;
    let status = status.map_err(|source| ExecError::Wait {
        program: program.clone(),
        source,
    })?;
    let ((out, out_over), (err, err_over)) = (out, err);
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

/// The program to start (`/bin/sh -c` with the joined words when `shell`) and its command,
/// in a session of its own without a controlling terminal, its output piped.
fn command(argv: &[String], shell: bool) -> Result<(String, Command), ExecError> {
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
        .kill_on_drop(true);
    // Its own session (and so its own process group, for the kill at the timeout), without
    // the server's controlling terminal: a command running as a user must not reach the
    // terminal a root server was started from (e.g. `TIOCSTI`, typing into root's shell).
    // SAFETY: runs in the forked child before exec; setsid is a single system call,
    // async-signal-safe, touching no memory.
    #[allow(unsafe_code)]
    unsafe {
        cmd.pre_exec(|| {
            rustix::process::setsid()?;
            Ok(())
        });
    }
    Ok((program, cmd))
}

/// Makes `cmd` run as `user`: as root, it becomes the user in the child (groups, ids, home
/// directory, a clean environment); otherwise only the server's own user is allowed.
async fn as_user(cmd: &mut Command, user: &str) -> Result<(), ExecError> {
    let name = user.to_string();
    let found = tokio::task::spawn_blocking(move || crate::asuser::find(&name))
        .await
        .map_err(|e| crate::asuser::AsUserError::Lookup {
            user: user.to_string(),
            source: io::Error::other(e),
        })??;
    let me = crate::asuser::euid();
    if me == 0 {
        crate::asuser::check_untraceable(user)?;
        become_in_child(cmd, user, &found);
    } else if found.uid != me {
        return Err(crate::asuser::AsUserError::NotRoot {
            user: user.to_string(),
            euid: me,
        }
        .into());
    }
    Ok(())
}

/// As root: the child becomes `found` before exec (groups, ids, its home as working
/// directory) with a clean environment.
fn become_in_child(cmd: &mut Command, user: &str, found: &crate::asuser::User) {
    let (groups, uid, gid) = crate::asuser::creds(found);
    // The working directory is entered as the user (its home, else `/`).
    let home =
        CString::new(found.home.as_os_str().as_bytes()).unwrap_or_else(|_| CString::from(c"/"));
    // SAFETY: the closure runs in the forked child before exec; it only makes the
    // setgroups/setresgid/setresuid/chdir system calls on data allocated before the
    // fork (no allocation, no locks), which is async-signal-safe.
    #[allow(unsafe_code)]
    unsafe {
        cmd.pre_exec(move || {
            crate::asuser::become_user(&groups, uid, gid)?;
            if rustix::process::chdir(home.as_c_str()).is_err() {
                rustix::process::chdir(c"/")?;
            }
            Ok(())
        });
    }
    // None of the server's environment (what its service manager or operator gave
    // it): only a search path and the user's own variables, as `su -` gives.
    cmd.env_clear()
        .env("PATH", USER_PATH)
        .env("HOME", &found.home)
        .env("USER", user)
        .env("LOGNAME", user);
}

/// One output stream as read: its first bytes, and whether more were dropped.
type Captured = (Vec<u8>, bool);

/// Waits for the child and reads its output (at most `cap` bytes of each stream kept); at
/// the timeout kills its process group. Returns its status, whether it timed out, and its
/// stdout and stderr.
async fn wait_capped(
    mut child: tokio::process::Child,
    timeout: Duration,
    cap: usize,
) -> (
    io::Result<std::process::ExitStatus>,
    bool,
    Captured,
    Captured,
) {
    let pgid = child.id();
    let mut guard = KillGroupOnDrop(pgid);
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
        Err(_elapsed) => (kill_and_reap(&mut child, pgid).await, true),
    };
    guard.0 = None;
    (status, timed_out, (out, out_over), (err, err_over))
}

/// At the timeout: kills the child's process group (`pgid`) and the child, then reaps it.
async fn kill_and_reap(
    child: &mut tokio::process::Child,
    pgid: Option<u32>,
) -> io::Result<std::process::ExitStatus> {
    if let Some(pgid) = pgid {
        kill_group(pgid);
    }
    let _ = child.start_kill();
    // Reap it; SIGKILL cannot be ignored, but never wait forever.
    match tokio::time::timeout(Duration::from_secs(5), child.wait()).await {
        Ok(s) => s,
        Err(_) => Err(io::Error::from(io::ErrorKind::TimedOut)),
    }
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
        use crate::asuser::{euid, lookup, AsUserError};
        let err = run(&s(&["true"]), false, T, Some("no_such_user_mon"), 10)
            .await
            .unwrap_err();
        assert!(
            matches!(err, ExecError::AsUser(AsUserError::NoSuchUser(_))),
            "{err}"
        );
        if euid() == 0 {
            let o = run(&s(&["id", "-u"]), false, T, Some("nobody"), 100)
                .await
                .unwrap();
            let nobody = lookup("nobody").unwrap().unwrap();
            assert_eq!(o.stdout.trim(), nobody.uid.to_string());
            let o = run(&s(&["id", "-G"]), false, T, Some("nobody"), 100)
                .await
                .unwrap();
            let mut want: Vec<String> = nobody.groups.iter().map(|g| g.to_string()).collect();
            let mut got: Vec<String> = o.stdout.split_whitespace().map(String::from).collect();
            want.sort();
            got.sort();
            assert_eq!(got, want);
            // The working directory is entered as the user: its home, else `/`.
            let o = run(&s(&["pwd"]), false, T, Some("nobody"), 200)
                .await
                .unwrap();
            let want = if nobody.home.is_dir() {
                nobody.home.display().to_string()
            } else {
                "/".to_string()
            };
            assert_eq!(o.stdout.trim(), want);
            // None of the server's environment reaches the user's command (cargo gave this
            // process CARGO_MANIFEST_DIR); only PATH, HOME, USER, LOGNAME.
            assert!(std::env::var_os("CARGO_MANIFEST_DIR").is_some());
            let o = run(&s(&["env"]), false, T, Some("nobody"), 4096)
                .await
                .unwrap();
            let mut names: Vec<&str> = o
                .stdout
                .lines()
                .filter_map(|l| l.split('=').next())
                .collect();
            names.sort_unstable();
            assert_eq!(names, ["HOME", "LOGNAME", "PATH", "USER"], "{}", o.stdout);
            // Its own session: no way to the server's controlling terminal.
            let o = run(
                &s(&["sh", "-c", "echo $$; cut -d' ' -f6 /proc/$$/stat"]),
                false,
                T,
                Some("nobody"),
                200,
            )
            .await
            .unwrap();
            let l: Vec<&str> = o.stdout.lines().collect();
            assert_eq!(l.len(), 2, "{}", o.stdout);
            assert_eq!(
                l[0], l[1],
                "the command is not a session leader: {}",
                o.stdout
            );
            // Real and saved ids too: nothing to regain root with.
            let o = run(
                &s(&["sh", "-c", "grep -E '^(Uid|Gid):' /proc/self/status"]),
                false,
                T,
                Some("nobody"),
                200,
            )
            .await
            .unwrap();
            let (u, g) = (nobody.uid, nobody.gid);
            assert_eq!(
                o.stdout,
                format!("Uid:\t{u}\t{u}\t{u}\t{u}\nGid:\t{g}\t{g}\t{g}\t{g}\n")
            );
        } else {
            let err = run(&s(&["true"]), false, T, Some("root"), 10)
                .await
                .unwrap_err();
            assert!(
                matches!(err, ExecError::AsUser(AsUserError::NotRoot { .. })),
                "{err}"
            );
        }
    }
}
