//! Issue 14, part 1: an interactive session's later commands reach the nodes its overlay
//! does not: the entry node offers the session again at each Command to the roster nodes the
//! last result did not reach. A node down at set-up and up later joins and runs the command;
//! a node cut off by the death of a node above it takes the entry as its parent and is
//! counted again from the command after the one that found the death.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;

use common::{allowed_signers, policy, request, SeedSigner, NOW_MS, SLICE};
use mon_keys::known_nodes::KnownNodes;
use mon_keys::nodekey::NodeKey;
use mon_proto::agg::{Answer, Local, Query};
use mon_proto::client::ClientSession;
use mon_proto::node::{Node, NodeConfig, Output, Peer};
use mon_proto::wire::packet::{Packet, SubtreeResult, MAX_STREAM_PACKET};
use mon_proto::wire::session::OverlayKind;
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;

const CLIENT: Peer = Peer::Client(1, IpAddr::V4(Ipv4Addr::LOCALHOST));

/// Node i's address: 127.0.0.(i+1):7460.
fn addr(i: usize) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, i as u8 + 1)), 7460)
}

fn known_text(keys: &[NodeKey]) -> String {
    let mut t = String::new();
    for (i, k) in keys.iter().enumerate() {
        let i = i + 1;
        t.push_str(&format!("n{i},{} {}\n", addr(i).ip(), k.public_openssh()));
    }
    t
}

/// Real nodes delivering datagrams in memory; nodes in `down` neither send, receive nor tick.
struct Net {
    nodes: Vec<Node>,
    known: Arc<KnownNodes>,
    down: HashSet<usize>,
    now: u64,
    /// What the entry node sent the client, not yet read.
    to_client: Vec<Packet>,
    /// Every run a node asked its driver for: (node, query); each is answered at once.
    runs: Vec<(usize, Query)>,
}

impl Net {
    fn new(n: usize, user: &SeedSigner) -> Net {
        Net::granting(n, user, "mon-query@mon")
    }

    /// `n` nodes whose policy grants `user` the namespaces `ns`.
    fn granting(n: usize, user: &SeedSigner, ns: &str) -> Net {
        let mut rng = ChaCha20Rng::seed_from_u64(77);
        let keys: Vec<NodeKey> = (0..n).map(|_| NodeKey::generate(&mut rng)).collect();
        let known = Arc::new(KnownNodes::parse(&known_text(&keys), Path::new("kn")).unwrap());
        let nodes = keys
            .into_iter()
            .enumerate()
            .map(|(j, key)| {
                let i = j + 1;
                let mut node = Node::new(
                    NodeConfig::server(&format!("n{i}"), addr(i)),
                    key,
                    known.clone(),
                    mon_proto::replay::ReplayCache::new(mon_proto::replay::ReplayConfig::default()),
                    i as u64 * 7919,
                    [i as u8; 32],
                );
                node.set_policies(std::collections::HashMap::from([(
                    SLICE.to_string(),
                    Arc::new(policy(&allowed_signers(user, ns, "", 0), None)),
                )]));
                node
            })
            .collect();
        Net {
            nodes,
            known,
            down: HashSet::new(),
            now: NOW_MS,
            to_client: Vec::new(),
            runs: Vec::new(),
        }
    }

    fn index_of(&self, a: SocketAddr) -> Option<usize> {
        (1..=self.nodes.len()).find(|&i| addr(i) == a)
    }

    /// Delivers datagrams until quiet; packets for the client are kept.
    fn pump(&mut self) {
        for _ in 0..500 {
            let mut moved = false;
            for src in 1..=self.nodes.len() {
                let outs: Vec<Output> =
                    std::iter::from_fn(|| self.nodes[src - 1].poll_output()).collect();
                if self.down.contains(&src) {
                    continue;
                }
                for o in outs {
                    match o {
                        Output::Send {
                            to: Peer::Addr(a),
                            bytes,
                        } => {
                            let Some(dst) = self.index_of(a) else {
                                continue;
                            };
                            if self.down.contains(&dst) {
                                continue;
                            }
                            moved = true;
                            self.nodes[dst - 1].handle_packet(
                                self.now,
                                Peer::Addr(addr(src)),
                                &bytes,
                            );
                        }
                        Output::Send { to, bytes } if to == CLIENT => self
                            .to_client
                            .push(Packet::from_bytes(&bytes, MAX_STREAM_PACKET).unwrap()),
                        Output::Run(r) => {
                            moved = true;
                            self.runs.push((src, r.query.clone()));
                            let now = self.now;
                            self.nodes[src - 1].handle_local(
                                now,
                                r.session,
                                r.index,
                                Local::Skipped,
                            );
                        }
                        _ => {}
                    }
                }
            }
            if !moved {
                break;
            }
        }
    }

    /// Advances time by `ms`, ticking every live node.
    fn tick(&mut self, ms: u64) {
        self.now += ms;
        for i in 1..=self.nodes.len() {
            if !self.down.contains(&i) {
                self.nodes[i - 1].handle_timeout(self.now);
            }
        }
        self.pump();
    }

