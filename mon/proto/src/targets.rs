//! Node name patterns (`--targets 'web*,!web13'`, `--targets 'n[1-20],!n[5-7]'`):
//! OpenSSH-style pattern lists with ClusterShell ranges.
//!
//! A list matches a name when some positive pattern matches and no negated (`!`) pattern
//! does, whatever their order. `*` matches any run of bytes, `?` one byte
//! ([`mon_keys::glob`]); a pattern holding `[…]` is a node set with ranges, matched as typed
//! without expanding it ([`range`]). Commas inside brackets belong to the range
//! (`n[1-8,10]` is one pattern).

mod range;

use mon_keys::glob::{glob_match_with, StarInText};
pub use range::RangePattern;

/// The patterns of a comma-separated list, trimmed, empty ones dropped; a comma inside
/// `[…]` does not split.
pub fn split_patterns(list: &str) -> impl Iterator<Item = &str> {
    let mut depth = 0usize;
    list.split(move |c| match c {
        '[' => {
            depth += 1;
            false
        }
        ']' => {
            depth = depth.saturating_sub(1);
            false
        }
        ',' => depth == 0,
        _ => false,
    })
    .map(str::trim)
    .filter(|s| !s.is_empty())
}

/// Checks one pattern (with or without its leading `!`) as a server will read it: a pattern
/// with ranges must parse. The error says what is wrong.
pub fn check_pattern(p: &str) -> Result<(), String> {
    let p = p.strip_prefix('!').unwrap_or(p);
    if range::has_ranges(p) {
        RangePattern::parse(p)?;
    }
    Ok(())
}

/// Whether one pattern (without `!`) matches `name`; a malformed range pattern matches
/// nothing.
fn pattern_matches(p: &str, name: &str) -> bool {
    if range::has_ranges(p) {
        RangePattern::parse(p).is_ok_and(|r| r.matches(name))
    } else {
        glob(p.as_bytes(), name.as_bytes())
    }
}

/// Whether `name` matches the comma-separated patterns in `list` (each entry a list).
pub fn matches_list(list: &[String], name: &str) -> bool {
    let mut positive = false;
    for p in list {
        for pat in split_patterns(p) {
            if let Some(neg) = pat.strip_prefix('!') {
                if pattern_matches(neg, name) {
                    return false;
                }
            } else if pattern_matches(pat, name) {
                positive = true;
            }
        }
    }
    positive
}

/// Glob match with `*` and `?`: the workspace's one matcher in its `--targets` variant (a `*`
/// in the name is first matched literally; see [`StarInText::MatchesLiteralFirst`]).
pub fn glob(pat: &[u8], s: &[u8]) -> bool {
    glob_match_with(pat, s, StarInText::MatchesLiteralFirst)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn l(s: &str) -> Vec<String> {
        vec![s.to_string()]
    }

    #[test]
    fn patterns() {
        assert!(matches_list(&l("*"), "n1"));
        assert!(matches_list(&l("web*,!web13"), "web1"));
        assert!(!matches_list(&l("web*,!web13"), "web13"));
        assert!(!matches_list(&l("web*"), "db1"));
        assert!(matches_list(&l("n?"), "n7"));
        assert!(!matches_list(&l("n?"), "n17"));
        assert!(
            !matches_list(&l("!web1"), "db"),
            "negation alone matches nothing"
        );
        assert!(glob(b"a*b*c", b"axxbyyc"));
        assert!(!glob(b"a*b*c", b"axxbyy"));
    }

    #[test]
    fn node_sets_with_exclusions() {
        let t = l("n[1-20],!n[5-7],!n13");
        for i in 1..=20 {
            let want = !(5..=7).contains(&i) && i != 13;
            assert_eq!(matches_list(&t, &format!("n{i}")), want, "n{i}");
        }
        assert!(!matches_list(&t, "n21"));
        assert!(matches_list(&l("web*,n[1-8,10]"), "n10"));
        assert!(matches_list(&l("web*,n[1-8,10]"), "web3"));
        assert!(!matches_list(&l("n[1-"), "n1"), "malformed matches nothing");
        assert_eq!(
            split_patterns(" n[1-8,10] ,!web[1,3],db*,").collect::<Vec<_>>(),
            ["n[1-8,10]", "!web[1,3]", "db*"]
        );
        assert!(check_pattern("!n[1-3]").is_ok() && check_pattern("n[3-1]").is_err());
        assert!(check_pattern("web*").is_ok());
    }
}
