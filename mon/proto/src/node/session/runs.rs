//! A session's runs in the node's run table ([`super::super::runs::RunTable`]): an exec or
//! grep refused because the node already runs [`NodeConfig::max_runs`] of them, and the
//! cancelling of a session's runs still in flight (a newer Command of an interactive
//! session began, or the session was cancelled).

use super::{Ctx, Session};
use crate::agg::{Local, Partial, Query};
use crate::audit::{EventKind, Outcome};
#[cfg(doc)]
use crate::node::NodeConfig;
use crate::node::{Output, RUNS_BUSY};
use crate::wire::session::SessionHash;

/// The audit reason code of a session's own operation whose go came after the session's own
/// deadline, or of a Command's that came after its own ([`crate::timing::own_ops_deadline_ms`]
/// from the Command's signed `issued_at`): it is not started.
pub const OP_EXPIRED: &str = "session-op-expired";

/// The audit reason code of a run cancelled before it answered.
pub(in crate::node) const RUN_CANCELLED: &str = "cancelled";

impl Session {
    /// An exec or grep refused because the node runs [`NodeConfig::max_runs`] of them
    /// already: audited (`op.deny`), counted, and its partial says this node denied it.
    pub(super) fn runs_busy(&self, q: &Query, cx: &mut Ctx<'_>) -> Partial {
        let text = format!(
            "this node already runs {} execs, greps and audit reads, its limit (retry when they end)",
            cx.cfg.max_runs
        );
        cx.counters.runs_refused += 1;
        self.denied_op(q, RUNS_BUSY, &text, cx)
    }

    /// One operation this node refuses (`code`, `text`): its `op.deny` audit record (with the
    /// argv, if any) goes out, and the partial it returns says this node denied it.
    pub(super) fn denied_op(&self, q: &Query, code: &str, text: &str, cx: &mut Ctx<'_>) -> Partial {
        let (op, argv) = crate::node::audit_ev::op_argv(q);
        let mut ev = self
            .audit_event(EventKind::OpDeny, Outcome::Deny)
            .op(op)
            .reason(code.to_string(), text.to_string());
        if !argv.is_empty() {
            ev = ev.argv(argv);
        }
        cx.out.push_back(Output::Audit(Box::new(ev)));
        let mut p = Partial::empty(q);
        p.add_denied(&cx.cfg.name, &format!("{code}: {text}"));
        p
    }

    /// One of the session's own operations whose go came at `now_ms`, after the session's
    /// own deadline (`deadline`): not started; audited (`op.deny`, [`OP_EXPIRED`]), counted,
    /// and its partial says this node denied it.
    pub(super) fn op_expired(
        &self,
        q: &Query,
        now_ms: u64,
        deadline: u64,
        cx: &mut Ctx<'_>,
    ) -> Partial {
        let late = now_ms.saturating_sub(deadline) / 1000;
        let text = match self.cmd_seq() {
            0 => format!(
                "the go came {late} s after the session's own operations were due (a late join): not started"
            ),
            seq => format!("command {seq} came {late} s after it was due: not started"),
        };
        cx.counters.ops_expired += 1;
        self.denied_op(q, OP_EXPIRED, &text, cx)
    }

    /// Cancels every run of this session still in flight (`why`: the audit text): an exec
    /// or grep of the command the session is on gets its `op.end` (reason `cancelled`)
    /// before the driver is told to stop it; its slot is filled so that the result can go.
    pub(in crate::node) fn cancel_runs(
        &mut self,
        now_ms: u64,
        hash: SessionHash,
        why: &str,
        cx: &mut Ctx<'_>,
    ) {
        let seq = self.cmd_seq();
        for index in cx.runs.of_session(&hash) {
            cx.runs.end(hash, index);
            cx.counters.runs_cancelled += 1;
            let (s, i) = super::command::split_run_index(index);
            let q = self.ops.get(i).filter(|_| s == seq).cloned();
            if let Some(q) = q {
                if matches!(q, Query::Exec { .. } | Query::Grep { .. }) {
                    let local = Local::Failed(format!("{RUN_CANCELLED}: {why}"));
                    let ev = self
                        .op_end_event(&q, &local, now_ms)
                        .reason(RUN_CANCELLED, why.to_string());
                    cx.out.push_back(Output::Audit(Box::new(ev)));
                    if self.local.get(i).is_some_and(Option::is_none) {
                        self.local[i] = Some(Partial::from_local(&q, &cx.cfg.name, local));
                    }
                }
            }
            cx.out.push_back(Output::CancelRun {
                session: hash,
                index,
            });
        }
    }
}
