#![allow(clippy::unwrap_used)]
use super::*;

#[test]
fn codes_are_unique_but_for_the_lifetime_limit() {
    let all = Refusal::all();
    for (i, a) in all.iter().enumerate() {
        assert!(!a.code().is_empty(), "{a:?}");
        for b in &all[i + 1..] {
            let shared = [a, b].contains(&&Refusal::LifetimeOverLimit)
                && [a, b].contains(&&Refusal::Policy(Reason::LifetimeTooLong));
            assert!(a.code() != b.code() || shared, "{a:?} and {b:?}");
        }
    }
    assert_eq!(Refusal::from_code("busy-key"), Some(Refusal::BusyKey));
    assert_eq!(Refusal::from_code("allowed"), None);
}

#[test]
fn decode_refusals_keep_the_decoders_codes() {
    let errors = [
        DecodeError::TooLarge {
            what: "x",
            len: 2,
            max: 1,
        },
        DecodeError::Malformed {
            what: "x",
            detail: String::new(),
        },
        DecodeError::TrailingBytes {
            what: "x",
            extra: 1,
        },
        DecodeError::Version {
            what: "x",
            got: 2,
            want: 1,
        },
        DecodeError::Invalid {
            what: "x",
            detail: String::new(),
        },
    ];
    for e in &errors {
        assert_eq!(Refusal::from(e).code(), e.code());
    }
}

#[test]
fn retry_later_codes_are_the_retry_later_refusals() {
    assert_eq!(
        RETRY_LATER_CODES,
        [
            "busy",
            "busy-key",
            "busy-slice",
            "busy-interactive",
            "replay-cache-full",
            "replay-cache-key-full",
            "replay-cache-slice-full",
            "storage-unavailable",
        ]
    );
    for r in Refusal::all() {
        assert_eq!(
            r.retry_later(),
            RETRY_LATER_CODES.contains(&r.code()),
            "{r:?}"
        );
    }
    assert_eq!(STORAGE_UNAVAILABLE, "storage-unavailable");
}

/// docs/protocol.md's "Session refusal codes" table lists every code with the client's exit.
#[test]
fn protocol_doc_lists_every_refusal() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/protocol.md");
    let doc = std::fs::read_to_string(path).unwrap();
    let start = doc
        .find("\n## Session refusal codes")
        .expect("section in protocol.md");
    let section = &doc[start + 1..];
    let section = &section[..section[1..].find("\n## ").map_or(section.len(), |e| e + 1)];
    let rows: Vec<Vec<&str>> = section
        .lines()
        .filter(|l| l.starts_with("| `"))
        .map(|l| l.trim_matches('|').split(" | ").map(str::trim).collect())
        .collect();
    for r in Refusal::all() {
        let cell = format!("`{}`", r.code());
        let row = rows
            .iter()
            .find(|row| row[0] == cell)
            .unwrap_or_else(|| panic!("{cell} missing from protocol.md's refusal table"));
        let exit = if r.retry_later() { "4" } else { "3" };
        assert_eq!(row.last().copied(), Some(exit), "exit code of {cell}");
    }
    for row in &rows {
        let code = row[0].trim_matches('`');
        assert!(
            Refusal::from_code(code).is_some(),
            "protocol.md lists {code}, which no Refusal has"
        );
    }
}
