//! Fuzz `Opener::open`: random frames and mutations of valid frames never panic, and a
//! mutated frame never opens.
#![no_main]

use std::sync::{Mutex, OnceLock};

use libfuzzer_sys::fuzz_target;
use mon_keys::frame::{Opener, Sealer};
use mon_keys::hop::{respond, Initiator};
use mon_keys::nodekey::NodeKey;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;

/// One parent→child channel, kept across inputs (the opener's replay window is state too).
///
/// The link keys are random per process: with fixed keys, frames sealed in an earlier run
/// (which the fuzzer keeps in its corpus) would be valid, unopened frames here.
fn link() -> Option<(Sealer, Opener)> {
    let mut rng = ChaCha20Rng::from_entropy();
    let child_key = NodeKey::generate(&mut rng);
    let init = Initiator::new(&mut rng);
    let e_p = init.public();
    let session = [1u8; 32];
    let (hello, mut child) = respond(&mut rng, &child_key, &session, &e_p, "p", "c").ok()?;
    let mut parent = init.finish(&session, "p", "c", &child_key.public(), &hello).ok()?;
    let (sealer, _) = parent.channel(0).ok()?;
    let (_, opener) = child.channel(0).ok()?;
    Some((sealer, opener))
}

static LINK: OnceLock<Option<Mutex<(Sealer, Opener)>>> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let Some(cell) = LINK.get_or_init(|| link().map(Mutex::new)) else {
        panic!("handshake failed");
    };
    let Ok(mut guard) = cell.lock() else { return };
    let (sealer, opener) = &mut *guard;
    match data.split_first() {
        // Seal `rest`, then XOR `rest` into the frame when bit 1 is set, then open.
        Some((&op, rest)) if op & 1 == 1 => {
            let Ok(frame) = sealer.seal(rest) else { return };
            let mut edited = frame.clone();
            if op & 2 != 0 {
                for (b, x) in edited.iter_mut().zip(rest) {
                    *b ^= x;
                }
                if op & 4 != 0 {
                    edited.truncate(usize::from(op) % (edited.len() + 1));
                }
            }
            let result = opener.open(&edited);
            if edited == frame {
                assert_eq!(result.ok().as_deref(), Some(rest), "a valid frame must open");
            } else {
                assert!(result.is_err(), "a modified frame opened");
                // The rejection did not move the window, and no sealed frame stays unopened
                // (so the raw branch below can never meet a valid frame).
                assert_eq!(opener.open(&frame).ok().as_deref(), Some(rest), "original lost");
            }
        }
        _ => {
            assert!(opener.open(data).is_err(), "random bytes opened");
        }
    }
});
