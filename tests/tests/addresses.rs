//! End-to-end (issue 12, parts 2, 4 and 8): servers that listen on and join through host
//! names and IPv6 literals, `--server` through a known_nodes name, client options after the
//! command, `exec` without `--`, `MON_KEY`, the client config file and its precedence, and
//! the testbed's `export` block pasted into a shell. Ports 21200–21299.

#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use mon_tests::mon_bin;
use serde_json::Value;

/// Servers this test started; killed (and waited for) when dropped.
struct Servers(Vec<Child>);

impl Drop for Servers {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A laid-out testbed directory (keys, policies) for `n` nodes, without servers.
fn lay_out(n: u32, port: u16) -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("mon-e2e-addr-")
        .tempdir()
        .unwrap();
    let st = Command::new(mon_bin())
        .args(["testbed", "--prepare-only", "--nodes", &n.to_string()])
        .args(["--port", &port.to_string(), "--dir"])
        .arg(dir.path())
        .status()
        .unwrap();
    assert!(st.success(), "mon testbed --prepare-only failed");
    dir
}

/// The key part (`ssh-ed25519 AAAA…`) of node `i`'s known_nodes line.
fn node_key(dir: &Path, i: u32) -> String {
    let known = std::fs::read_to_string(dir.join("known_nodes")).unwrap();
    let line = known
        .lines()
        .find(|l| l.starts_with(&format!("n{i},")))
        .unwrap();
    line.split_once(' ').unwrap().1.to_string()
}

