//! Unit tests of the session machine, without a whole node: a [`Session`] built by hand on a
//! real hop link to a test parent, driven through its methods with a [`Ctx`] of its own.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use mon_keys::frame::{Opener, Sealer};
use mon_keys::hop::{self, Initiator};
use mon_keys::known_nodes::KnownNodes;
use mon_keys::nodekey::NodeKey;
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;

use super::timers::Tick;
use super::{Child, ChildState, Ctx, ParentLink, Session};
use crate::agg::{Local, Partial, Query};
use crate::membership::{self, MemberId, Membership};
use crate::node::session::result::Opened;
use crate::node::{Counters, NodeConfig, Output, Peer};
use crate::roster::Roster;
use crate::wire::packet::{Inner, Packet};
use crate::wire::session::{
    OverlayKind, OverlaySpec, SessionBody, SessionHash, SignedSession, SESSION_VERSION,
};

pub(super) const HASH: SessionHash = [7; 32];
pub(super) const ME: &str = "n1";
pub(super) const PARENT: &str = "p0";
pub(super) const T0: u64 = 1_000_000;

/// Everything a session borrows from its node, owned by the test.
pub(super) struct World {
    cfg: NodeConfig,
    pub(super) out: VecDeque<Output>,
    pub(super) counters: Counters,
    roster: Roster,
    membership: Membership,
    runs: crate::node::runs::RunTable,
}

impl World {
    pub(super) fn new() -> World {
        let addr: SocketAddr = "127.0.0.1:7000".parse().expect("addr");
        let cfg = NodeConfig::server(ME, addr);
        let known = KnownNodes::parse("", Path::new("test")).expect("known_nodes");
        let me = MemberId {
            name: ME.into(),
            addr,
            key: [1; 32],
        };
        World {
            membership: Membership::new(me, 1, membership::Config::default(), 1),
            roster: Roster::from_known(&known),
            cfg,
            out: VecDeque::new(),
            counters: Counters::default(),
            runs: Default::default(),
        }
    }

    pub(super) fn cx(&mut self) -> Ctx<'_> {
        Ctx {
            cfg: &self.cfg,
            out: &mut self.out,
            counters: &mut self.counters,
            roster: &self.roster,
            membership: &self.membership,
            runs: &mut self.runs,
        }
    }
}

/// The parent's end of the session's first link.
pub(super) struct TestParent {
    pub(super) sealer: Sealer,
    pub(super) opener: Opener,
}

/// A count session on `ME` whose first parent is `parent` (a handshake really run), with
/// its deadline at `T0 + 1000`.
pub(super) fn session(parent: Peer) -> (Session, TestParent) {
    let mut rng = ChaCha20Rng::from_seed([3; 32]);
    let me_key = NodeKey::generate(&mut rng);
    let init = Initiator::new(&mut rng);
    let (hello, mut child_keys) =
        hop::respond(&mut rng, &me_key, &HASH, &init.public(), PARENT, ME).expect("respond");
    let mut parent_keys = init
        .finish(&HASH, PARENT, ME, &me_key.public(), &hello)
        .expect("finish");
    let (sealer, opener) = child_keys.channel(0).expect("child channel");
    let (p_sealer, p_opener) = parent_keys.channel(0).expect("parent channel");
    let body = SessionBody {
        v: SESSION_VERSION,
        ns: "mon-query@mon".into(),
        session_id: [9; 16].into(),
        slice: "s".into(),
        principal: None,
        key_fp: "SHA256:x".into(),
        issued_at: T0,
        expires_at: T0 + 10_000,
        max_lifetime_s: 60,
        timeout_ms: 5_000,
        client_eph: [0; 32].into(),
        cmd_key: [0; 32].into(),
        targets: vec!["*".into()],
        overlay: OverlaySpec {
            kind: OverlayKind::Random,
            fanout: 0,
            max_parents: 1,
            stage_one_hops: 0,
            max_depth: 0,
        },
        ops: vec![Query::Count],
        push: None,
        interactive: false,
    };
    let signed = SignedSession {
        v: SESSION_VERSION,
        body: body.to_bytes(),
        sshsig: Vec::new(),
    };
    let s = Session {
        local: vec![None],
        ops: body.ops.clone(),
        cmd: None,
        body: Arc::new(body),
        signed,
        principal: None,
        key_fp: "SHA256:x".into(),
        run_as: None,
        grep_paths: Vec::new(),
        targeted: true,
        level: 1,
        parent: ParentLink {
            name: PARENT.into(),
            peer: parent,
            sealer,
            opener,
            go: false,
            session_ok: Vec::new(),
        },
        extra_parents: Vec::new(),
        former_parents: Vec::new(),
        children: Vec::new(),
        local_started: false,
        started_ms: T0,
        go_by: T0 + 500,
        ok_sent_at: T0,
        ok_tries: 0,
        finish_by: T0 + 1_000,
        result_packet: None,
        result_sent_at: 0,
        result_tries: 0,
        result_acked: false,
        forget_at: None,
        client_gone: false,
        swept: false,
        rto_ms: 250,
        push: None,
    };
    let parent = TestParent {
        sealer: p_sealer,
        opener: p_opener,
    };
    (s, parent)
}

