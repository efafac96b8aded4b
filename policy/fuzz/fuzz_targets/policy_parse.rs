//! Fuzz the three policy parsers and, when a slice loads, the decision function.
//!
//! Input layout: the bytes are split at the first two `\x00\x00` separators into
//! allowed_signers, mon_policy and revoked_keys. Run: `cargo fuzz run policy_parse` in policy/.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use mon_policy::ssh_key::public::{Ed25519PublicKey, KeyData};
use mon_policy::ssh_key::PublicKey;
use mon_policy::{
    parse_allowed_signers, parse_mon_policy, parse_revoked_keys, Operation, PolicySources,
    Request, SlicePolicy, CLASSES,
};

fn split(data: &[u8]) -> (&[u8], &[u8], &[u8]) {
    let sep = |d: &[u8]| d.windows(2).position(|w| w == [0, 0]);
    match sep(data) {
        None => (data, &[], &[]),
        Some(i) => {
            let (a, rest) = (&data[..i], &data[i + 2..]);
            match sep(rest) {
                None => (a, rest, &[]),
                Some(j) => (a, &rest[..j], &rest[j + 2..]),
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let (a, m, r) = split(data);
    let _ = parse_allowed_signers(Path::new("allowed_signers"), a);
    let _ = parse_mon_policy(Path::new("mon_policy"), m);
    let _ = parse_revoked_keys(Path::new("revoked_keys"), r);
    let src = PolicySources {
        allowed_signers: (Path::new("allowed_signers"), a),
        mon_policy: Some((Path::new("mon_policy"), m)),
        revoked_keys: Some((Path::new("revoked_keys"), r)),
    };
    if let Ok((policy, _)) = SlicePolicy::from_sources(&src) {
        let _ = mon_policy::lint(&policy, 1_767_225_600);
        // Every key listed in the file, plus one that is not.
        let mut keys: Vec<PublicKey> =
            policy.allowed_signers().lines.iter().map(|l| l.key.clone()).collect();
        keys.push(PublicKey::from(KeyData::Ed25519(Ed25519PublicKey([0x42; 32]))));
        let ops = [
            Operation::Query { name: "avg".into() },
            Operation::Grep { path: "/var/log/syslog".into() },
            Operation::Exec { argv: vec!["uptime".into()] },
            Operation::Push { dest: "/srv/apps/x".into() },
        ];
        for key in &keys {
            let _ = policy.find_principals(key, 1_767_225_600);
            for op in &ops {
                for ns in CLASSES {
                    let d = policy.evaluate(&Request {
                        principal: None,
                        key,
                        namespace: ns,
                        op,
                        client_addr: Some(std::net::IpAddr::from([10, 0, 0, 1])),
                        node: "node1",
                        now_unix_s: 1_767_225_600,
                        fanout: Some(8),
                        lifetime_s: Some(600),
                    });
                    assert_eq!(d.allowed, d.reason.code() == "allowed");
                }
            }
        }
    }
});
