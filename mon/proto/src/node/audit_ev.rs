//! Building the audit records a node emits.

use crate::agg::{Local, Query};
use crate::audit::{AuditEvent, EventKind, Outcome};
use crate::wire::session::{SessionBody, SessionHash, SignedSession};

use super::session::Session;
use super::Node;

/// Optional-field helpers on [`AuditEvent`].
pub(super) trait EvExt: Sized {
    fn principal_opt(self, p: Option<&str>) -> Self;
    fn policy(self, file: Option<&str>, line: Option<usize>) -> Self;
}

impl EvExt for AuditEvent {
    fn principal_opt(self, p: Option<&str>) -> Self {
        match p {
            Some(p) => self.principal(p),
            None => self,
        }
    }

    fn policy(self, file: Option<&str>, line: Option<usize>) -> Self {
        match (file, line) {
            (Some(f), Some(l)) => self.policy_at(f, u32::try_from(l).unwrap_or(u32::MAX)),
            (Some(f), None) => self.policy_file(f),
            _ => self,
        }
    }
}

/// A short name of an operation and its argv for audit records.
pub(super) fn op_argv(q: &Query) -> (String, Vec<String>) {
    match q {
        Query::Exec { argv, .. } => ("exec".into(), argv.clone()),
        Query::Grep { word, file } => ("grep".into(), vec![word.clone(), file.clone()]),
        Query::Audit(f) => ("audit".into(), f.describe()),
        other => (other.name().into(), Vec::new()),
    }
}

impl Node {
    /// A session-level record: slice, key, session id and, for accept/deny, the signed
    /// session itself so it can be exported and checked with `ssh-keygen -Y verify`.
    pub(super) fn session_event(
        &self,
        kind: EventKind,
        outcome: Outcome,
        hash: &SessionHash,
        body: Option<&SessionBody>,
        signed: &SignedSession,
    ) -> AuditEvent {
        let _ = hash;
        let mut ev = AuditEvent::new(kind).result(outcome);
        if let Some(b) = body {
            ev = ev
                .slice(b.slice.clone())
                .key_fp(b.key_fp.clone())
                .session_id(&*b.session_id)
                .principal_opt(b.principal.as_deref());
        }
        if matches!(kind, EventKind::SessionAccept | EventKind::SessionDeny) {
            ev = ev.session(&signed.body, &signed.sshsig);
        }
        ev
    }
}

impl Session {
    /// A record about this session: its slice, signing key, session id and principal.
    pub(super) fn audit_event(&self, kind: EventKind, outcome: Outcome) -> AuditEvent {
        AuditEvent::new(kind)
            .result(outcome)
            .slice(self.body.slice.clone())
            .key_fp(self.key_fp.clone())
            .session_id(&*self.body.session_id)
            .principal_opt(self.principal.as_deref())
    }

    /// `op.start` for an operation with side effects.
    pub(super) fn op_event(&self, q: &Query) -> AuditEvent {
        let (op, argv) = op_argv(q);
        let mut ev = self.audit_event(EventKind::OpStart, Outcome::Ok).op(op);
        if !argv.is_empty() {
            ev = ev.argv(argv);
        }
        ev
    }

    /// `op.end` with the outcome.
    pub(super) fn op_end_event(&self, q: &Query, local: &Local, now_ms: u64) -> AuditEvent {
        let mut ev = self.op_event(q);
        ev.event = EventKind::OpEnd;
        ev = ev.duration_ms(now_ms.saturating_sub(self.started_ms));
        match local {
            Local::Exec(o) => {
                if let Some(c) = o.exit {
                    ev = ev.exit_code(i64::from(c));
                }
                if o.timed_out {
                    ev = ev
                        .result(Outcome::Error)
                        .reason("timeout", "killed at its timeout");
                }
            }
            Local::Audit(scan) => {
                ev = ev.count(scan.matched());
                if let Some(why) = scan.broken_reason() {
                    ev = ev.result(Outcome::Error).reason("chain_not_verified", why);
                }
            }
            Local::Failed(why) => ev = ev.result(Outcome::Error).reason("failed", why.clone()),
            Local::Denied(why) => ev = ev.result(Outcome::Deny).reason("denied", why.clone()),
            _ => {}
        }
        ev
    }
}
