//! A Session from the entry node of an interactive session, re-offered at a follow-up
//! Command to a node its last result did not reach although the node is in the session: the
//! node was cut off (a node above it died), and takes the entry as its first parent (see
//! `session/reoffer.rs`).

use super::super::session::ParentLink;
use super::super::{Node, Output};
use super::link::Handshake;
use super::outcome::Incoming;

impl Node {
    /// Takes the sender of `inc` (which proved its key) as first parent when the session
    /// leaves for it ([`super::super::session::Session::leaves_for`]); false when it does not,
    /// or the handshake failed (the sender then gets a Prune).
    pub(super) fn reparent(&mut self, now_ms: u64, inc: &Incoming) -> bool {
        let leaves = self
            .sessions
            .get(&inc.hash)
            .is_some_and(|s| s.leaves_for(&inc.parent, inc.level));
        if !leaves {
            return false;
        }
        let Handshake::Linked(link) = self.link_to_parent(inc, false, false) else {
            return false;
        };
        let link = *link;
        tracing::debug!(parent = %inc.parent, "cut off in an interactive session: the entry becomes the first parent");
        self.out.push_back(Output::Send {
            to: inc.from,
            bytes: link.session_ok.clone(),
        });
        if let Some(s) = self.sessions.get_mut(&inc.hash) {
            s.take_new_parent(
                now_ms,
                ParentLink {
                    name: inc.parent.clone(),
                    peer: inc.from,
                    sealer: link.sealer,
                    opener: link.opener,
                    go: false,
                    session_ok: link.session_ok,
                },
            );
        }
        true
    }
}
