//! Process exit codes, documented in docs/operations.md.
//!
//! Client commands: 0 complete, 1 partial coverage (missing or denied nodes), 2 local error
//! (usage, key, network, config), 3 denied at the entry node, 4 refused by the entry node for
//! a capacity or rate limit (not the policy): retry later, as the message says.
//! Admin commands (`policy check`, `policy explain`, `audit verify`): 0 clean/allow/intact,
//! 1 error/deny/broken, 2 could not run (usage, unreadable input).

/// Everything answered / clean / allowed / intact.
pub const OK: u8 = 0;
/// Client: partial coverage. Admin tools: the negative answer (errors found, deny, broken log).
pub const PARTIAL_OR_NEGATIVE: u8 = 1;
/// A local error: usage, unreadable file, bad key, network failure.
pub const LOCAL_ERROR: u8 = 2;
/// Client: the entry node denied the session.
pub const DENIED: u8 = 3;
/// Client: the entry node refused the session for a capacity or rate limit, not the policy
/// (deny codes [`mon_proto::node::RETRY_LATER_CODES`]): retry later.
pub const RETRY_LATER: u8 = 4;
