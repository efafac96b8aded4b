//! Follow-up Commands of an interactive session on a node: each runs once (the `seq`
//! window), is held to the session's class like a first command (outside it: denied,
//! audited, reported), and the session ends at its idle timeout.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::{IpAddr, Ipv4Addr};

use common::{allowed_signers, lone_node, policy, request, SeedSigner, NOW_MS};
use mon_proto::agg::{Local, Query};
use mon_proto::audit::EventKind;
use mon_proto::client::ClientSession;
use mon_proto::node::{Node, Output, Peer};
use mon_proto::timing::SESSION_IDLE_MS;
use mon_proto::wire::command::Command;
use mon_proto::wire::packet::{Packet, SubtreeResult, MAX_STREAM_PACKET};
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;

const CLIENT: Peer = Peer::Client(1, IpAddr::V4(Ipv4Addr::LOCALHOST));

/// A lone node that granted `namespaces`, and an interactive session of class `class` on it
/// whose first command (count) has answered.
struct Shell {
    node: Node,
    cs: ClientSession,
}

fn drain(node: &mut Node) -> Vec<Output> {
    std::iter::from_fn(|| node.poll_output()).collect()
}

fn to_client(outs: &[Output]) -> Vec<Packet> {
    outs.iter()
        .filter_map(|o| match o {
            Output::Send { to, bytes } if *to == CLIENT => {
                Some(Packet::from_bytes(bytes, MAX_STREAM_PACKET).unwrap())
            }
            _ => None,
        })
        .collect()
}

fn runs(outs: &[Output]) -> Vec<(usize, Query)> {
    outs.iter()
        .filter_map(|o| match o {
            Output::Run(r) => Some((r.index, r.query.clone())),
            _ => None,
        })
        .collect()
}

fn shell(namespaces: &str, class: &str, interactive: bool) -> Shell {
    let user = SeedSigner::new([42; 32]);
    let (mut node, known, addr) =
        lone_node(policy(&allowed_signers(&user, namespaces, "", 0), None));
    let mut rng = ChaCha20Rng::seed_from_u64(3);
    let req = request(vec![Query::Count]);
    let mut cs = if interactive {
        ClientSession::new_interactive(&mut rng, &user, req, Some(class), NOW_MS).unwrap()
    } else {
        ClientSession::new(&mut rng, &user, req, NOW_MS).unwrap()
    };
    node.handle_packet(NOW_MS, CLIENT, &cs.session_packet().to_bytes());
    let answer = to_client(&drain(&mut node)).remove(0);
    let go = cs.on_answer(answer, addr, &known).expect("SessionOk");
    node.handle_packet(NOW_MS + 10, CLIENT, &go.to_bytes());
    let outs = drain(&mut node);
    let result = to_client(&outs).remove(0);
    let (r, _ack) = cs.on_result(result).expect("the first command's result");
    assert_eq!(r.partials[0].coverage().answered, 1);
    let closes = outs.iter().any(|o| matches!(o, Output::CloseClient(1)));
    assert_eq!(
        closes, !interactive,
        "an interactive session keeps its client"
    );
    Shell { node, cs }
}

impl Shell {
    /// Sends command `seq` (signed now) and returns what the node put out.
    fn command(&mut self, at: u64, seq: u64, ops: &[Query]) -> Vec<Output> {
        let p = self.cs.command_packet(seq, at, ops).unwrap();
        self.node.handle_packet(at, CLIENT, &p.to_bytes());
        drain(&mut self.node)
    }

    fn result(&mut self, outs: &[Output], seq: u64, n: usize) -> SubtreeResult {
        let p = to_client(outs).pop().expect("a result to the client");
        self.cs.on_command_result(p, seq, n).expect("result").0
    }
}

fn load() -> Query {
    Query::Avg { res: "load".into() }
}

