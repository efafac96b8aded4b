//! The server's optional configuration file: the same settings as `mon server`'s flags, one
//! `KEY VALUE` or `KEY = VALUE` line each (`settings.rs`, shared with the client's config;
//! `join`, `resource` and `run-as-users` may repeat). Read from `--config FILE`, else from `CONFIG_DIR/server.conf`
//! when it exists. The file's settings come first and the command line's after them, so a
//! flag given on the command line wins (for `join`, `resource` and `run-as-users`, both lists
//! are used). Every line is checked
//! like its flag would be; an error names the file and the line.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::Parser;

/// Name of the file looked for in the config directory.
pub const FILE_NAME: &str = "server.conf";

/// The settings a file may hold: the long flags of `mon server`.
const KEYS: &[&str] = &[
    "config-dir",
    "state-dir",
    "listen",
    "advertise",
    "join",
    "name",
    "resource",
    "skew",
    "push-policy",
    "ping-interval-ms",
    "run-as-users",
    "max-sessions",
    "max-sessions-per-key",
    "max-sessions-per-slice",
    "go-wait-ms",
    "max-runs",
    "max-interactive-per-key",
    "max-interactive-lifetime-s",
    "audit-rotate-size",
    "audit-rotate-age",
    "audit-keep",
    "log-format",
];

#[derive(Parser)]
#[command(no_binary_name = true)]
struct Probe {
    #[command(flatten)]
    _args: super::ServerArgs,
}

/// `argv` of the whole program with the configuration file's settings inserted right after
/// `server` (unchanged for anything but `mon server …` without a subcommand).
pub fn expand(argv: Vec<OsString>) -> anyhow::Result<Vec<OsString>> {
    if argv.get(1).is_none_or(|a| a != "server") || argv.get(2).is_some_and(|a| a == "init") {
        return Ok(argv);
    }
    let Some(path) = file_for(&argv[2..]) else {
        return Ok(argv);
    };
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("reading the configuration file {}", path.display()))?;
    let extra = parse(&path, &text)?;
    let mut out = argv[..2].to_vec();
    out.extend(extra);
    out.extend_from_slice(&argv[2..]);
    Ok(out)
}

/// The file named by `--config`, else `CONFIG_DIR/server.conf` if it exists (`CONFIG_DIR`:
/// `--config-dir`, else [`super::DEFAULT_CONFIG_DIR`]).
fn file_for(args: &[OsString]) -> Option<PathBuf> {
    let value = |flag: &str| -> Option<PathBuf> {
        let eq = format!("{flag}=");
        let mut it = args.iter();
        let mut found = None;
        while let Some(a) = it.next() {
            let s = a.to_string_lossy();
            if s == flag {
                found = it.next().map(PathBuf::from);
            } else if let Some(v) = s.strip_prefix(&eq) {
                found = Some(PathBuf::from(v));
            }
        }
        found
    };
    if let Some(f) = value("--config") {
        return Some(f);
    }
    let dir = value("--config-dir").unwrap_or_else(|| PathBuf::from(super::DEFAULT_CONFIG_DIR));
    let f = dir.join(FILE_NAME);
    f.is_file().then_some(f)
}

