//! Says loudly when this build carries the INSECURE `fault-injection` feature (SECURITY.md,
//! "Issue 10: smaller holes"): such a `mon` must never reach a server.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    if std::env::var_os("CARGO_FEATURE_FAULT_INJECTION").is_some() {
        println!(
            "cargo:warning=INSECURE BUILD: mon-proto has the test-only `fault-injection` \
             feature (nodes that corrupt data on request); `mon server` refuses to start unless \
             MON_ALLOW_FAULT_INJECTION=1; never deploy this binary"
        );
    }
}
