//! `--advertise HOST[:PORT]` (server.conf `advertise`): the address a server tells its peers
//! to reach it at, when it is not its listen address (a server on `0.0.0.0` or `[::]`, or
//! behind a port mapping). The port defaults to the listen port; a host name is resolved
//! when the server starts. Without it, the node works out an address itself (mon-proto
//! `node/advertise.rs`: its own known_nodes address, else the source address peers see).

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};

use anyhow::{bail, Context as _};

/// A parsed `--advertise` value: host (name or IP literal) and optional port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Advertise {
    host: String,
    port: Option<u16>,
}

/// Parses `HOST`, `HOST:PORT`, `IP`, `IP:PORT`, `IPV6`, `[IPV6]` or `[IPV6]:PORT`.
pub fn parse(v: &str) -> Result<Advertise, String> {
    let v = v.trim();
    let bad = || format!("\"{v}\": expected HOST, HOST:PORT, IP:PORT or [IPV6]:PORT");
    if let Ok(ip) = v.parse::<IpAddr>() {
        return Ok(Advertise {
            host: ip.to_string(),
            port: None,
        });
    }
    if let Ok(sa) = v.parse::<SocketAddr>() {
        return Ok(Advertise {
            host: sa.ip().to_string(),
            port: Some(sa.port()),
        });
    }
    let (host, port) = match v.strip_prefix('[') {
        Some(rest) => {
            let (h, tail) = rest.split_once(']').ok_or_else(bad)?;
            h.parse::<std::net::Ipv6Addr>().map_err(|_| bad())?;
            match tail {
                "" => (h, None),
                t => (h, Some(t.strip_prefix(':').ok_or_else(bad)?)),
            }
        }
        None => match v.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (v, None),
        },
    };
    let port = port
        .map(|p| p.parse::<u16>().ok().filter(|p| *p != 0).ok_or_else(bad))
        .transpose()?;
    let name_ok = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b':'));
    if !name_ok {
        return Err(bad());
    }
    Ok(Advertise {
        host: host.to_string(),
        port,
    })
}

impl Advertise {
    /// The address to advertise: the host resolved (its first address of the listen
    /// address's family, else its first), at the given port or the listen port.
    pub fn resolve(&self, listen: SocketAddr) -> anyhow::Result<SocketAddr> {
        let port = self.port.unwrap_or(listen.port());
        let addrs: Vec<SocketAddr> = (self.host.as_str(), port)
            .to_socket_addrs()
            .with_context(|| format!("resolving the advertise address {}", self.host))?
            .collect();
        let Some(a) = addrs
            .iter()
            .find(|a| a.is_ipv4() == listen.is_ipv4())
            .or(addrs.first())
        else {
            bail!("the advertise address {} resolves to no address", self.host);
        };
        if a.ip().is_unspecified() {
            bail!(
                "advertise {}: an unspecified address reaches no one; give the address \
                 other nodes reach this one at",
                self.host
            );
        }
        Ok(*a)
    }
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
        let r = |v: &str| parse(v).unwrap().resolve(listen).unwrap();
        assert_eq!(r("192.0.2.7"), sa("192.0.2.7:7461"));
        assert_eq!(r("192.0.2.7:9000"), sa("192.0.2.7:9000"));
        assert_eq!(r("2001:db8::7"), sa("[2001:db8::7]:7461"));
        assert_eq!(r("[2001:db8::7]"), sa("[2001:db8::7]:7461"));
        assert_eq!(r("[2001:db8::7]:9000"), sa("[2001:db8::7]:9000"));
        assert_eq!(r("localhost:9000").port(), 9000);
        assert!(r("localhost").ip().is_loopback());
    }

    #[test]
    fn bad_values_are_refused_with_the_forms_expected() {
        for v in [
            "",
            "a b",
            "host:",
            "host:0",
            "host:70000",
            "[::1",
            "[x]:1",
            "[::1]x",
        ] {
            let e = parse(v).unwrap_err();
            assert!(e.contains("expected HOST"), "{v}: {e}");
        }
        let e = parse("0.0.0.0")
            .unwrap()
            .resolve(sa("0.0.0.0:1"))
            .unwrap_err();
        assert!(e.to_string().contains("reaches no one"), "{e}");
    }
}
