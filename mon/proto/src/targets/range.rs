//! A `--targets` pattern with ClusterShell ranges: `n[1-20]`, `web[01-10,15]-eth0`,
//! `r[1-2]n[1-8]`, `n[1-100/2]`, with `*` and `?` as in the other patterns. It is matched
//! against one node name as it stands, never expanded, so `n[1-100000]` costs what `n1` costs.
//!
//! Inside `[…]`: comma-separated `A`, `A-B` or `A-B/STEP`, each number at most 9 digits,
//! `A ≤ B`. A number written with leading zeros (`01`) pads the whole item to its width, as
//! in ClusterShell: `[01-10]` matches `01` … `10`, not `1`; `[1-10]` matches `1` … `10`, not
//! `01`.

/// Longest number inside brackets, digits.
const MAX_DIGITS: usize = 9;

/// One `A-B/STEP` item: the numbers `lo, lo+step, … ≤ hi`, written at least `width` digits
/// wide (0: no padding).
#[derive(Clone, Debug, PartialEq, Eq)]
struct Span {
    lo: u32,
    hi: u32,
    step: u32,
    width: usize,
}

impl Span {
    /// Whether the digit string `d` writes one of the span's numbers, padded as the span is.
    fn matches(&self, d: &[u8]) -> bool {
        let Some(v) = number(d) else { return false };
        let natural = if v == 0 { 1 } else { v.ilog10() as usize + 1 };
        d.len() == natural.max(self.width)
            && (self.lo..=self.hi).contains(&v)
            && (v - self.lo) % self.step == 0
    }
}

/// One step of a pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Tok {
    Byte(u8),
    Star,
    One,
    Range(Vec<Span>),
}

/// A parsed pattern with ranges.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RangePattern {
    toks: Vec<Tok>,
}

/// The value of a digit string (at most [`MAX_DIGITS`] digits).
fn number(d: &[u8]) -> Option<u32> {
    if d.is_empty() || d.len() > MAX_DIGITS || !d.iter().all(u8::is_ascii_digit) {
        return None;
    }
    d.iter().try_fold(0u32, |acc, c| {
        acc.checked_mul(10)?.checked_add(u32::from(c - b'0'))
    })
}

/// One `A`, `A-B` or `A-B/STEP` item.
fn parse_span(item: &str) -> Result<Span, String> {
    let (range, step) = match item.split_once('/') {
        Some((r, s)) => (r, Some(s)),
        None => (item, None),
    };
    let (a, b) = range.split_once('-').unwrap_or((range, range));
    let num = |s: &str| {
        number(s.as_bytes())
            .ok_or_else(|| format!("{s:?} in [{item}] is not a number of 1 to {MAX_DIGITS} digits"))
    };
    let (lo, hi) = (num(a)?, num(b)?);
    if lo > hi {
        return Err(format!("[{item}]: {lo} is above {hi}"));
    }
    let step = match step {
        Some(s) => num(s)?,
        None => 1,
    };
    if step == 0 {
        return Err(format!("[{item}]: a step of 0"));
    }
    let width = if a.len() > 1 && a.starts_with('0') {
        a.len()
    } else {
        0
    };
    Ok(Span {
        lo,
        hi,
        step,
        width,
    })
}

impl RangePattern {
    /// Parses a pattern; the error says what is wrong (an unclosed `[`, a bad range).
    pub fn parse(p: &str) -> Result<RangePattern, String> {
        let mut toks = Vec::new();
        let mut rest = p;
        while let Some(c) = rest.chars().next() {
            match c {
                '[' => {
                    let close = rest
                        .find(']')
                        .ok_or_else(|| format!("{p:?}: '[' without its ']'"))?;
                    let inner = &rest[1..close];
                    if inner.is_empty() || inner.contains('[') {
                        return Err(format!("{p:?}: [{inner}] is not a list of ranges"));
                    }
                    let spans = inner.split(',').map(parse_span).collect::<Result<_, _>>();
                    toks.push(Tok::Range(spans.map_err(|e| format!("{p:?}: {e}"))?));
                    rest = &rest[close + 1..];
                    continue;
                }
                ']' => return Err(format!("{p:?}: ']' without its '['")),
                '*' => toks.push(Tok::Star),
                '?' => toks.push(Tok::One),
                _ => toks.extend(c.to_string().bytes().map(Tok::Byte)),
            }
            rest = &rest[c.len_utf8()..];
        }
        Ok(RangePattern { toks })
    }

