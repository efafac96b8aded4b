//! Single-node behaviour of the membership state machine, driven by hand-made messages.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;

use mon_proto::membership::{
    default_fanout, default_fanout_with_ring, Config, Entry, GossipMsg, MemberId, Membership, Ping,
    Pong,
};

fn id(i: u8) -> MemberId {
    MemberId {
        name: format!("node{i}"),
        addr: SocketAddr::from(([127, 0, 0, i], 7460)),
        key: [i; 32],
    }
}

fn entry(i: u8, node_id: u64, age_ms: u64) -> Entry {
    Entry {
        id: id(i),
        node_id,
        age_ms,
    }
}

fn ping(nonce: u64, sender_node_id: u64, entries: Vec<Entry>) -> GossipMsg {
    GossipMsg::Ping(Ping {
        nonce,
        sender_node_id,
        entries,
        aux: vec![],
    })
}

fn pong(nonce: u64, sender_node_id: u64, entries: Vec<Entry>) -> GossipMsg {
    GossipMsg::Pong(Pong {
        nonce,
        sender_node_id,
        entries,
        aux: vec![],
    })
}

fn all(_: &MemberId) -> bool {
    true
}

fn node(config: Config) -> Membership {
    Membership::new(id(1), 1 << 63, config, 42)
}

fn names(m: &Membership, now: u64) -> Vec<String> {
    let mut v: Vec<String> = m.view(now).into_iter().map(|e| e.name).collect();
    v.sort();
    v
}

fn drain(m: &mut Membership) -> Vec<(SocketAddr, GossipMsg)> {
    std::iter::from_fn(|| m.poll_transmit()).collect()
}

#[test]
fn ping_is_answered_with_a_pong_carrying_the_nonce_and_sender_enters_view() {
    let mut m = node(Config::with_interval(1_000));
    m.handle(1000, &id(2), ping(77, 5, vec![entry(3, 9, 100)]), &all);
    let out = drain(&mut m);
    assert_eq!(out.len(), 1);
    let (to, msg) = &out[0];
    assert_eq!(*to, id(2).addr);
    match msg {
        GossipMsg::Pong(p) => {
            assert_eq!(p.nonce, 77);
            assert_eq!(p.sender_node_id, 1 << 63);
            assert!(
                p.entries.iter().all(|e| e.id.name != "node2"),
                "no echo of the asker"
            );
        }
        other => panic!("expected a Pong, got {other:?}"),
    }
    assert_eq!(names(&m, 1000), ["node2", "node3"]);
    let v = m.view(1500);
    let n2 = v.iter().find(|e| e.name == "node2").unwrap();
    let n3 = v.iter().find(|e| e.name == "node3").unwrap();
    assert_eq!(n2.age_ms, 500, "direct contact: age counts from receipt");
    assert_eq!(n2.node_id, 5);
    assert_eq!(n3.age_ms, 600, "hint: reported age plus local time");
    assert_eq!(m.stats().pings_received, 1);
    assert_eq!(m.stats().pongs_sent, 1);
}

#[test]
fn join_address_is_pinged_while_view_is_empty_and_pong_reveals_identity_and_rtt() {
    let mut m = node(Config::with_interval(1_000));
    let seed_addr = id(2).addr;
    m.add_seed(seed_addr, 0);
    assert_eq!(m.poll_timeout(), Some(0));
    m.handle_timeout(0);
    let out = drain(&mut m);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].0, seed_addr);
    let nonce = match &out[0].1 {
        GossipMsg::Ping(p) => p.nonce,
        other => panic!("expected a Ping, got {other:?}"),
    };
    let next = m.poll_timeout().unwrap();
    assert!(
        (900..=1100).contains(&next),
        "next ping in 1 s ± 10 %: {next}"
    );
    m.handle(40, &id(2), pong(nonce, 5, vec![]), &all);
    let v = m.view(40);
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].name, "node2");
    assert_eq!(v[0].rtt_ms, Some(40.0));
    assert_eq!(m.stats().rtt_samples, 1);
}