/// The flags the file stands for, each line checked as its flag (`settings.rs`).
fn parse(path: &Path, text: &str) -> anyhow::Result<Vec<OsString>> {
    crate::settings::flags(path, text, KEYS, |flag, value| {
        Probe::try_parse_from([flag, value])
            .map(|_| ())
            .map_err(|e| e.to_string())
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn os(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    #[test]
    fn file_settings_come_before_the_command_line() {
        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join(FILE_NAME);
        std::fs::write(
            &conf,
            "# node 7\nlisten = 10.0.0.7:7460\njoin 10.0.0.1:7460\njoin=10.0.0.2:7460\n\
             resource \"temp=cat /sys/class/thermal/thermal_zone0/temp\"\nskew 60\n",
        )
        .unwrap();
        let d = dir.path().to_str().unwrap();
        let argv = os(&["mon", "server", "--config-dir", d, "--skew", "30"]);
        let got = expand(argv).unwrap();
        let want = os(&[
            "mon",
            "server",
            "--listen",
            "10.0.0.7:7460",
            "--join",
            "10.0.0.1:7460",
            "--join",
            "10.0.0.2:7460",
            "--resource",
            "temp=cat /sys/class/thermal/thermal_zone0/temp",
            "--skew",
            "60",
            "--config-dir",
            d,
            "--skew",
            "30",
        ]);
        assert_eq!(got, want);
        // Without a file, or for `server init`, nothing changes.
        std::fs::remove_file(&conf).unwrap();
        let argv = os(&["mon", "server", "--config-dir", d]);
        assert_eq!(expand(argv.clone()).unwrap(), argv);
        let init = os(&["mon", "server", "init", "--config", "/nonexistent"]);
        assert_eq!(expand(init.clone()).unwrap(), init);
    }

    #[test]
    fn run_as_users_lines() {
        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join(FILE_NAME);
        std::fs::write(
            &conf,
            "run-as-users lab nobody,deploy\nrun-as-users = web www-data\n",
        )
        .unwrap();
        let argv = os(&["mon", "server", "--config", conf.to_str().unwrap()]);
        let got = expand(argv).unwrap();
        assert_eq!(
            got[2..6],
            os(&[
                "--run-as-users",
                "lab nobody,deploy",
                "--run-as-users",
                "web www-data"
            ])[..]
        );
        std::fs::write(&conf, "run-as-users lab\n").unwrap();
        let argv = os(&["mon", "server", "--config", conf.to_str().unwrap()]);
        let e = expand(argv).unwrap_err().to_string();
        assert!(e.contains("line 1") && e.contains("SLICE USER"), "{e}");
        std::fs::write(&conf, "run-as-users lab -x\n").unwrap();
        let argv = os(&["mon", "server", "--config", conf.to_str().unwrap()]);
        let e = expand(argv).unwrap_err().to_string();
        assert!(e.contains("not a valid user name"), "{e}");
    }

    #[test]
    fn errors_name_the_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join("mon.conf");
        std::fs::write(&conf, "listen 127.0.0.1:7460\n\nskew soon\n").unwrap();
        let argv = os(&["mon", "server", "--config", conf.to_str().unwrap()]);
        let e = expand(argv).unwrap_err().to_string();
        assert!(e.contains("mon.conf: line 3"), "{e}");
        assert!(e.contains("soon"), "{e}");
        std::fs::write(&conf, "lissten 127.0.0.1:7460\n").unwrap();
        let argv = os(&["mon", "server", "--config", conf.to_str().unwrap()]);
        let e = expand(argv).unwrap_err().to_string();
        assert!(e.contains("line 1: unknown setting `lissten`"), "{e}");
        let argv = os(&["mon", "server", "--config", "/nonexistent/mon.conf"]);
        let e = format!("{:#}", expand(argv).unwrap_err());
        assert!(e.contains("/nonexistent/mon.conf"), "{e}");
    }

    #[test]
    fn run_and_interactive_limits() {
        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join(FILE_NAME);
        std::fs::write(
            &conf,
            "max-runs 2\nmax-interactive-per-key 1\nmax-interactive-lifetime-s = 120\n",
        )
        .unwrap();
        let argv = os(&["mon", "server", "--config", conf.to_str().unwrap()]);
        let got = expand(argv).unwrap();
        let a = Probe::try_parse_from(&got[2..]).unwrap()._args;
        assert_eq!(
            (
                a.max_runs,
                a.max_interactive_per_key,
                a.max_interactive_lifetime_s
            ),
            (2, 1, 120)
        );
        // The defaults are the node's.
        let a = Probe::try_parse_from(["--state-dir", "x"]).unwrap()._args;
        assert_eq!(
            (
                a.max_runs,
                a.max_interactive_per_key,
                a.max_interactive_lifetime_s
            ),
            (
                mon_proto::node::DEFAULT_MAX_RUNS,
                mon_proto::node::DEFAULT_MAX_INTERACTIVE_PER_KEY,
                mon_proto::timing::INTERACTIVE_LIFETIME_S
            )
        );
        // Nonsense is refused, naming the file's line.
        for (text, line) in [
            ("max-runs 0\n", 1),
            ("max-runs 2\nmax-runs 100000\n", 2),
            ("max-interactive-per-key 1.5\n", 1),
            ("max-interactive-per-key 0\n", 1),
            ("max-interactive-lifetime-s 5\n", 1),
            ("max-interactive-lifetime-s 86400\n", 1),
            ("max-runs lots\n", 1),
        ] {
            std::fs::write(&conf, text).unwrap();
            let argv = os(&["mon", "server", "--config", conf.to_str().unwrap()]);
            let e = expand(argv).unwrap_err().to_string();
            assert!(
                e.contains(&format!("line {line}")) && e.contains("expected a whole number"),
                "{text:?}: {e}"
            );
        }
    }

    #[test]
    fn audit_rotation_settings() {
        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join(FILE_NAME);
        std::fs::write(
            &conf,
            "audit-rotate-size 512K\naudit-rotate-age 1d\naudit-keep all\n",
        )
        .unwrap();
        let argv = os(&["mon", "server", "--config", conf.to_str().unwrap()]);
        let got = expand(argv).unwrap();
        let args = Probe::try_parse_from(&got[2..]).unwrap()._args;
        let r = args.rotation();
        assert_eq!(r.max_bytes, Some(512 << 10));
        assert_eq!(r.max_age, Some(std::time::Duration::from_secs(86_400)));
        assert_eq!(r.keep, None);
        // The defaults: 64 MiB, never by age, 10 files.
        let args = Probe::try_parse_from(["--state-dir", "x"]).unwrap()._args;
        let r = args.rotation();
        assert_eq!(r.max_bytes, Some(64 << 20));
        assert_eq!((r.max_age, r.keep), (None, Some(10)));
        std::fs::write(&conf, "audit-keep 10\naudit-rotate-size 12X\n").unwrap();
        let argv = os(&["mon", "server", "--config", conf.to_str().unwrap()]);
        let e = expand(argv).unwrap_err().to_string();
        assert!(e.contains("line 2") && e.contains("expected a size"), "{e}");
    }
}
