//! Helpers for MON's end-to-end tests: a cluster of real `mon server` processes on
//! 127.0.0.2…, laid out by `mon testbed --prepare-only`, and a client command builder.
//! Every process is stopped when the [`Cluster`] is dropped.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The `mon` binary built with the workspace (override with `MON_BIN`).
pub fn mon_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("MON_BIN") {
        return PathBuf::from(p);
    }
    // target/<profile>/deps/<test> → target/<profile>/mon
    let exe = std::env::current_exe().expect("test executable path");
    let dir = exe.parent().and_then(Path::parent).expect("target dir");
    dir.join("mon")
}

/// A `mon` binary built with the test-only `fault-injection` feature (override with
/// `MON_FAULT_BIN`). Built once per test process, into its own target directory beside the
/// normal one, so the normal binary is never replaced while other tests use it.
pub fn fault_bin() -> PathBuf {
    static BIN: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(p) = std::env::var_os("MON_FAULT_BIN") {
            return PathBuf::from(p);
        }
        let normal = mon_bin();
        let target = normal
            .parent()
            .and_then(Path::parent)
            .expect("target dir")
            .join("fault-injection");
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("workspace");
        let st = Command::new(env!("CARGO"))
            .args([
                "build",
                "-q",
                "-p",
                "mon",
                "--features",
                "fault-injection",
                "--target-dir",
            ])
            .arg(&target)
            .current_dir(workspace)
            .status()
            .expect("run cargo build --features fault-injection");
        assert!(
            st.success(),
            "building mon with --features fault-injection failed"
        );
        target.join("debug").join("mon")
    })
    .clone()
}

/// `BIN server` for the node laid out in `node_dir` (`config/`, `state/`, as `mon testbed`
/// writes them) under `name`; the caller adds its addresses and spawns it.
pub fn server_command(bin: &Path, node_dir: &Path, name: &str) -> Command {
    let mut cmd = Command::new(bin);
    cmd.arg("server")
        .arg("--config-dir")
        .arg(node_dir.join("config"))
        .arg("--state-dir")
        .arg(node_dir.join("state"))
        .arg("--name")
        .arg(name);
    cmd
}

/// Starts `mon server` for node `i` of a testbed laid out in `dir` (node directory `dir/nI`,
/// name `nI`) with `args`; its log (RUST_LOG=info) in `dir/nI/server.log`.
pub fn spawn_node(dir: &Path, i: u32, args: &[String]) -> Child {
    let nd = dir.join(format!("n{i}"));
    let log = std::fs::File::create(nd.join("server.log")).expect("server log");
    server_command(&mon_bin(), &nd, &format!("n{i}"))
        .args(args)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("spawn mon server")
}