#[test]
fn rtt_needs_matching_nonce_and_sender_and_is_smoothed() {
    let mut m = node(Config::with_interval(1_000));
    m.handle(0, &id(2), ping(1, 5, vec![]), &all);
    drain(&mut m);
    m.handle_timeout(0);
    let out = drain(&mut m);
    let nonce = out
        .iter()
        .find_map(|(_, msg)| match msg {
            GossipMsg::Ping(p) => Some(p.nonce),
            _ => None,
        })
        .unwrap();
    // Wrong nonce, then right nonce from the wrong node: no sample.
    m.handle(10, &id(2), pong(nonce ^ 1, 5, vec![]), &all);
    m.handle(10, &id(3), pong(nonce, 6, vec![]), &all);
    assert_eq!(m.stats().rtt_samples, 0);
    m.handle(100, &id(2), pong(nonce, 5, vec![]), &all);
    assert_eq!(m.stats().rtt_samples, 1);
    // The same Pong again (nonce already consumed): no second sample.
    m.handle(200, &id(2), pong(nonce, 5, vec![]), &all);
    assert_eq!(m.stats().rtt_samples, 1);
    let rtt = |m: &Membership, now| {
        m.view(now)
            .into_iter()
            .find(|e| e.name == "node2")
            .unwrap()
            .rtt_ms
    };
    assert_eq!(rtt(&m, 200), Some(100.0));
    // Second round trip of 20 ms: EWMA with weight 1/8 → 100 + (20 - 100) / 8 = 90.
    m.handle_timeout(2000);
    let nonce2 = drain(&mut m)
        .iter()
        .find_map(|(_, msg)| match msg {
            GossipMsg::Ping(p) => Some(p.nonce),
            _ => None,
        })
        .unwrap();
    m.handle(2020, &id(2), pong(nonce2, 5, vec![]), &all);
    assert_eq!(rtt(&m, 2020), Some(90.0));
}

#[test]
fn never_adds_itself() {
    let mut m = node(Config::with_interval(1_000));
    m.handle(0, &id(2), ping(1, 5, vec![entry(1, 1 << 63, 0)]), &all);
    assert_eq!(names(&m, 0), ["node2"]);
    // A message claiming to come from ourselves is refused outright.
    m.handle(0, &id(1), ping(2, 1 << 63, vec![entry(3, 3, 0)]), &all);
    assert_eq!(names(&m, 0), ["node2"]);
    assert_eq!(m.stats().messages_refused, 1);
    // Our own address as a join address is ignored.
    m.add_seed(id(1).addr, 0);
    assert_eq!(m.footprint().seeds, 0);
}

#[test]
fn untrusted_entries_and_senders_are_refused() {
    let mut m = node(Config::with_interval(1_000));
    let trust = |x: &MemberId| x.name != "node9" && x.key != [8; 32];
    let mut forged = id(4);
    forged.key = [8; 32]; // a trusted name with a key known_nodes does not list
    m.handle(
        0,
        &id(2),
        ping(
            1,
            5,
            vec![
                entry(9, 9, 0),
                Entry {
                    id: forged,
                    node_id: 4,
                    age_ms: 0,
                },
                entry(3, 3, 0),
            ],
        ),
        &trust,
    );
    assert_eq!(names(&m, 0), ["node2", "node3"]);
    assert_eq!(m.stats().entries_untrusted, 2);
    drain(&mut m);
    m.handle(0, &id(9), ping(2, 9, vec![entry(5, 5, 0)]), &trust);
    assert_eq!(
        names(&m, 0),
        ["node2", "node3"],
        "nothing from an untrusted sender"
    );
    assert!(drain(&mut m).is_empty(), "no Pong to an untrusted sender");
    assert_eq!(m.stats().messages_refused, 1);
}