/// A child offered the session at `T0`, not answered yet.
fn offered(name: &str) -> Child {
    Child {
        name: name.into(),
        addr: "127.0.0.2:7000".parse().expect("addr"),
        key: [2; 32],
        rto_ms: 250,
        given_up_at: None,
        state: ChildState::Offered {
            initiator: None,
            packet: b"offer".to_vec(),
            packet_hash: [0; 32],
            sent_at: T0,
            tries: 0,
            prune_sig: None,
        },
    }
}

pub(super) fn parent_addr() -> Peer {
    Peer::Addr("127.0.0.9:7000".parse().expect("addr"))
}

/// The session with its go and its local count done.
fn ready_session(parent: Peer) -> (Session, TestParent) {
    let (mut s, p) = session(parent);
    s.parent.go = true;
    s.local_started = true;
    s.local[0] = Some(Partial::from_local(&Query::Count, ME, Local::Present));
    (s, p)
}

#[test]
fn the_result_waits_for_unsettled_children_until_the_deadline() {
    let mut w = World::new();
    let (mut s, _) = ready_session(parent_addr());
    s.children.push(offered("c1"));
    assert_eq!(s.ready_to_finish(T0 + 10, &HASH, &mut w.counters), None);
    // The deadline forces it, and the unanswered child is missing for good.
    assert_eq!(
        s.ready_to_finish(T0 + 1_000, &HASH, &mut w.counters),
        Some(true)
    );
    let r = s.subtree_result(T0 + 1_000, ME, &w.roster, &w.membership);
    let cov = r.partials[0].coverage();
    assert_eq!(cov.answered, 1);
    assert_eq!(cov.missing.entries().len(), 1);
    assert_eq!(cov.missing.entries()[0].node, "c1");
    assert!(matches!(s.children[0].state, ChildState::Missing { .. }));
}

#[test]
fn a_settled_child_lets_the_result_go_before_the_deadline() {
    let mut w = World::new();
    let (mut s, _) = ready_session(parent_addr());
    s.children.push(offered("c1"));
    s.children[0].state = ChildState::Denied {
        code: "policy".into(),
        text: "no".into(),
    };
    assert_eq!(
        s.ready_to_finish(T0 + 10, &HASH, &mut w.counters),
        Some(false)
    );
    let r = s.subtree_result(T0 + 10, ME, &w.roster, &w.membership);
    let cov = r.partials[0].coverage();
    assert_eq!(cov.denied.entries()[0].reason, "policy: no");
    assert_eq!(r.relayed, 0);
}

#[test]
fn without_a_go_nothing_is_sent_and_the_session_is_forgotten() {
    let mut w = World::new();
    let (mut s, _) = session(parent_addr());
    assert_eq!(s.ready_to_finish(T0 + 1_000, &HASH, &mut w.counters), None);
    assert_eq!(s.forget_at, Some(T0 + 1_000));
    assert!(matches!(
        s.tick(T0 + 1_000, 3, &mut w.counters),
        Tick::Forget
    ));
    assert!(w.out.is_empty());
    // The join window alone forgets it too, and says why.
    let (mut s, _) = session(parent_addr());
    assert!(matches!(s.tick(T0 + 500, 3, &mut w.counters), Tick::Forget));
    assert_eq!(w.counters.sessions_no_go, 1);
}

#[test]
fn the_parents_go_opens_and_frames_from_strangers_do_not() {
    let (mut s, mut p) = session(parent_addr());
    let go = p.sealer.seal(&Inner::Go.to_bytes()).expect("seal");
    match s.open_link_frame(parent_addr(), PARENT, &go) {
        Opened::Parent(plain) => assert!(matches!(Inner::from_bytes(&plain), Ok(Inner::Go))),
        _ => panic!("the parent's go did not open"),
    }
    // Replayed, from another address, or from a name the session does not know.
    assert!(matches!(
        s.open_link_frame(parent_addr(), PARENT, &go),
        Opened::Rejected
    ));
    let other = p.sealer.seal(&Inner::Go.to_bytes()).expect("seal");
    let elsewhere = Peer::Addr("127.0.0.8:7000".parse().expect("addr"));
    assert!(matches!(
        s.open_link_frame(elsewhere, PARENT, &other),
        Opened::Rejected
    ));
    assert!(matches!(
        s.open_link_frame(parent_addr(), "stranger", &other),
        Opened::Rejected
    ));
}

