//! Whether a parent node proves the key known_nodes pins for it (the only senders besides a
//! client on its own stream that a Session is ever answered to).

use mon_keys::hop::{self, CLIENT_NAME};
use mon_keys::known_nodes::Trust;

use super::super::{Node, Peer};
use super::outcome::Incoming;
use crate::wire::session::SessionHash;

impl Node {
    /// The key known_nodes pins for `name` at `ip`.
    pub(in super::super) fn node_key_for(
        &self,
        name: &str,
        ip: std::net::IpAddr,
    ) -> Option<[u8; 32]> {
        self.known
            .entries_named(name)
            .map(|e| *e.key())
            .find(|k| matches!(self.known.check(name, Some(ip), k), Trust::Trusted))
    }

    /// Whether the sender of `inc` proves its parent's key ([`Node::parent_proves_key`]).
    pub(super) fn proves_key(&self, inc: &Incoming) -> bool {
        self.parent_proves_key(
            &inc.parent,
            inc.from,
            &inc.hash,
            &inc.e_p,
            inc.parent_sig.as_ref(),
        )
    }

    /// Whether the node `parent` at `from` proves the key known_nodes pins for it: its
    /// signature over this hop (session, `e_p`, our name), from an address its known_nodes
    /// line lists (any address when the line lists none). A hop signature can be replayed, so
    /// the address is what tells the node's own offer from a copy sent from elsewhere. A
    /// client, or an address with no trusted key for `parent`, proves nothing.
    pub(super) fn parent_proves_key(
        &self,
        parent: &str,
        from: Peer,
        hash: &SessionHash,
        e_p: &[u8; 32],
        parent_sig: Option<&[u8; 64]>,
    ) -> bool {
        let Peer::Addr(addr) = from else {
            return false;
        };
        if parent == CLIENT_NAME {
            return false;
        }
        let Some(k) = self.node_key_for(parent, addr.ip()) else {
            return false;
        };
        let listed = |e: &mon_keys::known_nodes::KnownNode| {
            *e.key() == k && {
                let mut ips = e.ips().peekable();
                ips.peek().is_none() || ips.any(|ip| ip.to_canonical() == addr.ip().to_canonical())
            }
        };
        if !self.known.entries_named(parent).any(listed) {
            return false;
        }
        parent_sig.is_some_and(|sig| {
            hop::verify_parent_signature(&k, hash, e_p, &self.cfg.name, sig).is_ok()
        })
    }
}
