//! The session checks every server runs, cheapest first, failing closed (security brief,
//! "What a server checks"): decode → slice policy present → SSHSIG structure → policy
//! (allowed_signers, namespace class, mon_policy narrowing) → `verify_strict` → freshness →
//! targeting. Parent authentication (step 2) and the replay cache (step 9) are the caller's,
//! since they need link and node state.

use std::net::IpAddr;

use mon_policy::{Operation, Reason, SlicePolicy};

use crate::agg::Query;
use crate::refusal::Refusal;
use crate::targets::matches_list;
use crate::wire::session::{session_hash, SessionBody, SessionHash, SignedSession};

mod command;
mod decide;
mod run_as;

pub use command::{verify_command, CommandGrant};
use decide::{decide, Grant};
pub use run_as::{RunAsRules, RUN_AS_MISSING, RUN_AS_NOT_ALLOWED};

/// Setuid, setgid and sticky bits of a pushed file's mode: refused unless the deciding
/// `mon_policy` grants `allow-setid`.
pub const SETID_BITS: u32 = 0o7000;

/// The four capability classes (one home: `mon_policy::CLASSES`).
pub use mon_policy::CLASSES as NAMESPACES;

/// The longest session lifetime a server accepts unless configured otherwise, s.
pub const DEFAULT_MAX_LIFETIME_S: u32 = 3600;

/// The longest join window (`expires_at − issued_at`) a server accepts unless configured
/// otherwise, ms.
pub const DEFAULT_MAX_JOIN_WINDOW_MS: u64 = 600_000;

/// Limits a server applies to sessions.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Allowed clock skew, ms.
    pub skew_ms: u64,
    /// Longest join window (`expires_at - issued_at`), ms.
    pub max_join_window_ms: u64,
    /// Longest session lifetime, s.
    pub max_lifetime_s: u32,
    /// Longest lifetime of an interactive session (`mon shell`), s (and never above
    /// `max_lifetime_s`).
    pub max_interactive_lifetime_s: u32,
    /// Whom this server may act as for a user.
    pub run_as: RunAsRules,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            skew_ms: 300_000,
            max_join_window_ms: DEFAULT_MAX_JOIN_WINDOW_MS,
            max_lifetime_s: DEFAULT_MAX_LIFETIME_S,
            max_interactive_lifetime_s: crate::timing::INTERACTIVE_LIFETIME_S,
            run_as: RunAsRules::default(),
        }
    }
}

/// What the checks need to know about this node and this moment.
#[derive(Debug)]
pub struct Context<'a> {
    /// Unix ms.
    pub now_ms: u64,
    /// This node's name.
    pub node: &'a str,
    /// The client's address, known at the entry node only.
    pub client_addr: Option<IpAddr>,
    /// The slice policy, looked up by the caller from the body's slice (None: no policy).
    pub policy: Option<&'a SlicePolicy>,
    /// Limits.
    pub limits: &'a Limits,
}

/// A session that passed every check.
#[derive(Debug, Clone)]
pub struct Verified {
    /// The decoded body.
    pub body: SessionBody,
    /// Its hash.
    pub hash: SessionHash,
    /// The principal the policy matched.
    pub principal: Option<String>,
    /// Key fingerprint.
    pub key_fp: String,
    /// Deciding allowed_signers file and line.
    pub policy_file: Option<String>,
    /// Deciding line.
    pub policy_line: Option<usize>,
    /// User to run exec/grep/push as, from mon_policy.
    pub run_as: Option<String>,
    /// For a push: the `push-dirs` entry DEST lands beneath (from the push's decision).
    pub push_dir: Option<String>,
    /// For a push: the policy grants `allow-setid` (set-id and sticky bits may land).
    pub allow_setid: bool,
    /// For a grep: the principal's `grep-paths=` entries, one list per applying line (see
    /// [`mon_policy::grep_path_allowed`]); empty: no restriction. The node checks the real
    /// path of the file it opened against them (a symbolic link may lead elsewhere).
    pub grep_paths: Vec<Vec<String>>,
    /// Whether this node executes (in `targets`) or only relays.
    pub targeted: bool,
    /// The principal's `max-fanout=` (smallest of its `mon_policy` lines): also bounds the
    /// adaptive fanout (a body's fanout 0) this node uses.
    pub max_fanout: Option<u32>,
}

/// A session refused, with what is known for the audit record.
#[derive(Debug, Clone)]
pub struct Denied {
    /// Why (its stable code: [`Refusal::code`]).
    pub refusal: Refusal,
    /// Human-readable reason.
    pub text: String,
    /// Session hash (always computable from the bytes).
    pub hash: SessionHash,
    /// The body, when it decoded.
    pub body: Option<SessionBody>,
    /// Principal, when known.
    pub principal: Option<String>,
    /// Key fingerprint, when known.
    pub key_fp: Option<String>,
    /// Deciding policy file, when a policy line decided.
    pub policy_file: Option<String>,
    /// Deciding line.
    pub policy_line: Option<usize>,
    /// Whether the session's signature verified with a key the slice's policy lists: only
    /// then is the refusal the key holder's own and worth an audit record (issue 10, part 4).
    /// An unverified refusal is junk: counted and summarised per source, never audited with
    /// its body.
    pub verified: bool,
}

