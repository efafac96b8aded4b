//! Helpers shared by the wire tests (`wire_props`, `wire_cases`): CBOR value surgery, every
//! decoder at once, a command key, a sample body.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use ciborium::Value;
use mon_keys::nodekey::{verify_node_sig, NodeKey};
use mon_proto::agg::Query;
use mon_proto::wire::command::Command;
use mon_proto::wire::packet::{Inner, Packet, MAX_DATAGRAM, MAX_STREAM_PACKET};
use mon_proto::wire::session::{
    OverlayKind, OverlaySpec, SessionBody, SignedSession, SESSION_VERSION,
};
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;

pub fn to_value(bytes: &[u8]) -> Value {
    ciborium::de::from_reader(bytes).unwrap()
}

pub fn to_bytes(v: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    ciborium::ser::into_writer(v, &mut out).unwrap();
    out
}

pub fn map_mut(v: &mut Value) -> &mut Vec<(Value, Value)> {
    match v {
        Value::Map(m) => m,
        other => panic!("expected a map, got {other:?}"),
    }
}

pub fn field_mut<'a>(v: &'a mut Value, key: &str) -> &'a mut Value {
    map_mut(v)
        .iter_mut()
        .find(|(k, _)| k.as_text() == Some(key))
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("no field {key}"))
}

/// Every decoder, on the same bytes; none may panic.
pub fn decode_all(bytes: &[u8]) {
    if let Ok(s) = SignedSession::from_bytes(bytes) {
        let _ = s.hash();
        let _ = SessionBody::from_bytes(&s.body);
    }
    let _ = SessionBody::from_bytes(bytes);
    if let Ok(c) = Command::from_bytes(bytes) {
        let _ = c.open(&[0; 32], 0, |_, _, _| true);
    }
    for max in [MAX_DATAGRAM, MAX_STREAM_PACKET] {
        if let Ok(p) = Packet::from_bytes(bytes, max) {
            let _ = p.session_hash();
            let _ = p.to_bytes();
        }
    }
    let _ = Inner::from_bytes(bytes);
}

pub fn cmd_key() -> NodeKey {
    NodeKey::generate(&mut ChaCha20Rng::seed_from_u64(11))
}

pub fn verify(k: &[u8; 32], data: &[u8], sig: &[u8; 64]) -> bool {
    verify_node_sig(k, data, sig).is_ok()
}

pub fn sample_body() -> SessionBody {
    SessionBody {
        v: SESSION_VERSION,
        ns: "mon-query@mon".into(),
        session_id: [1; 16].into(),
        slice: "lab".into(),
        principal: None,
        key_fp: "SHA256:abc".into(),
        issued_at: 1_000,
        expires_at: 2_000,
        max_lifetime_s: 60,
        timeout_ms: 5_000,
        client_eph: [2; 32].into(),
        cmd_key: [3; 32].into(),
        targets: vec!["*".into()],
        overlay: OverlaySpec {
            kind: OverlayKind::Random,
            fanout: 0,
            max_parents: 1,
            stage_one_hops: 2,
            max_depth: 0,
        },
        ops: vec![Query::Count],
        push: None,
        interactive: false,
    }
}