    /// Gossip among the live nodes for `rounds` half-seconds.
    fn gossip(&mut self, rounds: usize) {
        let seeds: Vec<SocketAddr> = (1..=3).map(addr).collect();
        for i in 1..=self.nodes.len() {
            if !self.down.contains(&i) {
                self.nodes[i - 1].join(&seeds, self.now);
            }
        }
        for _ in 0..rounds {
            self.tick(500);
        }
    }

    /// The first packet the entry sends the client from now on, within 20 s.
    fn next_to_client(&mut self) -> Packet {
        for _ in 0..400 {
            self.pump();
            if !self.to_client.is_empty() {
                return self.to_client.remove(0);
            }
            self.tick(50);
        }
        panic!("nothing for the client within 20 s");
    }
}

/// An interactive session (queries) opened through n1; the set-up's own count answered.
fn open(net: &mut Net, user: &SeedSigner, fanout: u8) -> (ClientSession, SubtreeResult) {
    open_with(net, user, fanout, vec![Query::Count], "mon-query@mon")
}

/// An interactive session of class `ns` whose own operations are `ops`, opened through n1;
/// their result.
fn open_with(
    net: &mut Net,
    user: &SeedSigner,
    fanout: u8,
    ops: Vec<Query>,
    ns: &str,
) -> (ClientSession, SubtreeResult) {
    let mut rng = ChaCha20Rng::seed_from_u64(5);
    let mut req = request(ops);
    req.overlay.kind = OverlayKind::Random;
    req.overlay.fanout = fanout.into();
    req.max_lifetime_s = mon_proto::timing::INTERACTIVE_LIFETIME_S;
    req.join_window_ms = mon_proto::timing::INTERACTIVE_JOIN_WINDOW_MS;
    let mut cs = ClientSession::new_interactive(&mut rng, user, req, Some(ns), net.now).unwrap();
    let now = net.now;
    net.nodes[0].handle_packet(now, CLIENT, &cs.session_packet().to_bytes());
    let answer = net.next_to_client();
    let known = net.known.clone();
    let go = cs.on_answer(answer, addr(1), &known).expect("SessionOk");
    let now = net.now;
    net.nodes[0].handle_packet(now, CLIENT, &go.to_bytes());
    let p = net.next_to_client();
    let (r, _ack) = cs.on_result(p).expect("the set-up's result");
    (cs, r)
}

/// Runs `q` as command `seq`; its result.
fn command(net: &mut Net, cs: &mut ClientSession, seq: u64, q: Query) -> SubtreeResult {
    let p = cs.command_packet(seq, net.now, &[q]).unwrap();
    let now = net.now;
    net.nodes[0].handle_packet(now, CLIENT, &p.to_bytes());
    let p = net.next_to_client();
    cs.on_command_result(p, seq, 1).expect("a command result").0
}

fn counted_and_missing(r: &SubtreeResult) -> (u64, Vec<String>) {
    let cov = r.partials[0].coverage();
    let mut missing: Vec<String> = cov
        .missing
        .entries()
        .iter()
        .map(|e| e.node.clone())
        .collect();
    missing.sort();
    (cov.answered, missing)
}

#[test]
fn a_node_down_at_set_up_and_up_later_is_counted_by_the_next_command() {
    let user = SeedSigner::new([42; 32]);
    let mut net = Net::new(5, &user);
    net.down.insert(5);
    net.gossip(40);
    let (mut cs, first) = open(&mut net, &user, 0);
    let (counted, missing) = counted_and_missing(&first);
    assert_eq!(
        (counted, missing),
        (4, vec!["n5".to_string()]),
        "n5 is down at set-up"
    );

    // n5 comes up (it never saw the session); the session's next command reaches it.
    net.down.remove(&5);
    let r = command(&mut net, &mut cs, 1, Query::Count);
    assert_eq!(
        counted_and_missing(&r),
        (5, vec![]),
        "n5 joined and ran command 1"
    );
    // And it stays in the overlay for the commands after.
    let r = command(&mut net, &mut cs, 2, Query::Count);
    assert_eq!(counted_and_missing(&r), (5, vec![]));
}

