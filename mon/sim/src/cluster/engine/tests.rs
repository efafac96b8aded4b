//! Unit tests of the event engine.

use super::*;
use mon_proto::wire::packet::Packet;

#[test]
fn gossip_is_recognised_without_decoding() {
    let g = Packet::Gossip {
        signed: vec![1, 2, 3],
        sig: [7u8; 64].into(),
    };
    assert!(is_gossip(&g.to_bytes()));
    let d = Packet::Deny {
        session_hash: [0u8; 32].into(),
        child: "n1".into(),
        code: "x".into(),
        text: "y".into(),
        sig: [0u8; 64].into(),
    };
    assert!(!is_gossip(&d.to_bytes()));
    assert!(!is_gossip(&[]));
}
