//! MON protocol core, sans-IO.
//!
//! No sockets, no clock reads, no OS randomness: every entry point takes `now` and an RNG
//! where it needs them, and output is drained by the caller (a tokio driver in the `mon`
//! binary, or the simulators of the `mon-sim` crate).

pub mod agg;
pub mod audit;
pub mod client;
pub mod fold;
pub mod membership;
pub mod node;
pub mod push;
pub mod refusal;
pub mod replay;
pub mod roster;
pub mod shown;
pub mod targets;
pub mod timing;
pub mod verify;
pub mod wire;

/// True when this build has the INSECURE test-only `fault-injection` feature (nodes that
/// corrupt what they serve when told to by environment variables): `mon --version` says so
/// and `mon server` refuses to start unless `MON_ALLOW_FAULT_INJECTION=1`.
pub const FAULT_INJECTION: bool = cfg!(feature = "fault-injection");
