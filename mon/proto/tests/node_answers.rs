//! Forged or replayed answers change nothing (issue 10, part 7), driven in memory with two
//! real nodes and sessions signed by the real client code:
//! - a SessionOk or Deny whose signature fails leaves the child's offer standing (the real
//!   answer that follows still links it), so one forged packet cannot cut a live child out;
//! - a Session replayed from an address that is neither the session's parent nor proves a
//!   known_nodes key gets no answer, live or after its state is gone (no reflected SessionOk
//!   or Prune), while the real parent still gets its retransmitted answer;
//! - a client's Session on a node's stream (whose claimed address nothing proved) gets no
//!   answer; a replayed client Session from another address gets nothing either.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;

use common::{allowed_signers, policy, session, SeedSigner, NOW_MS, SLICE};
use mon_keys::known_nodes::KnownNodes;
use mon_keys::nodekey::NodeKey;
use mon_proto::agg::Query;
use mon_proto::audit::EventKind;
use mon_proto::client::ClientSession;
use mon_proto::node::{Node, NodeConfig, Output, Peer};
use mon_proto::wire::packet::{Packet, MAX_STREAM_PACKET};
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;

fn addr(i: u8) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, i)), 7460)
}

const CLIENT: Peer = Peer::Client(1, IpAddr::V4(Ipv4Addr::LOCALHOST));

/// An address no known_nodes line names.
fn attacker() -> Peer {
    Peer::Addr(SocketAddr::new(
        IpAddr::V4(Ipv4Addr::new(10, 9, 9, 9)),
        7460,
    ))
}

/// n1 (127.0.0.2) and n2 (127.0.0.3), trusting each other, serving the test slice.
fn two_nodes(user: &SeedSigner) -> (Node, Node, Arc<KnownNodes>) {
    let mut rng = ChaCha20Rng::seed_from_u64(21);
    let k1 = NodeKey::generate(&mut rng);
    let k2 = NodeKey::generate(&mut rng);
    let known = format!(
        "n1,127.0.0.2 {}\nn2,127.0.0.3 {}\n",
        k1.public_openssh(),
        k2.public_openssh()
    );
    let known = Arc::new(KnownNodes::parse(&known, Path::new("known_nodes")).unwrap());
    let mk = |name: &str, a: SocketAddr, key: NodeKey, id: u64| {
        let mut n = Node::new(
            NodeConfig::server(name, a),
            key,
            known.clone(),
            mon_proto::replay::ReplayCache::new(mon_proto::replay::ReplayConfig::default()),
            id,
            [id as u8; 32],
        );
        n.set_policies(std::collections::HashMap::from([(
            SLICE.to_string(),
            Arc::new(policy(&allowed_signers(user, "mon-query@mon", "", 0), None)),
        )]));
        n
    };
    let n1 = mk("n1", addr(2), k1, 1);
    let n2 = mk("n2", addr(3), k2, 2);
    (n1, n2, known)
}

fn drain(node: &mut Node) -> Vec<Output> {
    std::iter::from_fn(|| node.poll_output()).collect()
}

/// Everything sent, decoded, with its destination.
fn sends(out: &[Output]) -> Vec<(Peer, Packet)> {
    out.iter()
        .filter_map(|o| match o {
            Output::Send { to, bytes } => {
                Some((*to, Packet::from_bytes(bytes, MAX_STREAM_PACKET).unwrap()))
            }
            _ => None,
        })
        .collect()
}

fn sent_to(out: &[Output], to: Peer) -> Vec<Packet> {
    sends(out)
        .into_iter()
        .filter(|(t, _)| *t == to)
        .map(|(_, p)| p)
        .collect()
}

fn accepts(out: &[Output]) -> usize {
    out.iter()
        .filter(|o| matches!(o, Output::Audit(e) if e.event == EventKind::SessionAccept))
        .count()
}

/// Datagrams to elsewhere (the client), and those held back.
type Pumped = (Vec<(Peer, Vec<u8>)>, Vec<(u8, Vec<u8>)>);

