//! Says loudly when this build carries the INSECURE `sim-crypto` feature (SECURITY.md,
//! "Issue 10: smaller holes"): such a `mon` must never reach a server.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    if std::env::var_os("CARGO_FEATURE_SIM_CRYPTO").is_some() {
        println!(
            "cargo:warning=INSECURE BUILD: mon-keys has the `sim-crypto` feature (forgeable \
             signatures, computable link keys), for `mon sim` only; never deploy this binary"
        );
    }
}