#[test]
fn full_view_drops_oldest_first_and_refuses_older_newcomers() {
    let config = Config {
        view_size: 3,
        ..Config::with_interval(1_000)
    };
    let mut m = node(config);
    let now = 10_000;
    m.handle(
        now,
        &id(2),
        ping(1, 2, vec![entry(3, 3, 3000), entry(4, 4, 4000)]),
        &all,
    );
    assert_eq!(names(&m, now), ["node2", "node3", "node4"]);
    m.handle(now, &id(2), ping(2, 2, vec![entry(5, 5, 5000)]), &all);
    assert_eq!(
        names(&m, now),
        ["node2", "node3", "node4"],
        "older than all: refused"
    );
    m.handle(now, &id(2), ping(3, 2, vec![entry(6, 6, 1000)]), &all);
    assert_eq!(
        names(&m, now),
        ["node2", "node3", "node6"],
        "node4 was the oldest"
    );
    // A younger hint refreshes an entry in place.
    m.handle(now, &id(2), ping(4, 2, vec![entry(3, 3, 10)]), &all);
    let v = m.view(now);
    assert_eq!(v.iter().find(|e| e.name == "node3").unwrap().age_ms, 10);
}

#[test]
fn dead_members_age_out_unless_a_younger_hint_arrives() {
    let mut m = node(Config::with_interval(1_000));
    m.handle(5_000, &id(2), ping(1, 2, vec![entry(3, 3, 0)]), &all);
    m.handle(15_000, &id(2), ping(2, 2, vec![entry(3, 3, 11_000)]), &all);
    assert_eq!(
        m.view(15_000)
            .iter()
            .find(|e| e.name == "node3")
            .unwrap()
            .age_ms,
        10_000,
        "an older hint does not rejuvenate"
    );
    m.handle(19_000, &id(2), ping(3, 2, vec![]), &all);
    m.handle_timeout(20_500);
    assert_eq!(
        names(&m, 20_500),
        ["node2"],
        "node3 silent for more than 15 s"
    );
    assert_eq!(m.stats().expired, 1);
    // Hints older than dead_after_ms are not taken at all.
    m.handle(21_000, &id(2), ping(4, 2, vec![entry(3, 3, 15_001)]), &all);
    assert_eq!(names(&m, 21_000), ["node2"]);
}

#[test]
fn restarted_node_replaces_its_old_identity() {
    let mut m = node(Config::with_interval(1_000));
    m.handle(0, &id(2), ping(1, 2, vec![]), &all);
    let mut moved = id(2);
    moved.addr = SocketAddr::from(([127, 0, 0, 2], 9999));
    m.handle(50, &moved, ping(2, 77, vec![]), &all);
    let v = m.view(50);
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].addr, moved.addr);
    assert_eq!(v[0].node_id, 77);
}

#[test]
fn received_entries_are_capped() {
    let config = Config {
        max_entries_in: 4,
        ..Config::with_interval(1_000)
    };
    let mut m = node(config);
    let many: Vec<Entry> = (10..60).map(|i| entry(i, u64::from(i), 0)).collect();
    m.handle(0, &id(2), ping(1, 2, many), &all);
    assert_eq!(m.view(0).len(), 1 + 4);
    assert_eq!(m.stats().entries_over_cap, 46);
}

#[test]
fn remove_forgets_a_member() {
    let mut m = node(Config::with_interval(1_000));
    m.handle(0, &id(2), ping(1, 2, vec![entry(3, 3, 0)]), &all);
    m.remove(&id(3));
    assert_eq!(names(&m, 0), ["node2"]);
    m.remove(&id(2));
    assert!(m.view(0).is_empty());
}

#[test]
fn sample_returns_distinct_members_and_honours_exclude() {
    let mut m = node(Config::with_interval(1_000));
    let entries: Vec<Entry> = (3..15).map(|i| entry(i, u64::from(i), 0)).collect();
    m.handle(0, &id(2), ping(1, 2, entries), &all);
    let s = m.sample(5, &|x: &MemberId| x.name == "node2");
    assert_eq!(s.len(), 5);
    let mut n: Vec<&str> = s.iter().map(|x| x.name.as_str()).collect();
    n.sort();
    n.dedup();
    assert_eq!(n.len(), 5);
    assert!(!n.contains(&"node2"));
    assert_eq!(m.sample(100, &|_: &MemberId| false).len(), 13);
}