/// Delivers node-to-node datagrams until both are quiet; returns what went elsewhere and
/// what `hold(from, packet)` kept back.
fn pump(n1: &mut Node, n2: &mut Node, now: u64, hold: &dyn Fn(u8, &Packet) -> bool) -> Pumped {
    let mut other = Vec::new();
    let mut held = Vec::new();
    for _ in 0..1000 {
        let mut moved = false;
        for from in [1u8, 2] {
            let (src, dst) = if from == 1 {
                (&mut *n1, &mut *n2)
            } else {
                (&mut *n2, &mut *n1)
            };
            let outs: Vec<Output> = std::iter::from_fn(|| src.poll_output()).collect();
            for o in outs {
                if let Output::Send { to, bytes } = o {
                    moved = true;
                    let dst_addr = if from == 1 { addr(3) } else { addr(2) };
                    if to == Peer::Addr(dst_addr) {
                        let p = Packet::from_bytes(&bytes, MAX_STREAM_PACKET).unwrap();
                        if hold(from, &p) {
                            held.push((from, bytes));
                        } else {
                            dst.handle_packet(now, Peer::Addr(addr(from + 1)), &bytes);
                        }
                    } else {
                        other.push((to, bytes));
                    }
                }
            }
        }
        if !moved {
            break;
        }
    }
    (other, held)
}

/// n1 and n2 knowing each other; returns them and the time.
fn joined(user: &SeedSigner) -> (Node, Node, Arc<KnownNodes>, u64) {
    let (mut n1, mut n2, known) = two_nodes(user);
    n1.join(&[addr(3)], NOW_MS);
    n2.join(&[addr(2)], NOW_MS);
    let mut now = NOW_MS;
    for _ in 0..20 {
        now += 500;
        n1.handle_timeout(now);
        n2.handle_timeout(now);
        pump(&mut n1, &mut n2, now, &|_, _| false);
    }
    (n1, n2, known, now)
}

/// A count entered at n1, n1's offer to n2 held back; returns the session and the offer.
fn start_count(
    n1: &mut Node,
    n2: &mut Node,
    known: &KnownNodes,
    user: &SeedSigner,
    now: u64,
) -> (ClientSession, Vec<u8>) {
    let mut cs = session(user, vec![Query::Count], now, 7);
    n1.handle_packet(now, CLIENT, &cs.session_packet().to_bytes());
    let is_offer = |from: u8, p: &Packet| from == 1 && matches!(p, Packet::Session { .. });
    let (to_client, held) = pump(n1, n2, now, &is_offer);
    assert_eq!(held.len(), 1, "n1 offers the session to n2");
    let answer = to_client
        .iter()
        .find(|(to, _)| *to == CLIENT)
        .map(|(_, b)| Packet::from_bytes(b, MAX_STREAM_PACKET).unwrap())
        .expect("n1 answers the client");
    let go = cs.on_answer(answer, addr(2), known).expect("SessionOk");
    n1.handle_packet(now + 1, CLIENT, &go.to_bytes());
    let offer = held.into_iter().next().unwrap().1;
    (cs, offer)
}

/// Runs timers until n1 answers the client; returns how many nodes the count reached.
fn count_result(n1: &mut Node, n2: &mut Node, cs: &mut ClientSession, mut now: u64) -> u64 {
    for _ in 0..60 {
        now += 100;
        n1.handle_timeout(now);
        n2.handle_timeout(now);
        let (out, _) = pump(n1, n2, now, &|_, _| false);
        if let Some((_, b)) = out.into_iter().find(|(to, _)| *to == CLIENT) {
            let p = Packet::from_bytes(&b, MAX_STREAM_PACKET).unwrap();
            let (r, _) = cs.on_result(p).unwrap();
            return r.partials[0].coverage().answered;
        }
    }
    panic!("no result");
}

#[test]
fn a_forged_session_ok_or_deny_does_not_cut_a_child_out() {
    let user = SeedSigner::new([42; 32]);
    let (mut n1, mut n2, known, now) = joined(&user);
    let (mut cs, offer) = start_count(&mut n1, &mut n2, &known, &user, now);

    // n2 takes the offer; its SessionOk is held back, and forgeries of it reach n1 first.
    n2.handle_packet(now + 2, Peer::Addr(addr(2)), &offer);
    let out = drain(&mut n2);
    let ok = sent_to(&out, Peer::Addr(addr(2)))
        .into_iter()
        .find(|p| matches!(p, Packet::SessionOk { .. }))
        .expect("n2 answers SessionOk");
    let Packet::SessionOk {
        session_hash,
        child,
        e_c,
        sig,
        confirm,
        extra,
    } = ok.clone()
    else {
        unreachable!()
    };
    let mut bad_sig = *sig;
    bad_sig[0] ^= 1;
    let mut bad_confirm = confirm.clone();
    bad_confirm[0] ^= 1;
    let forgeries = [
        Packet::SessionOk {
            session_hash,
            child: child.clone(),
            e_c,
            sig: bad_sig.into(),
            confirm: confirm.clone(),
            extra,
        },
        Packet::SessionOk {
            session_hash,
            child: child.clone(),
            e_c,
            sig,
            confirm: bad_confirm,
            extra,
        },
        Packet::SessionOk {
            session_hash,
            child: child.clone(),
            e_c,
            sig,
            confirm: vec![1, 2, 3],
            extra,
        },
        Packet::Deny {
            session_hash,
            child,
            code: "busy".into(),
            text: "forged".into(),
            sig: [9u8; 64].into(),
        },
    ];
    let rejected = n1.counters().frames_rejected;
    for f in &forgeries {
        n1.handle_packet(now + 3, attacker(), &f.to_bytes());
    }
    let out = drain(&mut n1);
    assert!(
        sent_to(&out, CLIENT).is_empty(),
        "n1 answered the client although n2 never answered: a forgery settled it"
    );
    assert!(n1.counters().frames_rejected >= rejected + 3);

    // The real SessionOk still links n2: the count is 2.
    n1.handle_packet(now + 4, Peer::Addr(addr(3)), &ok.to_bytes());
    assert_eq!(count_result(&mut n1, &mut n2, &mut cs, now + 4), 2);
}

