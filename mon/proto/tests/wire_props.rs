//! Property tests of the wire decoders (untrusted bytes from the network):
//! `SignedSession::from_bytes`, `SessionBody::from_bytes`, `Command::from_bytes` +
//! `Command::open`, `Packet::from_bytes` and `Inner::from_bytes`.
//!
//! Random bytes and mutated valid encodings never panic; trailing bytes, unknown fields, wrong
//! versions, oversize inputs and out-of-range fields are rejected with the matching error;
//! valid messages round-trip.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ciborium::Value;
use mon_keys::nodekey::{verify_node_sig, NodeKey};
use mon_proto::agg::{CmpOp, Partial, Query, Where};
use mon_proto::wire::command::{Command, CommandError, MAX_COMMAND_LEN};
use mon_proto::wire::packet::{
    Inner, Packet, SubtreeResult, MAX_DATAGRAM, MAX_NODE_NAME, MAX_STREAM_PACKET,
};
use mon_proto::wire::session::{
    Manifest, OverlayKind, OverlaySpec, SessionBody, SignedSession, MAX_BODY_LEN, MAX_OPS,
    MAX_SIGNED_SESSION_LEN, MAX_SSHSIG_LEN, MAX_TARGETS, SESSION_VERSION,
};
use mon_proto::wire::DecodeError;
use proptest::prelude::*;
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;

// ---------------------------------------------------------------- strategies

fn res_name() -> impl Strategy<Value = String> {
    "[a-z_][a-z0-9_]{0,15}"
}

fn cmp_op() -> impl Strategy<Value = CmpOp> {
    prop_oneof![
        Just(CmpOp::Gt),
        Just(CmpOp::Lt),
        Just(CmpOp::Ge),
        Just(CmpOp::Le),
        Just(CmpOp::Eq),
        Just(CmpOp::Ne),
    ]
}

fn query() -> impl Strategy<Value = Query> {
    prop_oneof![
        Just(Query::Count),
        Just(Query::Depth),
        Just(Query::Topology),
        res_name().prop_map(|res| Query::Avg { res }),
        (1u32..=10_000, res_name()).prop_map(|(n, res)| Query::Top { n, res }),
        (res_name(), 1u32..=1000).prop_map(|(res, buckets)| Query::Histo { res, buckets }),
        (res_name(), cmp_op(), -1e12f64..1e12).prop_map(|(res, op, value)| Query::Filter {
            res,
            op,
            value
        }),
        ("[a-zA-Z0-9 ]{1,20}", "/[a-z/]{0,30}").prop_map(|(word, file)| Query::Grep { word, file }),
        (
            prop::collection::vec("[a-z0-9-]{1,8}", 1..4),
            any::<bool>(),
            1u32..=86_400,
            prop::option::of((res_name(), cmp_op(), -1e6f64..1e6))
        )
            .prop_map(|(argv, shell, timeout_s, w)| Query::Exec {
                argv,
                shell,
                timeout_s,
                where_: w.map(|(res, op, value)| Where { res, op, value }),
            }),
    ]
}

fn overlay() -> impl Strategy<Value = OverlaySpec> {
    (
        prop_oneof![
            Just(OverlayKind::Random),
            Just(OverlayKind::Twostage),
            Just(OverlayKind::Dag)
        ],
        0u16..=64,
        1u8..=16,
        any::<u8>(),
        any::<u8>(),
    )
        .prop_map(
            |(kind, fanout, max_parents, stage_one_hops, max_depth)| OverlaySpec {
                kind,
                fanout,
                max_parents,
                stage_one_hops,
                max_depth,
            },
        )
}

fn manifest() -> impl Strategy<Value = Manifest> {
    (
        prop_oneof![Just(4096u32), Just(65536), Just(1 << 20)],
        0usize..6,
        any::<u32>(),
        0u32..=0o7777,
        "/[a-z0-9/._-]{0,40}",
        "[a-z.]{0,12}",
        any::<[u8; 32]>(),
    )
        .prop_map(|(block_size, n, extra, mode, dest, name, h)| {
            // A size that needs exactly n blocks.
            let size = if n == 0 {
                0
            } else {
                (n as u64 - 1) * u64::from(block_size) + 1 + u64::from(extra % block_size)
            };
            Manifest {
                name,
                size,
                mode,
                block_size,
                blocks: (0..n)
                    .map(|i| {
                        let mut b = h;
                        b[0] = i as u8;
                        b.into()
                    })
                    .collect(),
                dest,
            }
        })
}

