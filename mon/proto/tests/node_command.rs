//! Follow-up Commands of an interactive session on a node: each runs once (the `seq`
//! window), is held to the session's class like a first command (outside it: denied,
//! audited, reported), and the session ends at its idle timeout.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::{IpAddr, Ipv4Addr};

use std::net::SocketAddr;
use std::sync::Arc;

use common::{allowed_signers, lone_node_with, policy, request, SeedSigner, NOW_MS};
use mon_keys::known_nodes::KnownNodes;
use mon_proto::agg::{Local, Query};
use mon_proto::audit::EventKind;
use mon_proto::client::ClientError;
use mon_proto::client::ClientSession;
use mon_proto::node::NodeConfig;
use mon_proto::node::RUNS_BUSY;
use mon_proto::node::{Node, Output, Peer};
use mon_proto::timing::{DUPLICATE_RESENDS, INTERACTIVE_LIFETIME_S, SESSION_IDLE_MS};
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
    user: SeedSigner,
    known: Arc<KnownNodes>,
    addr: SocketAddr,
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
    shell_with(namespaces, class, interactive, NOW_MS, |_| {})
}

/// [`shell`] on a node configured by `tweak`, the session signed at [`NOW_MS`] and joined
/// at `join_at`.
fn shell_with(
    namespaces: &str,
    class: &str,
    interactive: bool,
    join_at: u64,
    tweak: impl FnOnce(&mut NodeConfig),
) -> Shell {
    let user = SeedSigner::new([42; 32]);
    let (node, known, addr) = lone_node_with(
        policy(&allowed_signers(&user, namespaces, "", 0), None),
        tweak,
    );
    let mut sh = Shell {
        node,
        cs: ClientSession::new(
            &mut ChaCha20Rng::seed_from_u64(0),
            &user,
            request(vec![Query::Count]),
            NOW_MS,
        )
        .unwrap(),
        user,
        known,
        addr,
    };
    let mut cs = sh
        .join(class, interactive, 3, join_at)
        .expect("the session is admitted");
    let outs = drain(&mut sh.node);
    let result = to_client(&outs).remove(0);
    let (r, _ack) = cs.on_result(result).expect("the first command's result");
    assert_eq!(r.partials[0].coverage().answered, 1);
    let closes = outs.iter().any(|o| matches!(o, Output::CloseClient(1)));
    assert_eq!(
        closes, !interactive,
        "an interactive session keeps its client"
    );
    sh.cs = cs;
    sh
}

