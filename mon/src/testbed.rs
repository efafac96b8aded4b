//! `mon testbed`: N real servers on 127.0.0.2… with generated node keys, known_nodes, a user
//! key (made by ssh-keygen) and a slice policy (exec, grep and push as the invoking user, or
//! as `nobody` under root, allowed in each node's server.conf); waits for membership to
//! settle, then runs a command through the first server, or prints how to and runs until
//! Ctrl-C.

use std::net::{Ipv4Addr, SocketAddr};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::out::{errln, outln};
use anyhow::{bail, Context as _};
use mon_keys::nodekey::NodeKey;

/// Arguments of `mon testbed`.
#[derive(Debug, Clone, clap::Args)]
pub struct TestbedArgs {
    /// Number of servers.
    #[arg(long, default_value_t = 10)]
    pub nodes: u32,
    /// Directory for keys, policies, state and logs [default: a temporary directory, removed
    /// at exit].
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Port every server listens on (each has its own 127.0.0.x address).
    #[arg(long, default_value_t = 7460)]
    pub port: u16,
    /// Seconds to wait for membership to settle.
    #[arg(long, default_value_t = 60)]
    pub settle_timeout: u64,
    /// Extra `--resource NAME=COMMAND` for every server.
    #[arg(long = "resource", value_name = "NAME=COMMAND")]
    pub resources: Vec<String>,
    /// Only write the keys, known_nodes and policies into --dir, start nothing (for scripts
    /// and tests that start the servers themselves).
    #[arg(long, requires = "dir")]
    pub prepare_only: bool,
    /// Command to run through the first server (e.g. `avg load`), then exit with its status.
    #[arg(last = true)]
    pub command: Vec<String>,
}

/// The address of testbed node `i` (1-based): 127.0.0.2, 127.0.0.3, … 127.0.1.1, …
pub fn node_addr(i: u32, port: u16) -> SocketAddr {
    let n = i + 1;
    let ip = Ipv4Addr::new(
        127,
        ((n >> 16) & 0xff) as u8,
        ((n >> 8) & 0xff) as u8,
        (n & 0xff) as u8,
    );
    SocketAddr::new(ip.into(), port)
}

struct Servers(Vec<Child>);

impl Drop for Servers {
    /// SIGTERM to every server (each writes its `server.stop` record), up to 5 s for them to
    /// exit, then SIGKILL to any left.
    fn drop(&mut self) {
        for c in &self.0 {
            let pid = i32::try_from(c.id())
                .ok()
                .and_then(rustix::process::Pid::from_raw);
            if let Some(pid) = pid {
                let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
            }
        }
        let t = Instant::now();
        for c in &mut self.0 {
            while t.elapsed() < Duration::from_secs(5) {
                if let Ok(Some(_)) = c.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Writes a testbed file with mode 0644 whatever the umask: servers refuse `known_nodes` and
/// policy files that group or others can write.
fn write(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644))
        .with_context(|| format!("setting the mode of {}", path.display()))
}

/// Lays out the testbed's files; returns the user key path.
fn lay_out(dir: &Path, n: u32, port: u16) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let user_key = dir.join("user_ed25519");
    make_user_key(&user_key)?;
    let user_pub = std::fs::read_to_string(dir.join("user_ed25519.pub"))?;
    let user_pub = user_pub
        .split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ");
    let known = make_node_keys(dir, n, port)?;
    write(&dir.join("known_nodes"), &known)?;
    let (run_as, push_dir) = prepare_run_as(dir)?;
    let signers = format!("testbed-user namespaces=\"mon-*@mon\" {user_pub} testbed\n");
    let policy = format!(
        "# Testbed: push narrowed to the testbed's directory; everything as {run_as}.\ntestbed-user push-dirs=\"{}\",run-as=\"{run_as}\"\n",
        push_dir.display()
    );
    let server_conf = format!(
        "# The run-as users each slice may name on this node.\nrun-as-users testbed {run_as}\n"
    );
    for i in 1..=n {
        let conf = dir.join(format!("n{i}/config"));
        write(&conf.join("known_nodes"), &known)?;
        write(&conf.join("slices/testbed/allowed_signers"), &signers)?;
        write(&conf.join("slices/testbed/mon_policy"), &policy)?;
        write(&conf.join(crate::server::conf::FILE_NAME), &server_conf)?;
    }
    Ok(user_key)
}

/// Makes the testbed user's SSH key with `ssh-keygen` unless it exists.
fn make_user_key(user_key: &Path) -> anyhow::Result<()> {
    if user_key.exists() {
        return Ok(());
    }
    let st = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "testbed-user", "-f"])
        .arg(user_key)
        .stdin(Stdio::null())
        .status()
        .context("running ssh-keygen (install openssh-client)")?;
    if !st.success() {
        bail!("ssh-keygen failed making {}", user_key.display());
    }
    Ok(())
}

