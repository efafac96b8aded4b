//! A session's signed `max_lifetime_s` bounds what it runs on a node, also when its
//! `timeout_ms` asks for more: the operation's time limit is what is left of the lifetime.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::{IpAddr, Ipv4Addr};

use common::{allowed_signers, lone_node, policy, request, SeedSigner, NOW_MS};
use mon_proto::agg::Query;
use mon_proto::audit::EventKind;
use mon_proto::client::ClientSession;
use mon_proto::node::{Output, Peer};
use mon_proto::wire::packet::{Packet, MAX_STREAM_PACKET};
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;

fn run_limit_ms(timeout_ms: u32, max_lifetime_s: u32) -> u64 {
    let user = SeedSigner::new([42; 32]);
    let (mut node, known, addr) =
        lone_node(policy(&allowed_signers(&user, "mon-*@mon", "", 0), None));
    let exec = Query::Exec {
        argv: vec!["sleep".into(), "1000".into()],
        shell: false,
        timeout_s: 3600,
        where_: None,
    };
    let mut req = request(vec![exec]);
    req.timeout_ms = timeout_ms;
    req.max_lifetime_s = max_lifetime_s;
    let mut rng = ChaCha20Rng::seed_from_u64(3);
    let mut cs = ClientSession::new(&mut rng, &user, req, NOW_MS).expect("sign session");
    let client = Peer::Client(1, IpAddr::V4(Ipv4Addr::LOCALHOST));
    node.handle_packet(NOW_MS, client, &cs.session_packet().to_bytes());
    let answer = std::iter::from_fn(|| node.poll_output())
        .find_map(|o| match o {
            Output::Send { to, bytes } if to == client => Some(bytes),
            _ => None,
        })
        .expect("an answer to the client");
    let answer = Packet::from_bytes(&answer, MAX_STREAM_PACKET).unwrap();
    let go = cs.on_answer(answer, addr, &known).expect("SessionOk");
    node.handle_packet(NOW_MS + 10, client, &go.to_bytes());
    std::iter::from_fn(|| node.poll_output())
        .find_map(|o| match o {
            Output::Run(r) => Some(r.timeout_ms),
            _ => None,
        })
        .expect("the exec runs")
}

#[test]
fn the_signed_lifetime_bounds_the_run_time() {
    // A body asking for a 10-minute timeout with a 20 s lifetime runs for at most 20 s.
    assert!(run_limit_ms(600_000, 20) <= 20_000);
    // Within the lifetime, the timeout is what counts.
    let t = run_limit_ms(8_000, 60);
    assert!(t <= 8_000 && t > 5_000, "{t}");
}

/// The outputs of a lone node that admits, at `at`, a session signed at `NOW_MS` (timeout
/// 5 s, join window 10 s) running an exec, and gets its go 10 ms later.
fn exec_go_at(at: u64) -> (Vec<Output>, mon_proto::node::Counters) {
    let user = SeedSigner::new([42; 32]);
    let (mut node, known, addr) =
        lone_node(policy(&allowed_signers(&user, "mon-*@mon", "", 0), None));
    let exec = Query::Exec {
        argv: vec!["touch".into(), "/tmp/stamp".into()],
        shell: false,
        timeout_s: 60,
        where_: None,
    };
    let mut rng = ChaCha20Rng::seed_from_u64(3);
    let mut cs = ClientSession::new(&mut rng, &user, request(vec![exec]), NOW_MS).unwrap();
    let client = Peer::Client(1, IpAddr::V4(Ipv4Addr::LOCALHOST));
    node.handle_packet(at, client, &cs.session_packet().to_bytes());
    let answer = std::iter::from_fn(|| node.poll_output())
        .find_map(|o| match o {
            Output::Send { to, bytes } if to == client => Some(bytes),
            _ => None,
        })
        .expect("an answer to the client");
    let answer = Packet::from_bytes(&answer, MAX_STREAM_PACKET).unwrap();
    let go = cs.on_answer(answer, addr, &known).expect("SessionOk");
    node.handle_packet(at + 10, client, &go.to_bytes());
    let outs = std::iter::from_fn(|| node.poll_output()).collect();
    (outs, node.counters().clone())
}

#[test]
fn a_go_past_the_sessions_own_deadline_starts_nothing() {
    let skew_ms = mon_proto::verify::Limits::default().skew_ms;
    let runs = |outs: &[Output]| outs.iter().filter(|o| matches!(o, Output::Run(_))).count();
    let expired = |outs: &[Output]| {
        outs.iter()
            .filter(|o| {
                matches!(o, Output::Audit(ev) if ev.event == EventKind::OpDeny
                    && ev.reason.as_ref().is_some_and(|r| r.code == "session-op-expired"))
            })
            .count()
    };
    // Within the timeout and the allowed clock skew, the exec runs (a clock ahead of the
    // client's does not skip it).
    let (outs, c) = exec_go_at(NOW_MS + 5_000 + skew_ms - 100);
    assert_eq!((runs(&outs), expired(&outs), c.ops_expired), (1, 0, 0));
    // Admitted still (within the join window and the skew), but its go comes after the
    // session's own deadline: nothing starts; the skip is audited and counted.
    let (outs, c) = exec_go_at(NOW_MS + 5_000 + skew_ms + 1_000);
    assert_eq!(c.sessions_accepted, 1, "admitted");
    assert_eq!((runs(&outs), expired(&outs), c.ops_expired), (0, 1, 1));
}