#[test]
fn a_replayed_offer_from_an_unproven_address_gets_nothing() {
    let user = SeedSigner::new([42; 32]);
    let (mut n1, mut n2, known, now) = joined(&user);
    let (mut cs, offer) = start_count(&mut n1, &mut n2, &known, &user, now);
    n2.handle_packet(now + 2, Peer::Addr(addr(2)), &offer);
    let first = drain(&mut n2);
    assert_eq!(accepts(&first), 1);
    let ok = sent_to(&first, Peer::Addr(addr(2)));
    assert!(
        matches!(ok.as_slice(), [Packet::SessionOk { .. }]),
        "{ok:?}"
    );

    // Live: the offer replayed from an address that proves nothing, as a datagram or on a
    // stream claiming that address: no answer at all (before: the SessionOk, to anyone).
    n2.handle_packet(now + 3, attacker(), &offer);
    n2.handle_stream_packet(now + 3, attacker(), &offer);
    let out = drain(&mut n2);
    assert!(sends(&out).is_empty(), "a replay was answered: {out:?}");
    assert_eq!(accepts(&out), 0);
    // The real parent's retransmission still gets the same SessionOk.
    n2.handle_packet(now + 4, Peer::Addr(addr(2)), &offer);
    let out = drain(&mut n2);
    assert_eq!(sent_to(&out, Peer::Addr(addr(2))), ok);

    // The session runs to its end and n2 forgets it.
    pump(&mut n1, &mut n2, now + 4, &|_, _| false);
    n1.handle_packet(now + 5, Peer::Addr(addr(3)), &ok[0].to_bytes());
    assert_eq!(count_result(&mut n1, &mut n2, &mut cs, now + 5), 2);
    let mut t = now + 10;
    while n2.session_count() > 0 && t < now + 300_000 {
        t += 1_000;
        n2.handle_timeout(t);
        drain(&mut n2);
    }
    assert_eq!(n2.session_count(), 0, "n2 forgot the session");

    // A replay-cache hit: no Prune to an unproven address (before: a signed Prune to it),
    // a Prune to the parent that proves its key.
    n2.handle_packet(t, attacker(), &offer);
    n2.handle_stream_packet(t, attacker(), &offer);
    let out = drain(&mut n2);
    assert!(sends(&out).is_empty(), "a replay was answered: {out:?}");
    n2.handle_packet(t + 1, Peer::Addr(addr(2)), &offer);
    let out = drain(&mut n2);
    assert!(
        matches!(
            sent_to(&out, Peer::Addr(addr(2))).as_slice(),
            [Packet::Prune { .. }]
        ),
        "{out:?}"
    );
    assert_eq!(accepts(&out), 0);
}

