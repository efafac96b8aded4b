//! PolicyStore: load all slices, keep the last good policy on a broken edit, reload fixes,
//! deny everything for a slice that never loaded.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;

use common::*;
use mon_policy::{Decision, PolicyStore, Reason, StoreEvent};

fn decide(store: &PolicyStore, slice: &str, key: &Key) -> Decision {
    let op = query();
    store.evaluate(slice, &req(&key.public, None, &op))
}

fn loaded(events: &[StoreEvent]) -> Vec<&str> {
    events
        .iter()
        .filter_map(|e| match e {
            StoreEvent::Loaded { slice, .. } => Some(slice.as_str()),
            _ => None,
        })
        .collect()
}

fn errored(events: &[StoreEvent]) -> Vec<&str> {
    events
        .iter()
        .filter_map(|e| match e {
            StoreEvent::Error { slice, .. } => Some(slice.as_str()),
            _ => None,
        })
        .collect()
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
}

#[test]
fn broken_edit_keeps_last_good_policy_and_fix_is_picked_up() {
    let tmp = tempfile::tempdir().unwrap();
    let keys = tempfile::tempdir().unwrap();
    let alice = keygen(keys.path(), "alice");
    let bob = keygen(keys.path(), "bob");
    let root = tmp.path().join("slices");
    std::fs::create_dir(&root).unwrap();
    let lab = slice_dir(
        &root,
        "lab",
        Some(&format!("alice {}\n", alice.line)),
        None,
        None,
    );
    slice_dir(&root, "broken", Some("alice ssh-rsa AAAA\n"), None, None);
    slice_dir(&root, "empty", None, None, None);
    std::fs::create_dir(root.join(".hidden")).unwrap();

    let (mut store, events) = PolicyStore::open(&root);
    assert_eq!(loaded(&events), vec!["lab"]);
    assert_eq!(errored(&events), vec!["broken", "empty"]);
    match events
        .iter()
        .find(|e| matches!(e, StoreEvent::Loaded { .. }))
    {
        Some(StoreEvent::Loaded { files, .. }) => {
            assert_eq!(files, &vec![lab.join("allowed_signers")])
        }
        other => panic!("{other:?}"),
    }
    let Some(StoreEvent::Error { diagnostics, .. }) = events
        .iter()
        .find(|e| matches!(e, StoreEvent::Error { slice, .. } if slice == "broken"))
    else {
        panic!("no error event for the broken slice: {events:?}");
    };
    assert!(
        diagnostics[0]
            .to_string()
            .contains("allowed_signers:1:7: error: MON needs Ed25519 keys"),
        "{diagnostics:?}"
    );
    assert_eq!(store.slices(), vec!["lab"]);
    assert!(decide(&store, "lab", &alice).allowed);
    assert_eq!(decide(&store, "broken", &alice).reason, Reason::NoPolicy);
    assert_eq!(decide(&store, "nope", &alice).reason, Reason::NoPolicy);

    // Nothing changed: nothing happens.
    assert_eq!(store.reload_if_changed(), vec![]);

    // A broken edit (an unknown mon_policy option) is rejected whole; alice keeps access.
    write(&lab.join("allowed_signers"), &format!("bob {}\n", bob.line));
    write(&lab.join("mon_policy"), "bob frobnicate=\"yes\"\n");
    let events = store.reload_if_changed();
    assert_eq!(errored(&events), vec!["lab"]);
    assert!(loaded(&events).is_empty());
    assert!(
        decide(&store, "lab", &alice).allowed,
        "last good policy stays"
    );
    assert_eq!(decide(&store, "lab", &bob).reason, Reason::KeyNotListed);
    // The same broken content is not reported again and again.
    assert!(errored(&store.reload_if_changed()).is_empty());

    // The fix is picked up without a restart.
    write(&lab.join("mon_policy"), "bob run-as=\"bob\"\n");
    let events = store.reload_if_changed();
    assert_eq!(loaded(&events), vec!["lab"]);
    assert_eq!(decide(&store, "lab", &alice).reason, Reason::KeyNotListed);
    let d = decide(&store, "lab", &bob);
    assert!(d.allowed, "{}", d.message);
    assert_eq!(d.run_as.as_deref(), Some("bob"));

    // The broken slice is fixed; a new slice appears.
    write(
        &root.join("broken/allowed_signers"),
        &format!("alice {}\n", alice.line),
    );
    slice_dir(
        &root,
        "new",
        Some(&format!("bob {}\n", bob.line)),
        None,
        None,
    );
    let events = store.reload_if_changed();
    let mut l = loaded(&events);
    l.sort();
    assert_eq!(l, vec!["broken", "new"]);
    assert!(decide(&store, "broken", &alice).allowed);
    assert_eq!(store.slices(), vec!["broken", "lab", "new"]);

    // A removed slice directory loses its policy.
    std::fs::remove_dir_all(&lab).unwrap();
    let events = store.reload_if_changed();
    assert_eq!(errored(&events), vec!["lab"]);
    assert_eq!(decide(&store, "lab", &bob).reason, Reason::NoPolicy);

    // Deleting allowed_signers of a loaded slice is an error: the last good policy stays.
    std::fs::remove_file(root.join("new/allowed_signers")).unwrap();
    let events = store.reload_if_changed();
    assert_eq!(errored(&events), vec!["new"]);
    assert!(decide(&store, "new", &bob).allowed);
}

#[test]
fn same_size_rewrite_within_one_clock_tick_is_seen() {
    // File times are coarse: two writes of the same size in one tick keep mtime and size.
    // The store re-reads recently modified files, so the second write is not missed.
    let tmp = tempfile::tempdir().unwrap();
    let keys = tempfile::tempdir().unwrap();
    let alice = keygen(keys.path(), "alice");
    let root = tmp.path();
    let s = slice_dir(
        root,
        "s",
        Some(&format!("alice {}\n", alice.line)),
        None,
        None,
    );
    let (mut store, _) = PolicyStore::open(root);
    assert!(decide(&store, "s", &alice).allowed);
    write(
        &s.join("allowed_signers"),
        &format!("alicX {}\n", alice.line),
    );
    let events = store.reload_if_changed();
    assert_eq!(loaded(&events), vec!["s"]);
    let op = query();
    let p = store.get("s").unwrap();
    assert_eq!(p.find_principals(&alice.public, NOW), vec!["alicX"]);
    assert!(
        p.evaluate(&req(&alice.public, Some("alice"), &op)).reason == Reason::PrincipalMismatch
    );
}

#[test]
fn unreadable_root_keeps_policies() {
    let tmp = tempfile::tempdir().unwrap();
    let (store, events) = PolicyStore::open(&tmp.path().join("missing"));
    assert_eq!(errored(&events), vec![""]);
    assert!(store.slices().is_empty());
}

#[test]
fn a_missing_root_is_reported_once_until_it_comes_and_goes_again() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("slices");
    let (mut store, events) = PolicyStore::open(&root);
    assert_eq!(errored(&events), vec![""]);
    for _ in 0..3 {
        assert!(store.reload_if_changed().is_empty(), "reported again");
    }
    std::fs::create_dir(&root).unwrap();
    assert!(store.reload_if_changed().is_empty());
    std::fs::remove_dir(&root).unwrap();
    assert_eq!(errored(&store.reload_if_changed()), vec![""]);
    assert!(store.reload_if_changed().is_empty());
}
