//! Fixed cases of the wire decoders: size limits before decoding, deep nesting, huge
//! declared lengths, unknown packet kinds and fields, fixed-size fields, commands whose signed
//! operations are bad, sealed messages round-tripping.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod wire_support;

use ciborium::Value;
use mon_keys::nodekey::NodeKey;
use mon_proto::agg::{Partial, Query};
use mon_proto::wire::command::{Command, CommandError, MAX_COMMAND_LEN};
use mon_proto::wire::packet::{Inner, Packet, SubtreeResult, MAX_DATAGRAM, MAX_STREAM_PACKET};
use mon_proto::wire::session::{
    SessionBody, SignedSession, MAX_BODY_LEN, MAX_OPS, MAX_SIGNED_SESSION_LEN, MAX_SSHSIG_LEN,
    SESSION_VERSION,
};
use mon_proto::wire::DecodeError;
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use wire_support::{
    cmd_key, decode_all, field_mut, map_mut, sample_body, to_bytes, to_value, verify,
};

#[test]
fn oversize_inputs_are_rejected_before_decoding() {
    // Whatever the content, too many bytes is refused by length alone.
    let big = vec![0u8; MAX_SIGNED_SESSION_LEN + 1];
    assert!(matches!(
        SignedSession::from_bytes(&big),
        Err(DecodeError::TooLarge { len, max, .. }) if len == big.len() && max == MAX_SIGNED_SESSION_LEN
    ));
    assert!(matches!(
        SessionBody::from_bytes(&vec![0u8; MAX_BODY_LEN + 1]),
        Err(DecodeError::TooLarge { .. })
    ));
    assert!(matches!(
        Command::from_bytes(&vec![0u8; MAX_COMMAND_LEN + 1]),
        Err(DecodeError::TooLarge { .. })
    ));
    // A valid packet larger than a datagram is refused on the datagram path only.
    let p = Packet::Sealed {
        session_hash: [0; 32].into(),
        from: "n1".into(),
        channel: 0,
        frame: vec![0; MAX_DATAGRAM],
    };
    let bytes = p.to_bytes();
    assert!(matches!(
        Packet::from_bytes(&bytes, MAX_DATAGRAM),
        Err(DecodeError::TooLarge { .. })
    ));
    assert_eq!(Packet::from_bytes(&bytes, MAX_STREAM_PACKET), Ok(p));
}

#[test]
fn oversize_signature_is_rejected_in_envelope_and_packet() {
    let s = SignedSession {
        v: SESSION_VERSION,
        body: sample_body().to_bytes(),
        sshsig: vec![0; MAX_SSHSIG_LEN + 1],
    };
    assert!(matches!(
        SignedSession::from_bytes(&s.to_bytes()),
        Err(DecodeError::TooLarge {
            what: "session signature",
            ..
        })
    ));
    let p = Packet::Session {
        session: s,
        parent: "@client".into(),
        e_p: [2; 32].into(),
        parent_sig: None,
        level: 0,
        budget_ms: 1000,
    };
    assert!(matches!(
        Packet::from_bytes(&p.to_bytes(), MAX_STREAM_PACKET),
        Err(DecodeError::TooLarge { .. })
    ));
}

#[test]
fn deep_nesting_is_refused_without_overflowing_the_stack() {
    // 100,000 nested one-element arrays, then a map header.
    let mut b = vec![0x81u8; 100_000];
    b.push(0xa0);
    assert!(matches!(
        SessionBody::from_bytes(&b),
        Err(DecodeError::Malformed { .. })
    ));
    assert!(matches!(
        Packet::from_bytes(&b, MAX_STREAM_PACKET),
        Err(DecodeError::Malformed { .. })
    ));
    assert!(Inner::from_bytes(&b).is_err());
    // Nested maps inside a body field.
    let mut v = to_value(&sample_body().to_bytes());
    let mut deep = Value::Null;
    for _ in 0..200 {
        deep = Value::Array(vec![deep]);
    }
    *field_mut(&mut v, "targets") = deep;
    assert!(matches!(
        SessionBody::from_bytes(&to_bytes(&v)),
        Err(DecodeError::Malformed { .. })
    ));
}

