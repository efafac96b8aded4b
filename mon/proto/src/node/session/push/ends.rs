//! Per-node push progress inside a node (see [`crate::push::ends`]): the node's own end and
//! those its children report go to its result parent in bounded `Ended` reports, with each
//! Progress report, at once when its own part is over (before `Finished`), and all that is
//! left right before its result, so that the client sees them before the result.

use super::super::{Ctx, Session};
use super::send_on;
use crate::agg::Local;
use crate::push::ends::{self, NodeEnd};
use crate::push::msg::PushMsg;
use crate::wire::session::SessionHash;

impl Session {
    /// Records this node's own end from its local result (nothing for a node outside
    /// `targets`, which only relays).
    pub(super) fn record_own_end(&mut self, me: &str, local: &Local) {
        let targeted = self.targeted;
        let Some(p) = self.push.as_mut() else {
            return;
        };
        if let Some(end) = ends::of_local(targeted, local) {
            p.ends.record(NodeEnd {
                node: me.to_string(),
                end,
            });
        }
    }

    /// Sends the result parent the next `Ended` report, or (`all`) every pending one; false
    /// when nothing was pending or no live link leads to the result parent.
    pub(in crate::node) fn send_push_ends(
        &mut self,
        now_ms: u64,
        hash: SessionHash,
        all: bool,
        cx: &mut Ctx<'_>,
    ) -> bool {
        let result_parent = self.parent.name.as_str();
        let Some(p) = self.push.as_mut() else {
            return false;
        };
        let Some(l) = p
            .parents
            .iter_mut()
            .find(|l| l.alive && l.name == result_parent)
        else {
            return false;
        };
        let mut sent = false;
        while let Some(batch) = p.ends.take() {
            send_on(
                cx.out,
                &cx.cfg.name,
                hash,
                l,
                &PushMsg::Ended(batch),
                now_ms,
                None,
            );
            sent = true;
            if !all {
                break;
            }
        }
        sent
    }
}