/// Writes `text` as the known_nodes of the client and of nodes 1..=n (mode 0644).
fn write_known(dir: &Path, n: u32, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    let mut paths = vec![dir.join("known_nodes")];
    paths.extend((1..=n).map(|i| dir.join(format!("n{i}/config/known_nodes"))));
    for p in paths {
        std::fs::write(&p, text).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
}

/// Starts node `i` of `dir` with these `--listen` and `--join` arguments.
fn server(dir: &Path, i: u32, args: &[&str]) -> Child {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    mon_tests::spawn_node(dir, i, &args)
}

/// `mon ARGS…` with no client settings but `env` (and an empty HOME: no config file).
fn mon(home: &Path, env: &[(&str, &Path)], args: &[&str]) -> Output {
    let mut c = Command::new(mon_bin());
    for v in [
        "MON_SERVER",
        "MON_SLICE",
        "MON_KEY",
        "MON_KNOWN_NODES",
        "SSH_AUTH_SOCK",
        "XDG_CONFIG_HOME",
    ] {
        c.env_remove(v);
    }
    c.env("HOME", home).stdin(Stdio::null());
    for (k, v) in env {
        c.env(k, v);
    }
    c.args(args).output().unwrap()
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
}

fn text(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Runs `count --json` until it reaches `n` nodes with none missing (at most 60 s).
fn settle(home: &Path, env: &[(&str, &Path)], server: &str, n: u64) -> Value {
    let t = Instant::now();
    loop {
        let out = mon(
            home,
            env,
            &["--server", server, "--timeout", "3", "count", "--json"],
        );
        let v = json(&out);
        if v["result"] == n && v["missing"] == 0 {
            return v;
        }
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "no complete count through {server}: {}",
            text(&out)
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[test]
fn servers_join_and_clients_dial_by_host_name_and_known_nodes_name() {
    let port = 21201;
    let dir = lay_out(2, port);
    let d = dir.path();
    // n1 listens on `localhost` (127.0.0.1); its line gives that host name as its address,
    // resolved when each side loads the file. n2 joins through the name.
    let known = format!(
        "n1,[localhost]:{port} {}\nn2,[127.0.0.3]:{port} {}\n",
        node_key(d, 1),
        node_key(d, 2)
    );
    write_known(d, 2, &known);
    let _servers = Servers(vec![
        server(d, 1, &["--listen", &format!("localhost:{port}")]),
        server(
            d,
            2,
            &[
                "--listen",
                &format!("127.0.0.3:{port}"),
                "--join",
                &format!("localhost:{port}"),
            ],
        ),
    ]);
    let home = tempfile::tempdir().unwrap();
    let key = d.join("user_ed25519");
    let kn = d.join("known_nodes");
    let slice = Path::new("testbed");
    let env: Vec<(&str, &Path)> = vec![
        ("MON_KEY", &key),
        ("MON_KNOWN_NODES", &kn),
        ("MON_SLICE", slice),
    ];

    // `--server n1`: a known_nodes name, no port typed (the line's); MON_KEY signs; the
    // global flag after the command.
    let v = settle(home.path(), &env, "n1", 2);
    assert_eq!(v["entry"], "n1", "{v}");
    // The host name with its port, and n2 through its known_nodes name.
    let out = mon(
        home.path(),
        &env,
        &["count", "--server", &format!("localhost:{port}"), "--json"],
    );
    assert_eq!(json(&out)["result"], 2, "{}", text(&out));
    let out = mon(home.path(), &env, &["--server", "n2", "count", "--json"]);
    assert_eq!(json(&out)["entry"], "n2", "{}", text(&out));

    // `exec uname -r` without `--`; the command's own flags stay its own.
    let out = mon(
        home.path(),
        &env,
        &["--server", "n1", "exec", "uname", "-r"],
    );
    assert!(out.status.success(), "{}", text(&out));
    let uname = Command::new("uname").arg("-r").output().unwrap();
    let release = String::from_utf8_lossy(&uname.stdout).trim().to_string();
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(shown.contains(&release), "{}", text(&out));
    assert!(shown.contains("exit 0 on 2 nodes"), "{}", text(&out));
    let out = mon(home.path(), &env, &["--server", "n1", "exec", "-r"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("use '-- -r'"), "{}", text(&out));

    // An unresolvable host name added to n1's known_nodes: a warning naming the file and
    // line when the server reloads it; the server keeps running.
    let n1_known = d.join("n1/config/known_nodes");
    let extra = format!("{known}n3,no-such-host.invalid {}\n", node_key(d, 2));
    std::fs::write(&n1_known, extra).unwrap();
    let log = d.join("n1/server.log");
    let want = format!(
        "{}:3: cannot resolve the host name \"no-such-host.invalid\"",
        n1_known.display()
    );
    let t = Instant::now();
    while !std::fs::read_to_string(&log).unwrap().contains(&want) {
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "no warning {want:?} in {}",
            std::fs::read_to_string(&log).unwrap()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let out = mon(home.path(), &env, &["--server", "n1", "members", "--json"]);
    assert_eq!(json(&out)["entry"], "n1", "{}", text(&out));
}

#[test]
fn a_server_on_ipv6_loopback_answers_through_its_literal_and_its_name() {
    if std::net::UdpSocket::bind("[::1]:0").is_err() {
        eprintln!("skipped: no IPv6 loopback here");
        return;
    }
    let port = 21211;
    let dir = lay_out(1, port);
    let d = dir.path();
    write_known(d, 1, &format!("n1,[::1]:{port} {}\n", node_key(d, 1)));
    let _servers = Servers(vec![server(d, 1, &["--listen", &format!("[::1]:{port}")])]);
    let home = tempfile::tempdir().unwrap();
    let key = d.join("user_ed25519");
    let kn = d.join("known_nodes");
    let env: Vec<(&str, &Path)> = vec![("MON_KEY", &key), ("MON_KNOWN_NODES", &kn)];
    let v = settle(home.path(), &env, &format!("[::1]:{port}"), 1);
    assert_eq!(v["entry"], "n1", "{v}");
    let v = settle(home.path(), &env, "n1", 1);
    assert_eq!(v["entry"], "n1", "{v}");
}

/// Writes a client config file at `path`.
fn write_config(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

#[test]
fn the_client_config_file_is_read_and_flags_and_environment_win() {
    let port = 21221;
    let dir = lay_out(2, port);
    let d = dir.path();
    let _servers = Servers(vec![
        server(d, 1, &["--listen", &format!("127.0.0.2:{port}")]),
        server(
            d,
            2,
            &[
                "--listen",
                &format!("127.0.0.3:{port}"),
                "--join",
                &format!("127.0.0.2:{port}"),
            ],
        ),
    ]);
    // ~/.config/mon/config (HOME) names everything: key, server, slice, known_nodes.
    let home = tempfile::tempdir().unwrap();
    let conf = format!(
        "# testbed\nkey {}\nserver n1\nslice testbed\nknown_nodes = {}\ntimeout 5\n",
        d.join("user_ed25519").display(),
        d.join("known_nodes").display()
    );
    write_config(&home.path().join(".config/mon/config"), &conf);
    let v = settle(home.path(), &[], "n1", 2);
    assert_eq!(v["entry"], "n1", "{v}");
    let out = mon(home.path(), &[], &["count", "--json"]);
    assert_eq!(json(&out)["entry"], "n1", "{}", text(&out));
    // A flag wins over the file; so does the environment.
    let out = mon(home.path(), &[], &["count", "--json", "--server", "n2"]);
    assert_eq!(json(&out)["entry"], "n2", "{}", text(&out));
    let n2 = PathBuf::from("n2");
    let out = mon(home.path(), &[("MON_SERVER", &n2)], &["--json", "count"]);
    assert_eq!(json(&out)["entry"], "n2", "{}", text(&out));
    // A flag wins over the environment.
    let out = mon(
        home.path(),
        &[("MON_SERVER", &n2)],
        &["--json", "count", "--server", "n1"],
    );
    assert_eq!(json(&out)["entry"], "n1", "{}", text(&out));
    // MON_KEY over the file's key: a missing key file is named.
    let nokey = d.join("no-such-key");
    let out = mon(home.path(), &[("MON_KEY", &nokey)], &["count"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("no-such-key"), "{}", text(&out));
    // `mon key show` honours the file's key and --key before the command.
    let out = mon(home.path(), &[], &["key", "show", "--json"]);
    assert_eq!(json(&out)["comment"], "testbed-user", "{}", text(&out));
    let out = mon(
        home.path(),
        &[],
        &["--key", "/nonexistent/k", "key", "show"],
    );
    assert!(text(&out).contains("/nonexistent/k"), "{}", text(&out));
    // XDG_CONFIG_HOME comes first; a bad line names the file and line.
    let xdg = tempfile::tempdir().unwrap();
    let xdg_conf = xdg.path().join("mon/config");
    write_config(&xdg_conf, &format!("{conf}overlay sideways\n"));
    let out = mon(home.path(), &[("XDG_CONFIG_HOME", xdg.path())], &["count"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let want = format!("{}: line 7: invalid value 'sideways'", xdg_conf.display());
    assert!(text(&out).contains(&want), "{}", text(&out));
}

/// Reads `child`'s stdout lines on a thread.
fn lines_of(child: &mut Child) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    let out = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for l in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(l).is_err() {
                break;
            }
        }
    });
    rx
}

#[test]
fn the_testbeds_export_block_works_when_pasted_and_it_stops_its_servers() {
    let dir = tempfile::tempdir().unwrap();
    let tb = dir.path().join("tb");
    let mut child = Command::new(mon_bin())
        .args(["testbed", "--nodes", "3", "--port", "21231", "--dir"])
        .arg(&tb)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let guard = Servers(Vec::new());
    let rx = lines_of(&mut child);
    let mut exports = String::new();
    let t = Instant::now();
    loop {
        let left = Duration::from_secs(90).saturating_sub(t.elapsed());
        let Ok(line) = rx.recv_timeout(left) else {
            let _ = child.kill();
            panic!("the testbed printed no Ctrl-C line; exports so far: {exports}");
        };
        if line.starts_with("export ") {
            exports.push_str(&line);
            exports.push('\n');
        }
        if line.contains("Ctrl-C") {
            break;
        }
    }
    let home = tempfile::tempdir().unwrap();
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!("{exports}mon count --json && mon exec uname -r"))
        .env_remove("MON_SERVER")
        .env_remove("MON_SLICE")
        .env_remove("MON_KEY")
        .env_remove("MON_KNOWN_NODES")
        .env_remove("SSH_AUTH_SOCK")
        .env_remove("XDG_CONFIG_HOME")
        .env("HOME", home.path())
        .output()
        .unwrap();
    let first = String::from_utf8_lossy(&out.stdout);
    let v: Value = first
        .lines()
        .next()
        .and_then(|l| serde_json::from_str(l).ok())
        .unwrap_or(Value::Null);
    assert_eq!(v["result"], 3, "{exports}\n{}", text(&out));
    assert!(first.contains("exit 0 on 3 nodes"), "{}", text(&out));

    // Ctrl-C (SIGINT to the testbed alone): it stops every server itself, each with its
    // `server.stop` record.
    let st = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    let t = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if t.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            panic!("the testbed did not stop on SIGINT");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    drop(guard);
    for i in 1..=3 {
        let audit = std::fs::read_to_string(tb.join(format!("n{i}/state/audit.jsonl"))).unwrap();
        assert!(
            audit.contains("server.stop"),
            "n{i} was not stopped cleanly:\n{audit}"
        );
    }
}

#[test]
fn a_failed_testbed_points_at_a_log_that_still_exists() {
    let tmp = tempfile::tempdir().unwrap();
    // n2's address is taken: its server cannot bind and exits.
    let _taken = std::net::UdpSocket::bind("127.0.0.3:21241").unwrap();
    let out = Command::new(mon_bin())
        .args(["testbed", "--nodes", "2", "--port", "21241", "--", "count"])
        .env("TMPDIR", tmp.path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    let log = err
        .split("see ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .map(PathBuf::from)
        .unwrap_or_else(|| panic!("no log named: {err}"));
    assert!(log.ends_with("n2/server.log"), "{err}");
    let text = std::fs::read_to_string(&log).unwrap_or_else(|e| panic!("{}: {e}", log.display()));
    assert!(text.contains("binding UDP 127.0.0.3:21241"), "{text}");
}
