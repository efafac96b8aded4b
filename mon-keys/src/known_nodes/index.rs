//! The lookup index of a known_nodes file: which lines can match a node name or address, so a
//! check need not scan every line (the verdict is the same as a full scan: see the tests).

use std::collections::HashMap;
use std::net::IpAddr;

use super::pattern::HostPattern;
use super::KnownNode;

/// Which non-revoked lines can match a host, so that a lookup does not scan every line (a
/// 10,000-node deployment checks a key for every gossip entry it receives).
///
/// A line whose positive patterns are all literal names and IPs can only match a host through
/// one of them: it is listed under each. A line with a positive wildcard pattern can match
/// anything and is always examined. Negated patterns only ever exclude, so they need no entry.
#[derive(Debug, Clone, Default)]
pub(super) struct LineIndex {
    by_name: HashMap<String, Vec<usize>>,
    by_ip: HashMap<IpAddr, Vec<usize>>,
    wild: Vec<usize>,
}

impl LineIndex {
    pub(super) fn build(nodes: &[KnownNode]) -> LineIndex {
        let mut ix = LineIndex::default();
        for (i, n) in nodes.iter().enumerate().filter(|(_, n)| !n.revoked) {
            let positive = n.hosts.iter().filter(|(neg, _)| !neg).map(|(_, h)| h);
            if positive.clone().any(|h| matches!(h, HostPattern::Glob(_))) {
                ix.wild.push(i);
                continue;
            }
            for h in positive {
                match h {
                    HostPattern::Name(name) => ix.by_name.entry(name.clone()).or_default().push(i),
                    HostPattern::Ip(a) => ix.by_ip.entry(*a).or_default().push(i),
                    HostPattern::Glob(_) => {}
                }
            }
        }
        ix
    }

    /// Indices of the lines that may match the (lower-cased) `name`: the wildcard lines and
    /// those listing it.
    pub(super) fn by_name<'a>(&'a self, name: &str) -> impl Iterator<Item = usize> + 'a {
        self.wild.iter().chain(self.listing(name)).copied()
    }

    /// Indices of the lines listing the (lower-cased) `name` literally.
    pub(super) fn listing(&self, name: &str) -> &[usize] {
        self.by_name
            .get(name)
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    /// Indices of the lines listing `name_ip` or `ip` (a line may come twice; a verdict does
    /// not depend on repeats).
    pub(super) fn by_ip<'a>(
        &'a self,
        name_ip: Option<IpAddr>,
        ip: Option<IpAddr>,
    ) -> impl Iterator<Item = usize> + 'a {
        let slice = |v: Option<&'a Vec<usize>>| v.map(Vec::as_slice).unwrap_or_default();
        let by_name_ip = slice(name_ip.and_then(|a| self.by_ip.get(&a)));
        let by_ip = slice(
            ip.filter(|a| Some(*a) != name_ip)
                .and_then(|a| self.by_ip.get(&a)),
        );
        by_name_ip.iter().chain(by_ip).copied()
    }
}
