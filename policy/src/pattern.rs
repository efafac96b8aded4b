//! OpenSSH patterns: `*` matches any run of characters (including none), `?` exactly one, and
//! comma-separated pattern lists where `!pattern` negates (as `match_pattern_list` in OpenSSH).

use mon_keys::glob::glob_match;

use crate::MAX_PATTERN_BYTES;

/// Matches `s` against one glob `pattern` (`*` and `?`), byte by byte, case-sensitively: the
/// workspace's one matcher, [`mon_keys::glob::glob_match`] (note the argument order: string
/// first, as OpenSSH's `match_pattern`).
///
/// Runs in O(len(s) × len(pattern)) at worst (no exponential backtracking), so hostile patterns
/// and strings cannot stall a server.
pub fn match_pattern(s: &str, pattern: &str) -> bool {
    glob_match(pattern.as_bytes(), s.as_bytes())
}

/// The result of matching a string against a [`PatternList`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListMatch {
    /// A positive pattern matched and no negated one did.
    Positive,
    /// A negated pattern matched: the string is excluded whatever else matches.
    Negative,
    /// No pattern matched.
    None,
}

/// One pattern of a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatternItem {
    /// `!pattern`.
    pub negated: bool,
    /// The glob, without the `!`.
    pub pattern: String,
    /// Byte offset of the item (including its `!`) in the list text.
    pub offset: usize,
}

impl PatternItem {
    /// A positive pattern without `*` or `?`: a literal name.
    pub fn is_literal(&self) -> bool {
        !self.negated && !self.pattern.contains(['*', '?'])
    }

    /// A positive pattern made only of `*`: it matches every string.
    pub fn matches_everything(&self) -> bool {
        !self.negated && !self.pattern.is_empty() && self.pattern.bytes().all(|c| c == b'*')
    }
}

/// A comma-separated OpenSSH pattern list such as `alice@lab,ops-*,!mallory`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatternList {
    raw: String,
    items: Vec<PatternItem>,
}

impl PatternList {
    /// Parses a pattern list exactly as OpenSSH splits it. Fails (byte offset, message) when a
    /// single pattern is longer than [`MAX_PATTERN_BYTES`], which OpenSSH would silently never
    /// match.
    pub fn parse(raw: &str) -> Result<PatternList, (usize, String)> {
        let b = raw.as_bytes();
        let mut items = Vec::new();
        let mut i = 0usize;
        while i < b.len() {
            let offset = i;
            let negated = b[i] == b'!';
            if negated {
                i += 1;
            }
            let start = i;
            while i < b.len() && b[i] != b',' {
                i += 1;
            }
            let pattern = raw.get(start..i).unwrap_or_default();
            if pattern.len() > MAX_PATTERN_BYTES {
                return Err((
                    offset,
                    format!("pattern is longer than {MAX_PATTERN_BYTES} bytes"),
                ));
            }
            items.push(PatternItem {
                negated,
                pattern: pattern.to_string(),
                offset,
            });
            if i < b.len() {
                i += 1; // the comma
            }
        }
        Ok(PatternList {
            raw: raw.to_string(),
            items,
        })
    }

    /// The list as written.
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// The patterns in order.
    pub fn items(&self) -> &[PatternItem] {
        &self.items
    }

    /// Matches `s` as OpenSSH's `match_pattern_list` (case-sensitive).
    pub fn check(&self, s: &str) -> ListMatch {
        let mut positive = false;
        for item in &self.items {
            if match_pattern(s, &item.pattern) {
                if item.negated {
                    return ListMatch::Negative;
                }
                positive = true;
            }
        }
        if positive {
            ListMatch::Positive
        } else {
            ListMatch::None
        }
    }

    /// True when `s` matches a positive pattern and no negated one.
    pub fn matches(&self, s: &str) -> bool {
        self.check(s) == ListMatch::Positive
    }

    /// The literal names (positive patterns without wildcards), in order, without duplicates.
    pub fn literals(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for item in self.items.iter().filter(|i| i.is_literal()) {
            if !out.contains(&item.pattern.as_str()) {
                out.push(&item.pattern);
            }
        }
        out
    }

    /// The first positive pattern that matches every string (`*`), if any.
    pub fn match_all_item(&self) -> Option<&PatternItem> {
        self.items.iter().find(|i| i.matches_everything())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(match_pattern("alice@lab", "alice@lab"));
        assert!(match_pattern("alice@lab", "*@lab"));
        assert!(match_pattern("alice@lab", "a?ice@*"));
        assert!(match_pattern("", "*"));
        assert!(!match_pattern("", "?"));
        assert!(match_pattern("abcabd", "*abd"));
        assert!(match_pattern("mon-exec@mon", "mon-*@mon"));
        assert!(!match_pattern("mon-exec@monx", "mon-*@mon"));
        assert!(!match_pattern("alice", "bob"));
        assert!(match_pattern("a*b", "a*b"));
        assert!(!match_pattern("ab", "a?b"));
        let long = "a".repeat(5000);
        assert!(!match_pattern(&long, "*a*a*a*a*a*a*a*a*a*a*b"));
    }

    #[test]
    fn lists() {
        let l = PatternList::parse("a*,b,!abc").unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(l.check("ab"), ListMatch::Positive);
        assert_eq!(l.check("b"), ListMatch::Positive);
        assert_eq!(l.check("abc"), ListMatch::Negative);
        assert_eq!(l.check("c"), ListMatch::None);
        assert_eq!(l.literals(), vec!["b"]);
        let empty = PatternList::parse("").unwrap_or_else(|e| panic!("{e:?}"));
        assert!(!empty.matches(""));
        let lead = PatternList::parse(",x").unwrap_or_else(|e| panic!("{e:?}"));
        assert!(lead.matches(""));
        assert!(PatternList::parse(&"x".repeat(1024)).is_err());
        assert!(PatternList::parse("*,!bob")
            .unwrap_or_else(|e| panic!("{e:?}"))
            .match_all_item()
            .is_some());
    }
}
