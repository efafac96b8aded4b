//! Addresses as operators write them, as ssh takes them: a host name or an IP literal, the
//! port optional ([`DEFAULT_PORT`] when left out). `node1`, `node1:7461`, `192.0.2.7`,
//! `192.0.2.7:7461`, `::1`, `[::1]`, `[::1]:7461`, `[node1]:7461`. An IPv6 address with a
//! port needs the brackets. Used by `--server`, `--listen`, `--join`, `server.conf` and the
//! address part of known_nodes lines; names are resolved where the address is used.

use std::fmt;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::str::FromStr;

/// The port MON listens on and dials when an address names none.
pub const DEFAULT_PORT: u16 = 7460;

/// Longest host name accepted (DNS: 253 characters).
const MAX_HOST_LEN: usize = 253;

/// A host (name or IP) and an optional port, as written.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HostPort {
    host: Host,
    port: Option<u16>,
}

/// The host part of a [`HostPort`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Host {
    /// An IP literal.
    Ip(IpAddr),
    /// A host name (resolved where used), as written.
    Name(String),
}

/// Why an address is malformed; the message says what to write instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{text:?}: {message}")]
pub struct AddrError {
    /// The address as written.
    pub text: String,
    /// What is wrong.
    pub message: String,
}

/// Why an address could not be resolved.
#[derive(Debug, thiserror::Error)]
#[error("cannot resolve {host:?}: {reason}")]
pub struct ResolveError {
    /// The host name.
    pub host: String,
    /// The resolver's answer.
    pub reason: String,
}

impl HostPort {
    /// An IP address with an optional port.
    pub fn ip(ip: IpAddr, port: Option<u16>) -> HostPort {
        HostPort {
            host: Host::Ip(ip),
            port,
        }
    }

    /// The host part.
    pub fn host(&self) -> &Host {
        &self.host
    }

    /// The host as written, without brackets or port (an IP in its canonical text).
    pub fn host_text(&self) -> String {
        match &self.host {
            Host::Ip(a) => a.to_string(),
            Host::Name(n) => n.clone(),
        }
    }

    /// The port, when one was written.
    pub fn port(&self) -> Option<u16> {
        self.port
    }

    /// The port written, else `default`.
    pub fn port_or(&self, default: u16) -> u16 {
        self.port.unwrap_or(default)
    }

    /// The socket addresses this stands for (a name resolved now, blocking), with `default`
    /// as the port when none was written. Never empty when `Ok`.
    pub fn resolve(&self, default: u16) -> Result<Vec<SocketAddr>, ResolveError> {
        let port = self.port_or(default);
        match &self.host {
            Host::Ip(a) => Ok(vec![SocketAddr::new(*a, port)]),
            Host::Name(n) => {
                let err = |reason: String| ResolveError {
                    host: n.clone(),
                    reason,
                };
                let addrs: Vec<SocketAddr> = (n.as_str(), port)
                    .to_socket_addrs()
                    .map_err(|e| err(e.to_string()))?
                    .collect();
                if addrs.is_empty() {
                    return Err(err("the name has no address".into()));
                }
                Ok(addrs)
            }
        }
    }

    /// The first address [`HostPort::resolve`] finds.
    pub fn resolve_one(&self, default: u16) -> Result<SocketAddr, ResolveError> {
        let all = self.resolve(default)?;
        all.first().copied().ok_or_else(|| ResolveError {
            host: self.host_text(),
            reason: "the name has no address".into(),
        })
    }
}

impl FromStr for HostPort {
    type Err = AddrError;

    fn from_str(s: &str) -> Result<HostPort, AddrError> {
        let err = |message: &str| AddrError {
            text: s.to_string(),
            message: message.to_string(),
        };
        let text = s.trim();
        if text.is_empty() {
            return Err(err("empty address; write HOST or HOST:PORT"));
        }
        if let Some(rest) = text.strip_prefix('[') {
            let (inner, after) = rest
                .split_once(']')
                .ok_or_else(|| err("a `[` without its `]`; write [ADDR]:PORT"))?;
            let port = match after {
                "" => None,
                p => Some(
                    parse_port(
                        p.strip_prefix(':')
                            .ok_or_else(|| err("after `[ADDR]` only `:PORT` may follow"))?,
                    )
                    .map_err(|m| err(&m))?,
                ),
            };
            return Ok(HostPort {
                host: parse_host(inner).map_err(|m| err(&m))?,
                port,
            });
        }
        if let Ok(ip) = text.parse::<IpAddr>() {
            return Ok(HostPort::ip(ip, None));
        }
        if let Ok(sa) = text.parse::<SocketAddr>() {
            return Ok(HostPort::ip(sa.ip(), Some(sa.port())));
        }
        let (host, port) = match text.split_once(':') {
            None => (text, None),
            Some((h, p)) if !p.contains(':') => (h, Some(parse_port(p).map_err(|m| err(&m))?)),
            Some(_) => {
                return Err(err(
                    "neither an IPv6 address nor HOST:PORT; an IPv6 address with a port is written [ADDR]:PORT",
                ))
            }
        };
        Ok(HostPort {
            host: parse_host(host).map_err(|m| err(&m))?,
            port,
        })
    }
}

