//! `known_nodes`: the deployment's pinned node keys, in ssh known_hosts format.
//!
//! ```text
//! # comment
//! node1,192.0.2.11 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI… optional comment
//! rack2-*          ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI…
//! @revoked node7   ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI…
//! ```
//!
//! - Host field: comma-separated patterns, each a node name, an IP address, or a pattern with
//!   `*` / `?` wildcards; `!pattern` excludes (a line whose negated pattern matches does not
//!   apply). Names match ASCII-case-insensitively. No hashed names (`|1|…` is an error).
//! - The first literal name is the node's name; the other literal entries are its addresses
//!   (`addrs.rs`): IPs and host names (resolved when the file is loaded), each with an optional
//!   port written as ssh writes it, `[HOST]:PORT`.
//! - Key: `ssh-ed25519` only (node keys are Ed25519); the key must be a valid, non-weak point.
//! - Markers: `@revoked` (the key is refused; MON refuses a revoked key under *every* name,
//!   whatever host patterns the `@revoked` line lists). `@cert-authority` is not supported yet.
//!
//! Lookup ([`KnownNodes::check`]): a revoked key is [`Trust::Revoked`]. Otherwise, lines that
//! match the node's *name* decide: the key is [`Trust::Trusted`] if one of them holds it, else
//! [`Trust::Mismatch`]. Only when no line matches the name do lines matching the node's *IP*
//! decide the same way. No matching line at all is [`Trust::Unknown`].

mod addrs;
pub use addrs::{system_resolver, ResolveWarning};
mod index;
mod line;
mod pattern;

use std::collections::HashSet;
use std::fs;
use std::io::Read;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use crate::nodekey::public_openssh;
use index::LineIndex;
use line::{column, parse_line};
use pattern::HostPattern;

/// Largest known_nodes file accepted (4 MiB).
pub const MAX_FILE_LEN: usize = 4 << 20;
/// Longest line accepted (16 KiB).
pub const MAX_LINE_LEN: usize = 16 << 10;
/// Most key lines in one file.
pub const MAX_ENTRIES: usize = 100_000;
/// Most host patterns on one line.
pub const MAX_PATTERNS: usize = 256;
/// Longest host pattern / node name, in bytes.
pub const MAX_PATTERN_LEN: usize = 255;

/// The verdict of [`KnownNodes::check`] on a node's key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trust {
    /// A line for this node holds this key.
    Trusted,
    /// The key is listed under `@revoked`.
    Revoked,
    /// No line matches the node's name or IP.
    Unknown,
    /// Lines match the node, but with other keys.
    Mismatch,
}

/// The line that pins the entry node a client dialled ([`KnownNodes::pin_dialled`]).
#[derive(Debug, Clone, Copy)]
pub enum Pin<'a> {
    /// The entry must prove this line's key.
    Line(&'a KnownNode),
    /// No line names what was dialled.
    Unknown,
    /// Two lines that match what was dialled name different keys (the name's and the
    /// address's, or two for one of them): which one is meant is not known.
    Conflict(&'a KnownNode, &'a KnownNode),
    /// The line's key is revoked.
    Revoked(&'a KnownNode),
}

/// Why known_nodes could not be loaded. Parse errors read `file:line:col: message`.
#[derive(Debug, thiserror::Error)]
pub enum KnownNodesError {
    /// The file could not be read.
    #[error("known_nodes {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file is larger than [`MAX_FILE_LEN`].
    #[error("known_nodes {} is larger than {MAX_FILE_LEN} bytes", path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
    },
    /// Group or others may write the file, so anyone could add a node.
    #[error("known_nodes {} is writable by group or others (mode {mode:04o}); anyone who can write it can add nodes: run `chmod go-w {}`", path.display(), path.display())]
    Writable {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// Someone other than root or this process's user owns the file, so could add a node.
    #[error(transparent)]
    Owner(crate::file_mode::ForeignOwner),
    /// A line is malformed.
    #[error("{}:{line}:{col}: {message}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// 1-based column (in characters).
        col: usize,
        /// What is wrong and how to fix it.
        message: String,
    },
}

