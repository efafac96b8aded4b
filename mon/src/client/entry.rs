//! The entry server as given to `--server`: the name (or address) as typed and the address
//! dialled. A name is looked up in known_nodes first (a node's name there, with its line's
//! addresses: IPs, and host names resolved now), then by the system resolver. The port:
//! the one typed, else the known_nodes line's, else 7460. The client pins the entry's key by
//! the name as typed and by the address (issue 10, part 6).

use std::net::SocketAddr;
use std::path::Path;

use mon_keys::addr::{Host, HostPort, DEFAULT_PORT};
use mon_keys::known_nodes::{system_resolver, KnownNodes};

/// The entry server.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The host as typed (an address typed is its own name), without the port.
    pub typed: String,
    /// The address dialled.
    pub addr: SocketAddr,
}

impl Entry {
    /// Resolves `server`: an IP as is; a name through the known_nodes file `known` (when it
    /// can be read), then the system resolver.
    pub fn resolve(server: &HostPort, known: Option<&Path>) -> anyhow::Result<Entry> {
        let name = match server.host() {
            Host::Ip(ip) => {
                return Ok(Entry {
                    typed: ip.to_string(),
                    addr: SocketAddr::new(*ip, server.port_or(DEFAULT_PORT)),
                })
            }
            Host::Name(n) => n,
        };
        if let Some(addr) = known.and_then(|k| from_known_nodes(k, name, server.port())) {
            return Ok(Entry {
                typed: name.clone(),
                addr,
            });
        }
        let addr = server.resolve_one(DEFAULT_PORT).map_err(|e| {
            let hint = match known {
                Some(k) => format!("; {} has no address for it either", k.display()),
                None => String::new(),
            };
            anyhow::anyhow!("--server {server}: {e}{hint}")
        })?;
        Ok(Entry {
            typed: name.clone(),
            addr,
        })
    }
}

/// The first address of the known_nodes line that names the node `name` (its host names
/// resolved now), on `port` if given, else the line's port, else 7460.
fn from_known_nodes(path: &Path, name: &str, port: Option<u16>) -> Option<SocketAddr> {
    let mut known = KnownNodes::load(path).ok()?;
    let lower = name.to_ascii_lowercase();
    known.entries_named(&lower).next()?;
    for w in known.resolve_names(|n| n.names().any(|m| m == lower), system_resolver) {
        crate::out::errln!("mon: warning: {w}");
    }
    let line = known
        .entries_named(&lower)
        .find(|l| l.addrs().next().is_some())?;
    let (ip, line_port) = line.addrs().next()?;
    Some(SocketAddr::new(
        ip,
        port.or(line_port).unwrap_or(DEFAULT_PORT),
    ))
}

impl std::fmt::Display for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.typed == self.addr.ip().to_string() {
            write!(f, "{}", self.addr)
        } else {
            write!(f, "{}:{} ({})", self.typed, self.addr.port(), self.addr)
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use mon_keys::nodekey::NodeKey;

    fn entry(s: &str, known: Option<&Path>) -> anyhow::Result<Entry> {
        Entry::resolve(&s.parse().unwrap(), known)
    }

    #[test]
    fn the_entry_keeps_the_name_as_typed_and_the_address_it_resolved_to() {
        let e = entry("127.0.0.2:7461", None).unwrap();
        assert_eq!(e.typed, "127.0.0.2");
        assert_eq!(e.to_string(), "127.0.0.2:7461");
        let e = entry("127.0.0.2", None).unwrap();
        assert_eq!(e.addr, "127.0.0.2:7460".parse().unwrap());
        let e = entry("[::1]:7461", None).unwrap();
        assert_eq!((e.typed.as_str(), e.addr.port()), ("::1", 7461));
        let e = entry("localhost:7461", None).unwrap();
        assert_eq!(e.typed, "localhost");
        assert!(e.addr.ip().is_loopback());
        assert!(e.to_string().starts_with("localhost:7461 ("), "{e}");
        let e = entry("localhost", None).unwrap();
        assert_eq!(e.addr.port(), 7460);
        let e = entry("no-such-host.invalid", None).unwrap_err().to_string();
        assert!(e.contains("cannot resolve \"no-such-host.invalid\""), "{e}");
    }

    #[test]
    fn a_known_nodes_name_resolves_to_its_lines_address() {
        let dir = tempfile::tempdir().unwrap();
        let kn = dir.path().join("known_nodes");
        let key = |_| NodeKey::generate(&mut rand::rngs::OsRng).public_openssh();
        let text = format!(
            "n1,127.0.0.9 {}\nn2,[127.0.0.10]:7999 {}\nn3,localhost {}\nn4 {}\n",
            key(1),
            key(2),
            key(3),
            key(4)
        );
        std::fs::write(&kn, text).unwrap();
        let e = entry("n1", Some(&kn)).unwrap();
        assert_eq!(e.addr, "127.0.0.9:7460".parse().unwrap());
        assert_eq!(e.to_string(), "n1:7460 (127.0.0.9:7460)");
        let e = entry("N1:7461", Some(&kn)).unwrap();
        assert_eq!(e.addr, "127.0.0.9:7461".parse().unwrap());
        let e = entry("n2", Some(&kn)).unwrap();
        assert_eq!(e.addr, "127.0.0.10:7999".parse().unwrap());
        let e = entry("n3", Some(&kn)).unwrap();
        assert!(e.addr.ip().is_loopback() && e.addr.port() == 7460, "{e}");
        // A line without addresses leaves the name to the resolver.
        let e = entry("n4", Some(&kn)).unwrap_err().to_string();
        assert!(
            e.contains("cannot resolve \"n4\"") && e.contains("no address for it"),
            "{e}"
        );
    }
}
