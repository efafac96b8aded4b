#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;

use proptest::prelude::*;

use super::*;
use crate::push::msg::PushMsg;

fn done(node: &str) -> NodeEnd {
    NodeEnd {
        node: node.into(),
        end: End::Done,
    }
}

#[test]
fn reports_are_bounded_and_the_rest_comes_in_the_next() {
    let mut log = EndLog::new();
    for i in 0..(2 * MAX_ENDS_PER_MSG + 3) {
        assert!(log.record(done(&format!("n{i}"))));
    }
    let a = log.take().unwrap();
    let b = log.take().unwrap();
    let c = log.take().unwrap();
    assert_eq!(
        (a.len(), b.len(), c.len()),
        (MAX_ENDS_PER_MSG, MAX_ENDS_PER_MSG, 3)
    );
    assert_eq!(a[0].node, "n0");
    assert_eq!(c[2].node, format!("n{}", 2 * MAX_ENDS_PER_MSG + 2));
    assert!(log.take().is_none());
    // Each report decodes: the bound is one the decoder takes.
    for r in [a, b, c] {
        let m = PushMsg::Ended(r);
        assert_eq!(PushMsg::from_bytes(&m.to_bytes()).unwrap(), m);
    }
}

#[test]
fn a_node_is_reported_once_and_a_full_log_counts_what_it_refuses() {
    let mut log = EndLog::new();
    assert!(log.record(done("n1")));
    assert!(!log.record(NodeEnd {
        node: "n1".into(),
        end: End::Failed("io".into()),
    }));
    assert_eq!(log.take().unwrap(), vec![done("n1")]);
    // Reported already: a later report naming it again adds nothing.
    assert_eq!(log.merge(vec![done("n1"), done("n2")]), 1);
    assert_eq!(log.take().unwrap(), vec![done("n2")]);

    let mut full = EndLog::new();
    for i in 0..MAX_ENDS_TRACKED {
        full.seen.insert(format!("x{i}"));
    }
    assert!(!full.record(done("late")));
    assert_eq!(full.dropped(), 1);
    assert!(!full.has_pending());
}

#[test]
fn failure_codes_come_from_the_reason() {
    assert_eq!(failure_code("no-space: disk full"), "no-space");
    assert_eq!(failure_code("where: no such resource"), "where");
    assert_eq!(failure_code("Weird reason"), GENERIC_FAILURE);
    assert_eq!(failure_code("Bad Code: x"), GENERIC_FAILURE);
    assert_eq!(of_local(false, &Local::Present), None);
    assert_eq!(of_local(true, &Local::Present), Some(End::Done));
    assert_eq!(of_local(true, &Local::Skipped), Some(End::Skipped));
    assert_eq!(
        of_local(true, &Local::Failed("io: read error".into())),
        Some(End::Failed("io".into()))
    );
}

/// One step of a relay tree's life: a node finishes, or a node sends its report up.
#[derive(Clone, Debug)]
enum Step {
    Finish(usize),
    Report(usize),
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    /// A tree of relays (node i's result parent is `parent[i]`, node 0 is the entry, whose
    /// reports go to the client): whatever the order of finishes and reports, every report
    /// is within the bound and decodes, no node reaches the client twice, and once every
    /// pending report is flushed (as before a result), every node has reached it.
    #[test]
    fn relays_merge_reports_and_lose_nothing(
        parents in proptest::collection::vec(any::<prop::sample::Index>(), 1..40),
        steps in proptest::collection::vec(
            prop_oneof![
                any::<prop::sample::Index>().prop_map(|i| Step::Finish(i.index(1 << 16))),
                any::<prop::sample::Index>().prop_map(|i| Step::Report(i.index(1 << 16))),
            ],
            0..80,
        ),
        fan in 1usize..300,
    ) {
        // Node i > 0 hangs below some node < i; each finish names `fan` nodes (a relay that
        // learnt a whole subtree at once), so reports overflow the bound.
        let n = parents.len() + 1;
        let parent: Vec<usize> = std::iter::once(0)
            .chain(parents.iter().enumerate().map(|(i, x)| x.index(i + 1)))
            .collect();
        let mut logs: Vec<EndLog> = (0..n).map(|_| EndLog::new()).collect();
        let mut at_client: Vec<String> = Vec::new();
        let mut finished: BTreeSet<String> = BTreeSet::new();
        let send = |logs: &mut Vec<EndLog>, at_client: &mut Vec<String>, i: usize| {
            if let Some(r) = logs[i].take() {
                prop_assert!(r.len() <= MAX_ENDS_PER_MSG);
                let m = PushMsg::Ended(r);
                let PushMsg::Ended(r) = PushMsg::from_bytes(&m.to_bytes()).unwrap() else {
                    unreachable!()
                };
                if i == 0 {
                    at_client.extend(r.into_iter().map(|e| e.node));
                } else {
                    logs[parent[i]].merge(r);
                }
            }
            Ok(())
        };
        for s in &steps {
            match *s {
                Step::Finish(i) => {
                    let i = i % n;
                    for k in 0..fan {
                        let name = format!("n{i}-{k}");
                        finished.insert(name.clone());
                        logs[i].record(done(&name));
                    }
                }
                Step::Report(i) => send(&mut logs, &mut at_client, i % n)?,
            }
        }
        let distinct: BTreeSet<String> = at_client.iter().cloned().collect();
        prop_assert_eq!(distinct.len(), at_client.len(), "a node reached the client twice");
        // Flush bottom-up (children have higher indices than their parents).
        for i in (0..n).rev() {
            while logs[i].has_pending() {
                send(&mut logs, &mut at_client, i)?;
            }
        }
        let got: BTreeSet<String> = at_client.iter().cloned().collect();
        prop_assert_eq!(got.len(), at_client.len());
        prop_assert_eq!(got, finished);
    }
}
