//! The address a node gives its peers as its own (the `from` of its signed Ping and Pong),
//! and where a peer that gave none is placed.
//!
//! A server listening on an unspecified IP (`0.0.0.0`, `[::]`, the default) cannot tell its
//! peers that address: they would answer to nowhere. In order:
//! 1. the configured address ([`super::NodeConfig::listen`]: the operator's `advertise`
//!    address, else the listen address) when its IP is specified;
//! 2. else the first IP the `known_nodes` lines for this node's name and key list (of the
//!    listen address's family, or any with `[::]`; a loopback IP only when no other is
//!    listed), at the listen port;
//! 3. else the unspecified address as is: receivers place such a sender at the source IP of
//!    its packet ([`placed_at_source`]), as node streams already are.

use std::net::SocketAddr;

use mon_keys::known_nodes::KnownNodes;

/// The address a node named `name` with public key `key`, configured with `listen`,
/// advertises (rules in the module docs).
pub(super) fn advertised(
    listen: SocketAddr,
    known: &KnownNodes,
    name: &str,
    key: &[u8; 32],
) -> SocketAddr {
    if !listen.ip().is_unspecified() {
        return listen;
    }
    let ips: Vec<std::net::IpAddr> = known
        .entries_named(name)
        .filter(|e| e.key() == key)
        .flat_map(|e| e.ips())
        .filter(|ip| listen.is_ipv6() || ip.is_ipv4())
        .collect();
    // A loopback address only when nothing else is listed: a host name resolved on its own
    // host may give one (Debian's /etc/hosts maps the host's name to 127.0.1.1), which no
    // peer on another host reaches.
    ips.iter()
        .find(|ip| !ip.is_loopback())
        .or(ips.first())
        .map_or(listen, |ip| SocketAddr::new(*ip, listen.port()))
}

/// A sender that claims an unspecified IP is taken at the source IP of its packet, with
/// the port it claims; any other claim stays. `Some` only when it was placed so.
pub(super) fn placed_at_source(claimed: SocketAddr, source: SocketAddr) -> Option<SocketAddr> {
    claimed
        .ip()
        .is_unspecified()
        .then(|| SocketAddr::new(source.ip().to_canonical(), claimed.port()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::path::Path;

    use mon_keys::nodekey::NodeKey;
    use rand::SeedableRng;

    use super::*;

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    fn key() -> NodeKey {
        NodeKey::generate(&mut rand_chacha::ChaCha20Rng::seed_from_u64(5))
    }

    fn known(line: &str, k: &NodeKey) -> KnownNodes {
        let text = format!("{line} {}\n", k.public_openssh());
        KnownNodes::parse(&text, Path::new("known_nodes")).unwrap()
    }

    #[test]
    fn an_unspecified_listen_address_takes_the_own_known_nodes_address() {
        let k = key();
        let pk = k.public();
        let kn = known("n1,10.0.0.1,2001:db8::1", &k);
        // A specified address is kept as configured.
        assert_eq!(
            advertised(sa("10.9.9.9:1"), &kn, "n1", &pk),
            sa("10.9.9.9:1")
        );
        // 0.0.0.0: the line's IPv4 address, the listen port.
        assert_eq!(
            advertised(sa("0.0.0.0:7460"), &kn, "n1", &pk),
            sa("10.0.0.1:7460")
        );
        // [::]: the first address of either family.
        assert_eq!(
            advertised(sa("[::]:7461"), &kn, "n1", &pk),
            sa("10.0.0.1:7461")
        );
        // A loopback address (a host name resolved on its own host: 127.0.1.1 on Debian)
        // only when nothing else is listed.
        let lo_first = known("n1,127.0.1.1,10.0.0.1", &k);
        assert_eq!(
            advertised(sa("0.0.0.0:7460"), &lo_first, "n1", &pk),
            sa("10.0.0.1:7460")
        );
        let lo_only = known("n1,127.0.0.4", &k);
        assert_eq!(
            advertised(sa("0.0.0.0:7460"), &lo_only, "n1", &pk),
            sa("127.0.0.4:7460")
        );
        let v6 = known("n1,2001:db8::1", &k);
        assert_eq!(
            advertised(sa("[::]:7460"), &v6, "n1", &pk),
            sa("[2001:db8::1]:7460")
        );
        // 0.0.0.0 cannot be reached at an IPv6 address: stays unspecified.
        assert_eq!(
            advertised(sa("0.0.0.0:7460"), &v6, "n1", &pk),
            sa("0.0.0.0:7460")
        );
        // Another name, another key, or a line without an address: unspecified.
        assert_eq!(
            advertised(sa("0.0.0.0:7460"), &kn, "n2", &pk),
            sa("0.0.0.0:7460")
        );
        assert_eq!(
            advertised(sa("0.0.0.0:7460"), &kn, "n1", &[9; 32]),
            sa("0.0.0.0:7460")
        );
        let bare = known("n1", &k);
        assert_eq!(
            advertised(sa("0.0.0.0:7460"), &bare, "n1", &pk),
            sa("0.0.0.0:7460")
        );
    }

    #[test]
    fn only_an_unspecified_claim_is_placed_at_the_source() {
        let src = sa("192.0.2.7:40000");
        assert_eq!(
            placed_at_source(sa("0.0.0.0:7460"), src),
            Some(sa("192.0.2.7:7460"))
        );
        assert_eq!(
            placed_at_source(sa("[::]:7460"), src),
            Some(sa("192.0.2.7:7460"))
        );
        let mapped = sa("[::ffff:192.0.2.7]:40000");
        assert_eq!(
            placed_at_source(sa("[::]:7461"), mapped),
            Some(sa("192.0.2.7:7461"))
        );
        assert_eq!(placed_at_source(sa("10.0.0.1:7460"), src), None);
    }
}
