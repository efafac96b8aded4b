//! A node's Deny must always reach the client as a readable Deny, whatever the denied
//! session contained: reason texts that quote user input (a long exec command line with
//! non-ASCII characters) are cut to the packet's limit at a character boundary.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::{IpAddr, Ipv4Addr};

use common::{allowed_signers, lone_node, policy, session, SeedSigner, NOW_MS};
use mon_proto::agg::Query;
use mon_proto::client::ClientError;
use mon_proto::node::{Output, Peer};
use mon_proto::wire::packet::{Packet, MAX_STREAM_PACKET};

#[test]
fn deny_quoting_a_long_non_ascii_command_still_decodes() {
    let user = SeedSigner::new([42; 32]);
    let p = policy(
        &allowed_signers(&user, "mon-*@mon", "", 0),
        Some("alice@lab command=\"uptime\"\n"),
    );
    let (mut node, known, addr) = lone_node(p);

    // 700 two-byte characters: the policy's message quotes all of them.
    let exec = Query::Exec {
        argv: vec!["é".repeat(700)],
        shell: false,
        timeout_s: 5,
        where_: None,
    };
    let mut cs = session(&user, vec![exec], NOW_MS, 3);
    let client = Peer::Client(1, IpAddr::V4(Ipv4Addr::LOCALHOST));
    node.handle_packet(NOW_MS, client, &cs.session_packet().to_bytes());
    let sent: Vec<Vec<u8>> = std::iter::from_fn(|| node.poll_output())
        .filter_map(|o| match o {
            Output::Send { to, bytes } if to == client => Some(bytes),
            _ => None,
        })
        .collect();
    assert_eq!(sent.len(), 1);
    let answer = Packet::from_bytes(&sent[0], MAX_STREAM_PACKET).expect("a decodable Deny");
    match cs.on_answer(answer, addr, &known) {
        Err(ClientError::Denied { code, text, node }) => {
            assert_eq!(code, "command-denied");
            assert_eq!(node, "n1");
            assert!(text.starts_with("command \"é"), "{text}");
        }
        other => panic!("expected the denial, got {other:?}"),
    }
}
