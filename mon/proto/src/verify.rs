//! The session checks every server runs, cheapest first, failing closed (security brief,
//! "What a server checks"): decode → slice policy present → SSHSIG structure → policy
//! (allowed_signers, namespace class, mon_policy narrowing) → `verify_strict` → freshness →
//! targeting. Parent authentication (step 2) and the replay cache (step 9) are the caller's,
//! since they need link and node state.

use std::collections::HashMap;
use std::net::IpAddr;

use mon_policy::{Operation, Reason, Request, SlicePolicy};

use crate::agg::Query;
use crate::targets::matches_list;
use crate::wire::session::{session_hash, SessionBody, SessionHash, SignedSession};

/// Setuid, setgid and sticky bits of a pushed file's mode: refused unless the deciding
/// `mon_policy` grants `allow-setid`.
pub const SETID_BITS: u32 = 0o7000;

/// The four capability classes (one home: `mon_policy::CLASSES`).
pub use mon_policy::CLASSES as NAMESPACES;

/// Limits a server applies to sessions.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Allowed clock skew, ms.
    pub skew_ms: u64,
    /// Longest join window (`expires_at - issued_at`), ms.
    pub max_join_window_ms: u64,
    /// Longest session lifetime, s.
    pub max_lifetime_s: u32,
    /// Whom this server may act as for a user.
    pub run_as: RunAsRules,
}

