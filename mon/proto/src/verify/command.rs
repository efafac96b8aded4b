//! The policy's decision on a follow-up Command of an interactive session: the same checks a
//! first command gets (checks 3–5, 8, 8b and 10 of [`super::verify_session`]) for the
//! command's operations under the session's signed namespace and principal, against the
//! slice policy loaded now (a policy reloaded since the session began decides). The
//! session's signature and freshness were checked when the node joined it; the command's own
//! signature (by the session's `cmd_key`) and `seq` are checked before this.

use mon_policy::Reason;

use super::decide::decide;
use super::{
    acts_as_user, loaded_policy, node_ops, run_as_allowed, signature_form, Context, Denied, Refused,
};
use crate::agg::Query;
use crate::refusal::Refusal;
use crate::targets::matches_list;
use crate::wire::session::{SessionBody, SignedSession};

/// What the policy grants a follow-up Command on this node.
#[derive(Debug, Clone, Default)]
pub struct CommandGrant {
    /// User to run exec/grep as.
    pub run_as: Option<String>,
    /// The principal's `grep-paths=` entries (see [`super::Verified::grep_paths`]).
    pub grep_paths: Vec<Vec<String>>,
}

/// Decides whether `ops` may run on this node as a follow-up Command of `signed` (whose body
/// is `body`), under the principal the session was admitted as. A refusal has the same codes
/// as a session's (`namespace-op-mismatch` for an operation outside the session's class).
pub fn verify_command(
    ctx: &Context<'_>,
    signed: &SignedSession,
    body: &SessionBody,
    principal: Option<&str>,
    ops: &[Query],
) -> Result<CommandGrant, Refused> {
    let policy = loaded_policy(ctx, body)?;
    let info = signature_form(signed, body)?;
    let mut cbody = body.clone();
    cbody.ops = ops.to_vec();
    cbody.push = None;
    if let Some(p) = principal {
        cbody.principal = Some(p.to_string());
    }
    let pops = node_ops(&cbody, ctx.node)?;
    let mut denied = Denied::blank(signed, true);
    let grant = decide(ctx, policy, signed, &cbody, &info, &pops, &mut denied)?;
    // Fail closed: the Command is decided under the principal the session was admitted
    // under, or none, exactly; a policy that now decides under another one (or under one
    // where the session had none, or under none where it had one) denies it.
    if grant.principal.as_deref() != principal {
        let text = format!(
            "the policy now decides under principal {} but the session was admitted under {}",
            grant.principal.as_deref().unwrap_or("(none)"),
            principal.unwrap_or("(none)")
        );
        return Err((Refusal::Policy(Reason::PrincipalMismatch), text));
    }
    let targeted = matches_list(&cbody.targets, ctx.node);
    if acts_as_user(&cbody, targeted) {
        run_as_allowed(ctx, &cbody, &grant, &mut denied)?;
    }
    Ok(CommandGrant {
        run_as: grant.run_as,
        grep_paths: grant.grep_paths,
    })
}
