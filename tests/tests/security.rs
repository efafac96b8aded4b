//! End-to-end tests of MON's security core through real `mon` processes: what a user and an
//! operator see (exit codes, messages, audit records) when keys, policies, signatures or
//! packets are wrong.
//!
//! Each test starts its own small cluster on its own port (18100+). The modules:
//! - `keys`: loading the user's key in the real client (files, passphrase, ssh-agent);
//! - `policy`: denials at the entry node and policy edits while running;
//! - `audit`: `mon audit verify` and `mon audit export` on a node's real log;
//! - `audit_rotation`: rotated audit logs, retention and journal compaction (issue 12);
//! - `replay`: a captured session sent again, before and after a restart;
//! - `network`: forged datagrams and junk streams;
//! - `junk`: unauthenticated sessions cost nothing durable; a full state dir fails closed;
//! - `pinning`: the client pins the entry it dialled, and believes only signed refusals.
//! - `run_as`: grep, exec and push as the policy's run-as user, never as the server (issue 10).
//! - `holes`: state file modes, a policy file others can write, insecure build features.
//! - `principal`: one principal decides a whole session (issue 10, part 3);
//! - `answers`: replayed sessions get no answer where they were not sent (issue 10, part 7).
//! - `push_land`: a push lands as the run-as user, beneath its push dir, never through a
//!   symbolic link, without set-id bits unless granted (issue 10).
//! - `quotas`: shares of the session table, the replay cache and the stream slots.
//! - `admission`: a listed key's verified streams stay under the small frame limit.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "security/admission.rs"]
mod admission;
#[path = "security/answers.rs"]
mod answers;
#[path = "security/audit.rs"]
mod audit;
#[path = "security/audit_rotation.rs"]
mod audit_rotation;
#[path = "security/holes.rs"]
mod holes;
#[path = "security/junk.rs"]
mod junk;
#[path = "security/keys.rs"]
mod keys;
#[path = "security/local_actions.rs"]
mod local_actions;
#[path = "security/network.rs"]
mod network;
#[path = "security/pinning.rs"]
mod pinning;
#[path = "security/policy.rs"]
mod policy;
#[path = "security/principal.rs"]
mod principal;
#[path = "security/push_land.rs"]
mod push_land;
#[path = "security/quotas.rs"]
mod quotas;
#[path = "security/replay.rs"]
mod replay;
#[path = "security/run_as.rs"]
mod run_as;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use mon_tests::{mon_bin, node_ip, Cluster};

/// How long a cluster may take to answer a complete `count`.
pub const SETTLE: Duration = Duration::from_secs(40);