/// Refusal code: a root server, and the deciding policy gives no `run-as`.
pub const RUN_AS_MISSING: &str = "run-as-missing";
/// Refusal code: the `run-as` user is not among those the node's operator allows the slice.
pub const RUN_AS_NOT_ALLOWED: &str = "run-as-not-allowed";

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
    ) -> Result<(), (&'static str, String)> {
        if !self.root {
            return Ok(());
        }
        let Some(user) = run_as else {
            return Err((
                RUN_AS_MISSING,
                format!(
                    "this node's server runs as root and the mon_policy of slice \"{slice}\" gives {} no run-as: exec, grep and push are refused rather than done as root; the slice admin adds run-as=\"USER\" to the principal's mon_policy line",
                    principal.map_or_else(|| "the principal".to_string(), |p| format!("\"{p}\""))
                ),
            ));
        };
        if self
            .users
            .get(slice)
            .is_some_and(|l| l.iter().any(|u| u == user))
        {
            return Ok(());
        }
        Err((
            RUN_AS_NOT_ALLOWED,
            format!(
                "run-as \"{user}\" is not a user this node's operator allows for slice \"{slice}\": refused; the operator lists it in server.conf (run-as-users {slice} {user}), or the slice admin names an allowed user"
            ),
        ))
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            skew_ms: 300_000,
            max_join_window_ms: 600_000,
            max_lifetime_s: 3600,
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
    /// Whether the session's signature verified with a key the slice's policy lists: only
    /// then is the refusal the key holder's own and worth an audit record (issue 10, part 4).
    /// An unverified refusal is junk: counted and summarised per source, never audited with
    /// its body.
    pub verified: bool,
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

/// The narrowest namespace class that covers every operation of a session (one home: the
/// namespace ladder in `mon_policy`).
pub use mon_policy::namespace_for;

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
        verified: false,
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
    // One principal decides the whole session (every operation, run-as, from=, the audit
    // record): the one the body names, else the first of the key's that allows every
    // operation (`SlicePolicy::evaluate_session`, shared with `mon policy explain`).
    let lifetime = u64::from(body.max_lifetime_s);
    let req = Request {
        principal: body.principal.as_deref(),
        key: &info.public_key,
        namespace: &body.ns,
        op: &Operation::Query {
            name: String::new(),
        },
        client_addr: ctx.client_addr,
        node: ctx.node,
        now_unix_s: ctx.now_ms / 1000,
        fanout: Some(u32::from(body.overlay.fanout)),
        lifetime_s: Some(lifetime),
    };
    let sd = policy.evaluate_session(&req, &ops);
    let deciding = sd.deciding();
    let file = deciding.and_then(|d| d.file.as_ref().map(|f| f.display().to_string()));
    let line = deciding.and_then(|d| d.line);
    if !sd.allowed {
        let (code, text) = match deciding {
            Some(d) => (d.reason.code(), sd.message()),
            None => ("key-not-listed", "no policy line decided".to_string()),
        };
        denied.principal = sd.principal.clone().or(denied.principal);
        denied.policy_file = file;
        denied.policy_line = line;
        // A listed key's refusal is audited only if its holder really signed it.
        let listed = deciding.is_some_and(|d| {
            !matches!(
                d.reason,
                mon_policy::Reason::KeyNotListed | mon_policy::Reason::NoPolicy
            )
        });
        denied.verified =
            listed && mon_keys::sshsig::verify(&signed.sshsig, &body.ns, &signed.body).is_ok();
        return Err(deny(denied, code, text));
    }
    let principal = sd.principal.clone();
    let run_as = sd.run_as.clone();
    let (policy_file, policy_line) = (file, line);
    denied.principal = principal.clone();
    // The push operation's grant (its deepest push dir, allow-setid), under that principal.
    let (push_dir, allow_setid) = ops
        .iter()
        .zip(&sd.decisions)
        .find(|(op, _)| matches!(op, Operation::Push { .. }))
        .map_or((None, false), |(_, d)| (d.push_dir.clone(), d.allow_setid));
    // The grep operations' grant (the same lines decide every operation of the principal).
    let grep_paths = ops
        .iter()
        .zip(&sd.decisions)
        .find(|(op, _)| matches!(op, Operation::Grep { .. }))
        .map(|(_, d)| d.grep_paths.clone())
        .unwrap_or_default();
    // 6. the signature itself
    if let Err(e) = mon_keys::sshsig::verify(&signed.sshsig, &body.ns, &signed.body) {
        return Err(deny(denied, "bad-signature", e.to_string()));
    }
    denied.verified = true;

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

    // 8b. acting as the user: a node that would exec, grep, or write a push file (relays of
    // a push store it too) does so only as a run-as user its operator allows.
    let acts = body.push.is_some()
        || (targeted
            && body
                .ops
                .iter()
                .any(|q| matches!(q, Query::Grep { .. } | Query::Exec { .. })));
    if acts {
        if let Err((code, text)) =
            l.run_as
                .check(&body.slice, principal.as_deref(), run_as.as_deref())
        {
            denied.policy_file = policy_file;
            denied.policy_line = policy_line;
            return Err(deny(denied, code, text));
        }
    }
    let max_fanout = principal.as_deref().and_then(|p| policy.max_fanout(p));
    Ok(Verified {
        max_fanout,
        key_fp: body.key_fp.clone(),
        body,
        hash,
        principal,
        policy_file,
        policy_line,
        run_as,
        push_dir,
        allow_setid,
        grep_paths,
        targeted,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn run_as_rules() {
        let mut r = RunAsRules::default();
        // A server not running as root acts as itself: nothing to check.
        assert_eq!(r.check("lab", Some("alice@lab"), None), Ok(()));
        assert_eq!(r.check("lab", None, Some("root")), Ok(()));
        r.root = true;
        let e = r.check("lab", Some("alice@lab"), None).unwrap_err();
        assert_eq!(e.0, RUN_AS_MISSING);
        assert!(
            e.1.contains("\"alice@lab\"") && e.1.contains("run-as"),
            "{}",
            e.1
        );
        // Nothing listed: every run-as refused, root included.
        for u in ["nobody", "root"] {
            let e = r.check("lab", None, Some(u)).unwrap_err();
            assert_eq!(e.0, RUN_AS_NOT_ALLOWED);
            assert!(e.1.contains(&format!("run-as-users lab {u}")), "{}", e.1);
        }
        r.users
            .insert("lab".into(), vec!["nobody".into(), "deploy".into()]);
        assert_eq!(r.check("lab", None, Some("deploy")), Ok(()));
        assert_eq!(
            r.check("lab", None, Some("root")).unwrap_err().0,
            RUN_AS_NOT_ALLOWED
        );
        assert_eq!(
            r.check("other", None, Some("nobody")).unwrap_err().0,
            RUN_AS_NOT_ALLOWED
        );
    }
}
