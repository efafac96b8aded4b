//! The edits of `mon known-nodes` on the text of a known_nodes file: each takes the file as
//! it is (text and parsed), returns the new text, and checks it with the parser the server
//! loads it with, so what is written always loads and says what was asked.

use std::net::IpAddr;
use std::path::Path;

use mon_keys::key_type::{is_openssh_key_type, ED25519};
use mon_keys::known_nodes::{validate_node_name, KnownNode, KnownNodes, Trust};
use mon_keys::nodekey::public_openssh;

/// The file after an edit, and what to tell the user.
#[derive(Debug)]
pub struct Edited {
    /// The new contents.
    pub text: String,
    /// One line per change, e.g. `added line 3: qs1 ssh-ed25519 AAAA…`.
    pub report: Vec<String>,
}

/// The node key given as `KEY|FILE`, read from `text` (`what` names it in messages): the
/// first line that is not a comment, either `ssh-ed25519 BASE64 [comment]` (a `.pub` file) or
/// a known_nodes line `NAMES ssh-ed25519 BASE64` as `mon server init` prints it, whose names
/// must then include `name`.
pub fn node_key_in(text: &str, what: &str, name: &str) -> Result<[u8; 32], String> {
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .ok_or_else(|| format!("{what} holds no key"))?;
    if line.contains("PRIVATE KEY") {
        return Err(format!(
            "{what} is a private key; give the node's public line (`mon server init` printed it)"
        ));
    }
    let fields: Vec<&str> = line.split_whitespace().collect();
    let Some(at) = fields.iter().position(|f| *f == ED25519) else {
        return Err(match fields.iter().find(|f| is_openssh_key_type(f)) {
            Some(ty) => format!("{what}: MON node keys are Ed25519, found {ty}"),
            None => format!(
                "{what}: no `{ED25519} KEY` found (give the line `mon server init` printed, or the key)"
            ),
        });
    };
    match fields.get(..at).unwrap_or_default() {
        [] => {}
        [hosts] => {
            let listed = hosts.split(',').any(|h| h.eq_ignore_ascii_case(name));
            if !listed {
                return Err(format!(
                    "{what} is the known_nodes line of {hosts}, not of {name}"
                ));
            }
        }
        [marker, ..] if marker.starts_with('@') => {
            return Err(format!("{what} is a {marker} line, not a node's key"));
        }
        _ => return Err(format!("{what}: expected `[NAME] {ED25519} KEY`")),
    }
    let b64 = fields
        .get(at + 1)
        .ok_or_else(|| format!("{what}: no key after `{ED25519}`"))?;
    let probe = format!("{name} {ED25519} {b64}\n");
    let parsed = KnownNodes::parse(&probe, Path::new(what)).map_err(|e| match e {
        mon_keys::known_nodes::KnownNodesError::Parse { message, .. } => {
            format!("{what}: {message}")
        }
        other => other.to_string(),
    })?;
    let key = parsed.all_lines().next().map(|n| *n.key());
    key.ok_or_else(|| format!("{what} holds no key"))
}

/// Adds `NAME,HOST ssh-ed25519 KEY`: HOST is the node's address or host name (also when it is
/// the name itself: the first entry names the node, the others are resolved to its addresses,
/// which the roster and the gossip checks need). Refuses a name, address or key the file already has, and a
/// revoked key.
pub fn add(
    text: &str,
    known: &KnownNodes,
    name: &str,
    host: &str,
    key: &[u8; 32],
) -> Result<Edited, String> {
    validate_node_name(name)?;
    check_host(host)?;
    let file = known.source().display().to_string();
    refuse_duplicates(known, &file, name, host, key)?;
    let line = format!("{name},{host} {}", public_openssh(key));
    let mut new = text.to_string();
    if !new.is_empty() && !new.ends_with('\n') {
        new.push('\n');
    }
    let number = new.split('\n').count();
    new.push_str(&line);
    new.push('\n');
    let parsed = reparse(&new, known.source())?;
    let ip = host.parse::<IpAddr>().ok();
    match parsed.check(name, ip, key) {
        Trust::Trusted => Ok(Edited {
            text: new,
            report: vec![format!("added {file}:{number}: {line}")],
        }),
        other => Err(format!(
            "with the new line {file} would still not trust {name} ({other:?}); check its wildcard and @revoked lines"
        )),
    }
}