    /// Whether `name` matches: a forward pass over (step, position) pairs, each visited once,
    /// so the cost is bounded by the pattern's length × the name's length × [`MAX_DIGITS`].
    pub fn matches(&self, name: &str) -> bool {
        let s = name.as_bytes();
        let n = s.len();
        // reach[i] = the name positions reachable before step i.
        let mut reach = vec![false; n + 1];
        reach[0] = true;
        for tok in &self.toks {
            let mut next = vec![false; n + 1];
            if let Tok::Star = tok {
                // Everything from the first reachable position on: linear, however many
                // stars follow one another.
                if let Some(first) = reach.iter().position(|&r| r) {
                    next[first..].fill(true);
                }
                reach = next;
                continue;
            }
            for at in (0..=n).filter(|&at| reach[at]) {
                match tok {
                    Tok::Byte(b) => {
                        if s.get(at) == Some(b) {
                            next[at + 1] = true;
                        }
                    }
                    Tok::One => {
                        if at < n {
                            next[at + 1] = true;
                        }
                    }
                    Tok::Star => {}
                    Tok::Range(spans) => {
                        let digits = s[at..].iter().take_while(|c| c.is_ascii_digit()).count();
                        for end in at + 1..=at + digits.min(MAX_DIGITS) {
                            if spans.iter().any(|sp| sp.matches(&s[at..end])) {
                                next[end] = true;
                            }
                        }
                    }
                }
            }
            reach = next;
        }
        reach[n]
    }
}

/// Whether a pattern uses ranges (holds a `[` or `]`): it is then a [`RangePattern`].
pub fn has_ranges(p: &str) -> bool {
    p.contains(['[', ']'])
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn m(p: &str, name: &str) -> bool {
        RangePattern::parse(p).unwrap().matches(name)
    }

    #[test]
    fn ranges_match_the_names_clustershell_expands_them_to() {
        assert!(m("n[1-20]", "n1") && m("n[1-20]", "n20") && m("n[1-20]", "n13"));
        assert!(!m("n[1-20]", "n21") && !m("n[1-20]", "n0") && !m("n[1-20]", "n"));
        assert!(!m("n[1-20]", "n01"), "not padded");
        assert!(m("n[1-8,10]", "n10") && !m("n[1-8,10]", "n9"));
        assert!(m("n[01-10]", "n01") && m("n[01-10]", "n10") && !m("n[01-10]", "n1"));
        assert!(m("n[01-100]", "n100") && m("n[001-100]", "n007"));
        assert!(m("n[1-9/2]", "n7") && !m("n[1-9/2]", "n8"));
        assert!(m("r[1-2]n[1-8]", "r2n8") && !m("r[1-2]n[1-8]", "r3n1"));
        assert!(m("web[1-3]-eth0", "web2-eth0") && !m("web[1-3]-eth0", "web2-eth1"));
        assert!(m("n[1-3]0", "n10") && !m("n[1-3]0", "n1"));
        assert!(m("n[1-3]*", "n2.example.org") && m("?[1-3]", "x3"));
        assert!(m("n[1-100000000]", "n99999999") && !m("n[1-100000000]", "n100000001"));
    }

    #[test]
    fn malformed_ranges_are_errors_that_say_what_is_wrong() {
        for (p, says) in [
            ("n[1-", "without its ']'"),
            ("n1]", "without its '['"),
            ("n[]", "not a list"),
            ("n[5-1]", "5 is above 1"),
            ("n[a-b]", "not a number"),
            ("n[1-9/0]", "step of 0"),
            ("n[1234567890]", "not a number"),
            ("n[[1]]", "not a list"),
        ] {
            let e = RangePattern::parse(p).unwrap_err();
            assert!(e.contains(says), "{p}: {e}");
        }
    }

    #[test]
    fn matching_is_bounded_without_expansion() {
        let p = RangePattern::parse(&"*[0-999999999]".repeat(20)).unwrap();
        let name = "1".repeat(255);
        let _ = p.matches(&name);
        assert!(!p.matches(&"x".repeat(255)));
    }

    #[test]
    fn many_stars_match_as_one() {
        let stars = "*".repeat(200);
        assert!(m(&format!("{stars}n[1-3]"), "web-n2"));
        assert!(!m(&format!("{stars}n[1-3]"), "web-n4"));
        assert!(m(&format!("n{stars}[7]{stars}"), "n-x-7-y"));
    }
}
