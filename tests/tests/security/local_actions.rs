//! Issue 10, local actions under attack (SECURITY.md, "Issue 10: local actions under attack"):
//! attacks on what a node does as the run-as user, each asserting the wanted behaviour.
//! Needs root (`run-as="nobody"`).

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use super::{client_with_key, cluster, keygen, policy_events, pub_line, run, set_signers};

fn chmod(p: &Path, mode: u32) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

/// FIXED: `grep-paths` is checked on the path's text, and the file is opened following
/// symbolic links: a local user who may create a link below an allowed path (a
/// world-writable log directory) let a reader confined to it search any file the run-as
/// user can read. The node now checks the real path of the file it opened against the
/// principal's grep-paths too, and refuses the link naming where it leads.
#[test]
fn a_symlink_below_grep_paths_does_not_escape_it() {
    if run(Command::new("id").arg("-u")).stdout.trim() != "0" {
        return;
    }
    let c = cluster(2, 18797);
    let home = tempfile::tempdir().unwrap();
    let reader = keygen(home.path(), "reader", "ed25519", "");
    let original = std::fs::read_to_string(super::signers_path(&c, 1)).unwrap();
    set_signers(
        &c,
        &format!(
            "{original}reader@lab namespaces=\"mon-read@mon\" {}\n",
            pub_line(&reader)
        ),
    );
    let d = tempfile::Builder::new()
        .prefix("mon-local-")
        .tempdir()
        .unwrap();
    chmod(d.path(), 0o755);
    let logs = d.path().join("logs");
    let private = d.path().join("private");
    for dir in [&logs, &private] {
        std::fs::create_dir(dir).unwrap();
    }
    // A log directory the application (a local user) writes; not sticky, so
    // fs.protected_symlinks does not stop its links being followed.
    chmod(&logs, 0o755);
    chmod(&private, 0o755);
    let secret = private.join("token.txt");
    std::fs::write(&secret, "TOKEN-abc123\n").unwrap();
    chmod(&secret, 0o644);
    // What the application's user can do in its log directory.
    let link = logs.join("app.log");
    std::os::unix::fs::symlink(&secret, &link).unwrap();

    let before: Vec<usize> = (1..=c.n).map(|i| policy_events(&c, i)).collect();
    for i in 1..=c.n {
        let f = c.node_dir(i).join("config/slices/testbed/mon_policy");
        let text = std::fs::read_to_string(&f).unwrap();
        std::fs::write(
            &f,
            format!(
                "{text}reader@lab run-as=\"nobody\",grep-paths=\"{}\"\n",
                logs.display()
            ),
        )
        .unwrap();
    }
    let t = Instant::now();
    for i in 1..=c.n {
        while policy_events(&c, i) <= before[i as usize - 1] {
            assert!(t.elapsed() < Duration::from_secs(15), "n{i} reload");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    let grep = |file: &Path| {
        let r = run(client_with_key(&c, &reader, home.path())
            .args(["--json", "filter", "grep", "TOKEN-abc"])
            .arg(file));
        (r.code, r.json()["result"].clone(), format!("{r:?}"))
    };
    // Control: the file itself is outside grep-paths.
    let (code, _, out) = grep(&secret);
    assert_eq!(code, 3, "{out}");
    assert!(out.contains("grep-path-denied"), "{out}");
    // Through the link below grep-paths: must not answer either.
    let (code, matched, out) = grep(&link);
    assert_eq!(code, 1, "every node refused to search: {out}");
    assert_eq!(matched, serde_json::json!([]), "escaped grep-paths: {out}");
    assert!(out.contains("grep-path-denied: "), "{out}");
    assert!(out.contains("outside grep-paths"), "{out}");
    assert!(out.contains("token.txt"), "{out}");
}
