//! Node name patterns (`--targets 'web*,!web13'`): OpenSSH-style pattern lists.
//!
//! A list matches a name when some positive pattern matches and no negated (`!`) pattern
//! does. `*` matches any run of bytes, `?` one byte ([`mon_keys::glob`]).

use mon_keys::glob::{glob_match_with, StarInText};

/// Whether `name` matches the comma-separated patterns in `list` (each entry one pattern).
pub fn matches_list(list: &[String], name: &str) -> bool {
    let mut positive = false;
    for p in list {
        for pat in p.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            if let Some(neg) = pat.strip_prefix('!') {
                if glob(neg.as_bytes(), name.as_bytes()) {
                    return false;
                }
            } else if glob(pat.as_bytes(), name.as_bytes()) {
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
}
