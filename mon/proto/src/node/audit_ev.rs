//! Building the audit records a node emits.

use crate::agg::{Local, Query};
use crate::audit::{AuditEvent, EventKind, Outcome};
use crate::wire::session::{SessionBody, SessionHash, SignedSession};

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

    /// `op.start` for an operation with side effects.
    pub(super) fn op_event(&self, hash: &SessionHash, q: &Query) -> AuditEvent {
        let s = self.sessions.get(hash);
        let (op, argv) = op_argv(q);
        let mut ev = AuditEvent::new(EventKind::OpStart)
            .result(Outcome::Ok)
            .op(op);
        if !argv.is_empty() {
            ev = ev.argv(argv);
        }
        if let Some(s) = s {
            ev = ev
                .slice(s.body.slice.clone())
                .key_fp(s.key_fp.clone())
                .session_id(&*s.body.session_id)
                .principal_opt(s.principal.as_deref());
        }
        ev
    }

    /// `op.end` with the outcome.
    pub(super) fn op_end_event(
        &self,
        hash: &SessionHash,
        q: &Query,
        local: &Local,
        now_ms: u64,
    ) -> AuditEvent {
        let mut ev = self.op_event(hash, q);
        ev.event = EventKind::OpEnd;
        if let Some(s) = self.sessions.get(hash) {
            ev = ev.duration_ms(now_ms.saturating_sub(s.started_ms));
        }
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
            Local::Failed(why) => ev = ev.result(Outcome::Error).reason("failed", why.clone()),
            Local::Denied(why) => ev = ev.result(Outcome::Deny).reason("denied", why.clone()),
            _ => {}
        }
        ev
    }
}
