//! Subcommands of the `mon` binary, one module each.

pub mod audit;
pub mod key;
pub mod known_nodes;
pub mod manual;
pub mod policy;
mod replace;
pub mod server_init;

pub use crate::server::DEFAULT_CONFIG_DIR;
