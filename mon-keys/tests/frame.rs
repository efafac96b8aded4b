//! Sealed frames over an established hop link: what the receiver accepts and rejects.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use mon_keys::frame::{FrameError, Opener, Sealer, FRAME_OVERHEAD, MAX_FRAME_LEN};
use mon_keys::hop::{respond, Initiator, LinkKeys};
use mon_keys::nodekey::NodeKey;
use mon_keys::replay_window::{ReplayError, WINDOW_SIZE};
use proptest::prelude::*;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;

const SESSION: [u8; 32] = [0x33; 32];

/// A link between "p" and "c": (parent keys, child keys).
fn link(seed: u64) -> (LinkKeys, LinkKeys) {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let child_key = NodeKey::generate(&mut rng);
    let init = Initiator::new(&mut rng);
    let e_p = init.public();
    let (hello, child) = respond(&mut rng, &child_key, &SESSION, &e_p, "p", "c").unwrap();
    let parent = init
        .finish(&SESSION, "p", "c", &child_key.public(), &hello)
        .unwrap();
    (parent, child)
}

/// Parent→child sealer and the child's opener on channel 0.
fn down(seed: u64) -> (Sealer, Opener) {
    let (mut p, mut c) = link(seed);
    (p.channel(0).unwrap().0, c.channel(0).unwrap().1)
}

#[test]
fn layout_counter_then_ciphertext_and_tag() {
    let (mut seal, mut open) = down(1);
    let f0 = seal.seal(b"hello").unwrap();
    let f1 = seal.seal(b"").unwrap();
    assert_eq!(f0.len(), 5 + FRAME_OVERHEAD);
    assert_eq!(&f0[..8], &0u64.to_be_bytes());
    assert_eq!(&f1[..8], &1u64.to_be_bytes());
    assert_eq!(open.open(&f0).unwrap(), b"hello");
    assert_eq!(open.open(&f1).unwrap(), b"");
    assert_eq!(open.highest(), Some(1));
}

#[test]
fn every_flipped_byte_is_rejected_and_does_not_move_the_window() {
    let (mut seal, mut open) = down(2);
    let frame = seal.seal(b"the command to run").unwrap();
    for i in 0..frame.len() {
        for bit in [0x01u8, 0x80] {
            let mut bad = frame.clone();
            bad[i] ^= bit;
            let err = open.open(&bad).unwrap_err();
            assert!(
                matches!(
                    err,
                    FrameError::Authentication { .. } | FrameError::Replay(_)
                ),
                "byte {i}: {err:?}"
            );
        }
    }
    assert_eq!(open.highest(), None);
    assert_eq!(open.open(&frame).unwrap(), b"the command to run");
}

#[test]
fn replay_is_rejected() {
    let (mut seal, mut open) = down(3);
    let frame = seal.seal(b"once").unwrap();
    open.open(&frame).unwrap();
    assert_eq!(
        open.open(&frame).unwrap_err(),
        FrameError::Replay(ReplayError::Replayed { counter: 0 })
    );
}

#[test]
fn reordering_within_the_window_is_accepted_beyond_it_rejected() {
    let (mut seal, mut open) = down(4);
    let frames: Vec<_> = (0..=WINDOW_SIZE)
        .map(|i| seal.seal(&i.to_be_bytes()).unwrap())
        .collect();
    // Newest first, then the rest of the window in reverse order.
    let newest = WINDOW_SIZE as usize;
    open.open(&frames[newest]).unwrap();
    for i in (1..newest).rev() {
        assert_eq!(
            open.open(&frames[i]).unwrap(),
            (i as u64).to_be_bytes(),
            "frame {i}"
        );
    }
    // Frame 0 is WINDOW_SIZE behind the newest: outside the window.
    assert_eq!(
        open.open(&frames[0]).unwrap_err(),
        FrameError::Replay(ReplayError::TooOld {
            counter: 0,
            highest: WINDOW_SIZE
        })
    );
    // And everything inside was recorded.
    assert!(matches!(
        open.open(&frames[1]).unwrap_err(),
        FrameError::Replay(ReplayError::Replayed { .. })
    ));
}

#[test]
fn truncated_frames_are_rejected() {
    let (mut seal, mut open) = down(5);
    let frame = seal.seal(&[7u8; 64]).unwrap();
    for len in 0..frame.len() {
        let err = open.open(&frame[..len]).unwrap_err();
        if len < FRAME_OVERHEAD {
            assert_eq!(err, FrameError::Truncated { len });
        } else {
            assert_eq!(err, FrameError::Authentication { counter: 0 });
        }
    }
    assert!(open.open(&frame).is_ok());
}

#[test]
fn oversized_frames_are_rejected_before_any_work() {
    let (_, mut open) = down(6);
    let big = vec![0u8; MAX_FRAME_LEN + 1];
    assert_eq!(
        open.open(&big).unwrap_err(),
        FrameError::TooLong {
            len: MAX_FRAME_LEN + 1
        }
    );
}

#[test]
fn wrong_channel_wrong_direction_and_other_link_are_rejected() {
    let (mut parent, mut child) = link(7);
    let (mut p_seal1, mut p_open1) = parent.channel(1).unwrap();
    let (_, mut c_open2) = child.channel(2).unwrap();
    let (_, mut c_open1) = child.channel(1).unwrap();
    let frame = p_seal1.seal(b"stream one").unwrap();
    assert_eq!(
        c_open2.open(&frame).unwrap_err(),
        FrameError::Authentication { counter: 0 }
    );
    // Our own frame reflected back at us: wrong direction.
    assert_eq!(
        p_open1.open(&frame).unwrap_err(),
        FrameError::Authentication { counter: 0 }
    );
    // Same session and names, another handshake: other keys.
    let (_, mut other_child) = link(8);
    let (_, mut o_open1) = other_child.channel(1).unwrap();
    assert_eq!(
        o_open1.open(&frame).unwrap_err(),
        FrameError::Authentication { counter: 0 }
    );
    assert_eq!(c_open1.open(&frame).unwrap(), b"stream one");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn open_never_panics_on_random_input(data in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let (_, mut open) = down(9);
        prop_assert!(open.open(&data).is_err());
    }

    #[test]
    fn mutated_frames_never_open(
        plaintext in proptest::collection::vec(any::<u8>(), 0..256),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
        truncate in any::<bool>(),
    ) {
        let (mut seal, mut open) = down(10);
        let frame = seal.seal(&plaintext).unwrap();
        let mut bad = frame.clone();
        for (idx, val) in edits {
            let i = idx.index(bad.len());
            bad[i] ^= val;
        }
        if truncate {
            bad.truncate(cut.index(bad.len()));
        }
        if bad != frame {
            prop_assert!(open.open(&bad).is_err());
        }
        prop_assert_eq!(open.open(&frame).unwrap(), plaintext);
    }
}
