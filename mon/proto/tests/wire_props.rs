//! Property tests of the wire decoders (untrusted bytes from the network):
//! `SignedSession::from_bytes`, `SessionBody::from_bytes`, `Command::from_bytes` +
//! `Command::open`, `Packet::from_bytes` and `Inner::from_bytes`.
//!
//! Random bytes and mutated valid encodings never panic; trailing bytes, unknown fields, wrong
//! versions and out-of-range fields are rejected with the matching error; valid messages
//! round-trip. Fixed cases (size limits, nesting, unknown kinds) are in `wire_cases.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod wire_support;

use ciborium::Value;
use mon_proto::agg::{CmpOp, Query, Where};
use mon_proto::wire::command::{Command, CommandError};
use mon_proto::wire::packet::{Inner, Packet, MAX_NODE_NAME, MAX_STREAM_PACKET};
use mon_proto::wire::session::{
    Manifest, OverlayKind, OverlaySpec, SessionBody, SignedSession, MAX_OPS, MAX_TARGETS,
    SESSION_VERSION,
};
use mon_proto::wire::DecodeError;
use proptest::prelude::*;
use wire_support::{cmd_key, decode_all, field_mut, map_mut, to_bytes, to_value, verify};

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
        prop_oneof![Just(4096u32), Just(65536), Just(512 * 1024)],
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
                cond: None,
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
            interactive: false,
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
                extra: false,
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
                Packet::SessionOk { session_hash, child: String::new(), e_c, sig, confirm: vec![0; 65], extra: false }
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