/// Makes each node's directories and node key (kept when it exists); returns the
/// `known_nodes` text naming them all.
fn make_node_keys(dir: &Path, n: u32, port: u16) -> anyhow::Result<String> {
    let mut known = String::new();
    for i in 1..=n {
        let nd = dir.join(format!("n{i}"));
        let conf = nd.join("config");
        std::fs::create_dir_all(conf.join("slices/testbed"))?;
        std::fs::create_dir_all(nd.join("state"))?;
        let kp = conf.join("node_ed25519_key");
        let key = if kp.exists() {
            NodeKey::load(&kp)?
        } else {
            let k = NodeKey::generate(&mut rand::rngs::OsRng);
            k.save(&kp, &format!("n{i}"))?;
            k
        };
        known.push_str(&format!(
            "n{i},{} {}\n",
            known_addr(node_addr(i, port)),
            key.public_openssh()
        ));
    }
    Ok(known)
}

/// A node's address as its known_nodes line gives it: the IP, with the port (`[IP]:PORT`)
/// when it is not the default, so `--server nN` finds it.
fn known_addr(a: SocketAddr) -> String {
    if a.port() == mon_keys::addr::DEFAULT_PORT {
        a.ip().to_string()
    } else {
        format!("[{}]:{}", a.ip(), a.port())
    }
}

/// Picks the run-as user and makes the push directory it may write; returns both.
fn prepare_run_as(dir: &Path) -> anyhow::Result<(String, PathBuf)> {
    // Exec, grep and push run as the invoking user, or as `nobody` under root (a root server
    // acts for a user only as a run-as user its server.conf allows).
    let root = crate::asuser::is_root();
    let run_as = if root {
        RUN_AS_UNDER_ROOT.to_string()
    } else {
        crate::asuser::current_name().context("looking up the invoking user")?
    };
    let push_dir = dir.join("push");
    std::fs::create_dir_all(&push_dir)?;
    if root {
        // The run-as user must reach the push dir: the testbed directory is searchable (its
        // keys stay 0600), and the push dir is the user's.
        let user = crate::asuser::find(&run_as)?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o711))
            .with_context(|| format!("chmod 711 {}", dir.display()))?;
        std::os::unix::fs::chown(&push_dir, Some(user.uid), Some(user.gid))
            .with_context(|| format!("chown {run_as} {}", push_dir.display()))?;
    }
    Ok((run_as, push_dir))
}

/// The run-as user of a testbed started by root.
pub const RUN_AS_UNDER_ROOT: &str = "nobody";

/// Runs the testbed. A temporary directory is removed at the end unless the testbed failed:
/// then it stays, so the server logs the error points at can be read.
pub fn run(a: TestbedArgs) -> anyhow::Result<u8> {
    check_args(&a)?;
    let Some(dir) = &a.dir else {
        let tmp = tempfile::Builder::new().prefix("mon-testbed-").tempdir()?;
        let r = run_in(&a, tmp.path());
        if r.is_err() {
            let kept = tmp.keep();
            errln!(
                "testbed: kept {} (server logs in nN/server.log)",
                kept.display()
            );
        }
        return r;
    };
    run_in(&a, dir)
}

/// Runs the testbed in `dir`.
fn run_in(a: &TestbedArgs, dir: &Path) -> anyhow::Result<u8> {
    let exe = std::env::current_exe().context("locating the mon binary")?;
    errln!("testbed: {} servers in {}", a.nodes, dir.display());
    let user_key = lay_out(dir, a.nodes, a.port)?;
    if a.prepare_only {
        return Ok(crate::exit::OK);
    }
    let mut servers = start_servers(&exe, dir, a)?;
    let client = Client {
        exe: &exe,
        key: &user_key,
        dir,
        first: node_addr(1, a.port),
    };
    settle(&mut servers, &client, dir, a)?;
    if !a.command.is_empty() {
        let st = client.command(&a.command).status()?;
        return Ok(st
            .code()
            .and_then(|c| u8::try_from(c).ok())
            .unwrap_or(crate::exit::LOCAL_ERROR));
    }
    print_try_hint(&client);
    wait_for_ctrl_c()?;
    Ok(crate::exit::OK)
}

/// Blocks until Ctrl-C (the servers stop when the testbed drops them).
fn wait_for_ctrl_c() -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async { tokio::signal::ctrl_c().await })?;
    Ok(())
}

fn check_args(a: &TestbedArgs) -> anyhow::Result<()> {
    if a.nodes == 0 || a.nodes > 10_000 {
        bail!("--nodes must be between 1 and 10000");
    }
    Ok(())
}

/// Tells the user how to query the running testbed: an `export` block to paste into another
/// shell (the client reads MON_KEY, MON_KNOWN_NODES, MON_SERVER and MON_SLICE), then short
/// commands.
fn print_try_hint(client: &Client<'_>) {
    outln!("MON testbed is up. In another shell, paste:");
    outln!();
    crate::out::out!("{}", export_block(client));
    outln!();
    outln!("then: mon avg load | count | depth | topology | top 5 mem | histo load");
    outln!("      mon filter load G 0.5 | exec uname -r | members");
    outln!("Ctrl-C stops every server.");
}

