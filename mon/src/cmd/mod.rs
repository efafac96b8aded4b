//! Subcommands of the `mon` binary, one module each.

pub mod audit;
pub mod key;
pub mod known_nodes;
pub mod policy;
mod replace;
pub mod server_init;

/// Where a node's configuration lives when no `--config-dir` is given: node key,
/// known_nodes, `slices/<slice>/` policy files.
pub const DEFAULT_CONFIG_DIR: &str = "/etc/mon";
