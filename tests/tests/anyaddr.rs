//! End-to-end: servers listening on every address (`0.0.0.0`, the default, and `[::]`) are
//! joined by the others at the address they advertise, never at the unspecified one.
//!
//! Three servers share this host on distinct ports, each reached at its own 127.0.0.x
//! address (as `mon testbed` lays them out: n1 127.0.0.2, n2 127.0.0.3, n3 127.0.0.4), each
//! advertising that address a different way:
//! - n1 on `0.0.0.0:21701` with `--advertise 127.0.0.2` (the listen port);
//! - n2 on `0.0.0.0:21702` with `advertise 127.0.0.3:21702` in its server.conf;
//! - n3 on `[::]:21703` with neither: its own line in its known_nodes lists 127.0.0.4.
//!
//! A socket on `0.0.0.0` sends to 127.0.0.x from 127.0.0.1, so the known_nodes lines the
//! servers check each other with list names only (as docs/quickstart.md's do); the client's
//! lists addresses, since it dials them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use mon_tests::{mon_bin, node_ip};
use serde_json::Value;

/// First port of this test (from this branch's range, 21700–21799); node i listens on +i.
const PORT: u16 = 21700;
/// How long the three servers may take to find each other.
const SETTLE: Duration = Duration::from_secs(60);

/// Node i's port.
fn port(i: u32) -> u16 {
    PORT + i as u16
}

/// The address node i is reached at (its 127.0.0.x, its port).
fn reach(i: u32) -> String {
    format!("{}:{}", node_ip(i), port(i))
}

/// Three servers laid out by `mon testbed --prepare-only`, started as the module docs say;
/// stopped on drop.
struct Fleet {
    dir: tempfile::TempDir,
    procs: Vec<Child>,
}

impl Fleet {
    fn start() -> Fleet {
        let dir = tempfile::Builder::new()
            .prefix("mon-anyaddr-")
            .tempdir()
            .unwrap();
        let st = Command::new(mon_bin())
            .args(["testbed", "--prepare-only", "--nodes", "3", "--port"])
            .arg(PORT.to_string())
            .arg("--dir")
            .arg(dir.path())
            .status()
            .unwrap();
        assert!(st.success(), "mon testbed --prepare-only failed");
        let mut f = Fleet {
            dir,
            procs: Vec::new(),
        };
        for i in 1..=3 {
            f.write_known_nodes(i);
        }
        let conf = f.node_dir(2).join("config/server.conf");
        std::fs::write(&conf, format!("advertise {}\n", reach(2))).unwrap();
        let servers: [(u32, Vec<String>); 3] = [
            (
                1,
                args(&["--listen", "0.0.0.0:21701", "--advertise", "127.0.0.2"]),
            ),
            (2, args(&["--listen", "0.0.0.0:21702", "--join", &reach(1)])),
            (3, args(&["--listen", "[::]:21703", "--join", &reach(2)])),
        ];
        for (i, extra) in servers {
            let p = f.spawn(i, &extra);
            f.procs.push(p);
        }
        f
    }

    fn node_dir(&self, i: u32) -> PathBuf {
        self.dir.path().join(format!("n{i}"))
    }

    /// Node i's known_nodes: the testbed's lines by name only, but for n3's own line in n3's
    /// copy, which keeps its address (n3 advertises what it lists for itself).
    fn write_known_nodes(&self, i: u32) {
        let path = self.node_dir(i).join("config/known_nodes");
        let text = std::fs::read_to_string(&path).unwrap();
        let mut out = String::new();
        for line in text.lines() {
            let (hosts, rest) = line.split_once(' ').unwrap();
            let name = hosts.split(',').next().unwrap();
            let keep = i == 3 && name == "n3";
            out.push_str(if keep { hosts } else { name });
            out.push(' ');
            out.push_str(rest);
            out.push('\n');
        }
        std::fs::write(&path, out).unwrap();
    }

    fn spawn(&self, i: u32, extra: &[String]) -> Child {
        mon_tests::spawn_node(self.dir.path(), i, extra)
    }

    /// `mon --json ARGS` through node `entry`: (exit code, JSON or Null, stderr).
    fn json(&self, entry: u32, args: &[&str]) -> (i32, Value, String) {
        let d = self.dir.path();
        let out: Output = Command::new(mon_bin())
            .arg("--key")
            .arg(d.join("user_ed25519"))
            .arg("--known-nodes")
            .arg(d.join("known_nodes"))
            .args(["--server", &reach(entry), "--slice", "testbed", "--json"])
            .args(args)
            .env_remove("SSH_AUTH_SOCK")
            .env_remove("MON_SERVER")
            .env_remove("MON_SLICE")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let v = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        (out.status.code().unwrap_or(-1), v, err)
    }

    /// Node `entry`'s members view: name → address.
    fn members(&self, entry: u32) -> BTreeMap<String, String> {
        let (_, v, _) = self.json(entry, &["members"]);
        v["result"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|m| Some((m["name"].as_str()?.into(), m["addr"].as_str()?.into())))
            .collect()
    }

    fn logs(&self) -> String {
        (1..=3)
            .map(|i| {
                let log = std::fs::read_to_string(self.node_dir(i).join("server.log"));
                format!("--- n{i}:\n{}", log.unwrap_or_default())
            })
            .collect()
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        for p in &mut self.procs {
            let _ = p.kill();
            let _ = p.wait();
        }
    }
}

fn args(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// What node `i`'s view should be: the two others at their 127.0.0.x addresses.
fn want_view(i: u32) -> BTreeMap<String, String> {
    (1..=3)
        .filter(|j| *j != i)
        .map(|j| (format!("n{j}"), reach(j)))
        .collect()
}

#[test]
fn servers_listening_on_every_address_are_joined_at_the_address_they_advertise() {
    let f = Fleet::start();

    // Every node's view converges to the two others at their real addresses (bounded).
    let t = Instant::now();
    let mut views: Vec<BTreeMap<String, String>> = Vec::new();
    while t.elapsed() < SETTLE {
        views = (1..=3).map(|i| f.members(i)).collect();
        if (1..=3).all(|i| views[i as usize - 1] == want_view(i)) {
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    for i in 1..=3 {
        assert_eq!(
            views[i as usize - 1],
            want_view(i),
            "n{i}'s members view\n{}",
            f.logs()
        );
    }

    // A count through each node reaches the three, none missing (a few tries, in case a
    // datagram is lost on a loaded machine).
    for entry in 1..=3 {
        let mut last = (0, Value::Null, String::new());
        for _ in 0..5 {
            last = f.json(entry, &["--timeout", "5", "count"]);
            if last.0 == 0 {
                break;
            }
        }
        let (code, v, err) = last;
        assert_eq!(
            (code, v["result"].as_u64(), v["missing"].as_u64()),
            (0, Some(3), Some(0)),
            "count through n{entry}: {v} {err}\n{}",
            f.logs()
        );
    }
}
