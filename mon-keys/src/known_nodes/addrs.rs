//! The address part of a known_nodes line: `node1,192.0.2.11,[2001:db8::11]:7461,n1.lab.example`
//! lists the node's IPs and host names after its name, each with an optional port
//! (`[HOST]:PORT`). Host names are resolved when the file is loaded or reloaded
//! ([`KnownNodes::resolve_names`]); their addresses then count as if written on the line. A
//! name that does not resolve is a warning naming the file and line, never an error: the line
//! still matches by its name and its other addresses.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::path::PathBuf;

use super::index::LineIndex;
use super::pattern::HostPattern;
use super::{KnownNode, KnownNodes};

/// A host name of a known_nodes line that did not resolve.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}:{line}: cannot resolve the host name {host:?} ({reason}); the line matches by its other names and addresses until it does (re-resolved when the file changes)", path.display())]
pub struct ResolveWarning {
    /// The file.
    pub path: PathBuf,
    /// The 1-based line number.
    pub line: usize,
    /// The host name.
    pub host: String,
    /// The resolver's answer.
    pub reason: String,
}

impl KnownNode {
    /// The line's addresses: its IP literals and the addresses its host names resolved to,
    /// with the port written beside each (`None`: the caller's default).
    pub fn addrs(&self) -> impl Iterator<Item = (IpAddr, Option<u16>)> + '_ {
        self.addrs.iter().copied()
    }

    /// The line's addresses as socket addresses, `default_port` where none was written.
    pub fn socket_addrs(&self, default_port: u16) -> impl Iterator<Item = SocketAddr> + '_ {
        self.addrs
            .iter()
            .map(move |(ip, port)| SocketAddr::new(*ip, port.unwrap_or(default_port)))
    }

    /// The host names of the address part (lower-cased), with their ports.
    pub fn host_names(&self) -> impl Iterator<Item = (&str, Option<u16>)> {
        self.host_names.iter().map(|(n, p)| (n.as_str(), *p))
    }

    /// Adds the addresses `name` (with `port`) resolved to.
    fn add_resolved(&mut self, ips: &[IpAddr], port: Option<u16>) {
        for ip in ips.iter().map(|a| a.to_canonical()) {
            if !self.addrs.contains(&(ip, port)) {
                self.addrs.push((ip, port));
            }
            let pattern = (false, HostPattern::Ip(ip));
            if !self.hosts.contains(&pattern) {
                self.hosts.push(pattern);
            }
        }
    }
}

/// The system resolver (`getaddrinfo`, blocking): the addresses of `host`.
pub fn system_resolver(host: &str) -> Result<Vec<IpAddr>, String> {
    let ips: Vec<IpAddr> = (host, 0)
        .to_socket_addrs()
        .map_err(|e| e.to_string())?
        .map(|a| a.ip())
        .collect();
    if ips.is_empty() {
        return Err("the name has no address".into());
    }
    Ok(ips)
}

impl KnownNodes {
    /// Resolves the host names of the lines `select` picks (not `@revoked` lines) with
    /// `resolve`; their addresses then match as if written on the line. Returns a warning
    /// for each name that did not resolve.
    pub fn resolve_names(
        &mut self,
        select: impl Fn(&KnownNode) -> bool,
        mut resolve: impl FnMut(&str) -> Result<Vec<IpAddr>, String>,
    ) -> Vec<ResolveWarning> {
        let mut warnings = Vec::new();
        let mut changed = false;
        for n in self.nodes.iter_mut() {
            if n.revoked || n.host_names.is_empty() || !select(n) {
                continue;
            }
            for (host, port) in n.host_names.clone() {
                match resolve(&host) {
                    Ok(ips) => {
                        n.add_resolved(&ips, port);
                        changed = true;
                    }
                    Err(reason) => warnings.push(ResolveWarning {
                        path: self.source.clone(),
                        line: n.line,
                        host,
                        reason,
                    }),
                }
            }
        }
        if changed {
            self.index = LineIndex::build(&self.nodes);
        }
        warnings
    }

    /// Resolves every line's host names with the system resolver ([`Self::resolve_names`]).
    pub fn resolve_all_names(&mut self) -> Vec<ResolveWarning> {
        self.resolve_names(|_| true, system_resolver)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::net::IpAddr;
    use std::path::Path;

    use crate::known_nodes::{KnownNodes, Pin, Trust};
    use crate::nodekey::public_openssh;

    fn key() -> [u8; 32] {
        crate::nodekey::NodeKey::generate(&mut rand_core::OsRng).public()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn the_address_part_takes_ports_ipv6_and_host_names() {
        let (k1, k2) = (key(), key());
        let text = format!(
            "n1,192.0.2.11,[192.0.2.12]:7461,[2001:db8::1]:7462,::2 {}\nn2,n2.lab.example,[n2-b.lab.example]:7463 {}\n",
            public_openssh(&k1),
            public_openssh(&k2)
        );
        let mut k = KnownNodes::parse(&text, Path::new("kn")).unwrap();
        let n1 = k.entries_named("n1").next().unwrap();
        let addrs: Vec<_> = n1.addrs().collect();
        assert_eq!(
            addrs,
            [
                (ip("192.0.2.11"), None),
                (ip("192.0.2.12"), Some(7461)),
                (ip("2001:db8::1"), Some(7462)),
                (ip("::2"), None)
            ]
        );
        assert_eq!(
            n1.socket_addrs(7460).next().unwrap(),
            "192.0.2.11:7460".parse().unwrap()
        );
        // A bracketed IP matches as that IP.
        assert_eq!(k.check("n1", Some(ip("2001:db8::1")), &k1), Trust::Trusted);
        // Host names resolve when asked; until then they match as names only.
        let n2 = k.entries_named("n2").next().unwrap();
        assert_eq!(
            n2.host_names().collect::<Vec<_>>(),
            [("n2.lab.example", None), ("n2-b.lab.example", Some(7463))]
        );
        assert_eq!(k.check("x", Some(ip("192.0.2.22")), &k2), Trust::Unknown);
        let warnings = k.resolve_names(
            |_| true,
            |h| match h {
                "n2.lab.example" => Ok(vec![ip("192.0.2.22")]),
                _ => Err("no such host".into()),
            },
        );
        assert_eq!(warnings.len(), 1);
        let w = warnings[0].to_string();
        assert!(
            w.starts_with("kn:2: cannot resolve the host name \"n2-b.lab.example\" (no such host)"),
            "{w}"
        );
        assert_eq!(k.check("x", Some(ip("192.0.2.22")), &k2), Trust::Trusted);
        assert!(
            matches!(k.pin_dialled("192.0.2.22", ip("192.0.2.22")), Pin::Line(l) if l.line() == 2)
        );
        let n2 = k.entries_named("n2").next().unwrap();
        assert_eq!(n2.addrs().collect::<Vec<_>>(), [(ip("192.0.2.22"), None)]);
        // The typed alias pins the line too.
        assert!(matches!(
            k.pin_dialled("n2.lab.example", ip("192.0.2.99")),
            Pin::Line(_)
        ));
    }

    #[test]
    fn a_malformed_address_is_an_error_at_its_column() {
        for (host, says) in [
            ("n1,[::1", "without its `]`"),
            ("n1,[::1]:x", "not a port number"),
            ("n1,![::1]:7461", "cannot be negated"),
        ] {
            let text = format!("{host} {}\n", public_openssh(&key()));
            let e = KnownNodes::parse(&text, Path::new("kn"))
                .unwrap_err()
                .to_string();
            assert!(e.starts_with("kn:1:4:") && e.contains(says), "{host}: {e}");
        }
    }
}