#[test]
fn the_result_is_sealed_to_the_parent_and_a_client_is_closed_after_it() {
    let mut w = World::new();
    let client = Peer::Client(5, "127.0.0.1".parse().expect("ip"));
    let (mut s, mut p) = ready_session(client);
    assert_eq!(
        s.ready_to_finish(T0 + 10, &HASH, &mut w.counters),
        Some(false)
    );
    let r = s.subtree_result(T0 + 10, ME, &w.roster, &w.membership);
    s.send_result(T0 + 10, HASH, r, &mut w.cx());
    assert_eq!(s.forget_at, Some(T0 + 10 + w.cfg.linger_ms));
    let Some(Output::Send { to, bytes }) = w.out.pop_front() else {
        panic!("no result sent");
    };
    assert_eq!(to, client);
    assert!(matches!(w.out.pop_front(), Some(Output::CloseClient(5))));
    let Ok(Packet::Sealed { frame, .. }) = Packet::from_bytes(&bytes, usize::MAX) else {
        panic!("not a sealed packet");
    };
    let plain = p.opener.open(&frame).expect("open");
    let Ok(Inner::Result(r)) = Inner::from_bytes(&plain) else {
        panic!("not a result");
    };
    assert_eq!(r.partials[0].coverage().answered, 1);
    // Sent once: the session does not finish again.
    assert_eq!(s.ready_to_finish(T0 + 2_000, &HASH, &mut w.counters), None);
}

#[test]
fn an_unacknowledged_result_goes_again_past_the_retries_backing_off() {
    let mut w = World::new();
    let (mut s, _) = ready_session(parent_addr());
    assert_eq!(
        s.ready_to_finish(T0 + 10, &HASH, &mut w.counters),
        Some(false)
    );
    let r = s.subtree_result(T0 + 10, ME, &w.roster, &w.membership);
    s.send_result(T0 + 10, HASH, r, &mut w.cx());
    let first = match w.out.pop_front() {
        Some(Output::Send { bytes, .. }) => bytes,
        _ => panic!("no result sent"),
    };
    // Every copy lost: with 2 retries, the result used to go three times in all; it now goes
    // on (the parent waits for it until its own deadline, seconds later), backing off.
    let mut sends = vec![T0 + 10];
    let mut now = T0 + 10;
    while now < T0 + 4_000 {
        now += 10;
        let Tick::Resend(again) = s.tick(now, 2, &mut w.counters) else {
            panic!("forgotten at {now}");
        };
        for (to, bytes) in again {
            assert_eq!((to, &bytes), (parent_addr(), &first));
            sends.push(now);
        }
    }
    assert!(sends.len() >= 6, "result sent at {sends:?}");
    let gaps: Vec<u64> = sends.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(gaps.windows(2).all(|g| g[1] >= g[0]), "gaps {gaps:?}");
    assert!(gaps.last() > gaps.first(), "backs off: {gaps:?}");
    // Once acknowledged, it stops.
    s.result_acked = true;
    assert!(matches!(s.tick(now + 20, 2, &mut w.counters), Tick::Resend(v) if v.is_empty()));
}

#[test]
fn unanswered_offers_are_sent_again_then_missing() {
    let mut w = World::new();
    let (mut s, _) = ready_session(parent_addr());
    s.children.push(offered("c1"));
    let mut now = T0;
    for _ in 0..2 {
        now += 250;
        let Tick::Resend(again) = s.tick(now, 2, &mut w.counters) else {
            panic!("forgotten");
        };
        assert_eq!(again.len(), 1);
    }
    now += 250;
    let Tick::Resend(again) = s.tick(now, 2, &mut w.counters) else {
        panic!("forgotten");
    };
    assert!(again.is_empty());
    assert!(matches!(
        &s.children[0].state,
        ChildState::Missing { why, .. } if why == super::result::NO_ANSWER
    ));
    // Given up now: the node stops picking it as a child (it leaves the membership).
    assert!(s.children[0].unanswered_at(now) && !s.children[0].unanswered_at(now + 1));
}

