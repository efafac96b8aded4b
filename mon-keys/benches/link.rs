//! Hop handshake (each side) and sealing/opening a 1 KiB frame.
//!
//! `cargo bench -p mon-keys --bench link -- --warm-up-time 1 --measurement-time 3`
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use mon_keys::hop::{parent_signature, respond, verify_parent_signature, ChildHello, Initiator};
use mon_keys::nodekey::NodeKey;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;

const SESSION: [u8; 32] = [0x42; 32];

fn handshake(c: &mut Criterion) {
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    let parent_key = NodeKey::generate(&mut rng);
    let child_key = NodeKey::generate(&mut rng);
    let e_p = Initiator::new(&mut rng).public();
    let psig = parent_signature(&parent_key, &SESSION, &e_p, "child").unwrap();

    // Child: X25519 keygen + DH, transcript, HKDF, confirmation, Ed25519 sign.
    c.bench_function("hop child respond", |b| {
        b.iter(|| respond(&mut rng, &child_key, &SESSION, &e_p, "parent", "child").unwrap())
    });
    // Child, whole side: verify the parent's node signature, then respond.
    c.bench_function("hop child side (verify parent sig + respond)", |b| {
        b.iter(|| {
            verify_parent_signature(&parent_key.public(), &SESSION, &e_p, "child", &psig).unwrap();
            respond(&mut rng, &child_key, &SESSION, &e_p, "parent", "child").unwrap()
        })
    });

    let answered = |seed: u64| -> (Initiator, ChildHello) {
        let mut r = ChaCha20Rng::seed_from_u64(seed);
        let init = Initiator::new(&mut r);
        let e = init.public();
        let (hello, _) = respond(&mut r, &child_key, &SESSION, &e, "parent", "child").unwrap();
        (init, hello)
    };
    // Parent: DH, HKDF, confirmation check, verify_strict of the child's signature.
    c.bench_function("hop parent finish", |b| {
        b.iter_batched(
            || answered(3),
            |(init, hello)| {
                init.finish(&SESSION, "parent", "child", &child_key.public(), &hello)
                    .unwrap()
            },
            BatchSize::SmallInput,
        )
    });
    // Parent, whole side: X25519 keygen, node signature over the Session, finish.
    let mut rng2 = ChaCha20Rng::seed_from_u64(2);
    c.bench_function("hop parent side (keygen + sign + finish)", |b| {
        b.iter_batched(
            || answered(4),
            |(init, hello)| {
                let fresh = Initiator::new(&mut rng2); // stands in for this link's keygen
                parent_signature(&parent_key, &SESSION, &fresh.public(), "child").unwrap();
                init.finish(&SESSION, "parent", "child", &child_key.public(), &hello)
                    .unwrap()
            },
            BatchSize::SmallInput,
        )
    });
}

fn frames(c: &mut Criterion) {
    let mut rng = ChaCha20Rng::seed_from_u64(5);
    let child_key = NodeKey::generate(&mut rng);
    let init = Initiator::new(&mut rng);
    let e_p = init.public();
    let (hello, mut child) = respond(&mut rng, &child_key, &SESSION, &e_p, "p", "c").unwrap();
    let mut parent = init
        .finish(&SESSION, "p", "c", &child_key.public(), &hello)
        .unwrap();
    let (mut seal, _) = parent.channel(0).unwrap();
    let (_, mut open) = child.channel(0).unwrap();
    let data = vec![0xa5u8; 1024];

    c.bench_function("frame seal 1 KiB", |b| b.iter(|| seal.seal(&data).unwrap()));
    c.bench_function("frame open 1 KiB", |b| {
        b.iter_batched(
            || seal.seal(&data).unwrap(),
            |f| open.open(&f).unwrap(),
            BatchSize::SmallInput,
        )
    });
}

criterion_group!(benches, handshake, frames);
criterion_main!(benches);
