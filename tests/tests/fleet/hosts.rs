//! Hosts for the quickstart walkthrough: each a network namespace (its own address on a
//! bridge) plus a mount and UTS namespace (its own /etc/mon, /var/lib/mon, /etc/hosts and host
//! name), kept alive by a holder process; commands enter them with nsenter. The admin's
//! workstation is a mount and UTS namespace in the root network namespace, which reaches the
//! hosts through the bridge. Everything is undone on drop, also when the test fails: servers
//! stopped, holders killed, namespaces and the bridge deleted.
//!
//! Needs root, `ip` (iproute2), `unshare` and `nsenter` (util-linux) and overlayfs: /etc and
//! /var/lib are overlaid in each host's mount namespace, so the host's files are plain
//! directories under the test's temporary directory and nothing outside it is changed.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use mon_tests::mon_bin;

/// The bridge the hosts' veth pairs hang on (root network namespace).
const BRIDGE: &str = "monqsbr";
/// The bridge's address: the admin workstation reaches the hosts from it.
const BRIDGE_ADDR: &str = "10.201.0.1/24";
/// How long a holder may live if the test process dies without dropping [`Hosts`].
const HOLDER_LIFETIME_S: u32 = 3600;

/// One host of the walkthrough.
#[derive(Debug, Clone, Copy)]
pub struct HostSpec {
    /// Its host name (and node name).
    pub name: &'static str,
    /// Its network namespace.
    pub netns: &'static str,
    /// Its address.
    pub ip: &'static str,
}

/// The three hosts.
pub const HOSTS: [HostSpec; 3] = [
    HostSpec {
        name: "qs1",
        netns: "monqs1",
        ip: "10.201.0.11",
    },
    HostSpec {
        name: "qs2",
        netns: "monqs2",
        ip: "10.201.0.12",
    },
    HostSpec {
        name: "qs3",
        netns: "monqs3",
        ip: "10.201.0.13",
    },
];

/// The admin's workstation's host name.
pub const ADMIN: &str = "admin";

/// The running hosts.
pub struct Hosts {
    /// Every host's files: `NAME/etc` (its /etc overlay: `mon/`, `hosts`), `NAME/var-lib`
    /// (its /var/lib overlay), `NAME/server.log`; the admin's home is `admin/home`.
    pub dir: tempfile::TempDir,
    holders: Vec<(String, Child)>,
    servers: Vec<(String, Child)>,
}

/// Runs `cmd`, panicking with what it printed when it fails.
fn must(cmd: &mut Command) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn ip(args: &[&str]) -> Output {
    must(Command::new("ip").args(args))
}

/// Fails the test with a clear message unless it can build namespaced hosts.
fn require_root_and_tools() {
    let uid = Command::new("id").arg("-u").output().map(|o| o.stdout);
    let root = uid.is_ok_and(|u| String::from_utf8_lossy(&u).trim() == "0");
    assert!(
        root,
        "the quickstart test builds three hosts from network and mount namespaces and needs \
         root: run it as root (e.g. `sudo -E cargo test -p mon-tests --test fleet`)"
    );
    for (tool, arg) in [
        ("ip", "-V"),
        ("unshare", "--version"),
        ("nsenter", "--version"),
    ] {
        let ok = Command::new(tool)
            .arg(arg)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        assert!(
            ok,
            "the quickstart test needs `{tool}` (iproute2 / util-linux): install it"
        );
    }
}

/// Stops what an earlier run that could not clean up (killed) left: processes still in our
/// network namespaces, the namespaces, the bridge.
fn remove_leftovers() {
    for h in HOSTS {
        if let Ok(out) = Command::new("ip").args(["netns", "pids", h.netns]).output() {
            for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                let _ = Command::new("kill").args(["-KILL", pid]).status();
            }
        }
        let _ = Command::new("ip")
            .args(["netns", "del", h.netns])
            .stderr(Stdio::null())
            .status();
    }
    let _ = Command::new("ip")
        .args(["link", "del", BRIDGE])
        .stderr(Stdio::null())
        .status();
}

/// `/etc/hosts` of every machine: the three hosts by name.
fn hosts_file() -> String {
    let mut s = String::from("127.0.0.1 localhost\n");
    for h in HOSTS {
        s.push_str(&format!("{} {}\n", h.ip, h.name));
    }
    s
}

impl Hosts {
    /// Builds the bridge, the three hosts and the admin's workstation.
    pub fn up() -> Hosts {
        require_root_and_tools();
        remove_leftovers();
        let dir = tempfile::Builder::new()
            .prefix("mon-quickstart-")
            .tempdir()
            .expect("tempdir");
        let mut hosts = Hosts {
            dir,
            holders: Vec::new(),
            servers: Vec::new(),
        };
        ip(&["link", "add", BRIDGE, "type", "bridge"]);
        ip(&["addr", "add", BRIDGE_ADDR, "dev", BRIDGE]);
        ip(&["link", "set", BRIDGE, "up"]);
        for h in HOSTS {
            hosts.add_host(h);
        }
        hosts.add_machine(ADMIN, None);
        std::fs::create_dir_all(hosts.home()).expect("admin home");
        hosts
    }

    /// The network side of host `h`: its namespace, a veth pair to the bridge, its address.
    fn add_host(&mut self, h: HostSpec) {
        ip(&["netns", "add", h.netns]);
        let outside = format!("{}h", h.netns);
        ip(&[
            "link", "add", &outside, "type", "veth", "peer", "name", "eth0", "netns", h.netns,
        ]);
        ip(&["link", "set", &outside, "master", BRIDGE]);
        ip(&["link", "set", &outside, "up"]);
        let addr = format!("{}/24", h.ip);
        ip(&["-n", h.netns, "addr", "add", &addr, "dev", "eth0"]);
        ip(&["-n", h.netns, "link", "set", "eth0", "up"]);
        ip(&["-n", h.netns, "link", "set", "lo", "up"]);
        self.add_machine(h.name, Some(h.netns));
    }