/// One key line of known_nodes.
#[derive(Debug, Clone)]
pub struct KnownNode {
    /// Host patterns as written (negated ones with their `!`).
    patterns: Vec<String>,
    hosts: Vec<(bool, HostPattern)>,
    /// The address part: IPs (literal or resolved) and their ports (`addrs.rs`).
    addrs: Vec<(IpAddr, Option<u16>)>,
    /// The address part's host names and their ports, resolved by [`KnownNodes::resolve_names`].
    host_names: Vec<(String, Option<u16>)>,
    key: [u8; 32],
    revoked: bool,
    comment: String,
    line: usize,
}

impl KnownNode {
    /// The host patterns as written, negated ones with their leading `!`.
    pub fn patterns(&self) -> &[String] {
        &self.patterns
    }

    /// The literal node names of the line (lower-cased; no wildcards, no negations).
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.hosts.iter().filter_map(|(neg, h)| match h {
            HostPattern::Name(n) if !neg => Some(n.as_str()),
            _ => None,
        })
    }

    /// The literal IP addresses of the line.
    pub fn ips(&self) -> impl Iterator<Item = IpAddr> + '_ {
        self.hosts.iter().filter_map(|(neg, h)| match h {
            HostPattern::Ip(a) if !neg => Some(*a),
            _ => None,
        })
    }

    /// The raw Ed25519 public key.
    pub fn key(&self) -> &[u8; 32] {
        &self.key
    }

    /// The key in OpenSSH format, `ssh-ed25519 AAAA…`.
    pub fn key_openssh(&self) -> String {
        public_openssh(&self.key)
    }

    /// Whether the line is an `@revoked` line.
    pub fn is_revoked(&self) -> bool {
        self.revoked
    }

    /// The comment after the key ("" when absent).
    pub fn comment(&self) -> &str {
        &self.comment
    }

    /// The 1-based line number in the file.
    pub fn line(&self) -> usize {
        self.line
    }

    /// How the line matches: `Some(true)` by name, `Some(false)` by IP only, `None` not at all
    /// (also when a negated pattern matches the name or the IP).
    fn host_match(&self, name: &str, name_ip: Option<IpAddr>, ip: Option<IpAddr>) -> Option<bool> {
        let mut by_name = false;
        let mut by_ip = false;
        for (neg, h) in &self.hosts {
            let n = h.matches_name(name, name_ip);
            let i = ip.is_some_and(|a| h.matches_ip(a));
            if *neg {
                if n || i {
                    return None;
                }
            } else {
                by_name |= n;
                by_ip |= i;
            }
        }
        if by_name {
            Some(true)
        } else if by_ip {
            Some(false)
        } else {
            None
        }
    }
}

/// A parsed known_nodes file.
#[derive(Debug, Clone, Default)]
pub struct KnownNodes {
    source: PathBuf,
    nodes: Vec<KnownNode>,
    revoked: HashSet<[u8; 32]>,
    index: LineIndex,
}

