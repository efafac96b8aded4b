//! The INSECURE build features (`sim-crypto`, `fault-injection`) cannot end up in a server by
//! accident: their build scripts warn at compile time, `mon --version` names them (beside the
//! commit the binary was built from), a
//! `sim-crypto` build runs nothing but `mon sim` (see `cli.rs`), and a `fault-injection`
//! build's `mon server` refuses to start unless [`ALLOW_FAULT_INJECTION_ENV`] is `1`.

/// The environment variable that lets a `fault-injection` build run `mon server` (tests only).
pub const ALLOW_FAULT_INJECTION_ENV: &str = "MON_ALLOW_FAULT_INJECTION";

/// The insecure features this binary was built with.
pub fn features() -> Vec<&'static str> {
    let mut v = Vec::new();
    if mon_keys::crypto::SIM_CRYPTO {
        v.push("sim-crypto");
    }
    if mon_proto::FAULT_INJECTION {
        v.push("fault-injection");
    }
    v
}

/// The git commit the binary was built from (`build.rs`; `unknown` without git).
pub const COMMIT: &str = env!("MON_COMMIT");

/// The version `mon --version` prints: the package version, the commit and the insecure
/// features.
pub fn version() -> &'static str {
    static V: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    V.get_or_init(|| version_for(COMMIT, &features()))
}

fn version_for(commit: &str, features: &[&str]) -> String {
    let v = env!("CARGO_PKG_VERSION");
    if features.is_empty() {
        format!("{v} (commit {commit}, insecure features: none)")
    } else {
        format!(
            "{v} (commit {commit}, INSECURE BUILD with {}: for tests and `mon sim` only, never \
             deploy it)",
            features.join(", ")
        )
    }
}

/// `mon server`'s check: a `fault-injection` build starts only with
/// `MON_ALLOW_FAULT_INJECTION=1` in its environment.
pub fn check_server_start() -> anyhow::Result<()> {
    let allowed = std::env::var(ALLOW_FAULT_INJECTION_ENV).ok();
    server_start_allowed(mon_proto::FAULT_INJECTION, allowed.as_deref())
}

fn server_start_allowed(fault_injection: bool, allowed: Option<&str>) -> anyhow::Result<()> {
    if fault_injection && allowed != Some("1") {
        anyhow::bail!(
            "this mon was built with the test-only `fault-injection` feature (INSECURE: nodes \
             corrupt data when environment variables say so); `mon server` refuses to run it. \
             Build without `--features fault-injection`, or set {ALLOW_FAULT_INJECTION_ENV}=1 \
             for a test"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fault_injection_server_needs_the_explicit_variable() {
        assert!(server_start_allowed(false, None).is_ok());
        assert!(server_start_allowed(false, Some("0")).is_ok());
        for v in [None, Some(""), Some("0"), Some("yes"), Some("true")] {
            let e = server_start_allowed(true, v).expect_err("refused");
            assert!(e.to_string().contains(ALLOW_FAULT_INJECTION_ENV), "{e}");
        }
        assert!(server_start_allowed(true, Some("1")).is_ok());
    }

    #[test]
    fn the_version_names_insecure_features() {
        let v = version_for("0123456789ab", &[]);
        assert!(
            v.ends_with("(commit 0123456789ab, insecure features: none)"),
            "{v}"
        );
        let v = version_for("0123456789ab", &["sim-crypto", "fault-injection"]);
        assert!(
            v.contains("commit 0123456789ab")
                && v.contains("INSECURE")
                && v.contains("sim-crypto, fault-injection"),
            "{v}"
        );
    }
}
