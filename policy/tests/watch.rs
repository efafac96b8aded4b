//! FileWatch: the inotify watch that tells a server when to look at its policy files again
//! (instead of a stat loop). Each test edits the files the way an operator or a tool does and
//! checks that the watch says "changed" and that the store then picks the change up; and
//! that reading the files (the store's own reload) raises nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;

use common::*;
use mon_policy::{FileWatch, PolicyStore, Reason, StoreEvent};

fn loaded(events: &[StoreEvent]) -> Vec<&str> {
    events
        .iter()
        .filter_map(|e| match e {
            StoreEvent::Loaded { slice, .. } => Some(slice.as_str()),
            _ => None,
        })
        .collect()
}

fn allowed(store: &PolicyStore, slice: &str, key: &Key) -> bool {
    let op = query();
    store.evaluate(slice, &req(&key.public, None, &op)).allowed
}

/// Writes `text` to a temporary file beside `path` and renames it over `path` (an editor's
/// atomic save).
fn rename_in(path: &Path, text: &str) {
    let tmp = path.with_file_name(".tmp-save");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// The store, and a watch over its paths with no event pending.
fn watched(root: &Path) -> (PolicyStore, FileWatch) {
    let (store, _) = PolicyStore::open(root);
    let mut watch = FileWatch::new(&store.watch_paths()).expect("inotify");
    let _ = watch.take_changes().unwrap();
    (store, watch)
}

#[test]
fn a_file_renamed_into_a_slice_is_seen_and_reading_raises_nothing() {
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
    let (mut store, mut watch) = watched(&root);
    assert!(allowed(&store, "lab", &alice));

    // The store reading its files (every file, again: they are recent) is not a change.
    let _ = store.reload_if_changed();
    assert!(!watch.take_changes().unwrap(), "reading raised an event");

    rename_in(&lab.join("allowed_signers"), &format!("bob {}\n", bob.line));
    assert!(watch.take_changes().unwrap(), "rename-in not seen");
    assert_eq!(loaded(&store.reload_if_changed()), vec!["lab"]);
    assert!(allowed(&store, "lab", &bob));
    assert!(!allowed(&store, "lab", &alice));

    // The watch still follows the new file after a rewatch: an in-place edit of it.
    watch.rewatch(&store.watch_paths()).unwrap();
    std::fs::write(
        lab.join("allowed_signers"),
        format!("alice {}\n", alice.line),
    )
    .unwrap();
    assert!(watch.take_changes().unwrap(), "in-place edit not seen");
    assert_eq!(loaded(&store.reload_if_changed()), vec!["lab"]);
    assert!(allowed(&store, "lab", &alice));
}

#[test]
fn a_new_slice_and_a_deleted_one_are_seen() {
    let tmp = tempfile::tempdir().unwrap();
    let keys = tempfile::tempdir().unwrap();
    let alice = keygen(keys.path(), "alice");
    let root = tmp.path().join("slices");
    std::fs::create_dir(&root).unwrap();
    let (mut store, mut watch) = watched(&root);

    // A slice directory made empty first, its file written into it afterwards.
    let ops = root.join("ops");
    std::fs::create_dir(&ops).unwrap();
    assert!(
        watch.take_changes().unwrap(),
        "new slice directory not seen"
    );
    let _ = store.reload_if_changed();
    watch.rewatch(&store.watch_paths()).unwrap();
    std::fs::write(
        ops.join("allowed_signers"),
        format!("alice {}\n", alice.line),
    )
    .unwrap();
    assert!(
        watch.take_changes().unwrap(),
        "file in the new slice not seen"
    );
    assert_eq!(loaded(&store.reload_if_changed()), vec!["ops"]);
    watch.rewatch(&store.watch_paths()).unwrap();

    std::fs::remove_dir_all(&ops).unwrap();
    assert!(watch.take_changes().unwrap(), "removed slice not seen");
    let _ = store.reload_if_changed();
    assert!(store.slices().is_empty());
}

#[test]
fn a_symlinked_slice_edited_at_its_target_is_seen() {
    // The slice's directory and its file are symlinks into a directory elsewhere (a config
    // management tool's layout); the target file is replaced by a rename in its own directory,
    // which no watch on the slices root or the slice's link would see.
    let tmp = tempfile::tempdir().unwrap();
    let keys = tempfile::tempdir().unwrap();
    let alice = keygen(keys.path(), "alice");
    let bob = keygen(keys.path(), "bob");
    let elsewhere = tmp.path().join("managed");
    let real = tmp.path().join("real");
    std::fs::create_dir_all(&elsewhere).unwrap();
    std::fs::create_dir_all(&real).unwrap();
    std::fs::write(elsewhere.join("signers"), format!("alice {}\n", alice.line)).unwrap();
    std::os::unix::fs::symlink(elsewhere.join("signers"), real.join("allowed_signers")).unwrap();
    let root = tmp.path().join("slices");
    std::fs::create_dir(&root).unwrap();
    std::os::unix::fs::symlink(&real, root.join("lab")).unwrap();

    let (mut store, mut watch) = watched(&root);
    assert!(allowed(&store, "lab", &alice));
    rename_in(&elsewhere.join("signers"), &format!("bob {}\n", bob.line));
    assert!(
        watch.take_changes().unwrap(),
        "edit at the symlink's target not seen"
    );
    assert_eq!(loaded(&store.reload_if_changed()), vec!["lab"]);
    assert!(allowed(&store, "lab", &bob));

    // A dangling link whose target appears later (in a directory that only the link's hop
    // names): a mon_policy giving bob a run-as user.
    watch.rewatch(&store.watch_paths()).unwrap();
    std::os::unix::fs::symlink(elsewhere.join("policy"), real.join("mon_policy")).unwrap();
    assert!(watch.take_changes().unwrap(), "new link not seen");
    let _ = store.reload_if_changed();
    watch.rewatch(&store.watch_paths()).unwrap();
    rename_in(&elsewhere.join("policy"), "bob run-as=\"bob\"\n");
    assert!(
        watch.take_changes().unwrap(),
        "a dangling link's target appearing not seen"
    );
    assert_eq!(loaded(&store.reload_if_changed()), vec!["lab"]);
    let op = query();
    let d = store.evaluate("lab", &req(&bob.public, None, &op));
    assert_eq!(d.run_as.as_deref(), Some("bob"), "{}", d.message);

    // The slice's link retargeted to a directory with no policy: the slice denies.
    watch.rewatch(&store.watch_paths()).unwrap();
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let link = root.join(".lab-new");
    std::os::unix::fs::symlink(&empty, &link).unwrap();
    std::fs::rename(&link, root.join("lab")).unwrap();
    assert!(
        watch.take_changes().unwrap(),
        "retargeted slice link not seen"
    );
    let _ = store.reload_if_changed();
    assert_eq!(
        store.evaluate("lab", &req(&alice.public, None, &op)).reason,
        Reason::KeyNotListed,
        "the last good policy stays until a valid one loads"
    );
}

#[test]
fn a_missing_root_is_seen_when_it_appears() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("slices");
    let (_store, mut watch) = watched(&root);
    std::fs::create_dir(&root).unwrap();
    assert!(
        watch.take_changes().unwrap(),
        "the slices directory appearing not seen"
    );
}