/// Checks a name given to `mon server init --name` or `mon server --name`: 1 to 255 bytes of
/// ASCII letters, digits, `.`, `-`, `_`, not starting with `.` or `-`, and not an IP address.
pub fn validate_node_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > MAX_PATTERN_LEN {
        return Err(format!(
            "node name must be 1 to {MAX_PATTERN_LEN} bytes long"
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')))
    {
        return Err(format!(
            "node name {name:?} contains {c:?}; use letters, digits, '.', '-' and '_'"
        ));
    }
    if name.starts_with(['.', '-']) {
        return Err(format!("node name {name:?} must not start with '.' or '-'"));
    }
    if name.parse::<IpAddr>().is_ok() {
        return Err(format!(
            "node name {name:?} is an IP address; use a host name and list IPs as `NAME,IP` in known_nodes"
        ));
    }
    Ok(())
}

/// One line (number `number`) of a known_nodes file, `count` entries already read: `None`
/// for a blank or comment line, else the entry; an error is `(column, message)`.
fn parse_entry(
    line: &str,
    number: usize,
    count: usize,
) -> Result<Option<KnownNode>, (usize, String)> {
    if line.len() > MAX_LINE_LEN {
        return Err((1, format!("line longer than {MAX_LINE_LEN} bytes")));
    }
    let trimmed = line.trim_start_matches([' ', '\t']);
    if trimmed.is_empty() || trimmed.starts_with('#') {
        return Ok(None);
    }
    if count >= MAX_ENTRIES {
        return Err((1, format!("more than {MAX_ENTRIES} keys in one file")));
    }
    let node = parse_line(line, number).map_err(|e| (column(line, e.at), e.message))?;
    Ok(Some(node))
}

/// The parse error for a known_nodes file that is not UTF-8, at the first bad byte.
fn utf8_error(path: &Path, e: &std::string::FromUtf8Error) -> KnownNodesError {
    let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
    let line = valid.iter().filter(|&&b| b == b'\n').count() + 1;
    let line_start = valid.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
    let col = String::from_utf8_lossy(&valid[line_start..])
        .chars()
        .count()
        + 1;
    KnownNodesError::Parse {
        path: path.to_path_buf(),
        line,
        col,
        message: "invalid UTF-8".into(),
    }
}

/// What the lines looked at say about a key, by name and by IP: (any line matches, one of
/// them holds the key).
#[derive(Default)]
struct Tally {
    by_name: (bool, bool),
    by_ip: (bool, bool),
}

impl Tally {
    /// Lines matching by name decide; only without them do lines matching by IP.
    fn verdict(&self) -> Trust {
        let deciding = if self.by_name.0 {
            self.by_name
        } else {
            self.by_ip
        };
        match deciding {
            (false, _) => Trust::Unknown,
            (true, true) => Trust::Trusted,
            (true, false) => Trust::Mismatch,
        }
    }
}

impl KnownNodes {
    /// Parses known_nodes text; `source` names the file in errors.
    ///
    /// Strict: any malformed line rejects the whole file (`file:line:col: message`).
    pub fn parse(text: &str, source: &Path) -> Result<KnownNodes, KnownNodesError> {
        if text.len() > MAX_FILE_LEN {
            return Err(KnownNodesError::TooLarge {
                path: source.to_path_buf(),
            });
        }
        let parse_err = |line, col, message| KnownNodesError::Parse {
            path: source.to_path_buf(),
            line,
            col,
            message,
        };
        let mut nodes = Vec::new();
        for (idx, raw) in text.split('\n').enumerate() {
            let number = idx + 1;
            let line = raw.strip_suffix('\r').unwrap_or(raw);
            if let Some(node) = parse_entry(line, number, nodes.len())
                .map_err(|(col, message)| parse_err(number, col, message))?
            {
                nodes.push(node);
            }
        }
        let revoked = nodes.iter().filter(|n| n.revoked).map(|n| n.key).collect();
        let index = LineIndex::build(&nodes);
        Ok(KnownNodes {
            source: source.to_path_buf(),
            nodes,
            revoked,
            index,
        })
    }

    /// Reads and parses a known_nodes file. Refuses a file that group or others may write,
    /// and files larger than [`MAX_FILE_LEN`].
    pub fn load(path: &Path) -> Result<KnownNodes, KnownNodesError> {
        let io = |source| KnownNodesError::Io {
            path: path.to_path_buf(),
            source,
        };
        let file = fs::File::open(path).map_err(io)?;
        let meta = file.metadata().map_err(io)?;
        crate::file_mode::refuse_writable("known_nodes", path, &meta, "can add nodes").map_err(
            |e| KnownNodesError::Writable {
                path: path.to_path_buf(),
                mode: e.mode & 0o777,
            },
        )?;
        crate::file_mode::refuse_foreign_owner("known_nodes", path, &meta, "can add nodes")
            .map_err(KnownNodesError::Owner)?;
        let mut bytes = Vec::new();
        file.take(MAX_FILE_LEN as u64 + 1)
            .read_to_end(&mut bytes)
            .map_err(io)?;
        if bytes.len() > MAX_FILE_LEN {
            return Err(KnownNodesError::TooLarge {
                path: path.to_path_buf(),
            });
        }
        let text = String::from_utf8(bytes).map_err(|e| utf8_error(path, &e))?;
        Self::parse(&text, path)
    }

    /// The file this was parsed from.
    pub fn source(&self) -> &Path {
        &self.source
    }

    /// The verdict on `key` presented by the node called `name` (at `ip`, when known); the
    /// rules are in the module docs.
    pub fn check(&self, name: &str, ip: Option<IpAddr>, key: &[u8; 32]) -> Trust {
        if !self.revoked.is_empty() && self.revoked.contains(key) {
            return Trust::Revoked;
        }
        let name: std::borrow::Cow<'_, str> = if name.bytes().any(|b| b.is_ascii_uppercase()) {
            name.to_ascii_lowercase().into()
        } else {
            name.into()
        };
        let name_ip = name.parse::<IpAddr>().ok().map(|a| a.to_canonical());
        let ip = ip.map(|a| a.to_canonical());
        let mut t = Tally::default();
        self.tally(self.index.by_name(&name), (&name, name_ip, ip), key, &mut t);
        // Lines found only by IP can match by name only when the name is an IP address; when
        // a line already matched by name, the IP-only lines cannot change the verdict.
        if !t.by_name.0 || name_ip.is_some() {
            self.tally(
                self.index.by_ip(name_ip, ip),
                (&name, name_ip, ip),
                key,
                &mut t,
            );
        }
        t.verdict()
    }

    /// Adds to `t` what the lines numbered `lines` say about `key` for `host` (the lower-cased
    /// name, the name as an IP address, the peer's IP).
    fn tally(
        &self,
        lines: impl Iterator<Item = usize>,
        host: (&str, Option<IpAddr>, Option<IpAddr>),
        key: &[u8; 32],
        t: &mut Tally,
    ) {
        let (name, name_ip, ip) = host;
        for n in lines.filter_map(|i| self.nodes.get(i)) {
            let side = match n.host_match(name, name_ip, ip) {
                Some(true) => &mut t.by_name,
                Some(false) => &mut t.by_ip,
                None => continue,
            };
            side.0 = true;
            side.1 |= n.key == *key;
        }
    }

    /// The line whose key the entry node a client dialled must prove: lines matching the
    /// name as typed (`typed`; an address typed is its own name), then lines matching the
    /// address it resolved to (`ip`). Where both have lines they must name the same key. The
    /// name a node *claims* plays no part: holding one node's key must not let a machine
    /// answer for another address.
    pub fn pin_dialled(&self, typed: &str, ip: IpAddr) -> Pin<'_> {
        let typed = typed.to_ascii_lowercase();
        let typed_ip = typed.parse::<IpAddr>().ok().map(|a| a.to_canonical());
        let ip = ip.to_canonical();
        let ip_text = ip.to_string();
        let live = || self.nodes.iter().filter(|n| !n.revoked);
        let by_name = live().filter(|n| n.host_match(&typed, typed_ip, None) == Some(true));
        let by_ip = live().filter(|n| n.host_match(&ip_text, Some(ip), Some(ip)).is_some());
        // The first line of each side, and any line of either that names another key.
        let mut first: Option<&KnownNode> = None;
        for n in by_name.chain(by_ip) {
            match first {
                None => first = Some(n),
                Some(f) if f.key != n.key => return Pin::Conflict(f, n),
                Some(_) => {}
            }
        }
        match first {
            None => Pin::Unknown,
            Some(n) if self.revoked.contains(&n.key) => Pin::Revoked(n),
            Some(n) => Pin::Line(n),
        }
    }

    /// Number of key lines (including `@revoked` lines).
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether the file has no key lines.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The lines whose key can be trusted: not `@revoked`, and whose key is not revoked
    /// elsewhere in the file. Use these to seed a membership view.
    pub fn entries(&self) -> impl Iterator<Item = &KnownNode> {
        self.nodes
            .iter()
            .filter(|n| !n.revoked && !self.revoked.contains(&n.key))
    }

    /// The trusted lines (as [`KnownNodes::entries`]) that list `name` literally (names are
    /// stored lower-cased; `name` is compared as given). A lookup, not a scan.
    pub fn entries_named<'a>(&'a self, name: &str) -> impl Iterator<Item = &'a KnownNode> + 'a {
        self.index
            .listing(name)
            .iter()
            .filter_map(|&i| self.nodes.get(i))
            .filter(|n| !self.revoked.contains(&n.key))
    }

    /// The `@revoked` lines.
    pub fn revoked_entries(&self) -> impl Iterator<Item = &KnownNode> {
        self.nodes.iter().filter(|n| n.revoked)
    }

    /// Every key line in file order, `@revoked` ones and those whose key is revoked elsewhere
    /// included (what an editor of the file looks at; to decide trust use
    /// [`KnownNodes::check`] or [`KnownNodes::entries`]).
    pub fn all_lines(&self) -> impl Iterator<Item = &KnownNode> {
        self.nodes.iter()
    }

    /// Whether `key` is revoked (listed on an `@revoked` line).
    pub fn is_revoked(&self, key: &[u8; 32]) -> bool {
        self.revoked.contains(key)
    }
}

#[cfg(test)]
mod tests;