impl Denied {
    /// Nothing known yet of a refusal of `signed` (the checks fill it in as they go);
    /// `verified`: its signature already checked (a follow-up Command's session).
    pub(crate) fn blank(signed: &SignedSession, verified: bool) -> Denied {
        Denied {
            refusal: Refusal::Policy(Reason::KeyNotListed),
            text: String::new(),
            hash: session_hash(&signed.body),
            body: None,
            principal: None,
            key_fp: None,
            policy_file: None,
            policy_line: None,
            verified,
        }
    }
}

/// The policy operation an query needs.
pub fn policy_op(q: &Query) -> Operation {
    match q {
        Query::Grep { file, .. } => Operation::Grep { path: file.clone() },
        Query::Exec { argv, .. } => Operation::Exec { argv: argv.clone() },
        Query::Audit(_) => Operation::Audit,
        other => Operation::Query {
            name: other.name().to_string(),
        },
    }
}

/// All policy operations of a body, push included.
pub fn policy_ops(body: &SessionBody) -> Vec<Operation> {
    let mut ops: Vec<Operation> = body.ops.iter().map(policy_op).collect();
    if let Some(m) = &body.push {
        ops.push(Operation::Push {
            dest: m.dest.clone(),
        });
    }
    ops
}

/// The narrowest namespace class that covers every operation of a session (one home: the
/// namespace ladder in `mon_policy`).
pub use mon_policy::namespace_for;

/// A refusal and its text, before it is attached to what is known of the session.
type Refused = (Refusal, String);

/// Runs checks 1 and 3–8 on a signed session.
pub fn verify_session(ctx: &Context<'_>, signed: &SignedSession) -> Result<Verified, Box<Denied>> {
    let mut denied = Denied::blank(signed, false);
    match run_checks(ctx, signed, &mut denied) {
        Ok(v) => Ok(v),
        Err((refusal, text)) => {
            denied.refusal = refusal;
            denied.text = text;
            Err(Box::new(denied))
        }
    }
}

/// The checks in order, noting in `denied` what an audit record of a refusal may say.
fn run_checks(
    ctx: &Context<'_>,
    signed: &SignedSession,
    denied: &mut Denied,
) -> Result<Verified, Refused> {
    // 1. strict decoding
    let body = decode_body(signed, denied)?;
    // 3. slice policy loaded
    let policy = loaded_policy(ctx, &body)?;
    // 4. SSHSIG structure
    let info = signature_form(signed, &body)?;
    // 5 + 10. policy: key listed, validity, namespace granted, op class, narrowing
    let ops = node_ops(&body, ctx.node)?;
    let grant = decide(ctx, policy, signed, &body, &info, &ops, denied)?;
    denied.principal = grant.principal.clone();
    // 6. the signature itself
    if let Err(e) = mon_keys::sshsig::verify(&signed.sshsig, &body.ns, &signed.body) {
        return Err((Refusal::BadSignature, e.to_string()));
    }
    denied.verified = true;
    // 6b. the file's mode: set-id and sticky bits only where mon_policy grants them
    setid_granted(&body, grant.allow_setid)?;
    // 7. freshness
    fresh(ctx.limits, ctx.now_ms, &body)?;
    // 8. targeting
    let targeted = matches_list(&body.targets, ctx.node);
    // 8b. acting as the user
    if acts_as_user(&body, targeted) {
        run_as_allowed(ctx, &body, &grant, denied)?;
    }
    Ok(grant.into_verified(body, denied.hash, targeted, policy))
}

/// Check 3: the slice has a valid policy on this node.
fn loaded_policy<'a>(ctx: &Context<'a>, body: &SessionBody) -> Result<&'a SlicePolicy, Refused> {
    ctx.policy.ok_or_else(|| {
        let text = format!("slice {:?} has no valid policy on {}", body.slice, ctx.node);
        (Refusal::Policy(Reason::NoPolicy), text)
    })
}

/// Check 1: the body decodes strictly; notes its key and principal in `denied`.
fn decode_body(signed: &SignedSession, denied: &mut Denied) -> Result<SessionBody, Refused> {
    let body =
        SessionBody::from_bytes(&signed.body).map_err(|e| (Refusal::from(&e), e.to_string()))?;
    denied.body = Some(body.clone());
    denied.key_fp = Some(body.key_fp.clone());
    denied.principal = body.principal.clone();
    Ok(body)
}

/// Check 8b: this server may act as the granted run-as user for the principal; a refusal
/// notes the deciding policy line in `denied`.
fn run_as_allowed(
    ctx: &Context<'_>,
    body: &SessionBody,
    grant: &Grant,
    denied: &mut Denied,
) -> Result<(), Refused> {
    let (slice, principal) = (&body.slice, grant.principal.as_deref());
    ctx.limits
        .run_as
        .check(slice, principal, grant.run_as.as_deref())
        .inspect_err(|_| {
            denied.policy_file = grant.policy_file.clone();
            denied.policy_line = grant.policy_line;
        })
}

