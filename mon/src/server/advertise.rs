//! `--advertise HOST[:PORT]` (server.conf `advertise`): the address a server tells its peers
//! to reach it at, when it is not its listen address (a server on `0.0.0.0` or `[::]`, or
//! behind a port mapping). Written as every address is (`mon_keys::addr::HostPort`); the port
//! defaults to the listen port; a host name is resolved when the server starts. Without it,
//! the node works out an address itself (mon-proto `node/advertise.rs`: its own known_nodes
//! address, else the source address peers see).

use std::net::SocketAddr;

use anyhow::{bail, Context as _};
use mon_keys::addr::HostPort;

/// The address to advertise: `advertise` resolved (its first address of the listen
/// address's family, else its first), at its port or the listen port.
pub fn resolve(advertise: &HostPort, listen: SocketAddr) -> anyhow::Result<SocketAddr> {
    let addrs = advertise
        .resolve(listen.port())
        .with_context(|| format!("resolving the advertise address {advertise}"))?;
    let Some(a) = addrs
        .iter()
        .find(|a| a.is_ipv4() == listen.is_ipv4())
        .or(addrs.first())
    else {
        bail!("the advertise address {advertise} resolves to no address");
    };
    if a.ip().is_unspecified() {
        bail!(
            "advertise {advertise}: an unspecified address reaches no one; give the address \
             other nodes reach this one at"
        );
    }
    Ok(*a)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn forms_and_default_port() {
        let listen = sa("0.0.0.0:7461");
        let r = |v: &str| resolve(&v.parse::<HostPort>().unwrap(), listen).unwrap();
        assert_eq!(r("192.0.2.7"), sa("192.0.2.7:7461"));
        assert_eq!(r("192.0.2.7:9000"), sa("192.0.2.7:9000"));
        assert_eq!(r("2001:db8::7"), sa("[2001:db8::7]:7461"));
        assert_eq!(r("[2001:db8::7]"), sa("[2001:db8::7]:7461"));
        assert_eq!(r("[2001:db8::7]:9000"), sa("[2001:db8::7]:9000"));
        assert_eq!(r("localhost:9000").port(), 9000);
        assert!(r("localhost").ip().is_loopback());
    }

    #[test]
    fn an_unspecified_advertise_address_is_refused() {
        let e = resolve(&"0.0.0.0".parse::<HostPort>().unwrap(), sa("0.0.0.0:1")).unwrap_err();
        assert!(e.to_string().contains("reaches no one"), "{e}");
    }
}
