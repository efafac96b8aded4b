//! Property tests: the verifier never panics, and any change to a sealed log is detected.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use mon_proto::audit::{verify_lines, AuditEvent, AuditRecord, Chain, EventKind, Outcome};
use proptest::prelude::*;

fn sealed(fields: &[(String, Vec<String>)]) -> Vec<String> {
    let mut c = Chain::new([7; 16]);
    fields
        .iter()
        .enumerate()
        .map(|(i, (p, argv))| {
            let ev = AuditEvent::new(EventKind::OpStart)
                .result(Outcome::Allow)
                .principal(p.clone())
                .argv(argv.clone())
                .exit_code(i as i64 - 3);
            c.seal("node", "2025-01-01T00:00:00.000Z", &ev)
        })
        .collect()
}

fn field_strategy() -> impl Strategy<Value = Vec<(String, Vec<String>)>> {
    prop::collection::vec(
        (
            any::<String>(),
            prop::collection::vec(any::<String>(), 0..4),
        ),
        1..6,
    )
}

proptest! {
    #[test]
    fn random_lines_never_panic(lines in prop::collection::vec(any::<String>(), 0..8)) {
        let _ = verify_lines(lines.iter().map(String::as_str));
    }

    #[test]
    fn json_like_lines_never_panic(lines in prop::collection::vec(
        "\\{(\"[a-z_]{1,8}\":(\"[0-9a-f]{0,70}\"|[0-9]{1,3}|null|\\[\\]|\\{\\}),?){0,8}(,\"hash\":\"[0-9a-f]{64}\")?\\}",
        0..6,
    )) {
        let _ = verify_lines(lines.iter().map(String::as_str));
    }

    #[test]
    fn any_strings_round_trip(fields in field_strategy()) {
        let lines = sealed(&fields);
        let s = verify_lines(lines.iter().map(String::as_str)).unwrap();
        prop_assert_eq!(s.records, fields.len() as u64);
        for (line, (p, argv)) in lines.iter().zip(&fields) {
            prop_assert!(!line.contains('\n'));
            let r = AuditRecord::parse(line).unwrap();
            prop_assert_eq!(r.principal.as_ref(), Some(p));
            prop_assert_eq!(r.argv.as_ref(), Some(argv));
        }
    }

    #[test]
    fn any_single_character_change_is_detected(
        fields in field_strategy(),
        which in any::<prop::sample::Index>(),
        at in any::<prop::sample::Index>(),
        c in any::<char>(),
    ) {
        let mut lines = sealed(&fields);
        let li = which.index(lines.len());
        let chars: Vec<char> = lines[li].chars().collect();
        let ci = at.index(chars.len());
        prop_assume!(chars[ci] != c);
        let mut mutated = chars.clone();
        mutated[ci] = c;
        lines[li] = mutated.into_iter().collect();
        let b = verify_lines(lines.iter().map(String::as_str));
        prop_assert!(b.is_err(), "undetected change at line {} char {}", li + 1, ci);
        prop_assert_eq!(b.unwrap_err().line_no, li + 1);
    }

    #[test]
    fn any_reordering_or_removal_before_the_newest_is_detected(
        fields in prop::collection::vec((any::<String>(), Just(vec![])), 3..8),
        a in any::<prop::sample::Index>(),
        b in any::<prop::sample::Index>(),
        remove in any::<bool>(),
    ) {
        let mut lines = sealed(&fields);
        let n = lines.len();
        if remove {
            lines.remove(a.index(n - 1)); // never the newest
        } else {
            let (i, j) = (a.index(n), b.index(n));
            prop_assume!(i != j);
            lines.swap(i, j);
        }
        prop_assert!(verify_lines(lines.iter().map(String::as_str)).is_err());
    }
}
