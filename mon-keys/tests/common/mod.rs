//! Helpers for tests that drive the real OpenSSH tools (ssh-keygen, ssh-agent, ssh-add).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use zeroize::Zeroizing;

/// Runs a command to completion with stdin closed, returning its output.
pub fn run(cmd: &mut Command) -> Output {
    cmd.stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"))
}

/// `ssh-keygen -t TYPE [-b BITS] -N PASS -C alice@lab -f DIR/NAME`; returns the private key path.
pub fn keygen(dir: &Path, name: &str, kind: &str, pass: &str) -> PathBuf {
    let path = dir.join(name);
    let mut cmd = Command::new("ssh-keygen");
    cmd.args(["-q", "-t", kind, "-N", pass, "-C", "alice@lab", "-f"])
        .arg(&path);
    if kind == "rsa" {
        cmd.args(["-b", "2048"]);
    }
    let out = run(&mut cmd);
    assert!(out.status.success(), "ssh-keygen failed: {out:?}");
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    path
}

/// The `.pub` path beside a private key.
pub fn pub_path(key: &Path) -> PathBuf {
    let mut p = key.as_os_str().to_owned();
    p.push(".pub");
    PathBuf::from(p)
}

/// The key's public line without the comment, as used in allowed_signers.
pub fn pub_line(key: &Path) -> String {
    let text = std::fs::read_to_string(pub_path(key)).unwrap();
    let mut parts = text.split_whitespace();
    format!("{} {}", parts.next().unwrap(), parts.next().unwrap())
}

/// Writes `DIR/allowed_signers` granting `principal` the key, and returns its path.
pub fn allowed_signers(dir: &Path, principal: &str, key: &Path) -> PathBuf {
    let path = dir.join("allowed_signers");
    std::fs::write(&path, format!("{principal} {}\n", pub_line(key))).unwrap();
    path
}

/// `ssh-keygen -Y verify -f ALLOWED -I PRINCIPAL -n NS -s SIG < MSG`: whether it accepts.
pub fn ssh_keygen_verifies(
    allowed: &Path,
    principal: &str,
    ns: &str,
    sig: &Path,
    msg: &Path,
) -> bool {
    let out = Command::new("ssh-keygen")
        .args(["-Y", "verify", "-f"])
        .arg(allowed)
        .args(["-I", principal, "-n", ns, "-s"])
        .arg(sig)
        .stdin(std::fs::File::open(msg).unwrap())
        .output()
        .unwrap();
    out.status.success()
}

/// `ssh-keygen -Y sign -f KEY -n NS [extra] MSG`; returns the armored signature text.
pub fn ssh_keygen_sign(key: &Path, ns: &str, msg: &Path, extra: &[&str]) -> String {
    let sig = {
        let mut p = msg.as_os_str().to_owned();
        p.push(".sig");
        PathBuf::from(p)
    };
    let _ = std::fs::remove_file(&sig);
    let out = run(Command::new("ssh-keygen")
        .args(["-Y", "sign", "-f"])
        .arg(key)
        .args(["-n", ns])
        .args(extra)
        .arg(msg));
    assert!(out.status.success(), "ssh-keygen -Y sign failed: {out:?}");
    std::fs::read_to_string(&sig).unwrap()
}

/// The fingerprint `ssh-keygen -l` prints for a key file.
pub fn ssh_keygen_fingerprint(key: &Path) -> String {
    let out = run(Command::new("ssh-keygen").arg("-lf").arg(pub_path(key)));
    assert!(out.status.success());
    String::from_utf8(out.stdout)
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .to_owned()
}

/// A passphrase callback that must not be called.
pub fn no_passphrase(p: &Path) -> std::io::Result<Zeroizing<String>> {
    panic!("passphrase asked for {}", p.display())
}

/// A real `ssh-agent -D -a SOCK`, killed on drop.
pub struct Agent {
    child: Child,
    pub sock: PathBuf,
}

impl Agent {
    /// Starts an agent with its socket in `dir` and waits (bounded) for the socket.
    pub fn start(dir: &Path) -> Agent {
        let sock = dir.join("agent.sock");
        let child = Command::new("ssh-agent")
            .arg("-D")
            .arg("-a")
            .arg(&sock)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start ssh-agent");
        let agent = Agent { child, sock };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !agent.sock.exists() {
            assert!(Instant::now() < deadline, "ssh-agent socket did not appear");
            std::thread::sleep(Duration::from_millis(20));
        }
        agent
    }

    /// `ssh-add KEY` into this agent (the key must have no passphrase).
    pub fn add(&self, key: &Path) {
        let out = run(Command::new("ssh-add")
            .env("SSH_AUTH_SOCK", &self.sock)
            .arg(key));
        assert!(out.status.success(), "ssh-add failed: {out:?}");
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
