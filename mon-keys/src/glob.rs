//! The one glob matcher of MON: OpenSSH wildcards `*` and `?` over bytes.
//!
//! Used by every pattern MON matches: `allowed_signers` principals and `mon_policy` patterns
//! (mon-policy's `match_pattern` / `PatternList`), known_nodes host patterns
//! ([`crate::known_nodes`]) and `--targets` node lists (mon-proto's `targets`).
//!
//! Contract:
//! - `*` matches any run of bytes, including none; `?` exactly one **byte** (not one UTF-8
//!   character); every other byte matches itself. There is no escape and no character class.
//! - Matching is case-sensitive. A caller wanting ASCII case folding folds both sides itself
//!   (known_nodes lower-cases its patterns when parsing and names before matching).
//! - Lists and negation (`a*,!ab`) are not this module's business: each list syntax (OpenSSH
//!   pattern lists in policy files, `--targets` lists) splits its items and calls [`glob_match`]
//!   per item.
//! - Iterative with one backtrack point: O(len(pattern) × len(text)) at worst, so hostile
//!   patterns or strings cannot stall a server.
//!
//! One documented variant exists, [`StarInText::MatchesLiteralFirst`], kept for `--targets`
//! lists whose matcher always behaved so; it differs only when the text itself contains `*`.

/// How a pattern `*` treats a `*` byte in the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StarInText {
    /// A pattern `*` is always a wildcard (OpenSSH's `match_pattern`).
    #[default]
    Wildcard,
    /// A pattern `*` facing a `*` in the text first matches it as that one literal byte and
    /// keeps no backtrack point there (so `*a` does not match `*ba`). This is how `--targets`
    /// lists have always matched node names; node names made by `mon server init` cannot
    /// contain `*`, so for them both variants agree.
    MatchesLiteralFirst,
}

/// Whether `text` matches `pattern` (`*` and `?`, byte-wise, case-sensitive; see the module
/// docs).
pub fn glob_match(pattern: &[u8], text: &[u8]) -> bool {
    glob_match_with(pattern, text, StarInText::Wildcard)
}

/// [`glob_match`] with an explicit treatment of `*` bytes in `text`.
pub fn glob_match_with(pattern: &[u8], text: &[u8], star_in_text: StarInText) -> bool {
    let literal_first = star_in_text == StarInText::MatchesLiteralFirst;
    let (mut p, mut t) = (0usize, 0usize);
    // The pattern position of the last `*` taken as a wildcard, and the text position it has
    // swallowed up to.
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(b'*') if !(literal_first && text[t] == b'*') => {
                star = Some((p, t));
                p += 1;
            }
            Some(&c) if c == b'?' || c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pattern
        .get(p..)
        .is_some_and(|rest| rest.iter().all(|&c| c == b'*'))
}

#[cfg(test)]
mod tests;
