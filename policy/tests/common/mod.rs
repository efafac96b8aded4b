//! Shared helpers for the policy tests: real keys from ssh-keygen, slice directories.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use mon_policy::ssh_key::PublicKey;
use mon_policy::{Operation, Request};

/// A user key made by `ssh-keygen -t ed25519`.
pub struct Key {
    pub private: PathBuf,
    pub public_path: PathBuf,
    pub public: PublicKey,
    /// `ssh-ed25519 AAAA…` (no comment).
    pub line: String,
}

/// Generates an Ed25519 key `name` in `dir` with the real ssh-keygen.
pub fn keygen(dir: &Path, name: &str) -> Key {
    let line = keygen_line(dir, name, "ed25519");
    let public_path = dir.join(format!("{name}.pub"));
    let public = PublicKey::read_openssh_file(&public_path).unwrap();
    Key {
        private: dir.join(name),
        public_path,
        public,
        line,
    }
}

/// Generates a key of type `ty` (`ed25519`, `rsa`, `ecdsa`) and returns its
/// `keytype base64` line.
pub fn keygen_line(dir: &Path, name: &str, ty: &str) -> String {
    let private = dir.join(name);
    let mut cmd = Command::new("ssh-keygen");
    cmd.args(["-q", "-t", ty, "-N", "", "-C", name, "-f"])
        .arg(&private);
    if ty == "rsa" {
        cmd.args(["-b", "2048"]);
    }
    let st = cmd.status().expect("run ssh-keygen");
    assert!(st.success(), "ssh-keygen failed");
    let text = std::fs::read_to_string(dir.join(format!("{name}.pub"))).unwrap();
    text.split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Writes a slice directory `dir/name` with the given files (None = absent).
pub fn slice_dir(
    dir: &Path,
    name: &str,
    allowed_signers: Option<&str>,
    mon_policy: Option<&str>,
    revoked: Option<&str>,
) -> PathBuf {
    let d = dir.join(name);
    std::fs::create_dir_all(&d).unwrap();
    for (file, content) in [
        ("allowed_signers", allowed_signers),
        ("mon_policy", mon_policy),
        ("revoked_keys", revoked),
    ] {
        let p = d.join(file);
        match content {
            Some(c) => std::fs::write(&p, c).unwrap(),
            None => {
                let _ = std::fs::remove_file(&p);
            }
        }
    }
    d
}

/// 2026-01-01T00:00:00Z, a fixed "now" for tests.
pub const NOW: u64 = 1_767_225_600;

/// A request with the defaults: namespace = the class `op` needs, no address, node "n1".
pub fn req<'a>(key: &'a PublicKey, principal: Option<&'a str>, op: &'a Operation) -> Request<'a> {
    Request {
        principal,
        key,
        namespace: mon_policy::required_namespace(op),
        op,
        client_addr: None,
        node: "n1",
        now_unix_s: NOW,
        fanout: None,
        lifetime_s: None,
    }
}

pub fn query() -> Operation {
    Operation::Query { name: "avg".into() }
}

pub fn exec(cmd: &str) -> Operation {
    Operation::Exec {
        argv: cmd.split(' ').map(str::to_string).collect(),
    }
}

pub fn grep(path: &str) -> Operation {
    Operation::Grep { path: path.into() }
}

pub fn push(dest: &str) -> Operation {
    Operation::Push { dest: dest.into() }
}
