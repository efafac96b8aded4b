//! One principal decides a whole session: [`SlicePolicy::evaluate_session`].
//!
//! A key may be listed under several principals (`ops@lab,alice@lab …`). Deciding each
//! operation of a session on its own could allow one operation as `ops@lab` and the next as
//! `alice@lab`, while the session runs (and is audited) as only one of them. Instead, the
//! session is decided under one principal: the one the client names, or else the first
//! principal of the key (in `allowed_signers` order) whose lines allow every operation.
//! Every operation, `run-as`, the `from=` check and the audit record then use that principal.
//! Servers and `mon policy explain` both call this function, so they cannot disagree.

use ssh_key::PublicKey;

use crate::decision::Decision;
use crate::operation::Operation;
use crate::slice::{Request, SlicePolicy};

/// What a slice's policy decides for a whole session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionDecision {
    /// Allowed when every operation is allowed under [`SessionDecision::principal`].
    pub allowed: bool,
    /// The one principal the session is decided under (on a deny: the one the reported
    /// denial is about, `None` when no principal could be tried).
    pub principal: Option<String>,
    /// One decision per operation, in order, all under `principal`. When denied, the list
    /// ends with the first denied operation.
    pub decisions: Vec<Decision>,
    /// The user the session's exec, grep and push run as (`run-as=` of `principal`).
    pub run_as: Option<String>,
    /// The principals tried, in order (one when the client named its principal).
    pub tried: Vec<String>,
}

impl SessionDecision {
    /// The decision to report: the denial when denied, else the first operation's.
    pub fn deciding(&self) -> Option<&Decision> {
        if self.allowed {
            self.decisions.first()
        } else {
            self.decisions.last()
        }
    }

    /// A one-line explanation: the deciding decision's message, and, when no single
    /// principal of the key allows every operation, which ones were tried.
    pub fn message(&self) -> String {
        let base = self
            .deciding()
            .map(|d| d.message.clone())
            .unwrap_or_default();
        if self.allowed || self.tried.len() < 2 {
            return base;
        }
        format!(
            "{base}; no single principal of this key allows every operation of the session (tried {})",
            self.tried.join(", ")
        )
    }
}

/// The key's candidate principals when the session names none: the literal principals of
/// every `allowed_signers` line listing the key, in file order, without duplicates.
impl SessionDecision {
    /// The session is allowed under `principal`; it runs as the first `run_as` its
    /// decisions name.
    fn allowed_as(
        principal: Option<String>,
        decisions: Vec<Decision>,
        tried: Vec<String>,
    ) -> SessionDecision {
        let run_as = decisions.iter().find_map(|d| d.run_as.clone());
        SessionDecision {
            allowed: true,
            principal,
            decisions,
            run_as,
            tried,
        }
    }

    /// The session is denied under `principal` (or, when none was named, the principal of
    /// the last decision); `tried` is filled in by the caller.
    fn denied_as(principal: Option<&str>, decisions: Vec<Decision>) -> SessionDecision {
        let principal = principal
            .map(str::to_string)
            .or_else(|| decisions.last().and_then(|d| d.principal.clone()));
        SessionDecision {
            allowed: false,
            principal,
            decisions,
            run_as: None,
            tried: Vec::new(),
        }
    }
}

fn candidates(policy: &SlicePolicy, key: &PublicKey) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for line in policy.signers.lines_for_key(key) {
        for p in line.principals.literals() {
            if !out.iter().any(|o| o == p) {
                out.push(p.to_string());
            }
        }
    }
    out
}

impl SlicePolicy {
    /// Decides a whole session of `ops` under one principal (see the module docs). `req`
    /// gives everything but the operation (`req.op` is ignored); `req.principal` is the
    /// principal the session names. A session with no operation is decided as a query, so
    /// that its key must still be listed for the namespace. Never panics; default deny.
    pub fn evaluate_session(&self, req: &Request<'_>, ops: &[Operation]) -> SessionDecision {
        let none = [Operation::Query {
            name: "session".to_string(),
        }];
        let ops = if ops.is_empty() { &none[..] } else { ops };
        let tried: Vec<String> = match req.principal {
            Some(p) => vec![p.to_string()],
            None => candidates(self, req.key),
        };
        let mut first_denial: Option<SessionDecision> = None;
        let names: Vec<Option<&str>> = if tried.is_empty() {
            // Not listed (or only under patterns): `evaluate` says why.
            vec![None]
        } else {
            tried.iter().map(|p| Some(p.as_str())).collect()
        };
        for principal in names {
            let (allowed, decisions) = self.evaluate_ops(req, principal, ops);
            if allowed {
                let principal = principal.map(str::to_string);
                return SessionDecision::allowed_as(principal, decisions, tried);
            }
            if first_denial.is_none() {
                first_denial = Some(SessionDecision::denied_as(principal, decisions));
            }
        }
        let mut out = first_denial.unwrap_or(SessionDecision::denied_as(None, Vec::new()));
        out.tried = tried;
        out
    }

    /// Decides `ops` in order under `principal`, stopping at the first denial: whether all
    /// were allowed, and the decisions made.
    fn evaluate_ops(
        &self,
        req: &Request<'_>,
        principal: Option<&str>,
        ops: &[Operation],
    ) -> (bool, Vec<Decision>) {
        let mut decisions = Vec::with_capacity(ops.len());
        for op in ops {
            let d = self.evaluate(&Request {
                principal,
                op,
                ..*req
            });
            let ok = d.allowed;
            decisions.push(d);
            if !ok {
                return (false, decisions);
            }
        }
        (true, decisions)
    }
}
