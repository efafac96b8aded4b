//! Fuzz follow-up commands: `Command::from_bytes` + `Command::open`, and the sealed-message
//! decoder `Inner::from_bytes` that carries them.
//!
//! First byte odd: XOR the rest into a valid command (signed by this process's random command
//! key, seq 5) and open it after seq 4: it opens exactly when the decoded command equals the
//! original. Otherwise: random bytes never open under the command key.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use mon_keys::nodekey::{verify_node_sig, NodeKey};
use mon_proto::agg::Query;
use mon_proto::wire::command::Command;
use mon_proto::wire::packet::Inner;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

struct Fixture {
    key: [u8; 32],
    valid: Command,
    encoded: Vec<u8>,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let k = NodeKey::generate(&mut ChaCha20Rng::from_entropy());
        let ops = [
            Query::Count,
            Query::Top {
                n: 5,
                res: "mem".into(),
            },
        ];
        let valid = Command::new(&[7; 32], 5, 1_000, &ops, |m| k.sign(m));
        let encoded = valid.to_bytes();
        Fixture {
            key: k.public(),
            valid,
            encoded,
        }
    })
}

fn verify(k: &[u8; 32], m: &[u8], s: &[u8; 64]) -> bool {
    verify_node_sig(k, m, s).is_ok()
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
                b.truncate(rest.len() % (b.len() + 1));
            }
            if let Ok(c) = Command::from_bytes(&b) {
                let opened = c.open(&f.key, 4, verify);
                assert_eq!(
                    opened.is_ok(),
                    c == f.valid,
                    "open must accept exactly the original"
                );
                // Never twice: the same command after its own seq is a replay.
                assert!(c.open(&f.key, c.seq, verify).is_err());
            }
        }
        _ => {
            if let Ok(c) = Command::from_bytes(data) {
                assert!(
                    c.open(&f.key, 0, verify).is_err(),
                    "a fuzzed command opened"
                );
                let _ = c.open(&[0; 32], 0, |_, _, _| true);
            }
            if let Ok(Inner::Command(c)) = Inner::from_bytes(data) {
                assert!(
                    c.open(&f.key, 0, verify).is_err(),
                    "a fuzzed command opened"
                );
            }
        }
    }
});