/// A port number.
fn parse_port(p: &str) -> Result<u16, String> {
    p.parse::<u16>()
        .map_err(|_| format!("{p:?} is not a port number (1 to 65535)"))
}

/// An IP literal, or a host name of letters, digits, `.`, `-` and `_`.
fn parse_host(h: &str) -> Result<Host, String> {
    if let Ok(ip) = h.parse::<IpAddr>() {
        return Ok(Host::Ip(ip));
    }
    if h.is_empty() {
        return Err("no host before the port".into());
    }
    if h.len() > MAX_HOST_LEN {
        return Err(format!("host name longer than {MAX_HOST_LEN} characters"));
    }
    if let Some(c) = h
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')))
    {
        return Err(format!(
            "{c:?} cannot appear in a host name (letters, digits, '.', '-', '_')"
        ));
    }
    if h.starts_with(['.', '-']) {
        return Err("a host name does not start with '.' or '-'".into());
    }
    Ok(Host::Name(h.to_string()))
}

impl fmt::Display for HostPort {
    /// As it would be written: `[v6]:port` bracketed, no port when none was given.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.host, self.port) {
            (Host::Ip(IpAddr::V6(a)), Some(p)) => write!(f, "[{a}]:{p}"),
            (h, Some(p)) => write!(f, "{}:{p}", host_str(h)),
            (h, None) => f.write_str(&host_str(h)),
        }
    }
}

fn host_str(h: &Host) -> String {
    match h {
        Host::Ip(a) => a.to_string(),
        Host::Name(n) => n.clone(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn hp(s: &str) -> HostPort {
        s.parse().unwrap()
    }

    #[test]
    fn every_form_ssh_takes_parses_and_prints_back() {
        let cases: &[(&str, &str, Option<u16>)] = &[
            ("node1", "node1", None),
            ("node1:7461", "node1", Some(7461)),
            ("192.0.2.7", "192.0.2.7", None),
            ("192.0.2.7:7461", "192.0.2.7", Some(7461)),
            ("::1", "::1", None),
            ("[::1]", "::1", None),
            ("[::1]:7461", "::1", Some(7461)),
            ("[node1]:7461", "node1", Some(7461)),
            ("fd00::2", "fd00::2", None),
            ("web_13.lab-2.example", "web_13.lab-2.example", None),
        ];
        for (text, host, port) in cases {
            let a = hp(text);
            assert_eq!(a.host_text(), *host, "{text}");
            assert_eq!(a.port(), *port, "{text}");
            let back: HostPort = a.to_string().parse().unwrap();
            assert_eq!(back, a, "{text} printed as {a}");
        }
        assert_eq!(hp("[::1]:7461").to_string(), "[::1]:7461");
        assert_eq!(hp("::1").to_string(), "::1");
        assert_eq!(hp("n1").port_or(DEFAULT_PORT), 7460);
    }

    #[test]
    fn malformed_addresses_say_what_to_write() {
        for (text, says) in [
            ("", "empty"),
            ("::1:7461:x", "[ADDR]:PORT"),
            ("node1:http", "not a port number"),
            ("node1:70000", "not a port number"),
            ("[::1", "without its `]`"),
            ("[::1]7461", "only `:PORT`"),
            (":7461", "no host"),
            ("no/de", "cannot appear"),
            ("-n", "does not start"),
        ] {
            let e = text.parse::<HostPort>().unwrap_err().to_string();
            assert!(e.contains(says), "{text:?}: {e}");
        }
    }

    #[test]
    fn names_resolve_with_the_default_port_and_ip_literals_need_no_resolver() {
        let a = hp("localhost").resolve(DEFAULT_PORT).unwrap();
        assert!(
            a.iter().all(|s| s.ip().is_loopback() && s.port() == 7460),
            "{a:?}"
        );
        assert_eq!(
            hp("[::1]:9").resolve_one(DEFAULT_PORT).unwrap(),
            "[::1]:9".parse().unwrap()
        );
        let e = hp("no-such-host.invalid")
            .resolve(1)
            .unwrap_err()
            .to_string();
        assert!(e.contains("cannot resolve \"no-such-host.invalid\""), "{e}");
    }
}
