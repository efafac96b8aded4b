//! Whom a server may act as for a user (check 8b): the `run-as` rules of a server running
//! as root, and their refusal codes.

use std::collections::HashMap;

use crate::refusal::Refusal;

/// Refusal code: a root server, and the deciding policy gives no `run-as`.
pub const RUN_AS_MISSING: &str = Refusal::RunAsMissing.node_code();
/// Refusal code: the `run-as` user is not among those the node's operator allows the slice.
pub const RUN_AS_NOT_ALLOWED: &str = Refusal::RunAsNotAllowed.node_code();

/// Whom a server may act as for users (exec, grep, push): SECURITY.md, "Issue 10: acting as
/// the run-as user". A server running as root never acts for a user as root by default: the
/// deciding policy must name a `run-as` user, and the node's operator must list that user for
/// the slice (`server.conf`: `run-as-users SLICE USER,…`; root only if listed). A server not
/// running as root acts as itself (it can become no one else).
#[derive(Clone, Debug, Default)]
pub struct RunAsRules {
    /// The server runs as root: the rules apply.
    pub root: bool,
    /// Per slice, the run-as users the node's operator allows.
    pub users: HashMap<String, Vec<String>>,
}

impl RunAsRules {
    /// Whether a session of `slice` may act as `run_as` on this node; else the refusal code
    /// and text (naming the principal, the slice and what to do).
    pub fn check(
        &self,
        slice: &str,
        principal: Option<&str>,
        run_as: Option<&str>,
    ) -> Result<(), (Refusal, String)> {
        if !self.root {
            return Ok(());
        }
        let Some(user) = run_as else {
            return Err(run_as_missing(slice, principal));
        };
        if self
            .users
            .get(slice)
            .is_some_and(|l| l.iter().any(|u| u == user))
        {
            return Ok(());
        }
        Err((
            Refusal::RunAsNotAllowed,
            format!(
                "run-as \"{user}\" is not a user this node's operator allows for slice \"{slice}\": refused; the operator lists it in server.conf (run-as-users {slice} {user}), or the slice admin names an allowed user"
            ),
        ))
    }
}

/// The refusal of a root server asked to act for a principal its slice gives no run-as.
fn run_as_missing(slice: &str, principal: Option<&str>) -> (Refusal, String) {
    (
        Refusal::RunAsMissing,
        format!(
            "this node's server runs as root and the mon_policy of slice \"{slice}\" gives {} no run-as: exec, grep and push are refused rather than done as root; the slice admin adds run-as=\"USER\" to the principal's mon_policy line",
            principal.map_or_else(|| "the principal".to_string(), |p| format!("\"{p}\""))
        ),
    )
}