#[test]
fn follow_up_commands_run_once_each_over_one_session() {
    let mut sh = shell("mon-query@mon", "mon-query@mon", true);
    let at = NOW_MS + 1_000;
    let outs = sh.command(at, 1, &[load()]);
    let ran = runs(&outs);
    assert_eq!(ran.len(), 1, "the command runs here once");
    let (index, q) = ran[0].clone();
    assert_eq!(q, load());
    let h = sh.cs.hash;
    sh.node.handle_local(at + 5, h, index, Local::Value(0.5));
    let outs = drain(&mut sh.node);
    let r = sh.result(&outs, 1, 1);
    assert_eq!((r.seq, r.partials[0].coverage().answered), (1, 1));
    assert_eq!(sh.node.counters().commands_accepted, 1);

    // The same frame's Command again (a duplicate): nothing runs, the result comes again.
    let cmd = Command::new(&h, 1, at, &[load()], |m| sh.cs.cmd_key.sign(m));
    let again = sealed_command(&mut sh.cs, cmd);
    sh.node.handle_packet(at + 20, CLIENT, &again.to_bytes());
    let outs = drain(&mut sh.node);
    assert!(runs(&outs).is_empty(), "a duplicate runs nothing");
    assert_eq!(to_client(&outs).len(), 1, "its result is sent again");
    assert_eq!(sh.node.counters().commands_duplicate, 1);

    // seq 1 signed anew (a replay with another body), and seq 0: below the window.
    for (seq, ops) in [(1, vec![Query::Count]), (0, vec![load()])] {
        let outs = sh.command(at + 30, seq, &ops);
        assert!(runs(&outs).is_empty() && to_client(&outs).is_empty());
    }
    assert_eq!(sh.node.counters().commands_refused, 2);

    // The next seq runs; a late local result of command 1 does not count for it.
    let outs = sh.command(at + 40, 3, &[load()]);
    let (index3, _) = runs(&outs)[0].clone();
    assert_ne!(index3, index);
    sh.node.handle_local(at + 41, h, index, Local::Value(9.0));
    assert!(to_client(&drain(&mut sh.node)).is_empty());
    sh.node.handle_local(at + 42, h, index3, Local::Value(0.25));
    let outs = drain(&mut sh.node);
    let r = sh.result(&outs, 3, 1);
    assert_eq!(r.seq, 3);
    // Reordered below the window: seq 2 after 3 runs nothing.
    let outs = sh.command(at + 50, 2, &[load()]);
    assert!(runs(&outs).is_empty() && to_client(&outs).is_empty());
}

/// `cmd` sealed to the entry as the client would send it.
fn sealed_command(cs: &mut ClientSession, cmd: Command) -> Packet {
    // The client's sealer is private: seal by asking for a command packet of the same seq
    // with the same content, which signs the same bytes (Ed25519 is deterministic).
    let ops: Vec<Query> = mon_proto::wire::decode_strict("ops", &cmd.ops, 1 << 16).unwrap();
    cs.command_packet(cmd.seq, cmd.issued_at, &ops).unwrap()
}

#[test]
fn a_command_outside_the_sessions_class_is_denied_audited_and_reported() {
    // The key may exec, but the session was signed for queries only.
    let mut sh = shell("mon-query@mon,mon-exec@mon", "mon-query@mon", true);
    let exec = Query::Exec {
        argv: vec!["id".into()],
        shell: false,
        timeout_s: 10,
        where_: None,
    };
    let at = NOW_MS + 1_000;
    let outs = sh.command(at, 1, &[exec]);
    assert!(runs(&outs).is_empty(), "nothing runs");
    let denied = outs
        .iter()
        .any(|o| matches!(o, Output::Audit(ev) if ev.event == EventKind::OpDeny));
    assert!(denied, "the denial is audited");
    let r = sh.result(&outs, 1, 1);
    let cov = r.partials[0].coverage();
    assert_eq!(cov.denied.total(), 1, "{cov:?}");
    // The session stays: a query runs next.
    let outs = sh.command(at + 10, 2, &[Query::Count]);
    let r = sh.result(&outs, 2, 1);
    assert_eq!(r.partials[0].coverage().answered, 1);
}

#[test]
fn a_one_shot_session_refuses_commands() {
    let mut sh = shell("mon-query@mon", "mon-query@mon", false);
    let outs = sh.command(NOW_MS + 100, 1, &[Query::Count]);
    assert!(runs(&outs).is_empty() && to_client(&outs).is_empty());
    assert_eq!(sh.node.counters().commands_accepted, 0);
}

#[test]
fn an_idle_session_is_forgotten_and_its_client_closed() {
    let mut sh = shell("mon-query@mon", "mon-query@mon", true);
    assert_eq!(sh.node.session_count(), 1);
    let t = sh.node.poll_timeout().expect("a timer");
    assert!(t <= NOW_MS + 10 + SESSION_IDLE_MS);
    sh.node.handle_timeout(NOW_MS + 10 + SESSION_IDLE_MS);
    let outs = drain(&mut sh.node);
    assert_eq!(sh.node.session_count(), 0, "forgotten");
    assert!(outs.iter().any(|o| matches!(o, Output::CloseClient(1))));
    // A command after the end runs nothing.
    let outs = sh.command(NOW_MS + 20 + SESSION_IDLE_MS, 1, &[Query::Count]);
    assert!(runs(&outs).is_empty() && to_client(&outs).is_empty());
}