#[test]
fn the_go_starts_the_operations_once_and_audits_an_exec_before_running_it() {
    let mut w = World::new();
    let (mut s, _) = session(parent_addr());
    let exec = Query::Exec {
        argv: vec!["true".into()],
        shell: false,
        timeout_s: 5,
        where_: None,
    };
    let mut body = (*s.body).clone();
    body.ops = vec![Query::Count, exec];
    s.ops = body.ops.clone();
    s.body = Arc::new(body);
    s.local = vec![None, None];
    assert!(matches!(
        s.take_go(T0 + 100, HASH, &mut w.cx()),
        super::result::Go::Started
    ));
    // The count is known at once; the exec is audited, then handed to the driver.
    assert!(s.local[0].is_some() && s.local[1].is_none());
    assert!(matches!(w.out.pop_front(), Some(Output::Audit(_))));
    let Some(Output::Run(r)) = w.out.pop_front() else {
        panic!("no run request");
    };
    assert_eq!((r.index, r.timeout_ms), (1, 900));
    assert!(w.out.is_empty());
    // Its result completes the session; a second go changes nothing.
    assert!(s.local_result(T0 + 200, 1, Local::Present, &mut w.cx()));
    assert!(matches!(w.out.pop_front(), Some(Output::Audit(_))));
    assert!(s.complete());
    assert!(matches!(
        s.take_go(T0 + 300, HASH, &mut w.cx()),
        super::result::Go::Ignored
    ));
    assert!(!s.local_result(T0 + 300, 1, Local::Present, &mut w.cx()));
    assert!(w.out.is_empty());
}

#[test]
fn without_its_go_a_node_repeats_its_session_ok_to_its_parent_node_only() {
    let mut w = World::new();
    let (mut s, _) = session(parent_addr());
    s.parent.session_ok = b"ok".to_vec();
    s.go_by = T0 + 5_000;
    let mut now = T0;
    for _ in 0..3 {
        now += 250;
        let Tick::Resend(again) = s.tick(now, 3, &mut w.counters) else {
            panic!("forgotten");
        };
        assert_eq!(again, vec![(parent_addr(), b"ok".to_vec())]);
    }
    // Then less often, and never once the go came.
    now += 250;
    assert!(matches!(s.tick(now, 3, &mut w.counters), Tick::Resend(v) if v.is_empty()));
    now += 250;
    assert!(matches!(s.tick(now, 3, &mut w.counters), Tick::Resend(v) if v.len() == 1));
    let (mut s, _) = session(parent_addr());
    s.parent.session_ok = b"ok".to_vec();
    s.parent.go = true;
    assert!(matches!(s.tick(T0 + 250, 3, &mut w.counters), Tick::Resend(v) if v.is_empty()));
    // A client's go comes on its stream: nothing is repeated to it.
    let client = Peer::Client(5, "127.0.0.1".parse().expect("ip"));
    let (mut s, _) = session(client);
    s.parent.name = mon_keys::hop::CLIENT_NAME.into();
    s.parent.session_ok = b"ok".to_vec();
    assert!(matches!(s.tick(T0 + 250, 3, &mut w.counters), Tick::Resend(v) if v.is_empty()));
}

/// A child `c1` offered at `T0` with a real handshake, and the SessionOk hello it answers.
fn offered_with_handshake() -> (Child, hop::ChildHello) {
    let mut rng = ChaCha20Rng::from_seed([4; 32]);
    let child_key = NodeKey::generate(&mut rng);
    let init = Initiator::new(&mut rng);
    let (hello, _) =
        hop::respond(&mut rng, &child_key, &HASH, &init.public(), ME, "c1").expect("respond");
    let mut c = offered("c1");
    c.key = child_key.public();
    if let ChildState::Offered { initiator, .. } = &mut c.state {
        *initiator = Some(Box::new(init));
    }
    (c, hello)
}

#[test]
fn a_child_given_up_for_no_answer_is_linked_by_its_late_session_ok() {
    let mut w = World::new();
    let (mut s, _) = ready_session(parent_addr());
    let (c, hello) = offered_with_handshake();
    s.children.push(c);
    let mut now = T0;
    for _ in 0..3 {
        now += 250;
        let _ = s.tick(now, 2, &mut w.counters);
    }
    assert!(matches!(
        &s.children[0].state,
        ChildState::Missing { why, .. } if why == super::result::NO_ANSWER
    ));
    // Its SessionOk comes late (it was busy, or its answers were lost): linked, and its go
    // goes out; the result waits for its subtree again.
    assert!(s
        .child_ok(HASH, "c1", Some(hello), false, &mut w.cx())
        .is_some());
    assert!(matches!(
        s.children[0].state,
        ChildState::Linked { result: None, .. }
    ));
    assert!(matches!(w.out.pop_front(), Some(Output::Send { .. })));
    assert!(!s.complete());
}

#[test]
fn once_the_result_went_up_a_late_session_ok_changes_nothing() {
    let mut w = World::new();
    let (mut s, _) = ready_session(parent_addr());
    let (c, hello) = offered_with_handshake();
    s.children.push(c);
    let mut now = T0;
    for _ in 0..3 {
        now += 250;
        let _ = s.tick(now, 2, &mut w.counters);
    }
    s.result_packet = Some(b"result".to_vec());
    let _ = s.child_ok(HASH, "c1", Some(hello), false, &mut w.cx());
    assert!(matches!(s.children[0].state, ChildState::Missing { .. }));
    assert!(w.out.is_empty());
}
