//! `mon server` with a settings file: a mistake in CONFIG_DIR/server.conf stops start-up
//! with the file and line, before anything listens.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

#[test]
fn a_bad_line_in_server_conf_stops_start_up_naming_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    std::fs::create_dir(&config).unwrap();
    std::fs::write(
        config.join("server.conf"),
        "# test node\nname n1\nping-interval-ms often\n",
    )
    .unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_mon"))
        .arg("server")
        .arg("--config-dir")
        .arg(&config)
        .arg("--state-dir")
        .arg(dir.path().join("state"))
        .output()
        .expect("run mon server");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    let want = format!("{}: line 3:", config.join("server.conf").display());
    assert!(err.contains(&want), "{err}");
    assert!(err.contains("often"), "{err}");
    assert!(!dir.path().join("state").exists(), "nothing may start");
}
