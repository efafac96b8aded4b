//! `mon push --where RES OP VALUE`: the condition is part of the signed manifest; each node in
//! `targets` reads the resource when its push starts, and lands the file only if the condition
//! holds. A node where it does not hold (or whose resource cannot be read) still downloads and
//! serves the blocks as a relay, so the DAG keeps its shape, and reports itself skipped (or
//! failed, with the reason) instead of landing anything at DEST. The node's file is created
//! only once the condition is known, so a node that does not land creates nothing at DEST
//! (its blocks go to an anonymous relay file).

use super::super::{Ctx, Session};
use super::state::{Cond, Land};
use crate::agg::{Local, Query};
use crate::node::{Node, Output, RunRequest};
use crate::wire::session::SessionHash;

/// [`RunRequest::index`] of a push condition's resource read (a push session's operations
/// are indexed from 0; this one is not among them). Report it with
/// [`Node::handle_local`] like any other local result.
pub const PUSH_COND_INDEX: usize = usize::MAX;

/// What a node whose download completed does with the file.
pub(in crate::node) enum Finish {
    /// Land it at DEST.
    Commit,
    /// Wait: the condition's resource is still being read.
    Wait,
    /// Keep it as a relay only and report this.
    Relay(Local),
}

/// The decision for a complete download.
pub(in crate::node) fn finish(targeted: bool, cond: &Cond) -> Finish {
    match (targeted, cond) {
        // Outside `targets`: relay-only, reported as relayed (see `push_local`).
        (false, _) => Finish::Relay(Local::Present),
        (true, Cond::None | Cond::Match) => Finish::Commit,
        (true, Cond::Pending) => Finish::Wait,
        (true, Cond::NoMatch) => Finish::Relay(Local::Skipped),
        (true, Cond::Failed(e)) => Finish::Relay(Local::Failed(format!("where: {e}"))),
    }
}

impl Node {
    /// The condition's resource was read (or could not be).
    pub(in crate::node) fn push_cond_result(
        &mut self,
        now_ms: u64,
        hash: SessionHash,
        local: Local,
    ) {
        let Some((s, mut cx)) = self.session_cx(&hash) else {
            return;
        };
        if s.push_cond_result(hash, local, &mut cx) {
            self.push_pump(now_ms, hash);
        }
    }
}

impl Session {
    /// The push starts on this node: if the manifest has a condition and the node is
    /// targeted, ask the driver to read the resource (true: the file is created when the
    /// result comes, see [`Node::push_cond_result`]).
    pub(super) fn push_cond_start(
        &mut self,
        now_ms: u64,
        hash: SessionHash,
        cx: &mut Ctx<'_>,
    ) -> bool {
        let targeted = self.targeted;
        let timeout_ms = self.finish_by.saturating_sub(now_ms);
        let run_as = self.run_as.clone();
        let Some(p) = self.push.as_mut() else {
            return false;
        };
        let Some(w) = p.manifest.cond.clone() else {
            return false;
        };
        if !targeted || p.cond != Cond::None {
            return false;
        }
        p.cond = Cond::Pending;
        cx.out.push_back(Output::Run(RunRequest {
            session: hash,
            index: PUSH_COND_INDEX,
            query: Query::Filter {
                res: w.res,
                op: w.op,
                value: w.value,
            },
            run_as,
            grep_paths: Vec::new(),
            timeout_ms,
        }));
        true
    }

    /// The condition's resource was read (or could not be): the condition is decided and,
    /// if the landing waited for it, the file is asked for. Returns whether it counted (the
    /// node then pumps the push).
    fn push_cond_result(&mut self, hash: SessionHash, local: Local, cx: &mut Ctx<'_>) -> bool {
        let Some(p) = self.push.as_mut() else {
            return false;
        };
        let Some(w) = p.manifest.cond.as_ref() else {
            return false;
        };
        if p.cond != Cond::Pending {
            return false;
        }
        p.cond = match local {
            Local::Value(v) if v.is_finite() && w.matches(v) => Cond::Match,
            Local::Value(v) if v.is_finite() => Cond::NoMatch,
            Local::Value(v) => Cond::Failed(format!("{} is {v}, not a finite number", w.res)),
            Local::Failed(e) => Cond::Failed(e),
            other => Cond::Failed(format!("unexpected result {other:?}")),
        };
        if p.land == Land::Creating {
            self.push_create(hash, cx);
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_targeted_matching_nodes_land_the_file() {
        assert!(matches!(finish(true, &Cond::None), Finish::Commit));
        assert!(matches!(finish(true, &Cond::Match), Finish::Commit));
        assert!(matches!(finish(true, &Cond::Pending), Finish::Wait));
        assert!(matches!(
            finish(true, &Cond::NoMatch),
            Finish::Relay(Local::Skipped)
        ));
        assert!(matches!(
            finish(true, &Cond::Failed("no such resource".into())),
            Finish::Relay(Local::Failed(e)) if e == "where: no such resource"
        ));
        for c in [Cond::None, Cond::Match, Cond::NoMatch, Cond::Pending] {
            assert!(matches!(finish(false, &c), Finish::Relay(Local::Present)));
        }
    }
}