fn namespace() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("mon-query@mon"),
        Just("mon-read@mon"),
        Just("mon-exec@mon"),
        Just("mon-push@mon")
    ]
    .prop_map(str::to_string)
}

prop_compose! {
    fn body()(
        ns in namespace(),
        session_id in any::<[u8; 16]>(),
        slice in "[a-zA-Z0-9._-]{1,32}",
        principal in prop::option::of("[a-z][a-z0-9@.-]{0,30}"),
        key_fp in "SHA256:[A-Za-z0-9+/]{43}",
        issued_at in 0u64..(1 << 50),
        window in 0u64..10_000_000,
        max_lifetime_s in any::<u32>(),
        timeout_ms in any::<u32>(),
        client_eph in any::<[u8; 32]>(),
        cmd_key in any::<[u8; 32]>(),
        targets in prop::collection::vec("[a-z0-9*!?,-]{1,12}", 1..5),
        overlay in overlay(),
        ops in prop::collection::vec(query(), 1..5),
        push in prop::option::of(manifest()),
    ) -> SessionBody {
        SessionBody {
            v: SESSION_VERSION,
            ns,
            session_id: session_id.into(),
            slice,
            principal,
            key_fp,
            issued_at,
            expires_at: issued_at + window,
            max_lifetime_s,
            timeout_ms,
            client_eph: client_eph.into(),
            cmd_key: cmd_key.into(),
            targets,
            overlay,
            ops,
            push,
        }
    }
}

fn signed(body: &SessionBody, sig: Vec<u8>) -> SignedSession {
    SignedSession {
        v: SESSION_VERSION,
        body: body.to_bytes(),
        sshsig: sig,
    }
}

fn node_name() -> impl Strategy<Value = String> {
    "[a-z0-9.-]{1,32}"
}

fn packet() -> impl Strategy<Value = Packet> {
    prop_oneof![
        (
            prop::collection::vec(any::<u8>(), 0..300),
            any::<[u8; 32]>()
        )
            .prop_map(|(signed, s)| {
                let mut sig = [0u8; 64];
                sig[..32].copy_from_slice(&s);
                Packet::Gossip {
                    signed,
                    sig: sig.into(),
                }
            }),
        (
            body(),
            prop::collection::vec(any::<u8>(), 0..200),
            node_name(),
            any::<[u8; 32]>(),
            any::<bool>(),
            any::<u16>(),
            any::<u32>()
        )
            .prop_map(|(b, sig, parent, e_p, has_sig, level, budget_ms)| {
                Packet::Session {
                    session: signed(&b, sig),
                    parent,
                    e_p: e_p.into(),
                    parent_sig: has_sig.then(|| [7u8; 64].into()),
                    level,
                    budget_ms,
                }
            }),
        (
            any::<[u8; 32]>(),
            node_name(),
            any::<[u8; 32]>(),
            prop::collection::vec(any::<u8>(), 0..=64)
        )
            .prop_map(|(h, child, e_c, confirm)| Packet::SessionOk {
                session_hash: h.into(),
                child,
                e_c: e_c.into(),
                sig: [1u8; 64].into(),
                confirm,
            }),
        (any::<[u8; 32]>(), node_name(), any::<[u8; 32]>()).prop_map(|(h, child, a)| {
            Packet::Prune {
                session_hash: h.into(),
                child,
                answered: a.into(),
                sig: [2u8; 64].into(),
            }
        }),
        (
            any::<[u8; 32]>(),
            node_name(),
            "[a-z-]{0,64}",
            "[ -~]{0,200}"
        )
            .prop_map(|(h, child, code, text)| Packet::Deny {
                session_hash: h.into(),
                child,
                code,
                text,
                sig: [3u8; 64].into(),
            }),
        (
            any::<[u8; 32]>(),
            node_name(),
            any::<u8>(),
            prop::collection::vec(any::<u8>(), 0..400)
        )
            .prop_map(|(h, from, channel, frame)| Packet::Sealed {
                session_hash: h.into(),
                from,
                channel,
                frame,
            }),
    ]
}

/// Byte-level edits of a valid encoding.
#[derive(Clone, Debug)]
enum Edit {
    Flip(usize, u8),
    Set(usize, u8),
    Insert(usize, u8),
    Remove(usize),
    Truncate(usize),
}

fn edits() -> impl Strategy<Value = Vec<Edit>> {
    prop::collection::vec(
        prop_oneof![
            (any::<usize>(), 1u8..=255).prop_map(|(i, x)| Edit::Flip(i, x)),
            (any::<usize>(), any::<u8>()).prop_map(|(i, x)| Edit::Set(i, x)),
            (any::<usize>(), any::<u8>()).prop_map(|(i, x)| Edit::Insert(i, x)),
            any::<usize>().prop_map(Edit::Remove),
            any::<usize>().prop_map(Edit::Truncate),
        ],
        1..6,
    )
}

