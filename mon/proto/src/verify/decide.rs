//! Checks 5 and 10, the policy's decision on a session: one principal for every operation,
//! and what the deciding lines grant it ([`Grant`], which becomes the [`Verified`] outcome
//! once every later check passed). A refusal notes in [`Denied`] what its audit record may
//! say.

use mon_policy::{Operation, Reason, Request, SessionDecision, SlicePolicy};

use super::{Context, Denied, Refused, Verified};
use crate::refusal::Refusal;
use crate::wire::session::{SessionBody, SessionHash, SignedSession};

/// What the deciding policy lines grant the session's principal.
pub(super) struct Grant {
    pub(super) principal: Option<String>,
    pub(super) run_as: Option<String>,
    pub(super) policy_file: Option<String>,
    pub(super) policy_line: Option<usize>,
    pub(super) push_dir: Option<String>,
    pub(super) allow_setid: bool,
    pub(super) grep_paths: Vec<Vec<String>>,
}

impl Grant {
    /// The outcome of checks that all passed: the body with what the policy granted.
    pub(super) fn into_verified(
        self,
        body: SessionBody,
        hash: SessionHash,
        targeted: bool,
        policy: &SlicePolicy,
    ) -> Verified {
        let max_fanout = self.principal.as_deref().and_then(|p| policy.max_fanout(p));
        Verified {
            max_fanout,
            key_fp: body.key_fp.clone(),
            body,
            hash,
            principal: self.principal,
            policy_file: self.policy_file,
            policy_line: self.policy_line,
            run_as: self.run_as,
            push_dir: self.push_dir,
            allow_setid: self.allow_setid,
            grep_paths: self.grep_paths,
            targeted,
        }
    }
}

/// Checks 5 and 10: the policy decides under one principal (every operation, run-as, from=,
/// the audit record): the one the body names, else the first of the key's that allows every
/// operation (`SlicePolicy::evaluate_session`, shared with `mon policy explain`). A refusal
/// notes the principal and deciding line in `denied`, and whether the key holder really
/// signed it (only a listed key's verified refusal is audited).
pub(super) fn decide(
    ctx: &Context<'_>,
    policy: &SlicePolicy,
    signed: &SignedSession,
    body: &SessionBody,
    info: &mon_keys::sshsig::SigInfo,
    ops: &[Operation],
    denied: &mut Denied,
) -> Result<Grant, Refused> {
    let req = session_request(ctx, body, info);
    let sd = policy.evaluate_session(&req, ops);
    let deciding = sd.deciding();
    let policy_file = deciding.and_then(|d| d.file.as_ref().map(|f| f.display().to_string()));
    let policy_line = deciding.and_then(|d| d.line);
    if !sd.allowed {
        denied.principal = sd.principal.clone().or(denied.principal.take());
        denied.policy_file = policy_file;
        denied.policy_line = policy_line;
        return Err(policy_refusal(&sd, signed, body, denied));
    }
    Ok(grant_of(&sd, ops, policy_file, policy_line))
}

/// What an allowing decision grants: the principal and run-as user, the deciding line, the
/// push operation's grant (its deepest push dir, allow-setid), and the grep operations'
/// (the same lines decide every operation of the principal).
fn grant_of(
    sd: &SessionDecision,
    ops: &[Operation],
    policy_file: Option<String>,
    policy_line: Option<usize>,
) -> Grant {
    let decision_for = |push: bool| {
        ops.iter().zip(&sd.decisions).find(|(op, _)| match op {
            Operation::Push { .. } => push,
            Operation::Grep { .. } => !push,
            _ => false,
        })
    };
    let (push_dir, allow_setid) =
        decision_for(true).map_or((None, false), |(_, d)| (d.push_dir.clone(), d.allow_setid));
    Grant {
        principal: sd.principal.clone(),
        run_as: sd.run_as.clone(),
        policy_file,
        policy_line,
        push_dir,
        allow_setid,
        grep_paths: decision_for(false)
            .map(|(_, d)| d.grep_paths.clone())
            .unwrap_or_default(),
    }
}

/// The request's placeholder operation: the session's operations are judged one by one.
static SESSION_OP: Operation = Operation::Query {
    name: String::new(),
};

/// The policy request for a session: its principal, key, namespace, client, node, time,
/// fanout and lifetime (the operation itself is judged per operation).
fn session_request<'a>(
    ctx: &Context<'a>,
    body: &'a SessionBody,
    info: &'a mon_keys::sshsig::SigInfo,
) -> Request<'a> {
    Request {
        principal: body.principal.as_deref(),
        key: &info.public_key,
        namespace: &body.ns,
        op: &SESSION_OP,
        client_addr: ctx.client_addr,
        node: ctx.node,
        now_unix_s: ctx.now_ms / 1000,
        fanout: Some(u32::from(body.overlay.fanout)),
        lifetime_s: Some(u64::from(body.max_lifetime_s)),
    }
}

/// The refusal for a policy denial, noting in `denied` whether the key holder really
/// signed it (only a listed key's verified refusal is audited).
fn policy_refusal(
    sd: &SessionDecision,
    signed: &SignedSession,
    body: &SessionBody,
    denied: &mut Denied,
) -> Refused {
    let deciding = sd.deciding();
    let (refusal, text) = match deciding {
        Some(d) => (Refusal::Policy(d.reason), sd.message()),
        None => (
            Refusal::Policy(Reason::KeyNotListed),
            "no policy line decided".to_string(),
        ),
    };
    let listed =
        deciding.is_some_and(|d| !matches!(d.reason, Reason::KeyNotListed | Reason::NoPolicy));
    denied.verified =
        listed && mon_keys::sshsig::verify(&signed.sshsig, &body.ns, &signed.body).is_ok();
    (refusal, text)
}
