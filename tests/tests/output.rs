//! End-to-end: what an operator reads. Real `mon server` processes on 127.0.0.x; the client's
//! stdout holds only the answer, diagnostics go to stderr, node lists are folded as node sets,
//! `--targets` takes node sets with exclusions, no escape byte reaches a pipe, and a closed
//! pipe ends the client quietly.

use std::io::{BufRead, BufReader};
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use mon_tests::Cluster;

const N: u32 = 12;
/// This file's ports: 21100–21199.
const PORT: u16 = 21100;

fn start() -> Cluster {
    let c = Cluster::start(N, PORT, |i| {
        vec!["--resource".into(), format!("val=echo {i}")]
    });
    assert_eq!(
        c.settle(u64::from(N), Duration::from_secs(90)),
        u64::from(N),
        "membership did not settle"
    );
    c
}

fn run(c: &Cluster, args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let mut cmd = c.client();
    cmd.env_remove("NO_COLOR").args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out: Output = cmd.output().expect("run mon");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn no_panic(stderr: &str) {
    assert!(
        !stderr.contains("panicked") && !stderr.to_lowercase().contains("broken pipe"),
        "{stderr}"
    );
}

/// `--targets` with a node set and exclusions selects exactly those nodes.
fn targets_take_node_sets(c: &Cluster) {
    let (code, v, err) = c.json(&[
        "--targets",
        "n[1-10],!n[3-4],!n7",
        "filter",
        "val",
        "GE",
        "0",
    ]);
    assert_eq!(code, 0, "{err}\n{v}");
    let mut got: Vec<String> = v["result"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|n| n.as_str().unwrap_or("").to_string())
        .collect();
    got.sort();
    let mut want: Vec<String> = [1, 2, 5, 6, 8, 9, 10].map(|i| format!("n{i}")).to_vec();
    want.sort();
    assert_eq!(got, want, "{v}");
    assert_eq!(v["relayed"], u64::from(N) - 7, "{v}");
    // A malformed node set is refused before any server is contacted.
    let (code, out, err) = run(c, &["--targets", "n[1-", "count"], &[]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(err.contains("'[' without its ']'"), "{err}");
}

/// Human output: the folded answer on stdout, the coverage line on stderr, no escape byte.
fn human_output_is_split_and_plain(c: &Cluster) {
    for env in [&[][..], &[("NO_COLOR", "1")][..]] {
        let (code, out, err) = run(c, &["filter", "val", "GE", "0"], env);
        assert_eq!(code, 0, "{out}{err}");
        assert_eq!(
            out, "n[1-12] (12)\n",
            "stdout holds only the answer; stderr: {err}"
        );
        assert!(err.contains("answered 12 / missing 0 / denied 0"), "{err}");
        assert!(
            !out.contains('\u{1b}') && !err.contains('\u{1b}'),
            "{out:?} {err:?}"
        );
    }
    let (code, out, err) = run(c, &["avg", "mem"], &[]);
    assert_eq!(code, 0, "{out}{err}");
    let (value, rest) = out.split_once(' ').unwrap_or(("", ""));
    assert!(value.parse::<f64>().is_ok(), "{out}");
    assert!(
        ["KiB", "MiB", "GiB", "TiB"]
            .iter()
            .any(|u| rest == format!("{u} (over 12 nodes)\n")),
        "mem carries its unit: {out}"
    );
    let (code, out, err) = run(c, &["exec", "--", "echo", "hi"], &[]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.starts_with("== exit 0 on 12 nodes: n[1-12]\n"), "{out}");
    command_output_is_escaped_only_on_a_terminal(c);
}

/// `mon exec`'s output is the command's own: written as is into a pipe, escaped on a
/// terminal (here a pty made by util-linux `script`), as is there with `--raw`.
fn command_output_is_escaped_only_on_a_terminal(c: &Cluster) {
    let argv = ["exec", "--targets", "n1", "--", "printf", r"\033[2Jx\n"];
    let (code, out, err) = run(c, &argv, &[]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("    \u{1b}[2Jx\n"),
        "piped: as written: {out:?}"
    );
    let on_tty = |extra: &[&str]| {
        let client = c.client();
        let mut line = shell_word(&client.get_program().to_string_lossy());
        for a in client.get_args().map(|a| a.to_string_lossy().into_owned()) {
            line = format!("{line} {}", shell_word(&a));
        }
        for a in argv[..3].iter().chain(extra).chain(&argv[3..]) {
            line = format!("{line} {}", shell_word(a));
        }
        let mut cmd = std::process::Command::new("script");
        cmd.args(["-qec", &line, "/dev/null"]);
        for (k, v) in client.get_envs() {
            match v {
                Some(v) => cmd.env(k, v),
                None => cmd.env_remove(k),
            };
        }
        if let Some(d) = client.get_current_dir() {
            cmd.current_dir(d);
        }
        let o = cmd.stdin(Stdio::null()).output().expect("run script");
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let tty = on_tty(&[]);
    assert!(
        tty.contains(r"    \u{1b}[2Jx"),
        "a terminal: escaped: {tty:?}"
    );
    assert!(!tty.contains("\u{1b}[2J"), "{tty:?}");
    let raw = on_tty(&["--raw"]);
    assert!(raw.contains("    \u{1b}[2Jx"), "--raw: as written: {raw:?}");
}

fn shell_word(a: &str) -> String {
    format!("'{}'", a.replace('\'', "'\\''"))
}

/// A closed pipe: `mon members | head -1`, and a client whose stdout is closed before it
/// writes: no panic, no message, the usual status.
fn closed_pipe_ends_quietly(c: &Cluster) {
    let mut child = c
        .client()
        .arg("members")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn mon members");
    let mut first = String::new();
    if let Some(out) = child.stdout.take() {
        BufReader::new(out)
            .read_line(&mut first)
            .expect("read a line");
    }
    assert!(first.starts_with("NAME"), "{first}");
    let out = child.wait_with_output().expect("wait");
    let err = String::from_utf8_lossy(&out.stderr);
    no_panic(&err);
    assert_eq!(out.status.code(), Some(0), "{err}");

    // stdout closed before the answer comes: every write fails with EPIPE.
    let mut child = c
        .client()
        .args(["filter", "val", "GE", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn mon filter");
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("wait");
    let err = String::from_utf8_lossy(&out.stderr);
    no_panic(&err);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.starts_with("answered 12 / missing 0"), "{err}");
}

/// Two servers stopped: the missing nodes come folded on stderr (`n[10,12] (2)`), once the
/// overlay gives them the same reason; stdout holds the count alone.
fn missing_nodes_are_folded(c: &mut Cluster) {
    c.kill(10);
    c.kill(12);
    let t = Instant::now();
    let mut last = String::new();
    while t.elapsed() < Duration::from_secs(90) {
        let (code, out, err) = run(c, &["--timeout", "3", "count"], &[]);
        assert_eq!(code, 1, "partial: {out}{err}");
        assert_eq!(out, "10\n", "stdout holds only the answer; stderr: {err}");
        let missing: Vec<&str> = err.lines().filter(|l| l.starts_with("missing")).collect();
        if missing.len() == 1 && missing[0].starts_with("missing: n[10,12] (2): ") {
            assert!(err.contains("answered 10 / missing 2"), "{err}");
            return;
        }
        last = err;
        std::thread::sleep(Duration::from_secs(2));
    }
    panic!("the missing nodes were never folded into one line:\n{last}");
}

#[test]
fn an_operator_reads_folded_node_sets_and_plain_split_output() {
    let mut c = start();
    targets_take_node_sets(&c);
    human_output_is_split_and_plain(&c);
    closed_pipe_ends_quietly(&c);
    missing_nodes_are_folded(&mut c);
}