#[test]
fn local_neighbours_take_nearest_from_both_sides() {
    // We are node_id 1000; nodes 2..=9 have node ids 100·i: 2..=9 → 200..900 all smaller,
    // so the right side comes from nodes 11..=14 with ids 1100..1400.
    let mut m = Membership::new(id(1), 1000, Config::with_interval(1_000), 7);
    let mut ids: Vec<(u8, u64)> = (2..=9).map(|i| (i, 100 * u64::from(i))).collect();
    ids.extend((11..=14).map(|i| (i, 100 * u64::from(i))));
    // Contact each node and measure an RTT of 10·i ms (node 2 nearest on the left, node 11
    // nearest on the right).
    let mut now = 0;
    for &(i, nid) in &ids {
        m.handle(now, &id(i), ping(0, nid, vec![]), &all);
    }
    drain(&mut m);
    for &(i, nid) in &ids {
        // Ping until the target is node i, answer it.
        for _ in 0..200 {
            now += 1000;
            m.handle_timeout(now);
            let out = drain(&mut m);
            let hit = out.iter().find_map(|(to, msg)| match msg {
                GossipMsg::Ping(p) if *to == id(i).addr => Some(p.nonce),
                _ => None,
            });
            if let Some(nonce) = hit {
                m.handle(
                    now + 10 * u64::from(i),
                    &id(i),
                    pong(nonce, nid, vec![]),
                    &all,
                );
                break;
            }
            // Keep everyone alive.
            for &(j, nj) in &ids {
                m.handle(now, &id(j), ping(0, nj, vec![]), &all);
            }
            drain(&mut m);
        }
    }
    let got = m.local_neighbours(4, &|_: &MemberId| false);
    let got: Vec<&str> = got.iter().map(|x| x.name.as_str()).collect();
    assert_eq!(got, ["node2", "node3", "node11", "node12"]);
    let got = m.local_neighbours(4, &|x: &MemberId| x.name == "node2");
    let got: Vec<&str> = got.iter().map(|x| x.name.as_str()).collect();
    assert_eq!(got, ["node3", "node4", "node11", "node12"]);
    // More than one side can give: topped up from the rest of the view.
    assert_eq!(m.local_neighbours(12, &|_: &MemberId| false).len(), 12);
}

#[test]
fn messages_round_trip_through_cbor_with_compact_keys() {
    let msg = GossipMsg::Pong(Pong {
        nonce: 5,
        sender_node_id: 6,
        entries: vec![entry(3, 3, 100)],
        aux: vec![],
    });
    let mut buf = Vec::new();
    ciborium::into_writer(&msg, &mut buf).unwrap();
    let back: GossipMsg = ciborium::from_reader(buf.as_slice()).unwrap();
    assert_eq!(back, msg);
    eprintln!("{} bytes", buf.len());
    assert!(
        buf.len() < 120,
        "one entry should take < 120 bytes, got {}",
        buf.len()
    );
}

#[test]
fn default_fanout_grows_logarithmically() {
    assert_eq!(default_fanout(50), 12);
    assert_eq!(default_fanout(200), 14);
    assert_eq!(default_fanout(1000), 17);
    assert_eq!(default_fanout(10_000), 22);
    assert!(default_fanout(0) >= 2);
    assert!(default_fanout(usize::MAX) <= 1024);
    assert_eq!(default_fanout_with_ring(200), 5);
    assert_eq!(default_fanout_with_ring(1000), 6);
    assert_eq!(default_fanout_with_ring(10_000), 7);
    let mut prev = 0;
    for n in [1, 2, 10, 100, 1000, 100_000] {
        assert!(default_fanout(n) >= prev);
        prev = default_fanout(n);
    }
}
