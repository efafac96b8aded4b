//! Property tests: arbitrary (authenticated but hostile) input never panics the membership
//! state machine and never breaks its bounds.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;

use mon_proto::membership::{Config, Entry, GossipMsg, MemberId, Membership, Ping, Pong};
use proptest::prelude::*;

fn me() -> MemberId {
    MemberId {
        name: "me".into(),
        addr: SocketAddr::from(([10, 0, 0, 1], 7460)),
        key: [1; 32],
    }
}

/// known_nodes of the tests: keys whose first byte is not a multiple of 3.
fn trusted(id: &MemberId) -> bool {
    id.key[0] % 3 != 0
}

fn arb_id() -> impl Strategy<Value = MemberId> {
    (
        prop_oneof![
            prop::sample::select(vec!["me", "a", "b", "c", "d", "e", "f", "g", "h", "i"])
                .prop_map(str::to_owned),
            ".{0,40}",
        ],
        any::<[u8; 4]>(),
        prop_oneof![Just(7460u16), any::<u16>()],
        any::<[u8; 32]>(),
    )
        .prop_map(|(name, ip, port, key)| MemberId {
            name,
            addr: SocketAddr::from((ip, port)),
            key,
        })
}

fn arb_age() -> impl Strategy<Value = u64> {
    prop_oneof![0u64..20_000, any::<u64>()]
}

fn arb_entries() -> impl Strategy<Value = Vec<Entry>> {
    prop::collection::vec(
        (arb_id(), any::<u64>(), arb_age()).prop_map(|(id, node_id, age_ms)| Entry {
            id,
            node_id,
            age_ms,
        }),
        0..30,
    )
}

fn arb_msg() -> impl Strategy<Value = GossipMsg> {
    (
        any::<bool>(),
        any::<u64>(),
        any::<u64>(),
        arb_entries(),
        arb_entries(),
    )
        .prop_map(|(is_ping, nonce, sender_node_id, entries, aux)| {
            if is_ping {
                GossipMsg::Ping(Ping {
                    nonce,
                    sender_node_id,
                    entries,
                    aux,
                })
            } else {
                GossipMsg::Pong(Pong {
                    nonce,
                    sender_node_id,
                    entries,
                    aux,
                })
            }
        })
}

#[derive(Debug, Clone)]
enum Op {
    Handle(u64, MemberId, GossipMsg),
    Timeout(u64),
    Jump(u64),
    Sample(usize),
    Local(usize),
    Remove(MemberId),
    Seed(SocketAddr),
    Drain,
}

fn arb_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0u64..3_000, arb_id(), arb_msg()).prop_map(|(d, f, m)| Op::Handle(d, f, m)),
        3 => (0u64..3_000).prop_map(Op::Timeout),
        1 => any::<u64>().prop_map(Op::Jump),
        1 => (0usize..10).prop_map(Op::Sample),
        1 => (0usize..10).prop_map(Op::Local),
        1 => arb_id().prop_map(Op::Remove),
        1 => (any::<[u8; 4]>(), any::<u16>()).prop_map(|(ip, p)| Op::Seed(SocketAddr::from((ip, p)))),
        1 => Just(Op::Drain),
    ]
}

fn small_config() -> Config {
    Config {
        view_size: 4,
        local_list_size: 2,
        ring_size: 1,
        entries_per_msg: 3,
        aux_entries_per_msg: 2,
        max_outstanding: 3,
        max_entries_in: 5,
        max_seeds: 2,
        max_transmit_queue: 4,
        max_seen: 6,
        kmv_k: 2,
        ..Config::with_interval(1_000)
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_input_never_panics_and_keeps_caps(
        seed in any::<u64>(),
        node_id in any::<u64>(),
        ops in prop::collection::vec(arb_op(), 1..60),
    ) {
        let config = small_config();
        let mut m = Membership::new(me(), node_id, config.clone(), seed);
        let mut now: u64 = 1_000_000;
        for op in ops {
            match op {
                Op::Handle(d, from, msg) => {
                    now = now.saturating_add(d);
                    m.handle(now, &from, msg, &trusted);
                }
                Op::Timeout(d) => {
                    now = now.saturating_add(d);
                    m.handle_timeout(now);
                }
                Op::Jump(t) => {
                    now = t;
                    m.handle_timeout(now);
                }
                Op::Sample(k) => {
                    let s = m.sample(k, &|x: &MemberId| x.name == "a");
                    prop_assert!(s.len() <= k);
                    prop_assert!(s.iter().all(|x| x.name != "a" && x.name != "me"));
                    let mut names: Vec<&str> = s.iter().map(|x| x.name.as_str()).collect();
                    names.sort_unstable();
                    names.dedup();
                    prop_assert_eq!(names.len(), s.len());
                }
                Op::Local(k) => {
                    let s = m.local_neighbours(k, &|x: &MemberId| x.name == "b");
                    prop_assert!(s.len() <= k);
                    prop_assert!(s.iter().all(|x| x.name != "b" && x.name != "me"));
                }
                Op::Remove(id) => m.remove(&id),
                Op::Seed(addr) => m.add_seed(addr, now),
                Op::Drain => {
                    while let Some((_, msg)) = m.poll_transmit() {
                        prop_assert!(msg.entries().len() <= config.entries_per_msg);
                        prop_assert!(msg.aux().len() <= config.aux_entries_per_msg);
                        prop_assert!(msg
                            .entries()
                            .iter()
                            .chain(msg.aux())
                            .all(|e| e.id.name != "me" || e.id == me()));
                    }
                }
            }
            let f = m.footprint();
            prop_assert!(f.view <= config.view_size, "{:?}", f);
            prop_assert!(f.local <= config.local_list_size, "{:?}", f);
            prop_assert!(f.ring <= 2 * config.ring_size, "{:?}", f);
            prop_assert!(f.pending <= config.max_outstanding, "{:?}", f);
            prop_assert!(f.seeds <= config.max_seeds, "{:?}", f);
            prop_assert!(f.transmit <= config.max_transmit_queue, "{:?}", f);
            prop_assert!(f.seen <= config.max_seen, "{:?}", f);
            prop_assert!(f.kmv <= 2 * config.kmv_k, "{:?}", f);
            for e in m.view(now) {
                prop_assert!(e.name != "me", "self in view");
                prop_assert!(trusted(&e.id()), "untrusted {:?} in view", e);
                prop_assert!(e.age_ms <= config.dead_after_ms);
            }
            let r = m.ring_neighbours(now);
            prop_assert!(r.successors.iter().chain(&r.predecessors).all(|p| trusted(&p.id) && p.id.name != "me"));
            let _ = m.size_estimate();
            prop_assert!(m.poll_timeout().is_some());
        }
    }
}