/// Exit code, stdout and stderr of a finished command.
pub struct Ran {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Ran {
    pub fn of(out: Output) -> Ran {
        Ran {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// The JSON printed on stdout (`--json`), or Null.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or(serde_json::Value::Null)
    }
}

impl std::fmt::Debug for Ran {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

pub fn run(cmd: &mut Command) -> Ran {
    Ran::of(cmd.output().expect("run command"))
}

/// `ssh-keygen -t KIND -N PASS -f DIR/NAME`; returns the private key path.
pub fn keygen(dir: &Path, name: &str, kind: &str, pass: &str) -> PathBuf {
    let path = dir.join(name);
    let mut c = Command::new("ssh-keygen");
    c.args(["-q", "-t", kind, "-N", pass, "-C", name, "-f"])
        .arg(&path)
        .stdin(Stdio::null());
    if kind == "rsa" {
        c.args(["-b", "2048"]);
    }
    let r = run(&mut c);
    assert_eq!(r.code, 0, "ssh-keygen: {r:?}");
    path
}

/// `ssh-ed25519 AAAA…` of a key made by [`keygen`].
pub fn pub_line(key: &Path) -> String {
    let text = std::fs::read_to_string(key.with_extension("pub")).expect("read .pub");
    text.split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The OpenSSH fingerprint of a key, as ssh-keygen prints it.
pub fn fingerprint(key: &Path) -> String {
    let r = run(Command::new("ssh-keygen")
        .arg("-lf")
        .arg(key.with_extension("pub")));
    assert_eq!(r.code, 0, "{r:?}");
    r.stdout
        .split_whitespace()
        .nth(1)
        .expect("fingerprint")
        .to_string()
}

/// A `mon` client command against node `entry` of `c`, with no key option and a clean
/// environment (no agent, no MON_* variables, HOME set to an empty directory).
pub fn bare_client(c: &Cluster, entry: u32, home: &Path) -> Command {
    let mut cmd = Command::new(mon_bin());
    cmd.arg("--known-nodes")
        .arg(c.dir.path().join("known_nodes"))
        .arg("--server")
        .arg(format!("{}:{}", node_ip(entry), c.port))
        .arg("--slice")
        .arg("testbed")
        .env_remove("SSH_AUTH_SOCK")
        .env_remove("MON_SERVER")
        .env_remove("MON_SLICE")
        .env_remove("MON_KNOWN_NODES")
        .env("HOME", home)
        .stdin(Stdio::null());
    cmd
}

/// A client command signing with the private key `key`.
pub fn client_with_key(c: &Cluster, key: &Path, home: &Path) -> Command {
    let mut cmd = bare_client(c, 1, home);
    cmd.arg("--key").arg(key);
    cmd
}

/// Every node's allowed_signers file of the testbed slice.
pub fn signers_path(c: &Cluster, i: u32) -> PathBuf {
    c.node_dir(i).join("config/slices/testbed/allowed_signers")
}

/// Number of policy load/error records in node i's audit log.
pub fn policy_events(c: &Cluster, i: u32) -> usize {
    c.audit(i)
        .iter()
        .filter(|r| matches!(r["event"].as_str(), Some("policy.load" | "policy.error")))
        .count()
}

/// Writes `text` as the allowed_signers of every node and waits until every node has
/// reloaded it (a new `policy.load` record; the servers poll once a second).
pub fn set_signers(c: &Cluster, text: &str) {
    set_slice_file(c, "allowed_signers", text);
}

/// Writes `text` as the mon_policy of every node and waits until every node has reloaded it.
pub fn set_mon_policy(c: &Cluster, text: &str) {
    set_slice_file(c, "mon_policy", text);
}

/// Writes `text` as the slice file `name` of every node and waits until every node has
/// reloaded its policy and taken it (its newest policy record is a `policy.load`).
fn set_slice_file(c: &Cluster, name: &str, text: &str) {
    let before: Vec<usize> = (1..=c.n).map(|i| policy_events(c, i)).collect();
    for i in 1..=c.n {
        let f = c.node_dir(i).join("config/slices/testbed").join(name);
        std::fs::write(&f, text).unwrap_or_else(|e| panic!("write {}: {e}", f.display()));
    }
    let t = Instant::now();
    for i in 1..=c.n {
        while policy_events(c, i) <= before[i as usize - 1] {
            assert!(
                t.elapsed() < Duration::from_secs(15),
                "n{i} did not reload its {name}:\n{}",
                c.log(i)
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        let last = c
            .audit(i)
            .into_iter()
            .rev()
            .find(|r| matches!(r["event"].as_str(), Some("policy.load" | "policy.error")))
            .expect("a policy record");
        assert_eq!(
            last["event"], "policy.load",
            "n{i} rejected its new {name}:\n{text}\n{last}"
        );
    }
}

/// Node i's audit records of `event`.
pub fn events(c: &Cluster, i: u32, event: &str) -> Vec<serde_json::Value> {
    c.audit(i)
        .into_iter()
        .filter(|r| r["event"] == event)
        .collect()
}

/// An ssh-agent of our own, in the foreground, stopped (by its pid) when dropped.
pub struct Agent {
    pub sock: PathBuf,
    child: Option<Child>,
}

impl Agent {
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
        let t = Instant::now();
        while !sock.exists() {
            assert!(t.elapsed() < Duration::from_secs(10), "ssh-agent socket");
            std::thread::sleep(Duration::from_millis(20));
        }
        Agent {
            sock,
            child: Some(child),
        }
    }

    /// `ssh-add KEY`.
    pub fn add(&self, key: &Path) {
        let r = run(Command::new("ssh-add")
            .arg(key)
            .env("SSH_AUTH_SOCK", &self.sock)
            .stdin(Stdio::null()));
        assert_eq!(r.code, 0, "ssh-add: {r:?}");
    }

    /// Stops the agent now.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A started cluster that answers a complete count.
pub fn cluster(n: u32, port: u16) -> Cluster {
    cluster_with(n, port, |_| Vec::new())
}

/// [`cluster`] with extra server arguments for node i.
pub fn cluster_with(n: u32, port: u16, extra: impl Fn(u32) -> Vec<String>) -> Cluster {
    let c = Cluster::start(n, port, extra);
    let got = c.settle(u64::from(n), SETTLE);
    assert!(
        got >= u64::from(n),
        "cluster settled at {got} of {n}:\n{}",
        c.log(1)
    );
    c
}