/// Address of testbed node `i` (1-based), as `mon testbed` assigns them.
pub fn node_ip(i: u32) -> String {
    let n = i + 1;
    format!("127.{}.{}.{}", (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff)
}

/// A running cluster.
pub struct Cluster {
    /// Its files.
    pub dir: tempfile::TempDir,
    /// Number of servers.
    pub n: u32,
    /// Port all servers listen on.
    pub port: u16,
    procs: Vec<Option<Child>>,
    server_bin: PathBuf,
}

impl Cluster {
    /// Lays out `n` nodes and starts them; `extra(i)` gives extra server arguments for node i.
    pub fn start(n: u32, port: u16, extra: impl Fn(u32) -> Vec<String>) -> Cluster {
        Cluster::start_with(mon_bin(), n, port, extra)
    }

    /// Like [`Cluster::start`], with the servers run from `server_bin`.
    pub fn start_with(
        server_bin: PathBuf,
        n: u32,
        port: u16,
        extra: impl Fn(u32) -> Vec<String>,
    ) -> Cluster {
        let dir = tempfile::Builder::new()
            .prefix("mon-e2e-")
            .tempdir()
            .expect("tempdir");
        let st = Command::new(mon_bin())
            .args([
                "testbed",
                "--prepare-only",
                "--nodes",
                &n.to_string(),
                "--port",
                &port.to_string(),
                "--dir",
            ])
            .arg(dir.path())
            .status()
            .expect("run mon testbed --prepare-only");
        assert!(st.success(), "mon testbed --prepare-only failed");
        let mut c = Cluster {
            dir,
            n,
            port,
            procs: Vec::new(),
            server_bin,
        };
        for i in 1..=n {
            let p = c.spawn(i, &extra(i));
            c.procs.push(Some(p));
        }
        c
    }

    fn spawn(&self, i: u32, extra: &[String]) -> Child {
        let nd = self.node_dir(i);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(nd.join("server.log"))
            .expect("server log");
        let seeds: Vec<String> = (1..=self.n.min(3))
            .map(|j| format!("{}:{}", node_ip(j), self.port))
            .collect();
        let mut cmd = server_command(&self.server_bin, &nd, &format!("n{i}"));
        cmd.arg("--listen")
            .arg(format!("{}:{}", node_ip(i), self.port))
            .arg("--join")
            .arg(seeds.join(","))
            .args(extra);
        if self.server_bin != mon_bin() {
            // The fault-injection build (`fault_bin`) starts a server only when told to.
            cmd.env("MON_ALLOW_FAULT_INJECTION", "1");
        }
        cmd.env(
            "RUST_LOG",
            std::env::var("MON_E2E_LOG").unwrap_or_else(|_| "info".into()),
        )
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("spawn mon server")
    }

    /// Node i's directory (config/, state/, server.log).
    pub fn node_dir(&self, i: u32) -> PathBuf {
        self.dir.path().join(format!("n{i}"))
    }

    /// The testbed user's private key.
    pub fn user_key(&self) -> PathBuf {
        self.dir.path().join("user_ed25519")
    }

    /// A client command through node `entry` with the testbed key, known_nodes and slice.
    pub fn client_via(&self, entry: u32) -> Command {
        let mut c = Command::new(mon_bin());
        c.arg("--key")
            .arg(self.user_key())
            .arg("--known-nodes")
            .arg(self.dir.path().join("known_nodes"))
            .arg("--server")
            .arg(format!("{}:{}", node_ip(entry), self.port))
            .arg("--slice")
            .arg("testbed")
            .env_remove("SSH_AUTH_SOCK")
            .env_remove("MON_SERVER")
            .env_remove("MON_SLICE")
            .stdin(Stdio::null());
        c
    }

    /// A client command through node 1.
    pub fn client(&self) -> Command {
        self.client_via(1)
    }

    /// Runs `mon --json ARGS…` through node 1; returns (exit code, parsed JSON or Null, stderr).
    pub fn json(&self, args: &[&str]) -> (i32, serde_json::Value, String) {
        let out: Output = self
            .client()
            .arg("--json")
            .args(args)
            .output()
            .expect("run mon client");
        let v = serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null);
        (
            out.status.code().unwrap_or(-1),
            v,
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// Waits until three `count`s in a row reach every live node with none missing (bounded
    /// by `timeout`); returns the last count.
    pub fn settle(&self, live: u64, timeout: Duration) -> u64 {
        let t = Instant::now();
        let mut last = 0;
        let mut in_a_row = 0;
        while t.elapsed() < timeout {
            let (_, v, _) = self.json(&["--timeout", "3", "count"]);
            last = v["result"].as_u64().unwrap_or(0);
            let complete = last >= live && v["missing"].as_u64() == Some(0);
            in_a_row = if complete { in_a_row + 1 } else { 0 };
            if in_a_row >= 3 {
                break;
            }
            std::thread::sleep(Duration::from_millis(if complete { 1000 } else { 500 }));
        }
        last
    }

    /// Kills node i at once (SIGKILL).
    pub fn kill(&mut self, i: u32) {
        if let Some(Some(mut p)) = self.procs.get_mut(i as usize - 1).map(Option::take) {
            let _ = p.kill();
            let _ = p.wait();
        }
    }

    /// Starts node i again (killing it first if it runs), with the same directories, so its
    /// key, policies, audit log and replay journal carry over.
    pub fn restart(&mut self, i: u32, extra: &[String]) {
        self.kill(i);
        let p = self.spawn(i, extra);
        // Stored, so Drop stops and waits for it like every other node.
        self.procs[i as usize - 1] = Some(p);
    }

    /// Node i's process id, while it runs.
    pub fn pid(&self, i: u32) -> Option<u32> {
        self.procs.get(i as usize - 1)?.as_ref().map(Child::id)
    }

    /// Whether node i's process is still running.
    pub fn alive(&mut self, i: u32) -> bool {
        match self.procs.get_mut(i as usize - 1) {
            Some(Some(p)) => matches!(p.try_wait(), Ok(None)),
            _ => false,
        }
    }

    /// Node i's audit records.
    pub fn audit(&self, i: u32) -> Vec<serde_json::Value> {
        let text =
            std::fs::read_to_string(self.node_dir(i).join("state/audit.jsonl")).unwrap_or_default();
        text.lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// Node i's server log.
    pub fn log(&self, i: u32) -> String {
        std::fs::read_to_string(self.node_dir(i).join("server.log")).unwrap_or_default()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for p in self.procs.iter().flatten() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(p.id().to_string())
                .status();
        }
        let t = Instant::now();
        for p in self.procs.iter_mut().flatten() {
            while t.elapsed() < Duration::from_secs(5) {
                if let Ok(Some(_)) = p.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = p.kill();
            let _ = p.wait();
        }
        // A failed test's cluster (logs, audit, pushed files) stays for inspection when
        // MON_E2E_KEEP is set.
        if std::thread::panicking() && std::env::var_os("MON_E2E_KEEP").is_some() {
            self.dir.disable_cleanup(true);
            eprintln!("kept {}", self.dir.path().display());
        }
    }
}
