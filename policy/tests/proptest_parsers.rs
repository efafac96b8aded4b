//! The parsers never panic on random or mutated input, reject oversize input, and the pattern
//! matcher agrees with a simple reference implementation.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use mon_policy::ssh_key::public::{Ed25519PublicKey, KeyData};
use mon_policy::ssh_key::PublicKey;
use mon_policy::{
    match_pattern, parse_allowed_signers, parse_mon_policy, parse_revoked_keys, Operation,
    PolicySources, Request, SlicePolicy, CLASSES, MAX_FILE_BYTES, MAX_LINE_BYTES,
};
use proptest::prelude::*;

fn key(b: u8) -> PublicKey {
    PublicKey::from(KeyData::Ed25519(Ed25519PublicKey([b; 32])))
}

fn key_line(b: u8) -> String {
    key(b).to_openssh().unwrap()
}

/// A valid slice to mutate.
fn seed_files() -> (String, String, String) {
    let allowed = format!(
        "# lab\nalice@lab,ops-* namespaces=\"mon-query@mon,mon-exec@mon\",valid-after=\"20240101Z\" {} alice\n\
         \"bob@lab\" namespaces=\"mon-*@mon\",valid-before=\"203001011200Z\" {}\n*,!x {}\n",
        key_line(1),
        key_line(2),
        key_line(3)
    );
    let mp = "alice@lab from=\"10.0.0.0/8,!10.9.0.0/16,::1\",command=\"uptime *\",nodes=\"n*,!n1\",run-as=\"mon\"\n\
              bob@lab grep-paths=\"/var/log,/srv/*.log\",push-dirs=\"/srv/apps\",max-fanout=8,max-lifetime=\"600\"\n"
        .to_string();
    let revoked = format!("# r\n{} old\n", key_line(4));
    (allowed, mp, revoked)
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Insert(usize, Vec<u8>),
    Delete(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let tokens: Vec<&'static [u8]> = vec![
        b"\"",
        b",",
        b"=",
        b" ",
        b"\t",
        b"!",
        b"*",
        b"?",
        b"\n",
        b"\r",
        b"#",
        b"..",
        b"/",
        b"namespaces=",
        b"valid-after=\"",
        b"cert-authority",
        b"from=\"",
        b"push-dirs=\"",
        b"ssh-ed25519 ",
        b"ssh-rsa ",
        b"\\\"",
        b"\xff",
        b"\0",
        "é".as_bytes(),
        b"99999999999999999999",
    ];
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Flip(i, b)),
        (any::<usize>(), prop::sample::select(tokens))
            .prop_map(|(i, t)| Mutation::Insert(i, t.to_vec())),
        (any::<usize>(), 0usize..16).prop_map(|(i, n)| Mutation::Delete(i, n)),
    ]
}

fn apply(mut v: Vec<u8>, muts: &[Mutation]) -> Vec<u8> {
    for m in muts {
        let len = v.len();
        match m {
            Mutation::Flip(i, b) if len > 0 => v[i % len] = *b,
            Mutation::Insert(i, t) => {
                let at = i % (len + 1);
                v.splice(at..at, t.iter().copied());
            }
            Mutation::Delete(i, n) if len > 0 => {
                let at = i % len;
                let end = (at + n).min(len);
                v.drain(at..end);
            }
            _ => {}
        }
    }
    v
}

fn ops() -> Vec<Operation> {
    vec![
        Operation::Query { name: "avg".into() },
        Operation::Grep {
            path: "/var/log/../etc/x".into(),
        },
        Operation::Exec {
            argv: vec!["uptime".into(), "-p".into()],
        },
        Operation::Push {
            dest: "/srv/apps/x".into(),
        },
    ]
}

/// Parses and, when it loads, evaluates a few requests: nothing may panic.
fn exercise(allowed: &[u8], mp: &[u8], revoked: &[u8]) {
    let _ = parse_allowed_signers(Path::new("a"), allowed);
    let _ = parse_mon_policy(Path::new("m"), mp);
    let _ = parse_revoked_keys(Path::new("r"), revoked);
    let src = PolicySources {
        allowed_signers: (Path::new("a"), allowed),
        mon_policy: Some((Path::new("m"), mp)),
        revoked_keys: Some((Path::new("r"), revoked)),
    };
    if let Ok((policy, _)) = SlicePolicy::from_sources(&src) {
        let _ = mon_policy::lint(&policy, 1_767_225_600);
        for b in 1..=4u8 {
            let k = key(b);
            let _ = policy.find_principals(&k, 1_767_225_600);
            for op in ops() {
                for ns in CLASSES {
                    for principal in [None, Some("alice@lab"), Some("ops-x")] {
                        let d = policy.evaluate(&Request {
                            principal,
                            key: &k,
                            namespace: ns,
                            op: &op,
                            client_addr: Some("10.1.1.1".parse().unwrap()),
                            node: "n2",
                            now_unix_s: 1_767_225_600,
                            fanout: Some(4),
                            lifetime_s: Some(60),
                        });
                        assert_eq!(d.allowed, d.reason == mon_policy::Reason::Allowed);
                    }
                }
            }
        }
    }
}

