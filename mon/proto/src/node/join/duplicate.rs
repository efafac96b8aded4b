//! A Session for a session already running here: the parent that offered it retransmits
//! (answered again with the same SessionOk), a DAG's or a push's other parent offers it (taken
//! as an extra parent while there is room and a reason), or anyone else (a Prune to a node
//! that proves its key, nothing to the rest).

use mon_keys::hop::CLIENT_NAME;

use super::super::session::{ParentLink, Session};
use super::super::{Node, Output};
use super::link::Handshake;
use super::outcome::{Ignore, Incoming};
use crate::wire::session::OverlayKind;

/// Whether the parent of `inc` was answered before, and from where: `Some((true, ok))` when
/// it asks again from where it was answered (for a client: a stream from the address its
/// Session came from, as when its datagram arrived before its stream), `Some((false, _))`
/// for that parent's offer copied to us from elsewhere.
fn answered_before<'s>(s: &'s Session, inc: &Incoming) -> Option<(bool, &'s Vec<u8>)> {
    let same_client = inc.parent == CLIENT_NAME
        && matches!(inc.from, super::super::Peer::Client(_, ip) if ip == s.parent.peer.ip());
    if s.parent.name == inc.parent {
        Some((
            s.parent.peer == inc.from || same_client,
            &s.parent.session_ok,
        ))
    } else {
        s.extra_parents
            .iter()
            .find(|p| p.name == inc.parent)
            .map(|p| (p.peer == inc.from, &p.session_ok))
    }
}

/// Whether `s` takes another parent at `level`, and for a push whether it still wants
/// blocks. Push: data only flows towards nodes that miss blocks, so a cycle of extra links is
/// harmless (results still go up the first-parent tree); no level rule, but no extra parent
/// once the file is complete.
fn takes_extra_parent(s: &Session, level: u16) -> (bool, Option<bool>) {
    let dag = s.body.overlay.kind == OverlayKind::Dag;
    let room = 1 + s.extra_parents.len() < usize::from(s.body.overlay.max_parents);
    let push = s.push.as_ref().map(|p| !p.dl.complete() && !p.finished());
    let acceptable = match push {
        Some(wanted) => wanted,
        None => dag && level < s.level,
    };
    (room && acceptable, push)
}

impl Node {
    /// A Session whose session runs here already (see the module docs).
    pub(super) fn duplicate_session(&mut self, now_ms: u64, inc: &Incoming) {
        let Some(s) = self.sessions.get(&inc.hash) else {
            return;
        };
        match answered_before(s, inc) {
            Some((true, ok)) => {
                let bytes = ok.clone();
                self.out.push_back(Output::Send {
                    to: inc.from,
                    bytes,
                });
                return;
            }
            Some((false, _)) => return self.ignore(now_ms, inc.from, Ignore::Junk),
            None => {}
        }
        let (takes, push) = takes_extra_parent(s, inc.level);
        // Only a node that proves its key (a DAG's or a push's other parent, or a node that
        // offers a session we are in already) gets an answer: a SessionOk or a Prune.
        if !self.proves_key(inc) {
            return self.ignore(now_ms, inc.from, Ignore::Junk);
        }
        self.authenticated = true;
        if self.reparent(now_ms, inc) {
            return;
        }
        if takes && self.add_extra_parent(now_ms, inc, push.is_some()) {
            return;
        }
        self.send_prune(inc.from, inc.hash, inc.answered);
    }

    /// Takes the sender of `inc` as an extra parent: the handshake, our SessionOk (and for a
    /// push its channel). False if the handshake failed (the sender gets a Prune).
    fn add_extra_parent(&mut self, now_ms: u64, inc: &Incoming, push: bool) -> bool {
        let link = match self.link_to_parent(inc, true, push) {
            Handshake::Linked(link) => *link,
            Handshake::Failed(_) => return false,
            Handshake::NoChannel => return true,
        };
        self.out.push_back(Output::Send {
            to: inc.from,
            bytes: link.session_ok.clone(),
        });
        if let Some(k) = link.push_keys {
            self.push_add_parent(now_ms, inc.hash, &inc.parent, inc.from, k);
        }
        if let Some(s) = self.sessions.get_mut(&inc.hash) {
            s.extra_parents.push(ParentLink {
                name: inc.parent.clone(),
                peer: inc.from,
                sealer: link.sealer,
                opener: link.opener,
                go: false,
                session_ok: link.session_ok,
            });
        }
        true
    }
}
