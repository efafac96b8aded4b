//! Session verification as a server runs it for every Session it receives: envelope decode,
//! then `verify_session` (strict body decode, slice policy lookup with allowed_signers and
//! mon_policy, SSHSIG structure, `verify_strict`, freshness, targeting), against a slice
//! policy of 100 allowed_signers lines and a mon_policy. The parts are measured too.
//!
//! `cargo bench -p mon-proto --bench verify -- --warm-up-time 1 --measurement-time 3`
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::net::{IpAddr, Ipv4Addr};

use common::{allowed_signers, policy, session, SeedSigner, NOW_MS, PRINCIPAL};
use criterion::{criterion_group, criterion_main, Criterion};
use mon_policy::{Operation, Request};
use mon_proto::agg::Query;
use mon_proto::verify::{verify_session, Context, Limits};
use mon_proto::wire::session::{SessionBody, SignedSession};

/// Narrowing lines a slice admin might write: one set for the user, one for everyone else.
const MON_POLICY: &str = "\
# exec and push narrowed; fanout and lifetime capped
alice@lab max-fanout=64,max-lifetime=3600,from=\"127.0.0.0/8,10.0.0.0/8\"
alice@lab command=\"uptime\",nodes=\"n*\"
user*@lab max-fanout=16,nodes=\"n*\"
";

fn bench_verify(c: &mut Criterion) {
    let user = SeedSigner::new([42; 32]);
    // 99 other users, then the user's line at the end (the worst case for a linear scan).
    let signers = allowed_signers(&user, "mon-query@mon,mon-exec@mon", "", 99);
    assert_eq!(
        signers
            .lines()
            .filter(|l| l.contains("ssh-ed25519"))
            .count(),
        100
    );
    let slice = policy(&signers, Some(MON_POLICY));
    let limits = Limits::default();
    let ctx = Context {
        now_ms: NOW_MS + 50,
        node: "n1",
        client_addr: Some(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        policy: Some(&slice),
        limits: &limits,
    };

    let query = session(&user, vec![Query::Avg { res: "load".into() }], NOW_MS, 1);
    let exec = session(
        &user,
        vec![Query::Exec {
            argv: vec!["uptime".into()],
            shell: false,
            timeout_s: 30,
            where_: None,
        }],
        NOW_MS,
        2,
    );
    let query_bytes = query.signed.to_bytes();
    let exec_bytes = exec.signed.to_bytes();
    // Both must pass: a benchmark of a denial would measure an early exit.
    for bytes in [&query_bytes, &exec_bytes] {
        let s = SignedSession::from_bytes(bytes).unwrap();
        let v = verify_session(&ctx, &s).map_err(|d| format!("{}: {}", d.refusal, d.text));
        assert_eq!(v.unwrap().principal.as_deref(), Some(PRINCIPAL));
    }

    c.bench_function(
        "session verify: avg load (decode + policy + verify_strict)",
        |b| {
            b.iter(|| {
                let s = SignedSession::from_bytes(&query_bytes).unwrap();
                verify_session(&ctx, &s).unwrap()
            })
        },
    );
    c.bench_function("session verify: exec under mon_policy", |b| {
        b.iter(|| {
            let s = SignedSession::from_bytes(&exec_bytes).unwrap();
            verify_session(&ctx, &s).unwrap()
        })
    });

    // The parts.
    c.bench_function("part: envelope + body decode", |b| {
        b.iter(|| {
            let s = SignedSession::from_bytes(&query_bytes).unwrap();
            SessionBody::from_bytes(&s.body).unwrap()
        })
    });
    let op = Operation::Query { name: "avg".into() };
    let key = user_public(&user);
    c.bench_function("part: policy evaluate (100 signers + mon_policy)", |b| {
        b.iter(|| {
            let d = slice.evaluate(&Request {
                principal: None,
                key: &key,
                namespace: "mon-query@mon",
                op: &op,
                client_addr: ctx.client_addr,
                node: "n1",
                now_unix_s: NOW_MS / 1000,
                fanout: Some(0),
                lifetime_s: Some(60),
            });
            assert!(d.allowed);
            d
        })
    });
    c.bench_function("part: SSHSIG verify_strict", |b| {
        b.iter(|| {
            mon_keys::sshsig::verify(&query.signed.sshsig, "mon-query@mon", &query.signed.body)
                .unwrap()
        })
    });
}

fn user_public(user: &SeedSigner) -> mon_policy::ssh_key::PublicKey {
    use mon_keys::sshsig::Signer;
    user.public_key().clone()
}

criterion_group!(benches, bench_verify);
criterion_main!(benches);
