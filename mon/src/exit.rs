//! Process exit codes, documented in docs/operations.md.
//!
//! Client commands: 0 every targeted node answered and its operation succeeded, 1 some
//! targeted node missing, denied, timed out or failed (an `exec` status `--ok-exit` does not
//! accept, a signal, a resource or file it could not read), 2 local error (usage, key,
//! network, config), 3 denied at the entry node, 4 refused by the entry node for a capacity
//! or rate limit (not the policy): retry later, as the message says.
//! Admin commands (`policy check`, `policy explain`, `audit verify`): 0 clean/allow/intact,
//! 1 error/deny/broken, 2 could not run (usage, unreadable input).

/// Everything answered and succeeded / clean / allowed / intact.
pub const OK: u8 = 0;
/// Client: some targeted node missing, denied or failed. Admin tools: the negative answer
/// (errors found, deny, broken log).
pub const PARTIAL_OR_NEGATIVE: u8 = 1;
/// A local error: usage, unreadable file, bad key, network failure.
pub const LOCAL_ERROR: u8 = 2;
/// Client: the entry node denied the session.
pub const DENIED: u8 = 3;
/// Client: the entry node refused the session for a capacity or rate limit, not the policy
/// (deny codes [`mon_proto::node::RETRY_LATER_CODES`]): retry later.
pub const RETRY_LATER: u8 = 4;

/// A client command's code from the number of nodes that make it fail
/// ([`mon_proto::client::verdict::failing`]): [`OK`] for none, else [`PARTIAL_OR_NEGATIVE`].
pub fn for_failing(failing: u64) -> u8 {
    if failing == 0 {
        OK
    } else {
        PARTIAL_OR_NEGATIVE
    }
}
