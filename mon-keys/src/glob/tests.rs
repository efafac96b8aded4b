use super::*;
use proptest::prelude::*;

fn g(p: &str, t: &str) -> bool {
    glob_match(p.as_bytes(), t.as_bytes())
}

#[test]
fn wildcards() {
    assert!(g("*", ""));
    assert!(!g("?", ""));
    assert!(g("node*", "node12"));
    assert!(g("n?de*.lab", "node3.lab"));
    assert!(!g("n?de*.lab", "nde3.lab"));
    assert!(g("10.0.*", "10.0.3.4"));
    assert!(!g("10.0.*", "10.1.3.4"));
    assert!(g("*a*b", "xxaxxbxb"));
    assert!(!g("*a*b", "xxaxxbxc"));
    assert!(g("abc", "abc"));
    assert!(!g("abc", "abcd"));
    assert!(!g("abcd", "abc"));
    assert!(g("mon-*@mon", "mon-exec@mon"));
    assert!(!g("mon-*@mon", "mon-exec@monx"));
    assert!(g("a*b", "a*b"));
    assert!(!g("a?b", "ab"));
}

#[test]
fn case_sensitive_and_bytewise() {
    assert!(!g("Node", "node"));
    // `?` is one byte: "é" is two bytes in UTF-8.
    assert!(!g("?", "é"));
    assert!(g("??", "é"));
}

#[test]
fn no_exponential_backtracking() {
    let long = "a".repeat(5000);
    assert!(!g("*a*a*a*a*a*a*a*a*a*a*b", &long));
}

#[test]
fn literal_first_variant_differs_only_on_a_star_in_the_text() {
    let lf = |p: &str, t: &str| {
        glob_match_with(p.as_bytes(), t.as_bytes(), StarInText::MatchesLiteralFirst)
    };
    assert!(g("*a", "*ba"));
    assert!(!lf("*a", "*ba"));
    assert!(lf("web*", "web13"));
    assert!(lf("*", "*"));
}

/// OpenSSH's recursive `match_pattern`, as a reference for small inputs.
fn reference(p: &[u8], s: &[u8]) -> bool {
    match p.split_first() {
        None => s.is_empty(),
        Some((b'*', rest)) => (0..=s.len()).any(|i| reference(rest, &s[i..])),
        Some((b'?', rest)) => !s.is_empty() && reference(rest, &s[1..]),
        Some((c, rest)) => s.first() == Some(c) && reference(rest, &s[1..]),
    }
}

/// The `--targets` matcher as it was before it moved here, as a reference for the variant.
fn reference_literal_first(pat: &[u8], s: &[u8]) -> bool {
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

proptest! {
    #[test]
    fn agrees_with_openssh_reference(t in "[ab*?]{0,10}", p in "[ab*?]{0,8}") {
        prop_assert_eq!(g(&p, &t), reference(p.as_bytes(), t.as_bytes()));
    }

    #[test]
    fn literal_first_agrees_with_the_old_targets_matcher(t in "[ab*?]{0,10}", p in "[ab*?]{0,8}") {
        prop_assert_eq!(
            glob_match_with(p.as_bytes(), t.as_bytes(), StarInText::MatchesLiteralFirst),
            reference_literal_first(p.as_bytes(), t.as_bytes())
        );
    }

    #[test]
    fn variants_agree_without_a_star_in_the_text(t in "[ab?.]{0,10}", p in "[ab*?]{0,8}") {
        prop_assert_eq!(
            g(&p, &t),
            glob_match_with(p.as_bytes(), t.as_bytes(), StarInText::MatchesLiteralFirst)
        );
    }
}
