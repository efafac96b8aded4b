//! A policy file that group or others can write is refused like `known_nodes` (issue 10):
//! the error names the file, its mode and the fix; the slice keeps its last good policy, and
//! a slice whose files were writable from the start denies everything.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use common::*;
use mon_policy::{PolicyStore, Reason, StoreEvent};

fn chmod(p: &Path, mode: u32) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn error_text(events: &[StoreEvent]) -> Option<String> {
    events.iter().find_map(|e| match e {
        StoreEvent::Error { diagnostics, .. } => Some(
            diagnostics
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join("; "),
        ),
        _ => None,
    })
}

#[test]
fn a_policy_file_others_can_write_is_refused_and_the_last_good_policy_stays() {
    let tmp = tempfile::tempdir().unwrap();
    let keys = tempfile::tempdir().unwrap();
    let alice = keygen(keys.path(), "alice");
    let root = tmp.path().join("slices");
    std::fs::create_dir(&root).unwrap();
    let other = keygen(keys.path(), "other");
    let lab = slice_dir(
        &root,
        "lab",
        Some(&format!("alice {}\n", alice.line)),
        Some("alice max-lifetime=600\n"),
        Some(&format!("{}\n", other.line)),
    );
    let (mut store, events) = PolicyStore::open(&root);
    assert!(error_text(&events).is_none(), "{events:?}");
    let decide = |store: &PolicyStore| {
        let op = query();
        store.evaluate("lab", &req(&alice.public, None, &op))
    };
    assert!(decide(&store).allowed);

    for (file, mode) in [
        ("allowed_signers", 0o664),
        ("mon_policy", 0o646),
        ("revoked_keys", 0o666),
    ] {
        let p = lab.join(file);
        chmod(&p, mode);
        let events = store.reload_if_changed();
        let text = error_text(&events).unwrap_or_else(|| panic!("{file}: {events:?}"));
        let want = format!(
            "policy file {} is writable by group or others (mode {mode:04o})",
            p.display()
        );
        assert!(text.contains(&want), "{file}: {text}");
        assert!(
            text.contains(&format!("chmod go-w {}", p.display())),
            "{file}: {text}"
        );
        assert!(decide(&store).allowed, "{file}: the last good policy stays");
        chmod(&p, 0o644);
        let events = store.reload_if_changed();
        assert!(
            events
                .iter()
                .any(|e| matches!(e, StoreEvent::Loaded { .. })),
            "{file}: fixed: {events:?}"
        );
    }

    // Writable from the first load: the slice has no policy and denies everything.
    chmod(&lab.join("allowed_signers"), 0o666);
    let (store, events) = PolicyStore::open(&root);
    assert!(error_text(&events).is_some());
    assert_eq!(decide(&store).reason, Reason::NoPolicy);
}

/// A policy file whose mode is fine but that another user owns: its owner can rewrite it
/// (or chmod it) at will, so it is refused like a writable one, naming the owner and the fix;
/// the last good policy stays. Needs root (chown).
#[test]
fn a_policy_file_another_user_owns_is_refused_and_the_last_good_policy_stays() {
    use std::os::unix::fs::MetadataExt;
    let tmp = tempfile::tempdir().unwrap();
    // What this process creates is its own: root or not.
    if std::fs::metadata(tmp.path()).unwrap().uid() != 0 {
        return;
    }
    let keys = tempfile::tempdir().unwrap();
    let alice = keygen(keys.path(), "alice");
    let root = tmp.path().join("slices");
    std::fs::create_dir(&root).unwrap();
    let lab = slice_dir(
        &root,
        "lab",
        Some(&format!("alice {}\n", alice.line)),
        Some("alice max-lifetime=600\n"),
        None,
    );
    let (mut store, events) = PolicyStore::open(&root);
    assert!(error_text(&events).is_none(), "{events:?}");
    let decide = |store: &PolicyStore| {
        let op = query();
        store.evaluate("lab", &req(&alice.public, None, &op))
    };
    assert!(decide(&store).allowed);
    for file in ["allowed_signers", "mon_policy"] {
        let p = lab.join(file);
        let text = std::fs::read_to_string(&p).unwrap();
        // Handed to `nobody`, mode 0644, and rewritten by its owner.
        std::os::unix::fs::chown(&p, Some(65534), Some(65534)).unwrap();
        std::fs::write(&p, format!("{text}# edited by its owner\n")).unwrap();
        chmod(&p, 0o644);
        let events = store.reload_if_changed();
        let got = error_text(&events).unwrap_or_else(|| panic!("{file}: {events:?}"));
        assert!(
            got.contains(&format!(
                "policy file {} is owned by uid 65534",
                p.display()
            )),
            "{file}: {got}"
        );
        assert!(got.contains("chown root"), "{file}: {got}");
        assert!(decide(&store).allowed, "{file}: the last good policy stays");
        std::os::unix::fs::chown(&p, Some(0), Some(0)).unwrap();
        std::fs::write(&p, format!("{text}# fixed\n")).unwrap();
        let events = store.reload_if_changed();
        assert!(
            events
                .iter()
                .any(|e| matches!(e, StoreEvent::Loaded { .. })),
            "{file}: fixed: {events:?}"
        );
    }
}