/// Check 4: the SSHSIG parses, and its namespace and key are the body's.
fn signature_form(
    signed: &SignedSession,
    body: &SessionBody,
) -> Result<mon_keys::sshsig::SigInfo, Refused> {
    let info = mon_keys::sshsig::inspect(&signed.sshsig)
        .map_err(|e| (Refusal::BadSignatureFormat, e.to_string()))?;
    if info.namespace != body.ns {
        let text = format!(
            "signature namespace {:?} differs from the body's {:?}",
            info.namespace, body.ns
        );
        return Err((Refusal::NamespaceMismatch, text));
    }
    if !NAMESPACES.contains(&body.ns.as_str()) {
        let text = format!("{:?} is not a MON operation class", body.ns);
        return Err((Refusal::UnknownNamespace, text));
    }
    if info.fingerprint != body.key_fp {
        let text = format!(
            "body names key {} but the signature is by {}",
            body.key_fp, info.fingerprint
        );
        return Err((Refusal::KeyMismatch, text));
    }
    Ok(info)
}

/// The body's policy operations as this node will do them: push destinations with `{node}`
/// expanded.
fn node_ops(body: &SessionBody, node: &str) -> Result<Vec<Operation>, Refused> {
    let mut ops = policy_ops(body);
    for op in &mut ops {
        if let Operation::Push { dest } = op {
            match crate::push::msg::expand_dest(dest, node) {
                Some(d) => *dest = d,
                None => {
                    let text = format!("node name {node:?} cannot stand for {{node}}");
                    return Err((Refusal::PushDest, text));
                }
            }
        }
    }
    Ok(ops)
}

/// Check 6b: a pushed file's set-id and sticky bits need `allow-setid`.
fn setid_granted(body: &SessionBody, allow_setid: bool) -> Result<(), Refused> {
    match &body.push {
        Some(m) if m.mode & SETID_BITS != 0 && !allow_setid => {
            let text = format!(
                "mode {:04o} has setuid, setgid or sticky bits, which mon_policy does not grant (allow-setid); push with e.g. --mode {:04o}",
                m.mode & 0o7777,
                m.mode & 0o777
            );
            Err((Refusal::Policy(Reason::SetIdDenied), text))
        }
        _ => Ok(()),
    }
}

/// Check 7: issued within the skew, join deadline not passed, window and lifetime within
/// this server's limits.
fn fresh(l: &Limits, now_ms: u64, body: &SessionBody) -> Result<(), Refused> {
    in_clock_window(l, now_ms, body)?;
    within_limits(l, body)
}

/// Check 7, the clock: not issued beyond the skew ahead, join deadline not passed.
fn in_clock_window(l: &Limits, now_ms: u64, body: &SessionBody) -> Result<(), Refused> {
    if body.issued_at > now_ms.saturating_add(l.skew_ms) {
        let text = format!(
            "session issued {} s in the future (clock skew over {} s?)",
            (body.issued_at - now_ms) / 1000,
            l.skew_ms / 1000
        );
        return Err((Refusal::IssuedInFuture, text));
    }
    if now_ms > body.expires_at.saturating_add(l.skew_ms) {
        let text = format!(
            "session join deadline passed {} s ago",
            (now_ms - body.expires_at) / 1000
        );
        return Err((Refusal::SessionExpired, text));
    }
    Ok(())
}

/// Check 7, the limits: join window and lifetime within this server's.
fn within_limits(l: &Limits, body: &SessionBody) -> Result<(), Refused> {
    if body.expires_at - body.issued_at > l.max_join_window_ms {
        let text = format!(
            "join window of {} s exceeds this server's limit of {} s",
            (body.expires_at - body.issued_at) / 1000,
            l.max_join_window_ms / 1000
        );
        return Err((Refusal::JoinWindowTooLong, text));
    }
    if body.max_lifetime_s > l.max_lifetime_s {
        let text = format!(
            "lifetime of {} s exceeds this server's limit of {} s",
            body.max_lifetime_s, l.max_lifetime_s
        );
        return Err((Refusal::LifetimeOverLimit, text));
    }
    let most = l.max_interactive_lifetime_s.min(l.max_lifetime_s);
    if body.interactive && body.max_lifetime_s > most {
        let text = format!(
            "interactive session lifetime of {} s exceeds this server's limit of {most} s for \
             interactive sessions",
            body.max_lifetime_s
        );
        return Err((Refusal::InteractiveLifetimeOverLimit, text));
    }
    Ok(())
}

/// Check 8b: whether this node would exec, grep, or write a push file (relays of a push
/// store it too), which it does only as a run-as user its operator allows.
fn acts_as_user(body: &SessionBody, targeted: bool) -> bool {
    body.push.is_some()
        || (targeted
            && body
                .ops
                .iter()
                .any(|q| matches!(q, Query::Grep { .. } | Query::Exec { .. })))
}

#[cfg(test)]
mod tests;