/// A HOST argument: one literal address or host name (the parser decides the rest).
fn check_host(host: &str) -> Result<(), String> {
    if host.is_empty() {
        return Err("HOST is empty: give the node's address or host name".into());
    }
    if let Some(c) = host
        .chars()
        .find(|c| c.is_whitespace() || matches!(c, ',' | '*' | '?' | '!' | '#' | '@'))
    {
        return Err(format!(
            "HOST {host:?} contains {c:?}: give one address or host name"
        ));
    }
    Ok(())
}

/// `FILE:LINE` of a line.
fn at(file: &str, n: &KnownNode) -> String {
    format!("{file}:{}", n.line())
}

fn refuse_duplicates(
    known: &KnownNodes,
    file: &str,
    name: &str,
    host: &str,
    key: &[u8; 32],
) -> Result<(), String> {
    let name_lc = name.to_ascii_lowercase();
    let host_lc = host.to_ascii_lowercase();
    let host_ip = host.parse::<IpAddr>().ok().map(|a| a.to_canonical());
    if known.is_revoked(key) {
        let line = known.revoked_entries().find(|n| n.key() == key);
        return Err(format!(
            "this key is revoked ({}); a revoked key stays revoked: make a new node key with `mon server init`",
            line.map_or(file.to_string(), |n| at(file, n))
        ));
    }
    for n in known.all_lines().filter(|n| !n.is_revoked()) {
        let names: Vec<&str> = n.names().collect();
        if n.key() == key {
            let who = n.patterns().join(",");
            return Err(if names.contains(&name_lc.as_str()) {
                format!(
                    "{} already lists {name} with this key; nothing to do",
                    at(file, n)
                )
            } else {
                format!(
                    "this key is already pinned for {who} at {}; every node needs its own key",
                    at(file, n)
                )
            });
        }
        if names.contains(&name_lc.as_str()) {
            return Err(format!(
                "{} already lists {name} (key {}); to give it a new key, `mon known-nodes remove {name}` (or `revoke {name}`) first",
                at(file, n),
                short_key(n.key())
            ));
        }
        let host_taken = match host_ip {
            Some(ip) => n.ips().any(|a| a.to_canonical() == ip),
            None => host_lc != name_lc && names.contains(&host_lc.as_str()),
        };
        if host_taken {
            return Err(format!(
                "{} already lists {host} (for {}); one address or host name belongs to one node",
                at(file, n),
                n.patterns().join(",")
            ));
        }
    }
    Ok(())
}

/// Removes the (not `@revoked`) lines listing `name`. `@revoked` lines stay: removing one
/// would trust its key again.
pub fn remove(text: &str, known: &KnownNodes, name: &str) -> Result<Edited, String> {
    let file = known.source().display().to_string();
    let name_lc = name.to_ascii_lowercase();
    let lists = |n: &&KnownNode| n.names().any(|x| x == name_lc);
    let gone: Vec<&KnownNode> = known
        .all_lines()
        .filter(lists)
        .filter(|n| !n.is_revoked())
        .collect();
    if gone.is_empty() {
        return Err(not_listed(known, &file, name, lists));
    }
    let numbers: Vec<usize> = gone.iter().map(|n| n.line()).collect();
    let new = without_lines(text, &numbers);
    let parsed = reparse(&new, known.source())?;
    let mut report: Vec<String> = gone
        .iter()
        .map(|n| format!("removed {}: {}", at(&file, n), line_text(text, n.line())))
        .collect();
    for n in &gone {
        if parsed.check(name, None, n.key()) == Trust::Trusted {
            report.push(format!(
                "warning: another line of {file} (a wildcard?) still trusts {name}'s key {}",
                short_key(n.key())
            ));
        }
    }
    Ok(Edited { text: new, report })
}

