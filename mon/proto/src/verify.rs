//! The session checks every server runs, cheapest first, failing closed (security brief,
//! "What a server checks"): decode → slice policy present → SSHSIG structure → policy
//! (allowed_signers, namespace class, mon_policy narrowing) → `verify_strict` → freshness →
//! targeting. Parent authentication (step 2) and the replay cache (step 9) are the caller's,
//! since they need link and node state.

use std::net::IpAddr;

use mon_policy::{Operation, Reason, Request, SlicePolicy};

use crate::agg::Query;
use crate::targets::matches_list;
use crate::wire::session::{session_hash, SessionBody, SessionHash, SignedSession};

/// Setuid, setgid and sticky bits of a pushed file's mode: refused unless the deciding
/// `mon_policy` grants `allow-setid`.
pub const SETID_BITS: u32 = 0o7000;

/// The four capability classes.
pub const NAMESPACES: [&str; 4] = [
    mon_keys::sshsig::NS_QUERY,
    mon_keys::sshsig::NS_READ,
    mon_keys::sshsig::NS_EXEC,
    mon_keys::sshsig::NS_PUSH,
];

/// Limits a server applies to sessions.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Allowed clock skew, ms.
    pub skew_ms: u64,
    /// Longest join window (`expires_at - issued_at`), ms.
    pub max_join_window_ms: u64,
    /// Longest session lifetime, s.
    pub max_lifetime_s: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            skew_ms: 300_000,
            max_join_window_ms: 600_000,
            max_lifetime_s: 3600,
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
    /// Whether this node executes (in `targets`) or only relays.
    pub targeted: bool,
}

/// A session refused, with what is known for the audit record.
#[derive(Debug, Clone)]
pub struct Denied {
    /// Stable reason code.
    pub code: String,
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
}

