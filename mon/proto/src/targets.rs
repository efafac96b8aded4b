//! Node name patterns (`--targets 'web*,!web13'`): OpenSSH-style pattern lists.
//!
//! A list matches a name when some positive pattern matches and no negated (`!`) pattern
//! does. `*` matches any run of characters, `?` one character.

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

/// Glob match with `*` and `?`, iterative (no recursion, linear backtracking).
pub fn glob(pat: &[u8], s: &[u8]) -> bool {
    let (mut p, mut i) = (0usize, 0usize);
    let (mut star, mut mark) = (None::<usize>, 0usize);
    while i < s.len() {
        if p < pat.len() && (pat[p] == b'?' || pat[p] == s[i]) {
            p += 1;
            i += 1;
        } else if p < pat.len() && pat[p] == b'*' {
            star = Some(p);
            mark = i;
            p += 1;
        } else if let Some(sp) = star {
            p = sp + 1;
            mark += 1;
            i = mark;
        } else {
            return false;
        }
    }
    while p < pat.len() && pat[p] == b'*' {
        p += 1;
    }
    p == pat.len()
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