    /// A machine's own /etc and /var/lib (overlays on the real ones) and host name, in a
    /// mount and UTS namespace held by a sleeping process (inside `netns`, when given).
    fn add_machine(&mut self, name: &str, netns: Option<&str>) {
        let root = self.dir.path().join(name);
        for d in ["etc", "etc.work", "var-lib", "var-lib.work"] {
            std::fs::create_dir_all(root.join(d)).expect("host dir");
        }
        std::fs::write(root.join("etc/hosts"), hosts_file()).expect("hosts");
        let r = root.display();
        let script = format!(
            "set -e
             mount -t overlay overlay -o lowerdir=/etc,upperdir={r}/etc,workdir={r}/etc.work /etc
             mount -t overlay overlay -o lowerdir=/var/lib,upperdir={r}/var-lib,workdir={r}/var-lib.work /var/lib
             hostname {name}
             echo ready
             exec sleep {HOLDER_LIFETIME_S}"
        );
        let mut cmd = match netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns, "unshare", "--mount", "--uts"]);
                c
            }
            None => {
                let mut c = Command::new("unshare");
                c.args(["--mount", "--uts"]);
                c
            }
        };
        let mut child = cmd
            .args(["sh", "-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start a host's namespaces");
        let mut line = String::new();
        if let Some(out) = child.stdout.take() {
            // The script either prints `ready` or exits (closing its stdout).
            let _ = BufReader::new(out).read_line(&mut line);
        }
        let ready = line.trim() == "ready";
        self.holders.push((name.to_string(), child));
        assert!(ready, "setting up host {name}'s namespaces failed");
    }

    /// The admin's home directory (HOME of the admin's commands).
    pub fn home(&self) -> PathBuf {
        self.dir.path().join(ADMIN).join("home")
    }

    /// Host `name`'s /etc/mon, seen from outside.
    pub fn etc_mon(&self, name: &str) -> PathBuf {
        self.dir.path().join(name).join("etc/mon")
    }

    /// A shell command on machine `name` (a host or [`ADMIN`]): in its namespaces, with `mon`
    /// on PATH, run by `sh -c` in the admin's home (HOME too) or in `/` on a host.
    pub fn sh(&self, name: &str, script: &str) -> Command {
        let pid = self
            .holders
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, c)| c.id())
            .unwrap_or_else(|| panic!("no machine {name}"));
        let mut ns = vec!["-m", "-u"];
        if name != ADMIN {
            ns.push("-n");
        }
        let cwd = if name == ADMIN {
            self.home()
        } else {
            PathBuf::from("/")
        };
        let bin_dir = mon_bin()
            .parent()
            .map(Path::to_path_buf)
            .expect("mon's directory");
        let path = format!(
            "{}:{}",
            bin_dir.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut cmd = Command::new("nsenter");
        cmd.arg("-t")
            .arg(pid.to_string())
            .args(ns)
            .arg("--")
            .arg("sh")
            .arg("-c")
            .arg(format!("cd '{}' && {script}", cwd.display()))
            .env("PATH", path)
            .env("HOME", self.home())
            .env_remove("SSH_AUTH_SOCK")
            .env_remove("MON_SERVER")
            .env_remove("MON_SLICE")
            .env_remove("MON_KNOWN_NODES")
            .stdin(Stdio::null());
        cmd
    }

    /// Runs `script` on `name`; returns its stdout, failing the test with its stderr when it
    /// exits non-zero.
    pub fn ok(&self, name: &str, script: &str) -> String {
        let out = self.run(name, script);
        assert!(
            out.status.success(),
            "on {name}: `{script}` exited {}:\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs `script` on `name`.
    pub fn run(&self, name: &str, script: &str) -> Output {
        self.sh(name, script)
            .output()
            .unwrap_or_else(|e| panic!("cannot run on {name}: {e}"))
    }

    /// Starts `script` on host `name` in the background (it should `exec` the server), its
    /// output in `NAME/server.log`.
    pub fn start(&mut self, name: &str, script: &str) {
        let log_path = self.log_path(name);
        let log = std::fs::File::create(&log_path).expect("server log");
        let child = self
            .sh(name, script)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start a server");
        self.servers.push((name.to_string(), child));
    }

    fn log_path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name).join("server.log")
    }

    /// Host `name`'s server log.
    pub fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.log_path(name)).unwrap_or_default()
    }
}

impl Drop for Hosts {
    fn drop(&mut self) {
        for (_, s) in &self.servers {
            let _ = Command::new("kill")
                .args(["-TERM", &s.id().to_string()])
                .status();
        }
        let t = Instant::now();
        for (_, s) in &mut self.servers {
            while t.elapsed() < Duration::from_secs(5) {
                if let Ok(Some(_)) = s.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = s.kill();
            let _ = s.wait();
        }
        for (_, h) in &mut self.holders {
            let _ = h.kill();
            let _ = h.wait();
        }
        remove_leftovers();
        if std::thread::panicking() {
            for h in HOSTS {
                eprintln!("--- {} server log:\n{}", h.name, self.log(h.name));
            }
            if std::env::var_os("MON_E2E_KEEP").is_some() {
                self.dir.disable_cleanup(true);
                eprintln!("kept {}", self.dir.path().display());
            }
        }
    }
}