#[test]
fn the_seed_policy_loads_and_allows() {
    let (a, m, r) = seed_files();
    let src = PolicySources {
        allowed_signers: (Path::new("a"), a.as_bytes()),
        mon_policy: Some((Path::new("m"), m.as_bytes())),
        revoked_keys: Some((Path::new("r"), r.as_bytes())),
    };
    let (policy, _) = SlicePolicy::from_sources(&src).expect("seed loads");
    let op = Operation::Exec {
        argv: vec!["uptime".into(), "-p".into()],
    };
    let k = key(1);
    let d = policy.evaluate(&Request {
        principal: None,
        key: &k,
        namespace: "mon-exec@mon",
        op: &op,
        client_addr: Some("10.1.1.1".parse().unwrap()),
        node: "n2",
        now_unix_s: 1_767_225_600,
        fanout: Some(4),
        lifetime_s: Some(60),
    });
    assert!(d.allowed, "{}", d.message);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(a in prop::collection::vec(any::<u8>(), 0..2048),
                                m in prop::collection::vec(any::<u8>(), 0..2048),
                                r in prop::collection::vec(any::<u8>(), 0..2048)) {
        exercise(&a, &m, &r);
    }

    #[test]
    fn random_text_never_panics(a in "[ -~\t\n\"]{0,600}", m in "[ -~\t\n\"]{0,600}") {
        exercise(a.as_bytes(), m.as_bytes(), a.as_bytes());
    }

    #[test]
    fn mutated_policies_never_panic(ma in prop::collection::vec(mutation(), 0..8),
                                    mm in prop::collection::vec(mutation(), 0..8),
                                    mr in prop::collection::vec(mutation(), 0..4)) {
        let (a, m, r) = seed_files();
        exercise(
            &apply(a.into_bytes(), &ma),
            &apply(m.into_bytes(), &mm),
            &apply(r.into_bytes(), &mr),
        );
    }

    #[test]
    fn overlong_lines_are_rejected(extra in 1usize..64, fill in any::<u8>()) {
        let fill = if fill == b'\n' || fill == b'\r' { b'a' } else { fill };
        let mut line = vec![fill; MAX_LINE_BYTES + extra];
        line.push(b'\n');
        prop_assert!(parse_allowed_signers(Path::new("a"), &line).is_err());
        prop_assert!(parse_mon_policy(Path::new("m"), &line).is_err());
        prop_assert!(parse_revoked_keys(Path::new("r"), &line).is_err());
    }

    #[test]
    fn pattern_matcher_agrees_with_reference(s in "[ab*?]{0,10}", p in "[ab*?]{0,8}") {
        prop_assert_eq!(match_pattern(&s, &p), reference_match(s.as_bytes(), p.as_bytes()));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 8, ..ProptestConfig::default() })]

    #[test]
    fn oversize_files_are_rejected(extra in 1usize..4096) {
        // Valid short lines, just too many of them.
        let line = format!("p {}\n", key_line(9));
        let mut text = line.repeat(MAX_FILE_BYTES / line.len() + 1).into_bytes();
        text.truncate(MAX_FILE_BYTES);
        text.extend(std::iter::repeat_n(b'\n', extra));
        for r in [
            parse_allowed_signers(Path::new("a"), &text).err(),
            parse_mon_policy(Path::new("m"), &text).err(),
            parse_revoked_keys(Path::new("r"), &text).err(),
        ] {
            let errs = r.expect("oversize rejected");
            prop_assert_eq!(errs.len(), 1);
            prop_assert_eq!(errs[0].line, 0);
        }
    }
}

/// OpenSSH's recursive `match_pattern`, as a reference for small inputs.
fn reference_match(s: &[u8], p: &[u8]) -> bool {
    match p.split_first() {
        None => s.is_empty(),
        Some((b'*', rest)) => (0..=s.len()).any(|i| reference_match(&s[i..], rest)),
        Some((b'?', rest)) => !s.is_empty() && reference_match(&s[1..], rest),
        Some((c, rest)) => s.first() == Some(c) && reference_match(&s[1..], rest),
    }
}
