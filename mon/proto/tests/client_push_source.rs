//! The client as a push source, driven in process without sockets: a stand-in entry node
//! answers the Session, requests blocks on the push channel, reports progress and returns
//! the result; the [`PushSource`] serves, pings, and finishes (issue 11, item 4).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;

use common::{request, SeedSigner, NOW_MS};
use mon_keys::frame::{Opener, Sealer};
use mon_keys::hop::{respond, CLIENT_NAME};
use mon_keys::known_nodes::KnownNodes;
use mon_keys::nodekey::NodeKey;
use mon_proto::agg::{Partial, Query};
use mon_proto::client::finish::PushSummary;
use mon_proto::client::push_source::{SourceEvent, RESULT_GRACE_MS};
use mon_proto::client::{ClientError, ClientSession, PushSource};
use mon_proto::push::ends::{End, NodeEnd};
use mon_proto::push::msg::{PushMsg, PING_MS, PUSH_CHANNEL};
use mon_proto::push::{build_manifest, verify_block, BitSet};
use mon_proto::roster::Roster;
use mon_proto::wire::packet::{Inner, Packet, SubtreeResult};
use mon_proto::wire::session::Manifest;
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;

/// The entry node's ends of the two channels.
struct Entry {
    link: (Sealer, Opener),
    push: (Sealer, Opener),
    hash: [u8; 32],
}

impl Entry {
    fn seal(&mut self, channel: u8, plain: &[u8]) -> Packet {
        let sealer = if channel == PUSH_CHANNEL {
            &mut self.push.0
        } else {
            &mut self.link.0
        };
        Packet::Sealed {
            session_hash: self.hash.into(),
            from: "n1".into(),
            channel,
            frame: sealer.seal(plain).unwrap(),
        }
    }

    fn open_push(&mut self, p: &Packet) -> PushMsg {
        let Packet::Sealed { frame, channel, .. } = p else {
            panic!("not sealed: {p:?}");
        };
        assert_eq!(*channel, PUSH_CHANNEL);
        PushMsg::from_bytes(&self.push.1.open(frame).unwrap()).unwrap()
    }
}

fn data() -> Vec<u8> {
    (0..20_000u32).map(|i| (i * 31 + i / 7) as u8).collect()
}

/// A signed push session whose handshake with a stand-in entry `n1` is done.
fn handshake() -> (ClientSession, Entry, Manifest, KnownNodes) {
    let mut rng = ChaCha20Rng::seed_from_u64(7);
    let user = SeedSigner::new([42; 32]);
    let d = data();
    let m = build_manifest("f", &d[..], d.len() as u64, 0o644, 4096, "/srv/f").unwrap();
    let mut req = request(vec![Query::Count]);
    req.push = Some(m.clone());
    let mut cs = ClientSession::new(&mut rng, &user, req, NOW_MS).unwrap();
    let key = NodeKey::generate(&mut rng);
    let known = format!("n1,127.0.0.2 {}\n", key.public_openssh());
    let known = KnownNodes::parse(&known, Path::new("known_nodes")).unwrap();
    let (hello, mut keys) = respond(
        &mut rng,
        &key,
        &cs.hash,
        &cs.body.client_eph,
        CLIENT_NAME,
        "n1",
    )
    .unwrap();
    let ok = Packet::SessionOk {
        session_hash: cs.hash.into(),
        child: "n1".into(),
        e_c: hello.e_c.into(),
        sig: hello.sig.into(),
        confirm: hello.confirm.to_vec(),
        extra: false,
    };
    let addr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)), 7460);
    cs.on_answer(ok, addr, &known).unwrap();
    let entry = Entry {
        link: keys.channel(0).unwrap(),
        push: keys.channel(u64::from(PUSH_CHANNEL)).unwrap(),
        hash: cs.hash,
    };
    (cs, entry, m, known)
}

