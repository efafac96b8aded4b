//! Node lists for humans: folded as ClusterShell node sets (`n[1-8,10]`), naturally sorted
//! (`n2` before `n10`).
//!
//! Folding is the `nodeset` crate's (ClusterShell's notation). It only sees names made of the
//! characters a node name may hold (letters, digits, `.`, `-`, `_`, starting with a letter or a
//! digit); any other name (node lists come from the network) is listed as it is, after the
//! folded set. A fold that would not list exactly the names given is not used: the names are
//! then listed one by one, naturally sorted.

use std::cmp::Ordering;

/// Compares two names naturally: runs of ASCII digits compare as numbers (`n2` < `n10`), the
/// rest byte by byte; equal numbers with more leading zeros come later, so the order is total.
pub fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        if a[i].is_ascii_digit() && b[j].is_ascii_digit() {
            let (ei, ej) = (digits_end(a, i), digits_end(b, j));
            let (na, nb) = (trim_zeros(&a[i..ei]), trim_zeros(&b[j..ej]));
            let by_value = na.len().cmp(&nb.len()).then_with(|| na.cmp(nb));
            let by_width = (ei - i).cmp(&(ej - j));
            match by_value.then(by_width) {
                Ordering::Equal => (i, j) = (ei, ej),
                o => return o,
            }
        } else {
            match a[i].cmp(&b[j]) {
                Ordering::Equal => (i, j) = (i + 1, j + 1),
                o => return o,
            }
        }
    }
    (a.len() - i).cmp(&(b.len() - j))
}

fn digits_end(s: &[u8], from: usize) -> usize {
    s[from..]
        .iter()
        .position(|c| !c.is_ascii_digit())
        .map_or(s.len(), |p| from + p)
}

fn trim_zeros(d: &[u8]) -> &[u8] {
    let z = d.iter().take_while(|&&c| c == b'0').count();
    &d[z.min(d.len().saturating_sub(1))..]
}

/// Sorts names naturally and removes duplicates.
pub fn natural_sorted<S: AsRef<str>>(names: &[S]) -> Vec<&str> {
    let mut v: Vec<&str> = names.iter().map(AsRef::as_ref).collect();
    v.sort_by(|a, b| natural_cmp(a, b));
    v.dedup();
    v
}

/// Whether the node-set parser may see `name` as one node (no operator, bracket or space in
/// it; not a bare number range).
fn foldable(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-' | b'_'))
        && !name.bytes().all(|c| c.is_ascii_digit() || c == b'-')
}

/// The names as one node set (`n[1-8,10],web[01-02]`), naturally sorted, duplicates removed;
/// an empty string for no name.
pub fn fold<S: AsRef<str>>(names: &[S]) -> String {
    let sorted = natural_sorted(names);
    let (simple, other): (Vec<&str>, Vec<&str>) = sorted.iter().partition(|n| foldable(n));
    let mut parts = Vec::new();
    if !simple.is_empty() {
        match fold_simple(&simple) {
            Some(set) => parts.push(set),
            None => parts.extend(simple.iter().map(|s| s.to_string())),
        }
    }
    parts.extend(other.iter().map(|s| s.to_string()));
    parts.join(",")
}

/// `fold` of names that [`foldable`] accepts, checked: `None` when the set would not list
/// exactly these names.
fn fold_simple(names: &[&str]) -> Option<String> {
    let set: nodeset::NodeSet = nodeset::Parser::default().parse(&names.join(",")).ok()?;
    let mut back: Vec<String> = set.iter().collect();
    back.sort_by(|a, b| natural_cmp(a, b));
    (back.len() == names.len() && back.iter().zip(names).all(|(a, b)| a == b))
        .then(|| set.to_string())
}

/// The folded set and how many distinct names it holds: `n[1-8,10] (9)`.
pub fn fold_counted<S: AsRef<str>>(names: &[S]) -> String {
    let n = natural_sorted(names).len();
    format!("{} ({n})", fold(names))
}

/// Nodes grouped by identical reason, each group folded with its count (`n[3,7] (2)`): the
/// largest group first, then by reason.
pub fn fold_by_reason<'a>(
    entries: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Vec<(String, &'a str)> {
    let mut by_reason: std::collections::BTreeMap<&str, Vec<&str>> = Default::default();
    for (node, reason) in entries {
        by_reason.entry(reason).or_default().push(node);
    }
    let mut groups: Vec<(&str, Vec<&str>)> = by_reason.into_iter().collect();
    groups.sort_by_key(|g| std::cmp::Reverse(g.1.len()));
    groups
        .into_iter()
        .map(|(reason, nodes)| (fold_counted(&nodes), reason))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn natural_order_compares_numbers_as_numbers() {
        let mut v = vec!["n10", "n2", "n1", "web1", "n02", "m5", "n", "n1a"];
        v.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(v, ["m5", "n", "n1", "n1a", "n2", "n02", "n10", "web1"]);
        assert_eq!(natural_cmp("a9b", "a10a"), Ordering::Less);
        assert_eq!(natural_cmp("x", "x"), Ordering::Equal);
    }

    #[test]
    fn node_lists_fold_as_clustershell_node_sets() {
        let names: Vec<String> = (1..=8).chain([10]).map(|i| format!("n{i}")).collect();
        assert_eq!(fold(&names), "n[1-8,10]");
        assert_eq!(fold_counted(&names), "n[1-8,10] (9)");
        assert_eq!(fold(&["n2", "n10", "n1", "n2"]), "n[1-2,10]");
        assert_eq!(fold(&["web-01", "web-02", "db1"]), "db1,web-[01-02]");
        assert_eq!(
            fold(&["h1.example.org", "h2.example.org"]),
            "h[1-2].example.org"
        );
        assert_eq!(fold(&["n1"]), "n1");
        assert_eq!(fold::<&str>(&[]), "");
    }

    #[test]
    fn identical_reasons_fold_into_one_line_the_largest_first() {
        let e = [
            ("n3", "no answer"),
            ("n10", "no answer"),
            ("n4", "no answer"),
            ("db1", "refused"),
        ];
        assert_eq!(
            fold_by_reason(e),
            [
                ("n[3-4,10] (3)".to_string(), "no answer"),
                ("db1 (1)".to_string(), "refused")
            ]
        );
    }

    #[test]
    fn names_the_parser_cannot_take_are_listed_as_they_are() {
        assert_eq!(
            fold(&["n1", "n2", "a b", "@client", "x!y"]),
            "n[1-2],@client,a b,x!y"
        );
        assert_eq!(fold(&["1-2", "3"]), "1-2,3");
    }
}