/// The `export` lines that point `mon` at the testbed (POSIX sh; values single-quoted): the
/// entry is `n1`, found through the testbed's known_nodes.
fn export_block(client: &Client<'_>) -> String {
    let q = |p: &Path| shell_quote(&p.to_string_lossy());
    let bin_dir = client.exe.parent().unwrap_or(Path::new("."));
    format!(
        "export MON_KEY={} MON_KNOWN_NODES={}\nexport MON_SERVER=n1 MON_SLICE=testbed\nexport PATH={}:\"$PATH\"\n",
        q(client.key),
        q(&client.dir.join("known_nodes")),
        q(bin_dir),
    )
}

/// `s` single-quoted for a POSIX shell.
fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// Starts the servers n1… (each logs to its `server.log`), joining through the first three.
fn start_servers(exe: &Path, dir: &Path, a: &TestbedArgs) -> anyhow::Result<Servers> {
    let seeds: Vec<String> = (1..=a.nodes.min(3))
        .map(|i| node_addr(i, a.port).to_string())
        .collect();
    let mut servers = Servers(Vec::new());
    for i in 1..=a.nodes {
        let nd = dir.join(format!("n{i}"));
        let log = std::fs::File::create(nd.join("server.log"))?;
        let mut c = Command::new(exe);
        c.arg("server")
            .arg("--config-dir")
            .arg(nd.join("config"))
            .arg("--state-dir")
            .arg(nd.join("state"))
            .arg("--listen")
            .arg(node_addr(i, a.port).to_string())
            .arg("--name")
            .arg(format!("n{i}"))
            .arg("--join")
            .arg(seeds.join(","));
        for r in &a.resources {
            c.arg("--resource").arg(r);
        }
        c.stdin(Stdio::null()).stdout(Stdio::null()).stderr(log);
        let child = c.spawn().with_context(|| format!("starting server n{i}"))?;
        servers.0.push(child);
    }
    Ok(servers)
}

/// How the testbed runs `mon` as its user, against its first node.
struct Client<'a> {
    exe: &'a Path,
    key: &'a Path,
    dir: &'a Path,
    first: SocketAddr,
}

impl Client<'_> {
    /// `mon` with the testbed's key, known_nodes, entry node and slice, then `cmd`.
    fn command(&self, cmd: &[String]) -> Command {
        let mut c = Command::new(self.exe);
        // The testbed's settings are flags: they win over the caller's environment and config.
        c.arg("--key")
            .arg(self.key)
            .arg("--known-nodes")
            .arg(self.dir.join("known_nodes"))
            .arg("--server")
            .arg(self.first.to_string())
            .arg("--slice")
            .arg("testbed")
            .args(cmd)
            .env_remove("SSH_AUTH_SOCK");
        c
    }
}

/// Fails naming the log of the first server that exited.
fn check_servers_run(servers: &mut Servers, dir: &Path) -> anyhow::Result<()> {
    for (i, s) in servers.0.iter_mut().enumerate() {
        if let Ok(Some(st)) = s.try_wait() {
            bail!(
                "server n{} exited ({st}); see {}",
                i + 1,
                dir.join(format!("n{}/server.log", i + 1)).display()
            );
        }
    }
    Ok(())
}

/// One `count` through the first node: the count and the nodes missing, or `None` when the
/// answer is not JSON.
fn count_once(client: &Client<'_>) -> anyhow::Result<Option<(u64, Option<u64>)>> {
    let out = client
        .command(&[
            "--json".into(),
            "--timeout".into(),
            "3".into(),
            "count".into(),
        ])
        .stderr(Stdio::null())
        .output()?;
    Ok(serde_json::from_slice::<serde_json::Value>(&out.stdout)
        .ok()
        .map(|v| (v["result"].as_u64().unwrap_or(0), v["missing"].as_u64())))
}

/// Settles: until three counts in a row reach every node with nothing missing (or
/// `--settle-timeout`); fails if a server exits.
fn settle(
    servers: &mut Servers,
    client: &Client<'_>,
    dir: &Path,
    a: &TestbedArgs,
) -> anyhow::Result<()> {
    let t = Instant::now();
    let mut last = 0u64;
    let mut complete_in_a_row = 0;
    loop {
        check_servers_run(servers, dir)?;
        let mut complete = false;
        if let Some((count, missing)) = count_once(client)? {
            last = count;
            complete = last >= u64::from(a.nodes) && missing == Some(0);
        }
        complete_in_a_row = if complete { complete_in_a_row + 1 } else { 0 };
        if complete_in_a_row >= 3 {
            break;
        }
        if t.elapsed() > Duration::from_secs(a.settle_timeout) {
            errln!(
                "testbed: membership did not settle in {} s (count reached {last} of {}); going on",
                a.settle_timeout,
                a.nodes
            );
            break;
        }
        std::thread::sleep(Duration::from_millis(if complete { 1000 } else { 500 }));
    }
    errln!(
        "testbed: {} of {} servers answer (settled in {:.1} s)",
        last,
        a.nodes,
        t.elapsed().as_secs_f64()
    );
    Ok(())
}