#[test]
fn a_symlinked_directory_on_the_way_retargeted_is_seen() {
    // The slice's file links into `cfg/current/…`, and `current` is itself a link to a
    // version directory (a deploy tool's layout). Deploying swaps `current` for a new
    // version by a rename in `cfg`: no file below it changes, so only a watch on `cfg` sees it.
    let tmp = tempfile::tempdir().unwrap();
    let keys = tempfile::tempdir().unwrap();
    let alice = keygen(keys.path(), "alice");
    let bob = keygen(keys.path(), "bob");
    let cfg = tmp.path().join("cfg");
    for (v, k) in [("v1", &alice), ("v2", &bob)] {
        std::fs::create_dir_all(cfg.join(v)).unwrap();
        let name = if v == "v1" { "alice" } else { "bob" };
        std::fs::write(cfg.join(v).join("signers"), format!("{name} {}\n", k.line)).unwrap();
    }
    std::os::unix::fs::symlink("v1", cfg.join("current")).unwrap();
    let root = tmp.path().join("slices");
    let lab = root.join("lab");
    std::fs::create_dir_all(&lab).unwrap();
    std::os::unix::fs::symlink(cfg.join("current/signers"), lab.join("allowed_signers")).unwrap();

    let (mut store, mut watch) = watched(&root);
    assert!(allowed(&store, "lab", &alice));
    std::os::unix::fs::symlink("v2", cfg.join(".current-new")).unwrap();
    std::fs::rename(cfg.join(".current-new"), cfg.join("current")).unwrap();
    assert!(
        watch.take_changes().unwrap(),
        "a symlinked directory on the way retargeted not seen"
    );
    let _ = store.reload_if_changed();
    assert!(allowed(&store, "lab", &bob));
    assert!(
        !allowed(&store, "lab", &alice),
        "the old version still grants"
    );
}
