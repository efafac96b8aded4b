//! Subcommands of the `mon` binary, one module each.

pub mod audit;
pub mod key;
pub mod manual;
pub mod policy;
pub mod server_init;
