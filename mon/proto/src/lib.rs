//! MON protocol core, sans-IO.
//!
//! No sockets, no clock reads, no OS randomness: every entry point takes `now` and an RNG
//! where it needs them, and output is drained by the caller (a tokio driver in the `mon`
//! binary, or the simulator).

pub mod agg;
pub mod audit;
pub mod client;
pub mod membership;
pub mod node;
pub mod push;
pub mod replay;
pub mod roster;
pub mod sim;
pub mod targets;
pub mod verify;
pub mod wire;
