//! Fuzz the signed-session decoders and the server's session checks.
//!
//! First byte odd: XOR the rest into the encoding of a valid signed session (at an offset the
//! byte chooses, optionally truncating), decode it and run `verify_session`: it must accept
//! exactly when the decoded envelope equals the original, never a modified one.
//! Otherwise: the bytes as a `SignedSession` and as a `SessionBody`; nothing may panic and
//! nothing may verify (the user key is random per process, so no stored input can carry a
//! valid signature).
#![no_main]

#[path = "../../tests/common/mod.rs"]
mod common;

use std::net::{IpAddr, Ipv4Addr};
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use mon_policy::SlicePolicy;
use mon_proto::agg::Query;
use mon_proto::verify::{verify_session, Context, Limits};
use mon_proto::wire::session::{SessionBody, SignedSession};
use rand_core::{OsRng, RngCore};

struct Fixture {
    policy: SlicePolicy,
    limits: Limits,
    valid: SignedSession,
    encoded: Vec<u8>,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let mut seed = [0u8; 32];
        OsRng.fill_bytes(&mut seed);
        let user = common::SeedSigner::new(seed);
        let policy = common::policy(
            &common::allowed_signers(&user, "mon-*@mon", "", 3),
            Some("alice@lab max-fanout=64,command=\"uptime\"\n"),
        );
        let ops = vec![
            Query::Avg { res: "load".into() },
            Query::Exec {
                argv: vec!["uptime".into()],
                shell: false,
                timeout_s: 5,
                where_: None,
            },
        ];
        let valid = common::session(&user, ops, common::NOW_MS, OsRng.next_u64()).signed;
        let encoded = valid.to_bytes();
        Fixture {
            policy,
            limits: Limits::default(),
            valid,
            encoded,
        }
    })
}

fn check(f: &Fixture, s: &SignedSession) -> bool {
    let ctx = Context {
        now_ms: common::NOW_MS + 1,
        node: "n1",
        client_addr: Some(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        policy: Some(&f.policy),
        limits: &f.limits,
    };
    verify_session(&ctx, s).is_ok()
}

fuzz_target!(|data: &[u8]| {
    let f = fixture();
    match data.split_first() {
        Some((&op, rest)) if op & 1 == 1 => {
            let mut b = f.encoded.clone();
            let off = usize::from(op >> 2) * b.len() / 64;
            for (x, y) in b[off..].iter_mut().zip(rest) {
                *x ^= y;
            }
            if op & 2 != 0 {
                let keep = rest.len() % (b.len() + 1);
                b.truncate(keep);
            }
            if let Ok(s) = SignedSession::from_bytes(&b) {
                let _ = SessionBody::from_bytes(&s.body);
                assert_eq!(
                    check(f, &s),
                    s == f.valid,
                    "verify must accept exactly the original"
                );
            }
        }
        _ => {
            if let Ok(s) = SignedSession::from_bytes(data) {
                let _ = s.hash();
                assert!(!check(f, &s), "a fuzzed session verified");
            }
            if let Ok(body) = SessionBody::from_bytes(data) {
                let _ = body.to_bytes();
            }
        }
    }
});