/// The policy operation an query needs.
pub fn policy_op(q: &Query) -> Operation {
    match q {
        Query::Grep { file, .. } => Operation::Grep { path: file.clone() },
        Query::Exec { argv, .. } => Operation::Exec { argv: argv.clone() },
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

/// The narrowest namespace class that covers every operation of a session.
pub fn namespace_for(ops: &[Operation]) -> &'static str {
    let mut ns = mon_keys::sshsig::NS_QUERY;
    for op in ops {
        ns = match (ns, op) {
            (_, Operation::Push { .. }) => mon_keys::sshsig::NS_PUSH,
            (n, Operation::Exec { .. }) if n != mon_keys::sshsig::NS_PUSH => {
                mon_keys::sshsig::NS_EXEC
            }
            (n, Operation::Grep { .. }) if n == mon_keys::sshsig::NS_QUERY => {
                mon_keys::sshsig::NS_READ
            }
            (n, _) => n,
        };
    }
    ns
}

/// Runs checks 1 and 3–8 on a signed session.
pub fn verify_session(ctx: &Context<'_>, signed: &SignedSession) -> Result<Verified, Box<Denied>> {
    let hash = session_hash(&signed.body);
    let mut denied = Denied {
        code: String::new(),
        text: String::new(),
        hash,
        body: None,
        principal: None,
        key_fp: None,
        policy_file: None,
        policy_line: None,
    };
    let deny = |mut d: Denied, code: &str, text: String| {
        d.code = code.to_string();
        d.text = text;
        Box::new(d)
    };

    // 1. strict decoding
    let body = match SessionBody::from_bytes(&signed.body) {
        Ok(b) => b,
        Err(e) => return Err(deny(denied, e.code(), e.to_string())),
    };
    denied.body = Some(body.clone());
    denied.key_fp = Some(body.key_fp.clone());
    denied.principal = body.principal.clone();

    // 3. slice policy loaded
    let Some(policy) = ctx.policy else {
        let text = format!("slice {:?} has no valid policy on {}", body.slice, ctx.node);
        return Err(deny(denied, "no-policy", text));
    };

    // 4. SSHSIG structure
    let info = match mon_keys::sshsig::inspect(&signed.sshsig) {
        Ok(i) => i,
        Err(e) => return Err(deny(denied, "bad-signature-format", e.to_string())),
    };
    if info.namespace != body.ns {
        let text = format!(
            "signature namespace {:?} differs from the body's {:?}",
            info.namespace, body.ns
        );
        return Err(deny(denied, "namespace-mismatch", text));
    }
    if !NAMESPACES.contains(&body.ns.as_str()) {
        let text = format!("{:?} is not a MON operation class", body.ns);
        return Err(deny(denied, "unknown-namespace", text));
    }
    if info.fingerprint != body.key_fp {
        let text = format!(
            "body names key {} but the signature is by {}",
            body.key_fp, info.fingerprint
        );
        return Err(deny(denied, "key-mismatch", text));
    }

    // 5 + 10. policy: key listed, validity, namespace granted, op class, narrowing
    // Push destinations are checked as this node will write them (`{node}` expanded).
    let mut ops = policy_ops(&body);
    for op in &mut ops {
        if let Operation::Push { dest } = op {
            match crate::push::msg::expand_dest(dest, ctx.node) {
                Some(d) => *dest = d,
                None => {
                    let text = format!("node name {:?} cannot stand for {{node}}", ctx.node);
                    return Err(deny(denied, "push-dest", text));
                }
            }
        }
    }
    let lifetime = u64::from(body.max_lifetime_s);
    let mut principal = body.principal.clone();
    let mut run_as = None;
    let mut push_grant: Option<(Option<String>, bool)> = None;
    let mut first_allow: Option<(Option<String>, Option<usize>)> = None;
    for op in &ops {
        let req = Request {
            principal: body.principal.as_deref(),
            key: &info.public_key,
            namespace: &body.ns,
            op,
            client_addr: ctx.client_addr,
            node: ctx.node,
            now_unix_s: ctx.now_ms / 1000,
            fanout: Some(u32::from(body.overlay.fanout)),
            lifetime_s: Some(lifetime),
        };
        let d = policy.evaluate(&req);
        let file = d.file.as_ref().map(|f| f.display().to_string());
        if !d.allowed {
            denied.principal = d.principal.clone().or(denied.principal);
            denied.policy_file = file;
            denied.policy_line = d.line;
            return Err(deny(denied, d.reason.code(), d.message));
        }
        if principal.is_none() {
            principal = d.principal.clone();
        }
        if run_as.is_none() {
            run_as = d.run_as.clone();
        }
        if matches!(op, Operation::Push { .. }) {
            push_grant = Some((d.push_dir.clone(), d.allow_setid));
        }
        if first_allow.is_none() {
            first_allow = Some((file, d.line));
        }
    }
    denied.principal = principal.clone();
    let (push_dir, allow_setid) = push_grant.unwrap_or((None, false));
    // 6. the signature itself
    if let Err(e) = mon_keys::sshsig::verify(&signed.sshsig, &body.ns, &signed.body) {
        return Err(deny(denied, "bad-signature", e.to_string()));
    }

    // 6b. the file's mode: set-id and sticky bits only where mon_policy grants them
    if let Some(m) = &body.push {
        if m.mode & SETID_BITS != 0 && !allow_setid {
            let text = format!(
                "mode {:04o} has setuid, setgid or sticky bits, which mon_policy does not grant (allow-setid); push with e.g. --mode {:04o}",
                m.mode & 0o7777,
                m.mode & 0o777
            );
            return Err(deny(denied, Reason::SetIdDenied.code(), text));
        }
    }

    // 7. freshness
    let l = ctx.limits;
    if body.issued_at > ctx.now_ms.saturating_add(l.skew_ms) {
        let text = format!(
            "session issued {} s in the future (clock skew over {} s?)",
            (body.issued_at - ctx.now_ms) / 1000,
            l.skew_ms / 1000
        );
        return Err(deny(denied, "issued-in-future", text));
    }
    if ctx.now_ms > body.expires_at.saturating_add(l.skew_ms) {
        let text = format!(
            "session join deadline passed {} s ago",
            (ctx.now_ms - body.expires_at) / 1000
        );
        return Err(deny(denied, "session-expired", text));
    }
    if body.expires_at - body.issued_at > l.max_join_window_ms {
        let text = format!(
            "join window of {} s exceeds this server's limit of {} s",
            (body.expires_at - body.issued_at) / 1000,
            l.max_join_window_ms / 1000
        );
        return Err(deny(denied, "join-window-too-long", text));
    }
    if body.max_lifetime_s > l.max_lifetime_s {
        let text = format!(
            "lifetime of {} s exceeds this server's limit of {} s",
            body.max_lifetime_s, l.max_lifetime_s
        );
        return Err(deny(denied, "lifetime-too-long", text));
    }

    // 8. targeting
    let targeted = matches_list(&body.targets, ctx.node);
    let (policy_file, policy_line) = first_allow.unwrap_or((None, None));
    Ok(Verified {
        key_fp: body.key_fp.clone(),
        body,
        hash,
        principal,
        policy_file,
        policy_line,
        run_as,
        push_dir,
        allow_setid,
        targeted,
    })
}