impl Shell {
    /// Signs a session (a `count`) at [`NOW_MS`] with the rng seeded by `seed` and has it
    /// join the node at `at` from client 1, its go sent: the client's session, or the code
    /// of the node's refusal.
    fn join(
        &mut self,
        class: &str,
        interactive: bool,
        seed: u64,
        at: u64,
    ) -> Result<ClientSession, String> {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let req = request(vec![Query::Count]);
        let mut cs = if interactive {
            ClientSession::new_interactive(&mut rng, &self.user, req, Some(class), NOW_MS).unwrap()
        } else {
            ClientSession::new(&mut rng, &self.user, req, NOW_MS).unwrap()
        };
        self.node
            .handle_packet(at, CLIENT, &cs.session_packet().to_bytes());
        let answer = to_client(&drain(&mut self.node)).remove(0);
        match cs.on_answer(answer, self.addr, &self.known) {
            Ok(go) => {
                self.node.handle_packet(at + 10, CLIENT, &go.to_bytes());
                Ok(cs)
            }
            Err(ClientError::Denied { code, .. }) => Err(code),
            Err(e) => panic!("{e}"),
        }
    }

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

fn exec(program: &str) -> Query {
    Query::Exec {
        argv: vec![program.into()],
        shell: false,
        timeout_s: 10,
        where_: None,
    }
}

/// The runs the node told its driver to stop.
fn cancelled(outs: &[Output]) -> Vec<usize> {
    outs.iter()
        .filter_map(|o| match o {
            Output::CancelRun { index, .. } => Some(*index),
            _ => None,
        })
        .collect()
}

/// The audit records of `kind` whose reason code is `code`.
fn audited(outs: &[Output], kind: EventKind, code: &str) -> usize {
    outs.iter()
        .filter(|o| {
            matches!(o, Output::Audit(ev) if ev.event == kind
                && ev.reason.as_ref().is_some_and(|r| r.code == code))
        })
        .count()
}

#[test]
fn a_new_command_cancels_the_runs_of_the_previous_one() {
    let mut sh = shell("mon-exec@mon", "mon-exec@mon", true);
    let h = sh.cs.hash;
    let at = NOW_MS + 1_000;
    let outs = sh.command(at, 1, &[exec("sleep"), load()]);
    let ran = runs(&outs);
    assert_eq!(ran.len(), 2);
    // Command 2 comes while command 1's exec and read still run: both stop, the exec's
    // end is audited (reason `cancelled`) before the driver is told, and command 2 runs.
    let outs = sh.command(at + 10, 2, &[exec("true")]);
    let mut stopped = cancelled(&outs);
    stopped.sort_unstable();
    assert_eq!(stopped, vec![ran[0].0, ran[1].0]);
    assert_eq!(audited(&outs, EventKind::OpEnd, "cancelled"), 1);
    let audit_at = outs
        .iter()
        .position(|o| matches!(o, Output::Audit(ev) if ev.event == EventKind::OpEnd));
    let cancel_at = outs
        .iter()
        .position(|o| matches!(o, Output::CancelRun { .. }));
    assert!(audit_at < cancel_at, "audited before it is stopped");
    assert_eq!(runs(&outs).len(), 1, "command 2 runs");
    assert_eq!(sh.node.counters().runs_cancelled, 2);
    // The cancelled exec's late answer counts for nothing (no second op.end).
    sh.node
        .handle_local(at + 20, h, ran[0].0, Local::Failed("killed".into()));
    assert!(drain(&mut sh.node).is_empty());
}

#[test]
fn an_empty_command_cancels_the_running_one_and_answers_at_once() {
    let mut sh = shell("mon-exec@mon", "mon-exec@mon", true);
    let at = NOW_MS + 1_000;
    let outs = sh.command(at, 1, &[exec("sleep")]);
    let (index, _) = runs(&outs)[0].clone();
    // Ctrl-C in `mon shell`: the next seq with no operations.
    let outs = sh.command(at + 10, 2, &[]);
    assert_eq!(cancelled(&outs), vec![index]);
    assert!(runs(&outs).is_empty(), "a cancel runs nothing");
    let r = sh.result(&outs, 2, 0);
    assert!(r.partials.is_empty());
    assert_eq!(sh.node.counters().commands_accepted, 2);
}

#[test]
fn execs_beyond_the_nodes_run_bound_are_denied_audited_and_counted() {
    let mut sh = shell_with("mon-exec@mon", "mon-exec@mon", true, NOW_MS, |c| {
        c.max_runs = 1
    });
    let at = NOW_MS + 1_000;
    let outs = sh.command(at, 1, &[exec("sleep"), exec("true"), load()]);
    let ran = runs(&outs);
    assert_eq!(ran.len(), 2, "one exec and the read run: {ran:?}");
    assert_eq!(audited(&outs, EventKind::OpDeny, RUNS_BUSY), 1);
    assert_eq!(sh.node.counters().runs_refused, 1);
    // The first exec answers: the result names this node as denying the second.
    let h = sh.cs.hash;
    sh.node.handle_local(at + 5, h, ran[0].0, Local::Skipped);
    sh.node.handle_local(at + 6, h, ran[1].0, Local::Value(0.5));
    let outs = drain(&mut sh.node);
    let r = sh.result(&outs, 1, 3);
    let denied = r.partials[1].coverage().denied;
    assert_eq!(denied.total(), 1, "{denied:?}");
    // Its run ended: the next command's exec runs again.
    let outs = sh.command(at + 10, 2, &[exec("true")]);
    assert_eq!(runs(&outs).len(), 1);
}

#[test]
fn a_duplicate_command_gets_its_result_again_at_most_once_an_rto_and_a_few_times() {
    let mut sh = shell("mon-query@mon", "mon-query@mon", true);
    let at = NOW_MS + 1_000;
    let outs = sh.command(at, 1, &[Query::Count]);
    sh.result(&outs, 1, 1);
    let h = sh.cs.hash;
    let cmd = Command::new(&h, 1, at, &[Query::Count], |m| sh.cs.cmd_key.sign(m));
    let mut sent = 0;
    // Ten copies at once, then ten more spread over many RTOs (within the session's 60 s).
    for i in 0..20u64 {
        let t = if i < 10 { at + 1 } else { at + 1 + i * 2_000 };
        let again = sealed_command(&mut sh.cs, cmd.clone());
        sh.node.handle_packet(t, CLIENT, &again.to_bytes());
        sent += to_client(&drain(&mut sh.node)).len();
    }
    assert_eq!(sent as u32, DUPLICATE_RESENDS);
    let c = sh.node.counters();
    assert_eq!(c.commands_duplicate, 20);
    assert_eq!(
        c.commands_duplicate_dropped,
        20 - u64::from(DUPLICATE_RESENDS)
    );
}

#[test]
fn an_interactive_session_ends_its_lifetime_after_its_signed_issue_time() {
    // Signed at NOW_MS with a 60 s lifetime, joined 9 s later.
    let mut sh = shell_with(
        "mon-query@mon",
        "mon-query@mon",
        true,
        NOW_MS + 9_000,
        |_| {},
    );
    let at = NOW_MS + 30_000;
    let outs = sh.command(at, 1, &[Query::Count]);
    sh.result(&outs, 1, 1);
    sh.node.handle_timeout(NOW_MS + 60_000);
    let outs = drain(&mut sh.node);
    assert_eq!(sh.node.session_count(), 0, "ended 60 s after it was signed");
    assert!(outs.iter().any(|o| matches!(o, Output::CloseClient(1))));
}

#[test]
fn interactive_sessions_are_bounded_in_lifetime_and_per_key() {
    let mut sh = shell_with("mon-query@mon", "mon-query@mon", true, NOW_MS, |c| {
        c.max_interactive_per_key = 1
    });
    // A second interactive session of the key: refused, retry later.
    let code = sh.join("mon-query@mon", true, 7, NOW_MS + 100).unwrap_err();
    assert_eq!(code, "busy-interactive");
    assert!(mon_proto::node::RETRY_LATER_CODES.contains(&code.as_str()));
    // A one-shot session of the key is not held to it.
    sh.join("mon-query@mon", false, 8, NOW_MS + 200).unwrap();

    // An interactive session asking for a one-shot session's longest lifetime.
    let user = SeedSigner::new([42; 32]);
    let (mut node, known, addr) = lone_node_with(
        policy(&allowed_signers(&user, "mon-query@mon", "", 0), None),
        |_| {},
    );
    let mut req = request(vec![Query::Count]);
    req.max_lifetime_s = mon_proto::verify::DEFAULT_MAX_LIFETIME_S;
    let mut rng = ChaCha20Rng::seed_from_u64(9);
    let mut cs =
        ClientSession::new_interactive(&mut rng, &user, req, Some("mon-query@mon"), NOW_MS)
            .unwrap();
    node.handle_packet(NOW_MS, CLIENT, &cs.session_packet().to_bytes());
    let answer = to_client(&drain(&mut node)).remove(0);
    match cs.on_answer(answer, addr, &known) {
        Err(ClientError::Denied { code, text, .. }) => {
            assert_eq!(code, "interactive-lifetime-too-long");
            assert!(text.contains(&INTERACTIVE_LIFETIME_S.to_string()), "{text}");
        }
        other => panic!("{other:?}"),
    }
    // What `mon shell` asks for is accepted by default.
    let mut req = request(vec![Query::Count]);
    req.max_lifetime_s = INTERACTIVE_LIFETIME_S;
    let mut cs =
        ClientSession::new_interactive(&mut rng, &user, req, Some("mon-query@mon"), NOW_MS)
            .unwrap();
    node.handle_packet(NOW_MS, CLIENT, &cs.session_packet().to_bytes());
    let answer = to_client(&drain(&mut node)).remove(0);
    cs.on_answer(answer, addr, &known).expect("admitted");
}

#[test]
fn a_command_is_decided_under_the_sessions_principal_exactly_or_denied() {
    use mon_proto::verify::{verify_command, Context, Limits};
    let user = SeedSigner::new([42; 32]);
    let p = policy(&allowed_signers(&user, "mon-query@mon", "", 0), None);
    let limits = Limits::default();
    let ctx = Context {
        now_ms: NOW_MS,
        node: "n1",
        client_addr: None,
        policy: Some(&p),
        limits: &limits,
    };
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    let cs = ClientSession::new_interactive(
        &mut rng,
        &user,
        request(vec![Query::Count]),
        Some("mon-query@mon"),
        NOW_MS,
    )
    .unwrap();
    let ops = [Query::Count];
    let decide = |principal: Option<&str>| {
        verify_command(&ctx, &cs.signed, &cs.body, principal, &ops)
            .map(|_| ())
            .map_err(|(r, _)| r.code())
    };
    // Admitted under its principal: decided under it.
    assert_eq!(decide(Some(common::PRINCIPAL)), Ok(()));
    // A session without a principal whose command the policy now decides under one (its key
    // listed under a principal since): denied, not decided under whichever principal fits.
    assert_eq!(decide(None), Err("principal-mismatch"));
}

#[test]
fn a_command_after_the_sessions_end_runs_nothing_even_before_the_timer() {
    // Signed at NOW_MS with a 60 s lifetime. The driver may hand the node a datagram
    // before it calls handle_timeout for the end (both ready at once): the lifetime must
    // hold at the Command itself, not only when the timer sweeps the session away.
    let mut sh = shell("mon-exec@mon", "mon-exec@mon", true);
    let outs = sh.command(NOW_MS + 30_000, 1, &[Query::Count]);
    sh.result(&outs, 1, 1);
    let late = NOW_MS + 61_000;
    assert!(sh.node.poll_timeout().is_some_and(|t| t <= late));
    let outs = sh.command(late, 2, &[exec("id")]);
    assert!(
        runs(&outs).is_empty(),
        "ran after the session's end: {outs:?}"
    );
    assert!(to_client(&outs).is_empty());
    assert_eq!(sh.node.counters().commands_accepted, 1);
}

/// A signed Command held back (a compromised relay keeps a captured one for a node that
/// joins late) and handed over after its own deadline (its signed `issued_at` plus the
/// session's timeout and the allowed clock skew) starts nothing: its exec is denied,
/// audited (`session-op-expired`) and counted; within the deadline it runs.
#[test]
fn a_command_handed_over_after_its_own_deadline_starts_nothing() {
    // A node allowing 1 s of clock skew: the deadline comes within the session's lifetime.
    let skew_ms = 1_000;
    let mut sh = shell_with("mon-exec@mon", "mon-exec@mon", true, NOW_MS, |c| {
        c.limits.skew_ms = skew_ms;
    });
    let issued = NOW_MS + 1_000;
    // 5 s: the session's timeout (tests/common `request`).
    let due = issued + 5_000 + skew_ms;
    let p = sh.cs.command_packet(1, issued, &[exec("true")]).unwrap();
    sh.node.handle_packet(due - 100, CLIENT, &p.to_bytes());
    let outs = drain(&mut sh.node);
    assert_eq!(runs(&outs).len(), 1, "within its deadline, command 1 runs");
    let p = sh.cs.command_packet(2, issued, &[exec("touch")]).unwrap();
    sh.node.handle_packet(due + 1_000, CLIENT, &p.to_bytes());
    let outs = drain(&mut sh.node);
    assert!(runs(&outs).is_empty(), "a held-back command ran");
    assert_eq!(audited(&outs, EventKind::OpDeny, "session-op-expired"), 1);
    assert_eq!(sh.node.counters().ops_expired, 1);
    let r = sh.result(&outs, 2, 1);
    assert_eq!(r.partials[0].coverage().denied.total(), 1);
}