/// The error for a name no line lists (`lists` picks the lines that would).
fn not_listed(
    known: &KnownNodes,
    file: &str,
    name: &str,
    lists: impl Fn(&&KnownNode) -> bool,
) -> String {
    match known.all_lines().find(|n| lists(n) && n.is_revoked()) {
        Some(n) => format!(
            "{name} has only @revoked lines ({}); they stay, so that its key remains refused",
            at(file, n)
        ),
        None => format!("no line of {file} lists {name}"),
    }
}

/// Revokes a key of `name`: the given one, or else every key its lines pin. A line pinning
/// the key becomes an `@revoked` line; a key no line pins gets a new `@revoked NAME …` line.
/// A revoked key is refused under every name.
pub fn revoke(
    text: &str,
    known: &KnownNodes,
    name: &str,
    key: Option<&[u8; 32]>,
) -> Result<Edited, String> {
    let file = known.source().display().to_string();
    let name_lc = name.to_ascii_lowercase();
    let lists = |n: &&KnownNode| n.names().any(|x| x == name_lc);
    let live: Vec<&KnownNode> = known
        .all_lines()
        .filter(lists)
        .filter(|n| !n.is_revoked() && key.is_none_or(|k| n.key() == k))
        .collect();
    if let Some(k) = key {
        if known.is_revoked(k) {
            return Err(format!("key {} is already revoked in {file}", short_key(k)));
        }
    }
    let mut lines: Vec<String> = text.split('\n').map(str::to_string).collect();
    let mut report = Vec::new();
    for n in &live {
        if let Some(l) = lines.get_mut(n.line() - 1) {
            *l = format!("@revoked {}", l.trim_start());
            report.push(format!("revoked {}: {l}", at(&file, n)));
        }
    }
    let mut new = lines.join("\n");
    let mut revoked: Vec<[u8; 32]> = live.iter().map(|n| *n.key()).collect();
    match key {
        Some(k) if live.is_empty() => {
            validate_node_name(name)?;
            if !new.is_empty() && !new.ends_with('\n') {
                new.push('\n');
            }
            let line = format!("@revoked {name} {}", public_openssh(k));
            report.push(format!("added {file}:{}: {line}", new.split('\n').count()));
            new.push_str(&line);
            new.push('\n');
            revoked.push(*k);
        }
        None if live.is_empty() => return Err(not_listed(known, &file, name, lists)),
        _ => {}
    }
    let parsed = reparse(&new, known.source())?;
    if let Some(k) = revoked
        .iter()
        .find(|k| parsed.check(name, None, k) != Trust::Revoked)
    {
        return Err(format!(
            "{file} would not refuse {name}'s key {} after the edit",
            short_key(k)
        ));
    }
    Ok(Edited { text: new, report })
}

/// Parses edited text as the server would; an error here is a bug of the edit, reported with
/// the parser's message and nothing written.
fn reparse(text: &str, source: &Path) -> Result<KnownNodes, String> {
    KnownNodes::parse(text, source)
        .map_err(|e| format!("the edited file would not load ({e}); nothing written"))
}

/// `text` without the (1-based) lines `numbers`.
fn without_lines(text: &str, numbers: &[usize]) -> String {
    text.split('\n')
        .enumerate()
        .filter(|(i, _)| !numbers.contains(&(i + 1)))
        .map(|(_, l)| l)
        .collect::<Vec<_>>()
        .join("\n")
}

/// Line `number` (1-based) of `text`, trimmed.
fn line_text(text: &str, number: usize) -> &str {
    text.split('\n')
        .nth(number.saturating_sub(1))
        .unwrap_or_default()
        .trim()
}

/// A key for messages: its `SHA256:…` fingerprint, as ssh-keygen -l shows it.
fn short_key(key: &[u8; 32]) -> String {
    use mon_policy::ssh_key::public::{Ed25519PublicKey, KeyData};
    let k = mon_policy::ssh_key::PublicKey::new(KeyData::Ed25519(Ed25519PublicKey(*key)), "");
    mon_keys::sshsig::fingerprint(&k)
}
