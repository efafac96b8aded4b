//! `--targets` as the client signs it: node-name patterns (`web*`, `!web13`), node sets with
//! ranges (`n[1-20]`, `!n[5-7]`) and ClusterShell groups (`@web`, `@source:name`).
//!
//! Patterns and node sets are signed as typed and matched by every server without expansion
//! (`mon_proto::targets`); a malformed one is refused here, before any server is contacted.
//! A group is resolved here, through ClusterShell's `groups.conf` (`~/.local/etc/clustershell`,
//! `/etc/clustershell`, `$XDG_CONFIG_HOME/clustershell`), into the node set it names, folded.

use anyhow::{bail, Context as _};
use mon_proto::targets::{check_pattern, split_patterns};
use mon_proto::wire::session::{MAX_NAME_LEN, MAX_TARGETS};

/// The patterns to sign for `--targets LIST`.
pub(super) fn signed_targets(list: &str) -> anyhow::Result<Vec<String>> {
    let mut out = Vec::new();
    for entry in split_patterns(list) {
        let (neg, body) = match entry.strip_prefix('!') {
            Some(b) => ("!", b),
            None => ("", entry),
        };
        if body.starts_with('@') {
            let set = group(body)?;
            out.extend(split_patterns(&set).map(|p| format!("{neg}{p}")));
            continue;
        }
        check_pattern(entry).map_err(|e| anyhow::anyhow!("--targets: {e}"))?;
        out.push(entry.to_string());
    }
    if out.len() > MAX_TARGETS {
        bail!(
            "--targets: {} patterns, at most {MAX_TARGETS}; fold node lists into node sets (n[1-20])",
            out.len()
        );
    }
    if let Some(p) = out.iter().find(|p| p.len() > MAX_NAME_LEN) {
        bail!("--targets: the pattern {p:?} is longer than {MAX_NAME_LEN} bytes");
    }
    Ok(out)
}

/// The node set a group names, folded (`n[1-20],db1`).
fn group(g: &str) -> anyhow::Result<String> {
    let r = nodeset::Resolver::from_config()
        .context("--targets names a group: reading ClusterShell's groups.conf")?;
    let set: nodeset::NodeSet = nodeset::Parser::with_resolver(&r, None)
        .parse(g)
        .with_context(|| {
            format!(
                "--targets: cannot resolve the group {g:?} (groups are ClusterShell's: \
                 /etc/clustershell/groups.conf and the files it names)"
            )
        })?;
    if set.is_empty() {
        bail!("--targets: the group {g:?} has no node");
    }
    Ok(set.to_string())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::signed_targets;

    #[test]
    fn node_sets_are_signed_as_typed_and_bad_ones_refused() {
        assert_eq!(
            signed_targets("n[1-8,10], !n3,web*").unwrap(),
            ["n[1-8,10]", "!n3", "web*"]
        );
        assert_eq!(signed_targets("*").unwrap(), ["*"]);
        let e = signed_targets("n[1-").unwrap_err().to_string();
        assert!(e.contains("'[' without its ']'"), "{e}");
        let many = vec!["a"; 300].join(",");
        assert!(signed_targets(&many)
            .unwrap_err()
            .to_string()
            .contains("at most 256"));
    }
}