#[test]
fn a_node_that_joins_late_runs_the_current_command_not_the_sessions_own_exec() {
    let user = SeedSigner::new([42; 32]);
    let mut net = Net::granting(5, &user, "mon-exec@mon");
    net.down.insert(5);
    net.gossip(40);
    let exec = Query::Exec {
        argv: vec!["touch".into(), "/tmp/stamp".into()],
        shell: false,
        timeout_s: 60,
        where_: None,
    };
    let (mut cs, _first) = open_with(&mut net, &user, 0, vec![exec.clone()], "mon-exec@mon");
    let ran = |net: &Net, node: usize| -> Vec<Query> {
        net.runs
            .iter()
            .filter(|(n, _)| *n == node)
            .map(|(_, q)| q.clone())
            .collect()
    };
    assert_eq!(ran(&net, 1), vec![exec.clone()], "the set-up ran the exec");
    assert!(ran(&net, 5).is_empty(), "n5 is down at set-up");

    // Minutes later n5 comes up, and the next command (a count) reaches it at a re-offer:
    // it joins and answers the count, and never starts the exec the user asked for then.
    net.down.remove(&5);
    net.tick(120_000);
    let r = command(&mut net, &mut cs, 1, Query::Count);
    assert_eq!(
        counted_and_missing(&r),
        (5, vec![]),
        "n5 joined and ran command 1"
    );
    assert!(
        ran(&net, 5).is_empty(),
        "the late joiner started the session's own operations: {:?}",
        ran(&net, 5)
    );
    // And a follow-up exec does run there.
    let r = command(&mut net, &mut cs, 2, exec.clone());
    assert_eq!(counted_and_missing(&r).1, Vec::<String>::new());
    assert_eq!(ran(&net, 5), vec![exec]);
}

#[test]
fn nodes_cut_off_by_a_death_are_counted_again_from_the_command_after() {
    let user = SeedSigner::new([42; 32]);
    let n = 8;
    let mut net = Net::new(n, &user);
    net.gossip(40);
    // Fanout 1 (plus the ring neighbours): a tree more than two levels deep.
    let (mut cs, first) = open(&mut net, &user, 1);
    assert_eq!(counted_and_missing(&first), (n as u64, vec![]));
    let r = command(&mut net, &mut cs, 1, Query::Topology);
    let Answer::Topology(edges) = r.partials[0].clone().finish(&Query::Topology) else {
        panic!("not a topology");
    };
    // A relay below the entry: a node other than n1 that is some node's parent.
    let victim = edges
        .iter()
        .map(|(p, _)| p.clone())
        .find(|p| p != "n1" && !p.starts_with('@'))
        .unwrap_or_else(|| panic!("no relay below the entry: {edges:?}"));
    let cut: Vec<&String> = edges
        .iter()
        .filter(|(p, _)| *p == victim)
        .map(|(_, c)| c)
        .collect();
    let i: usize = victim[1..].parse().unwrap();
    net.down.insert(i);

    // The next command finds the death: the victim is missing, its subtree with it.
    let r = command(&mut net, &mut cs, 2, Query::Count);
    let (counted, missing) = counted_and_missing(&r);
    assert_eq!(missing, vec![victim.clone()], "{edges:?}");
    assert!(
        counted < n as u64 - 1,
        "the subtree below {victim} ({cut:?}) was cut off"
    );

    // The one after: the entry re-offers the session to the nodes it lost; they take it
    // as their parent and are counted; only the dead node is missing.
    let r = command(&mut net, &mut cs, 3, Query::Count);
    assert_eq!(
        counted_and_missing(&r),
        (n as u64 - 1, vec![victim.clone()])
    );
    let r = command(&mut net, &mut cs, 4, Query::Count);
    assert_eq!(counted_and_missing(&r), (n as u64 - 1, vec![victim]));
}

/// The parent of every node in a topology answer.
fn parents(r: &SubtreeResult) -> Vec<(String, String)> {
    let Answer::Topology(edges) = r.partials[0].clone().finish(&Query::Topology) else {
        panic!("not a topology");
    };
    edges
        .into_iter()
        .filter(|(p, _)| !p.starts_with('@'))
        .collect()
}

#[test]
fn commands_sent_back_to_back_do_not_pull_the_whole_tree_under_the_entry() {
    // A client (a query-only key is enough) sends its next Command before the last one's
    // results are in. Those results are not there yet, so nothing says which nodes the last
    // command reached: re-offering "the missed" then would offer the session to every node
    // below the entry's children, and each node between commands would take the entry as its
    // first parent, flattening the overlay into one fan-out of the whole fleet.
    let user = SeedSigner::new([42; 32]);
    let n = 8;
    let mut net = Net::new(n, &user);
    net.gossip(40);
    let (mut cs, first) = open(&mut net, &user, 1);
    assert_eq!(counted_and_missing(&first), (n as u64, vec![]));
    let before = parents(&command(&mut net, &mut cs, 1, Query::Topology));
    assert!(
        before.iter().any(|(p, _)| p != "n1"),
        "a tree deeper than the entry's children: {before:?}"
    );
    // Commands 2 and 3 reach the entry back to back, before anything is delivered.
    for seq in [2, 3] {
        let p = cs.command_packet(seq, net.now, &[Query::Count]).unwrap();
        let now = net.now;
        net.nodes[0].handle_packet(now, CLIENT, &p.to_bytes());
    }
    net.pump();
    for _ in 0..40 {
        net.tick(500);
    }
    net.to_client.clear();
    let after = parents(&command(&mut net, &mut cs, 4, Query::Topology));
    let under_entry = |e: &[(String, String)]| e.iter().filter(|(p, _)| p == "n1").count();
    assert_eq!(
        under_entry(&after),
        under_entry(&before),
        "nodes moved under the entry: before {before:?}, after {after:?}"
    );
}
