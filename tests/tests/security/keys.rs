//! The user's key, loaded by the real `mon` client: problems are local errors (exit 2) that
//! name the file and say what to do, found before any server is contacted; a key in a real
//! ssh-agent signs sessions that the servers accept.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};

use mon_tests::mon_bin;

use super::{bare_client, cluster, keygen, run, Agent, Ran};

/// `mon --key KEY count` against a port nobody listens on: whatever fails, fails before the
/// network. Runs in a new session (`setsid`), so the client has no controlling terminal.
fn count_with_key(key: &Path, home: &Path) -> Ran {
    let known = home.join("known_nodes");
    std::fs::write(&known, "").expect("known_nodes");
    run(Command::new("setsid")
        .arg("-w")
        .arg(mon_bin())
        .arg("--key")
        .arg(key)
        .arg("--known-nodes")
        .arg(&known)
        .args(["--server", "127.0.0.1:9", "--slice", "testbed", "count"])
        .env_remove("SSH_AUTH_SOCK")
        .env("HOME", home)
        .stdin(Stdio::null()))
}

fn assert_local_key_error(r: &Ran, key: &Path, needles: &[&str]) {
    assert_eq!(r.code, 2, "{r:?}");
    let shown = key.display().to_string();
    assert!(r.stderr.contains(&shown), "message names {shown}: {r:?}");
    for n in needles {
        assert!(r.stderr.contains(n), "message says {n:?}: {r:?}");
    }
    assert!(
        !r.stderr.contains("127.0.0.1:9"),
        "the key must be checked before any server is contacted: {r:?}"
    );
}

#[test]
fn key_problems_are_local_errors_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();

    // A passphrase-protected key and no terminal to ask on.
    let pp = keygen(home, "pp_ed25519", "ed25519", "correct horse battery");
    let r = count_with_key(&pp, home);
    assert_local_key_error(&r, &pp, &["passphrase-protected", "no terminal", "ssh-add"]);

    // A private key that group and others can read: refused, as ssh does.
    let open = keygen(home, "open_ed25519", "ed25519", "");
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o644)).unwrap();
    let r = count_with_key(&open, home);
    assert_local_key_error(&r, &open, &["0644", "too open", "chmod 600"]);

    // Other key types.
    for kind in ["rsa", "ecdsa"] {
        let k = keygen(home, &format!("{kind}_key"), kind, "");
        let r = count_with_key(&k, home);
        assert_local_key_error(&r, &k, &["MON needs an Ed25519 key"]);
    }

    // A file that does not exist.
    let missing = home.join("no_such_key");
    let r = count_with_key(&missing, home);
    assert_local_key_error(&r, &missing, &["no such key file"]);

    // Control: a good key gets past the key check (and then fails on the network, exit 2,
    // with a message about the server, not the key).
    let good = keygen(home, "good_ed25519", "ed25519", "");
    let r = count_with_key(&good, home);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("127.0.0.1:9"), "{r:?}");
}

#[test]
fn ssh_agent_signs_sessions_the_servers_accept() {
    let c = cluster(3, 18101);
    let home = tempfile::tempdir().unwrap();
    let mut agent = Agent::start(home.path());
    agent.add(&c.user_key());
    let pubkey = c.user_key().with_extension("pub");

    // --key FILE.pub: the private half stays in the agent.
    let r = run(bare_client(&c, 1, home.path())
        .arg("--key")
        .arg(&pubkey)
        .env("SSH_AUTH_SOCK", &agent.sock)
        .args(["--json", "count"]));
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.json()["result"], 3, "{r:?}");

    // No --key: the agent's Ed25519 key (HOME has no ~/.ssh/id_ed25519).
    let r = run(bare_client(&c, 1, home.path())
        .env("SSH_AUTH_SOCK", &agent.sock)
        .args(["--json", "count"]));
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.json()["result"], 3, "{r:?}");
    let r = run(Command::new(mon_bin())
        .args(["key", "show", "--json"])
        .env("SSH_AUTH_SOCK", &agent.sock)
        .env("HOME", home.path()));
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.json()["source"].as_str().unwrap_or("").contains("agent"),
        "{r:?}"
    );

    // The agent is gone: a clear local error, nothing sent.
    agent.stop();
    let r = run(bare_client(&c, 1, home.path())
        .arg("--key")
        .arg(&pubkey)
        .env("SSH_AUTH_SOCK", &agent.sock)
        .arg("count"));
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("ssh-agent"), "{r:?}");

    // Without an agent, a .pub key cannot sign: the message says what to do.
    let r = run(bare_client(&c, 1, home.path())
        .arg("--key")
        .arg(&pubkey)
        .arg("count"));
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("SSH_AUTH_SOCK is not set"), "{r:?}");

    // No --key and no agent: ~/.ssh/id_ed25519.
    let r = run(bare_client(&c, 1, home.path()).arg("count"));
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr.contains("id_ed25519"),
        "says where it looked: {r:?}"
    );
    let ssh = home.path().join(".ssh");
    std::fs::create_dir(&ssh).unwrap();
    std::fs::copy(c.user_key(), ssh.join("id_ed25519")).unwrap();
    std::fs::set_permissions(
        ssh.join("id_ed25519"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    let r = run(bare_client(&c, 1, home.path()).args(["--json", "count"]));
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.json()["result"], 3, "{r:?}");
}