#[test]
fn the_source_serves_requested_blocks_pings_and_finishes() {
    let (cs, mut entry, m, known) = handshake();
    let mut src = PushSource::start(cs, &m, 0).unwrap();
    let advert = src.poll_transmit().unwrap();
    assert_eq!(
        entry.open_push(&advert),
        PushMsg::Advert(BitSet::full(5).to_bytes())
    );
    assert!(src.poll_transmit().is_none());

    // A request: the source asks for the bytes, then sends the block.
    src.handle_packet(entry.seal(PUSH_CHANNEL, &PushMsg::Request(4).to_bytes()))
        .unwrap();
    let Some(SourceEvent::ReadBlock { index, offset, len }) = src.poll_event() else {
        panic!("no read");
    };
    assert_eq!((index, offset, len), (4, 16_384, 20_000 - 16_384));
    let d = data();
    let bytes = d[offset as usize..(offset + len) as usize].to_vec();
    src.block_read(index, bytes).unwrap();
    let PushMsg::Block(4, got) = entry.open_push(&src.poll_transmit().unwrap()) else {
        panic!("no block");
    };
    verify_block(&m, 4, &got).unwrap();
    assert_eq!(src.served(), len);

    // A request past the end is ignored; progress is reported.
    src.handle_packet(entry.seal(PUSH_CHANNEL, &PushMsg::Request(5).to_bytes()))
        .unwrap();
    src.handle_packet(entry.seal(PUSH_CHANNEL, &PushMsg::Progress(3).to_bytes()))
        .unwrap();
    assert!(matches!(src.poll_event(), Some(SourceEvent::Progress(3))));
    assert!(src.poll_event().is_none());
    // Which nodes finished, as the entry reports them.
    let ends = vec![NodeEnd {
        node: "n2".into(),
        end: End::Failed("no-space".into()),
    }];
    src.handle_packet(entry.seal(PUSH_CHANNEL, &PushMsg::Ended(ends.clone()).to_bytes()))
        .unwrap();
    assert!(matches!(src.poll_event(), Some(SourceEvent::Ended(e)) if e == ends));
    assert!(src.poll_event().is_none());

    // Keepalive.
    assert_eq!(src.poll_timeout(), Some(PING_MS));
    src.handle_timeout(PING_MS).unwrap();
    assert_eq!(
        entry.open_push(&src.poll_transmit().unwrap()),
        PushMsg::Ping
    );

    // The result on channel 0: acknowledged, then summarised against the roster.
    let mut p = Partial::empty(&Query::Count);
    p.add_failed("n1", "disk full");
    let r = SubtreeResult {
        relayed: 0,
        partials: vec![p],
        roster: Some(Roster::from_known(&known).digest().into()),
        reached: vec![0],
        members: vec![],
        seq: 0,
    };
    src.handle_packet(entry.seal(0, &Inner::Result(r).to_bytes()))
        .unwrap();
    let Some(SourceEvent::Result(r)) = src.poll_event() else {
        panic!("no result");
    };
    let Packet::Sealed {
        channel: 0, frame, ..
    } = src.poll_transmit().unwrap()
    else {
        panic!("no ack");
    };
    let ack = Inner::from_bytes(&entry.link.1.open(&frame).unwrap()).unwrap();
    assert!(matches!(ack, Inner::ResultAck));
    assert_eq!(src.poll_timeout(), None);
    let sum = PushSummary::from_result(*r, &Roster::from_known(&known), &["*".into()]).unwrap();
    assert_eq!(sum.failed, vec![("n1".into(), "disk full".into())]);
    assert!(
        sum.missing.is_empty(),
        "a node named as failed is not missing too"
    );
    assert!(!sum.complete());
}

#[test]
fn a_child_message_or_a_late_result_ends_the_push() {
    let (cs, mut entry, m, _) = handshake();
    let timeout = u64::from(cs.body.timeout_ms);
    let mut src = PushSource::start(cs, &m, 0).unwrap();
    let have = entry.seal(PUSH_CHANNEL, &PushMsg::Have(1).to_bytes());
    let e = src.handle_packet(have).unwrap_err();
    assert!(matches!(e, ClientError::NotAChildMessage(_)));
    assert_eq!(
        e.to_string(),
        "the entry node sent Have(1), which only a parent may send"
    );
    let deadline = timeout + RESULT_GRACE_MS;
    assert!(src.handle_timeout(deadline - 1).is_ok());
    assert!(matches!(
        src.handle_timeout(deadline),
        Err(ClientError::NoResult)
    ));
}
