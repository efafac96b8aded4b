//! Records the git commit the binary is built from, for `mon --version` (`MON_COMMIT`).
//!
//! Taken from `MON_COMMIT` in the build's environment when set (a build from a source archive
//! can pass it), else from `git rev-parse HEAD` in this checkout, else `unknown` (no git, or not
//! a checkout). The build script runs again when HEAD or the branch it names moves.

use std::path::{Path, PathBuf};
use std::process::Command;

fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let s = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (!s.is_empty()).then_some(s)
}

/// The files whose change moves HEAD: HEAD itself, the branch's loose ref, packed-refs
/// (only those that exist: a missing file would make cargo run this script on every build).
fn watch(dir: &Path) {
    let mut files = Vec::new();
    for name in ["HEAD", "packed-refs"] {
        if let Some(p) = git(dir, &["rev-parse", "--git-path", name]) {
            files.push(dir.join(p));
        }
    }
    if let Some(branch) = git(dir, &["symbolic-ref", "-q", "HEAD"]) {
        if let Some(p) = git(dir, &["rev-parse", "--git-path", &branch]) {
            files.push(dir.join(p));
        }
    }
    for f in files.iter().filter(|f| f.exists()) {
        println!("cargo:rerun-if-changed={}", f.display());
    }
}

fn main() {
    println!("cargo:rerun-if-env-changed=MON_COMMIT");
    println!("cargo:rerun-if-changed=build.rs");
    let dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let commit = match std::env::var("MON_COMMIT") {
        Ok(c) if !c.trim().is_empty() => c.trim().to_string(),
        _ => {
            watch(&dir);
            git(&dir, &["rev-parse", "--short=12", "HEAD"]).unwrap_or_else(|| "unknown".into())
        }
    };
    println!("cargo:rustc-env=MON_COMMIT={commit}");
}