fn apply(mut b: Vec<u8>, edits: &[Edit]) -> Vec<u8> {
    for e in edits {
        let n = b.len();
        match *e {
            Edit::Flip(i, x) if n > 0 => b[i % n] ^= x,
            Edit::Set(i, x) if n > 0 => b[i % n] = x,
            Edit::Insert(i, x) => b.insert(i % (n + 1), x),
            Edit::Remove(i) if n > 0 => {
                b.remove(i % n);
            }
            Edit::Truncate(i) => b.truncate(i % (n + 1)),
            _ => {}
        }
    }
    b
}

// ---------------------------------------------------------------- CBOR value helpers

fn to_value(bytes: &[u8]) -> Value {
    ciborium::de::from_reader(bytes).unwrap()
}

fn to_bytes(v: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    ciborium::ser::into_writer(v, &mut out).unwrap();
    out
}

fn map_mut(v: &mut Value) -> &mut Vec<(Value, Value)> {
    match v {
        Value::Map(m) => m,
        other => panic!("expected a map, got {other:?}"),
    }
}

fn field_mut<'a>(v: &'a mut Value, key: &str) -> &'a mut Value {
    map_mut(v)
        .iter_mut()
        .find(|(k, _)| k.as_text() == Some(key))
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("no field {key}"))
}

