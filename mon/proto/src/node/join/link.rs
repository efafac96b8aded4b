//! The child side of the hop handshake, for a first parent (admission) and an extra parent
//! (a duplicate) alike: our SessionOk, and the link's channel 0 (and a push's channel).

use mon_keys::frame::{Opener, Sealer};
use mon_keys::hop::{self, HopError};

use super::super::Node;
use super::outcome::Incoming;
use crate::push::msg::PUSH_CHANNEL;
use crate::wire::packet::Packet;

/// A link to the parent of an [`Incoming`] Session.
pub(super) struct Link {
    /// Our SessionOk, sent now and kept to answer a retransmission.
    pub session_ok: Vec<u8>,
    /// Channel 0.
    pub sealer: Sealer,
    /// Channel 0.
    pub opener: Opener,
    /// The push channel, for a push.
    pub push_keys: Option<(Sealer, Opener)>,
}

/// What the handshake gave.
pub(super) enum Handshake {
    /// The link.
    Linked(Box<Link>),
    /// The handshake failed.
    Failed(HopError),
    /// Its channels could not be derived.
    NoChannel,
}

impl Node {
    /// Answers the parent of `inc`'s handshake (`extra`: as an extra parent; `push`: with a
    /// push channel).
    pub(super) fn link_to_parent(&mut self, inc: &Incoming, extra: bool, push: bool) -> Handshake {
        let (hash, name) = (&inc.hash, &self.cfg.name);
        let (hello, mut keys) =
            match hop::respond(&mut self.rng, &self.key, hash, &inc.e_p, &inc.parent, name) {
                Ok(x) => x,
                Err(e) => return Handshake::Failed(e),
            };
        let ok = Packet::SessionOk {
            session_hash: (*hash).into(),
            child: name.clone(),
            e_c: hello.e_c.into(),
            sig: hello.sig.into(),
            confirm: hello.confirm.to_vec(),
            extra,
        };
        let Ok((sealer, opener)) = keys.channel(0) else {
            return Handshake::NoChannel;
        };
        let push_keys = match push {
            true => match keys.channel(u64::from(PUSH_CHANNEL)) {
                Ok(k) => Some(k),
                Err(_) => return Handshake::NoChannel,
            },
            false => None,
        };
        Handshake::Linked(Box::new(Link {
            session_ok: ok.to_bytes(),
            sealer,
            opener,
            push_keys,
        }))
    }
}