#[test]
fn a_client_session_replayed_elsewhere_gets_nothing() {
    let user = SeedSigner::new([42; 32]);
    let (mut n1, _n2, _known, now) = joined(&user);
    let cs = session(&user, vec![Query::Count], now, 8);
    let bytes = cs.session_packet().to_bytes();

    // On a node's stream, whose claimed address nothing proved: no answer, no accept.
    n1.handle_stream_packet(now, attacker(), &bytes);
    let out = drain(&mut n1);
    assert!(sends(&out).is_empty(), "{out:?}");
    assert_eq!(accepts(&out), 0);

    // From the client: accepted. Replayed on another client's stream from another address:
    // nothing; on a stream from the client's own address: the same SessionOk again.
    n1.handle_packet(now + 1, CLIENT, &bytes);
    let out = drain(&mut n1);
    assert_eq!(accepts(&out), 1);
    let ok = sent_to(&out, CLIENT);
    assert!(matches!(ok.as_slice(), [Packet::SessionOk { .. }]));
    let elsewhere = Peer::Client(2, IpAddr::V4(Ipv4Addr::new(10, 9, 9, 9)));
    n1.handle_packet(now + 2, elsewhere, &bytes);
    n1.handle_packet(now + 2, attacker(), &bytes);
    let out = drain(&mut n1);
    assert!(sends(&out).is_empty(), "{out:?}");
    let again = Peer::Client(3, IpAddr::V4(Ipv4Addr::LOCALHOST));
    n1.handle_packet(now + 3, again, &bytes);
    let out = drain(&mut n1);
    assert_eq!(sent_to(&out, again), ok);
}

#[test]
fn a_forged_prune_received_first_does_not_hide_the_real_one() {
    let user = SeedSigner::new([42; 32]);
    let (mut n1, mut n2, known, now) = joined(&user);
    let mut cs = session(&user, vec![Query::Count], now, 9);
    let bytes = cs.session_packet().to_bytes();
    // n2 is in the session already (a client gave it to n2 too); its own offers are lost.
    let other_client = Peer::Client(2, IpAddr::V4(Ipv4Addr::LOCALHOST));
    n2.handle_packet(now, other_client, &bytes);
    assert_eq!(accepts(&drain(&mut n2)), 1);
    // n1 takes the session and offers it to n2.
    n1.handle_packet(now, CLIENT, &bytes);
    let out = drain(&mut n1);
    let offer = out
        .iter()
        .find_map(|o| match o {
            Output::Send { to, bytes } if *to == Peer::Addr(addr(3)) => Some(bytes.clone()),
            _ => None,
        })
        .expect("n1 offers the session to n2");
    let answer = sent_to(&out, CLIENT).pop().expect("n1 answers the client");
    // A forged Prune for that offer first, then n2's real one.
    let answered: [u8; 32] = sha2::Digest::finalize(sha2::Digest::chain_update(
        <sha2::Sha256 as sha2::Digest>::new(),
        &offer,
    ))
    .into();
    let forged = Packet::Prune {
        session_hash: cs.hash.into(),
        child: "n2".into(),
        answered: answered.into(),
        sig: [7u8; 64].into(),
    };
    n1.handle_packet(now + 1, attacker(), &forged.to_bytes());
    n2.handle_packet(now + 2, Peer::Addr(addr(2)), &offer);
    let real = sent_to(&drain(&mut n2), Peer::Addr(addr(2)));
    assert!(
        matches!(real.as_slice(), [Packet::Prune { .. }]),
        "{real:?}"
    );
    n1.handle_packet(now + 3, Peer::Addr(addr(3)), &real[0].to_bytes());
    let go = cs.on_answer(answer, addr(2), &known).expect("SessionOk");
    n1.handle_packet(now + 4, CLIENT, &go.to_bytes());
    // n2 counts as pruned: the offer is never sent again (before: the real Prune was
    // ignored behind the forged one, which the check dropped, and the offer went out again).
    let mut again = 0;
    for k in 0..6u64 {
        n1.handle_timeout(now + 5 + k * 250);
        again += drain(&mut n1)
            .iter()
            .filter(|o| matches!(o, Output::Send { bytes, .. } if *bytes == offer))
            .count();
    }
    assert_eq!(again, 0, "n1 sent its offer to n2 again");
}

#[test]
fn a_lost_go_is_sent_again_when_the_child_repeats_its_session_ok() {
    let user = SeedSigner::new([42; 32]);
    let (mut n1, mut n2, known, now) = joined(&user);
    let (mut cs, offer) = start_count(&mut n1, &mut n2, &known, &user, now);
    n2.handle_packet(now + 2, Peer::Addr(addr(2)), &offer);
    // n1's first sealed frame to n2 (its go) is lost on the way.
    let lost = std::cell::Cell::new(0);
    let first_go = |from: u8, p: &Packet| {
        let hold = from == 1 && matches!(p, Packet::Sealed { .. }) && lost.get() == 0;
        if hold {
            lost.set(1);
        }
        hold
    };
    pump(&mut n1, &mut n2, now + 2, &first_go);
    assert_eq!(lost.get(), 1, "n1 sent n2 its go");
    // n2 asks again (its SessionOk, every RTO until the go) and is counted.
    assert_eq!(count_result(&mut n1, &mut n2, &mut cs, now + 2), 2);
}