/// Every decoder, on the same bytes; none may panic.
fn decode_all(bytes: &[u8]) {
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

fn cmd_key() -> NodeKey {
    NodeKey::generate(&mut ChaCha20Rng::seed_from_u64(11))
}

fn verify(k: &[u8; 32], data: &[u8], sig: &[u8; 64]) -> bool {
    verify_node_sig(k, data, sig).is_ok()
}

// ---------------------------------------------------------------- properties

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        decode_all(&bytes);
    }

    /// Random bytes that start like a CBOR map or an externally tagged enum reach deeper.
    #[test]
    fn cbor_shaped_bytes_never_panic(
        head in prop_oneof![Just(0xa3u8), Just(0xa6), Just(0xb0), Just(0xa1), Just(0xbf)],
        bytes in prop::collection::vec(any::<u8>(), 0..1024),
    ) {
        let mut b = vec![head];
        b.extend(bytes);
        decode_all(&b);
    }

    #[test]
    fn mutated_sessions_never_panic(b in body(), e in edits()) {
        let s = signed(&b, vec![9; 100]);
        decode_all(&apply(b.to_bytes(), &e));
        decode_all(&apply(s.to_bytes(), &e));
    }

    #[test]
    fn mutated_packets_never_panic(p in packet(), e in edits()) {
        decode_all(&apply(p.to_bytes(), &e));
    }

    #[test]
    fn mutated_commands_never_panic(ops in prop::collection::vec(query(), 1..4), e in edits()) {
        let k = cmd_key();
        let c = Command::new(&[5; 32], 1, 1000, &ops, |m| k.sign(m));
        let bytes = apply(c.to_bytes(), &e);
        decode_all(&bytes);
        decode_all(&apply(Inner::Command(c).to_bytes(), &e));
    }

    #[test]
    fn valid_body_round_trips(b in body()) {
        let bytes = b.to_bytes();
        prop_assert_eq!(SessionBody::from_bytes(&bytes), Ok(b.clone()));
        let s = signed(&b, vec![1; 83]);
        let back = SignedSession::from_bytes(&s.to_bytes()).unwrap();
        prop_assert_eq!(&back, &s);
        // The body bytes travel untouched: the hash is over exactly what was signed.
        prop_assert_eq!(back.body, bytes);
    }

    #[test]
    fn valid_packets_round_trip(p in packet()) {
        let back = Packet::from_bytes(&p.to_bytes(), MAX_STREAM_PACKET);
        prop_assert_eq!(back, Ok(p));
    }

    #[test]
    fn trailing_bytes_are_rejected(b in body(), p in packet(),
                                   extra in prop::collection::vec(any::<u8>(), 1..16)) {
        let trailing = |mut v: Vec<u8>| { v.extend_from_slice(&extra); v };
        let is_trailing = |e: DecodeError| {
            matches!(e, DecodeError::TrailingBytes { extra: n, .. } if n == extra.len())
        };
        prop_assert!(is_trailing(SessionBody::from_bytes(&trailing(b.to_bytes())).unwrap_err()));
        let s = signed(&b, vec![1; 83]);
        prop_assert!(is_trailing(SignedSession::from_bytes(&trailing(s.to_bytes())).unwrap_err()));
        prop_assert!(is_trailing(
            Packet::from_bytes(&trailing(p.to_bytes()), MAX_STREAM_PACKET).unwrap_err()
        ));
        prop_assert!(is_trailing(Inner::from_bytes(&trailing(Inner::Go.to_bytes())).unwrap_err()));
        let k = cmd_key();
        let c = Command::new(&[5; 32], 1, 1000, &[Query::Count], |m| k.sign(m));
        prop_assert!(is_trailing(Command::from_bytes(&trailing(c.to_bytes())).unwrap_err()));
    }

    #[test]
    fn unknown_body_fields_are_rejected(b in body(), key in "[a-z_]{1,12}", val in any::<u64>()) {
        let known = ["v", "ns", "session_id", "slice", "principal", "key_fp", "issued_at",
            "expires_at", "max_lifetime_s", "timeout_ms", "client_eph", "cmd_key", "targets",
            "overlay", "ops", "push"];
        prop_assume!(!known.contains(&key.as_str()));
        let mut v = to_value(&b.to_bytes());
        map_mut(&mut v).push((Value::Text(key), Value::Integer(val.into())));
        let e = SessionBody::from_bytes(&to_bytes(&v)).unwrap_err();
        prop_assert!(matches!(e, DecodeError::Malformed { .. }), "{e:?}");
    }

    #[test]
    fn unknown_fields_in_nested_structs_are_rejected(b in body()) {
        // overlay
        let mut v = to_value(&b.to_bytes());
        map_mut(field_mut(&mut v, "overlay")).push((Value::Text("x".into()), Value::Bool(true)));
        let e = SessionBody::from_bytes(&to_bytes(&v)).unwrap_err();
        prop_assert!(matches!(e, DecodeError::Malformed { .. }), "{e:?}");
        // the envelope
        let s = signed(&b, vec![1; 83]);
        let mut v = to_value(&s.to_bytes());
        map_mut(&mut v).push((Value::Text("extra".into()), Value::Bytes(vec![1])));
        let e = SignedSession::from_bytes(&to_bytes(&v)).unwrap_err();
        prop_assert!(matches!(e, DecodeError::Malformed { .. }), "{e:?}");
    }

    #[test]
    fn wrong_versions_are_rejected(b in body(), v in any::<u32>()) {
        prop_assume!(v != SESSION_VERSION);
        let mut bb = b.clone();
        bb.v = v;
        let e = SessionBody::from_bytes(&bb.to_bytes()).unwrap_err();
        prop_assert_eq!(e, DecodeError::Version { what: "session body", got: v, want: SESSION_VERSION });

        let mut s = signed(&b, vec![1; 83]);
        s.v = v;
        let e = SignedSession::from_bytes(&s.to_bytes()).unwrap_err();
        prop_assert!(matches!(e, DecodeError::Version { got, .. } if got == v), "{e:?}");
        // The same envelope inside a Session packet is refused by the packet decoder too.
        let p = Packet::Session {
            session: s,
            parent: "n1".into(),
            e_p: [0; 32].into(),
            parent_sig: None,
            level: 0,
            budget_ms: 1000,
        };
        let e = Packet::from_bytes(&p.to_bytes(), MAX_STREAM_PACKET).unwrap_err();
        prop_assert!(matches!(e, DecodeError::Version { got, .. } if got == v), "{e:?}");

        let k = cmd_key();
        let mut c = Command::new(&[5; 32], 1, 1000, &[Query::Count], |m| k.sign(m));
        c.v = v;
        let e = Command::from_bytes(&c.to_bytes()).unwrap_err();
        prop_assert!(matches!(e, DecodeError::Version { got, .. } if got == v), "{e:?}");
        let e = Inner::from_bytes(&Inner::Command(c).to_bytes()).unwrap_err();
        prop_assert!(matches!(e, DecodeError::Version { got, .. } if got == v), "{e:?}");
    }

    #[test]
    fn out_of_range_bodies_are_rejected(b in body(), which in 0u8..9) {
        if which == 4 && b.issued_at == 0 {
            return Ok(()); // no earlier deadline exists
        }
        let mut bad = b.clone();
        match which {
            0 => bad.targets.clear(),
            1 => bad.targets = vec!["x".into(); MAX_TARGETS + 1],
            2 => bad.ops = vec![Query::Count; MAX_OPS + 1],
            3 => { bad.ops.clear(); bad.push = None; }
            4 => bad.expires_at = bad.issued_at - 1,
            5 => bad.overlay.max_parents = 0,
            6 => bad.slice = "a/../b".into(),
            7 => bad.ops[0] = Query::Top { n: 0, res: "load".into() },
            _ => bad.ops[0] = Query::Avg { res: "Bad Name".into() },
        }
        let e = SessionBody::from_bytes(&bad.to_bytes()).unwrap_err();
        prop_assert!(matches!(e, DecodeError::Invalid { .. }), "{which}: {e:?}");
    }

    #[test]
    fn command_round_trips_and_opens_once(ops in prop::collection::vec(query(), 1..4),
                                          seq in 1u64..1000, last in 0u64..1000) {
        let k = cmd_key();
        let c = Command::new(&[5; 32], seq, 77, &ops, |m| k.sign(m));
        let back = Command::from_bytes(&c.to_bytes()).unwrap();
        prop_assert_eq!(&back, &c);
        let r = back.open(&k.public(), last, verify);
        if seq > last {
            prop_assert_eq!(r, Ok(ops));
        } else {
            prop_assert_eq!(r, Err(CommandError::Replayed { seq, last }));
        }
    }

    /// Any change to a signed command's fields makes it fail to open.
    #[test]
    fn tampered_commands_never_open(ops in prop::collection::vec(query(), 1..4),
                                    field in 0u8..4, x in 1u8..=255, i in any::<usize>()) {
        let k = cmd_key();
        let mut c = Command::new(&[5; 32], 3, 77, &ops, |m| k.sign(m));
        match field {
            0 => { let n = c.ops.len(); c.ops[i % n] ^= x; }
            1 => c.seq ^= u64::from(x),
            2 => { let mut h = *c.session_hash; h[i % 32] ^= x; c.session_hash = h.into(); }
            _ => c.issued_at ^= u64::from(x) << (i % 56),
        }
        prop_assert_eq!(c.open(&k.public(), 0, verify), Err(CommandError::BadSignature));
        // And through the wire: whatever the mutation decodes to never opens.
        if let Ok(d) = Command::from_bytes(&c.to_bytes()) {
            prop_assert!(d.open(&k.public(), 0, verify).is_err());
        }
    }

    #[test]
    fn bad_packet_fields_are_rejected(p in packet(), long in (MAX_NODE_NAME + 1)..600) {
        let name = "a".repeat(long);
        let bad = match p {
            Packet::Gossip { .. } => return Ok(()),
            Packet::Session { session, e_p, parent_sig, level, budget_ms, .. } => {
                Packet::Session { session, parent: name, e_p, parent_sig, level, budget_ms }
            }
            Packet::SessionOk { session_hash, e_c, sig, child, .. } => {
                // Empty name, or an over-long confirmation.
                let _ = child;
                Packet::SessionOk { session_hash, child: String::new(), e_c, sig, confirm: vec![0; 65] }
            }
            Packet::Prune { session_hash, answered, sig, .. } => {
                Packet::Prune { session_hash, child: name, answered, sig }
            }
            Packet::Deny { session_hash, child, sig, .. } => {
                Packet::Deny { session_hash, child, code: "c".repeat(65), text: String::new(), sig }
            }
            Packet::Sealed { session_hash, channel, frame, .. } => {
                Packet::Sealed { session_hash, from: String::new(), channel, frame }
            }
        };
        let e = Packet::from_bytes(&bad.to_bytes(), MAX_STREAM_PACKET).unwrap_err();
        prop_assert!(matches!(e, DecodeError::Invalid { .. }), "{e:?}");
    }
}

// ---------------------------------------------------------------- fixed cases

fn sample_body() -> SessionBody {
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
    }
}

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
    // Signed, but no operations, or too many.
    for n in [0, MAX_OPS + 1] {
        let mut ops = Vec::new();
        ciborium::ser::into_writer(&vec![Query::Count; n], &mut ops).unwrap();
        let c = sign_raw(ops);
        assert!(matches!(
            c.open(&k.public(), 0, verify),
            Err(CommandError::Decode(DecodeError::Invalid { .. }))
        ));
    }
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
        Inner::Cancel,
        Inner::Command(Command::new(&[1; 32], 1, 2, &[Query::Depth], |m| k.sign(m))),
        Inner::Result(SubtreeResult {
            relayed: 2,
            partials: vec![Partial::empty(&Query::Count)],
            roster: Some([4; 32].into()),
            reached: vec![0b101],
        }),
    ];
    for m in msgs {
        assert_eq!(Inner::from_bytes(&m.to_bytes()), Ok(m));
    }
}