#[test]
fn huge_declared_lengths_do_not_allocate() {
    // Map of 2^64-1 entries, byte string of 2^63 bytes, array of 2^32 elements: each header
    // promises far more than the input holds.
    for b in [
        vec![0xbb, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
        vec![0xa1, 0x61, b'v', 0x5b, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2],
        vec![
            0xa1, 0x67, b't', b'a', b'r', b'g', b'e', b't', b's', 0x9a, 0xff, 0xff, 0xff, 0xff,
        ],
    ] {
        decode_all(&b);
        assert!(SessionBody::from_bytes(&b).is_err());
    }
    // A Sealed packet whose frame claims 4 GiB.
    let mut v = to_value(
        &Packet::Sealed {
            session_hash: [0; 32].into(),
            from: "n1".into(),
            channel: 0,
            frame: vec![1, 2, 3],
        }
        .to_bytes(),
    );
    let _ = field_mut(field_mut(&mut v, "Sealed"), "frame");
    let mut bytes = to_bytes(&v);
    // Replace the 3-byte frame header (0x43) and its content with a 4 GiB header.
    let pos = bytes
        .windows(4)
        .position(|w| w == [0x43, 1, 2, 3])
        .expect("frame bytes");
    bytes.splice(pos..pos + 4, [0x5a, 0xff, 0xff, 0xff, 0xff]);
    assert!(matches!(
        Packet::from_bytes(&bytes, MAX_STREAM_PACKET),
        Err(DecodeError::Malformed { .. })
    ));
}

#[test]
fn unknown_packet_kinds_and_fields_are_rejected() {
    // An unknown variant.
    let v = Value::Map(vec![(Value::Text("Teleport".into()), Value::Map(vec![]))]);
    assert!(matches!(
        Packet::from_bytes(&to_bytes(&v), MAX_STREAM_PACKET),
        Err(DecodeError::Malformed { .. })
    ));
    // An extra field in every struct-like variant.
    let packets = [
        Packet::Prune {
            session_hash: [0; 32].into(),
            child: "n1".into(),
            answered: [0; 32].into(),
            sig: [0; 64].into(),
        },
        Packet::Sealed {
            session_hash: [0; 32].into(),
            from: "n1".into(),
            channel: 0,
            frame: vec![],
        },
        Packet::Session {
            session: SignedSession {
                v: 1,
                body: sample_body().to_bytes(),
                sshsig: vec![],
            },
            parent: "@client".into(),
            e_p: [2; 32].into(),
            parent_sig: None,
            level: 0,
            budget_ms: 1,
        },
    ];
    for p in packets {
        let mut v = to_value(&p.to_bytes());
        let (_, inner) = map_mut(&mut v).first_mut().unwrap();
        map_mut(inner).push((Value::Text("hop_limit".into()), Value::Integer(3.into())));
        let e = Packet::from_bytes(&to_bytes(&v), MAX_STREAM_PACKET).unwrap_err();
        assert!(matches!(e, DecodeError::Malformed { .. }), "{p:?}: {e:?}");
    }
    // An extra field inside a query of the body.
    let mut b = sample_body();
    b.ops = vec![Query::Avg { res: "load".into() }];
    let mut v = to_value(&b.to_bytes());
    let ops = field_mut(&mut v, "ops");
    let Value::Array(list) = ops else {
        panic!("ops is an array")
    };
    let (_, avg) = map_mut(&mut list[0]).first_mut().unwrap();
    map_mut(avg).push((Value::Text("shell".into()), Value::Bool(true)));
    let e = SessionBody::from_bytes(&to_bytes(&v)).unwrap_err();
    assert!(matches!(e, DecodeError::Malformed { .. }), "{e:?}");
}

#[test]
fn wrong_field_sizes_are_rejected() {
    // session_id of 15 bytes, e_p of 31: fixed-size byte arrays must match exactly.
    let mut v = to_value(&sample_body().to_bytes());
    *field_mut(&mut v, "session_id") = Value::Bytes(vec![0; 15]);
    assert!(SessionBody::from_bytes(&to_bytes(&v)).is_err());
    let mut v = to_value(&sample_body().to_bytes());
    *field_mut(&mut v, "client_eph") = Value::Bytes(vec![0; 33]);
    assert!(SessionBody::from_bytes(&to_bytes(&v)).is_err());
    let k = cmd_key();
    let c = Command::new(&[5; 32], 1, 1, &[Query::Count], |m| k.sign(m));
    let mut v = to_value(&c.to_bytes());
    *field_mut(&mut v, "sig") = Value::Bytes(vec![0; 63]);
    assert!(Command::from_bytes(&to_bytes(&v)).is_err());
}

#[test]
fn command_with_bad_ops_is_refused_after_the_signature() {
    let k = cmd_key();
    let h = [5u8; 32];
    let sign_raw = |ops: Vec<u8>| {
        let sig = k.sign(&Command::signed_data(&h, 1, 1, &ops));
        Command {
            v: SESSION_VERSION,
            session_hash: h.into(),
            seq: 1,
            issued_at: 1,
            ops,
            sig: sig.into(),
        }
    };
    // Signed, but the ops are not CBOR queries.
    let c = sign_raw(vec![0xff, 0x00]);
    assert!(matches!(
        c.open(&k.public(), 0, verify),
        Err(CommandError::Decode(DecodeError::Malformed { .. }))
    ));
    // Signed, but too many operations.
    let mut ops = Vec::new();
    ciborium::ser::into_writer(&vec![Query::Count; MAX_OPS + 1], &mut ops).unwrap();
    assert!(matches!(
        sign_raw(ops).open(&k.public(), 0, verify),
        Err(CommandError::Decode(DecodeError::Invalid { .. }))
    ));
    // None: a cancel, valid.
    let mut ops = Vec::new();
    ciborium::ser::into_writer(&Vec::<Query>::new(), &mut ops).unwrap();
    assert_eq!(sign_raw(ops).open(&k.public(), 0, verify), Ok(vec![]));
    // Signed, but a query is out of range.
    let mut ops = Vec::new();
    ciborium::ser::into_writer(
        &vec![Query::Histo {
            res: "load".into(),
            buckets: 0,
        }],
        &mut ops,
    )
    .unwrap();
    assert!(matches!(
        sign_raw(ops).open(&k.public(), 0, verify),
        Err(CommandError::Decode(DecodeError::Invalid { .. }))
    ));
    // Signed by another key.
    let other = NodeKey::generate(&mut ChaCha20Rng::seed_from_u64(12));
    let c = Command::new(&h, 1, 1, &[Query::Count], |m| other.sign(m));
    assert_eq!(
        c.open(&k.public(), 0, verify),
        Err(CommandError::BadSignature)
    );
}

#[test]
fn sealed_inner_messages_round_trip() {
    let k = cmd_key();
    let msgs = [
        Inner::Go,
        Inner::ResultAck,
        Inner::CommandAck(7),
        Inner::Cancel,
        Inner::Command(Command::new(&[1; 32], 1, 2, &[Query::Depth], |m| k.sign(m))),
        Inner::Result(SubtreeResult {
            relayed: 2,
            partials: vec![Partial::empty(&Query::Count)],
            roster: Some([4; 32].into()),
            reached: vec![0b101],
            members: Vec::new(),
            seq: 0,
        }),
    ];
    for m in msgs {
        assert_eq!(Inner::from_bytes(&m.to_bytes()), Ok(m));
    }
    // The session's own result is acknowledged as before follow-up Commands (seq 0), a
    // command's result with its seq.
    assert_eq!(Inner::ack(0).to_bytes(), Inner::ResultAck.to_bytes());
    assert_eq!(Inner::ack(3).acked_seq(), Some(3));
    assert_eq!(Inner::ResultAck.acked_seq(), Some(0));
}

#[test]
fn a_push_manifest_carries_its_where_condition_strictly() {
    use mon_proto::agg::{CmpOp, Where};
    use mon_proto::push::build_manifest;
    let data = vec![7u8; 10_000];
    let plain = build_manifest("f", &data[..], 10_000, 0o644, 4096, "/srv/f").unwrap();
    // Without a condition the encoding has no `where` key at all.
    let bytes = mon_proto::wire::encode(&plain);
    let v: Value = ciborium::from_reader(&bytes[..]).unwrap();
    let keys: Vec<String> = v
        .as_map()
        .unwrap()
        .iter()
        .filter_map(|(k, _)| k.as_text().map(str::to_string))
        .collect();
    assert!(!keys.contains(&"where".to_string()), "{keys:?}");
    let mut m = plain.clone();
    m.cond = Some(Where {
        res: "role".into(),
        op: CmpOp::Eq,
        value: 1.0,
    });
    assert!(m.validate().is_ok());
    let back: mon_proto::wire::session::Manifest =
        mon_proto::wire::decode_strict("manifest", &mon_proto::wire::encode(&m), 1 << 20).unwrap();
    assert_eq!(back, m);
    // A bad resource name or a non-finite value is refused.
    let mut bad = m.clone();
    if let Some(w) = bad.cond.as_mut() {
        w.res = "Role!".into();
    }
    assert!(bad.validate().unwrap_err().contains("where"));
    let mut bad = m;
    if let Some(w) = bad.cond.as_mut() {
        w.value = f64::NAN;
    }
    assert!(bad.validate().unwrap_err().contains("finite"));
}
