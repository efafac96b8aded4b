//! Unit tests of a former first parent's Commands (see `reoffer.rs`): a node that left its
//! first parent for the entry answers that parent's Commands with an empty result, within a
//! bound that a compromised former parent replaying captured Commands cannot lift.

use std::sync::Arc;

use mon_keys::nodekey::NodeKey;
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;

use super::command::Interactive;
use super::result::Opened;
use super::tests::{parent_addr, session, TestParent, World, HASH, PARENT, T0};
use super::Session;
use crate::agg::Query;
use crate::node::{Output, Peer};
use crate::timing::DUPLICATE_RESENDS;
use crate::wire::command::Command;
use crate::wire::packet::Inner;

/// An interactive session on command `seq` that left its first parent (`PARENT`, whose end
/// of the link is returned) for the entry; and the key that signs its Commands.
fn left_its_parent(seq: u64) -> (Session, TestParent, NodeKey) {
    let cmd_key = NodeKey::generate(&mut ChaCha20Rng::from_seed([8; 32]));
    let (mut s, old) = session(parent_addr());
    let mut body = (*s.body).clone();
    body.cmd_key = cmd_key.public().into();
    body.interactive = true;
    s.body = Arc::new(body);
    let mut st = Interactive::new(T0, T0, 1_000, 60);
    st.seq = seq;
    s.cmd = Some(Box::new(st));
    let (entry, _) = session(Peer::Addr("127.0.0.3:7000".parse().expect("addr")));
    let mut link = entry.parent;
    link.name = "entry".into();
    s.take_new_parent(T0 + 100, link);
    (s, old, cmd_key)
}

/// The former parent seals Command `seq` (signed by `key`) afresh, as a compromised one can;
/// what the session sent back.
fn replay(s: &mut Session, w: &mut World, old: &mut TestParent, key: &NodeKey, seq: u64) -> usize {
    let cmd = Command::new(&HASH, seq, T0, &[Query::Count], |m| key.sign(m));
    let frame = old
        .sealer
        .seal(&Inner::Command(cmd).to_bytes())
        .expect("seal");
    let Opened::Former(plain) = s.open_link_frame(parent_addr(), PARENT, &frame) else {
        panic!("a frame of the former parent's link");
    };
    let before = w.out.len();
    s.answer_former_parent(HASH, PARENT, &plain, &mut w.cx());
    w.out
        .iter()
        .skip(before)
        .filter(|o| matches!(o, Output::Send { to, .. } if *to == parent_addr()))
        .count()
}

#[test]
fn a_former_parent_replaying_commands_gets_a_bounded_number_of_answers() {
    let mut w = World::new();
    let (mut s, mut old, key) = left_its_parent(2);
    // A Command after the node left gets its empty result (the old parent waits for it).
    assert_eq!(replay(&mut s, &mut w, &mut old, &key, 3), 1);
    // The same Command again, sealed afresh 100 times: a few answers (a lost result), then
    // nothing; each dropped one costs no signature check.
    let again: usize = (0..100)
        .map(|_| replay(&mut s, &mut w, &mut old, &key, 3))
        .sum();
    assert_eq!(again, DUPLICATE_RESENDS as usize);
    // Older Commands (captured before the node left, or since) get nothing.
    for seq in [1, 2, 3] {
        assert_eq!(replay(&mut s, &mut w, &mut old, &key, seq), 0);
    }
    assert_eq!(
        w.counters.former_commands_dropped,
        100 - u64::from(DUPLICATE_RESENDS) + 3
    );
}

#[test]
fn a_former_parent_sealing_a_forged_command_is_dropped() {
    let mut w = World::new();
    let (mut s, mut old, _) = left_its_parent(2);
    let forger = NodeKey::generate(&mut ChaCha20Rng::from_seed([9; 32]));
    assert_eq!(replay(&mut s, &mut w, &mut old, &forger, 7), 0);
    assert_eq!(w.counters.commands_refused, 1);
    // Its link is gone: its next frame does not open as the former parent's.
    let frame = old.sealer.seal(&Inner::Go.to_bytes()).expect("seal");
    assert!(matches!(
        s.open_link_frame(parent_addr(), PARENT, &frame),
        Opened::Rejected
    ));
}
