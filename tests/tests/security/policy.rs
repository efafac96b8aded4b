//! Policy decisions seen from outside: keys the slice does not allow are denied at the entry
//! node (exit 3, the reason code in the message, a `session.deny` record when the key is
//! listed and really signed the session; an unknown key's refusal is junk), and edits to the
//! policy files take effect on running servers.

use super::{
    client_with_key, cluster, events, fingerprint, keygen, pub_line, run, set_signers, signers_path,
};

#[test]
fn keys_the_policy_does_not_allow_are_denied_at_entry_and_audited() {
    let c = cluster(3, 18102);
    let home = tempfile::tempdir().unwrap();
    let stranger = keygen(home.path(), "stranger", "ed25519", "");
    let querier = keygen(home.path(), "querier", "ed25519", "");
    let expired = keygen(home.path(), "expired", "ed25519", "");

    let original = std::fs::read_to_string(signers_path(&c, 1)).unwrap();
    let text = format!(
        "{original}\
         querier@lab namespaces=\"mon-query@mon\" {}\n\
         expired@lab namespaces=\"mon-*@mon\",valid-before=\"20200101\" {}\n",
        pub_line(&querier),
        pub_line(&expired)
    );
    set_signers(&c, &text);

    // Control: the query-only key may run a query.
    let r = run(client_with_key(&c, &querier, home.path()).args(["--json", "count"]));
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.json()["result"], 3, "{r:?}");

    let cases: [(&std::path::Path, &[&str], &str); 3] = [
        (&stranger, &["count"], "key-not-listed"),
        (&querier, &["exec", "--", "true"], "namespace-not-granted"),
        (&expired, &["count"], "expired"),
    ];
    for (key, args, code) in cases {
        let r = run(client_with_key(&c, key, home.path()).args(args));
        assert_eq!(r.code, 3, "{code}: {r:?}");
        assert!(r.stderr.contains("denied by n1"), "{code}: {r:?}");
        assert!(r.stderr.contains(&format!("[{code}]")), "{code}: {r:?}");
        let fp = fingerprint(key);
        assert!(r.stderr.contains(&fp), "the message names the key: {r:?}");

        let denies: Vec<_> = events(&c, 1, "session.deny")
            .into_iter()
            .filter(|e| e["key_fp"] == fp.as_str())
            .collect();
        // An unknown key's refusal is junk (issue 10, part 4): anyone can make one, so it is
        // summarised per source, never audited per packet.
        if code == "key-not-listed" {
            assert!(denies.is_empty(), "{code}: audited: {denies:?}");
            continue;
        }
        assert_eq!(
            denies.len(),
            1,
            "{code}: one session.deny on n1: {denies:?}"
        );
        let d = &denies[0];
        assert_eq!(d["reason"]["code"], code, "{d}");
        assert_eq!(d["result"], "deny", "{d}");
        assert_eq!(d["client_addr"], "127.0.0.1", "{d}");
        assert!(
            d["session_id"].as_str().is_some_and(|s| s.len() == 32),
            "{d}"
        );
        // Denied at the entry: never forwarded, so no other node saw it.
        let seen_elsewhere = (2..=3)
            .flat_map(|i| c.audit(i))
            .any(|e| e["session_id"] == d["session_id"]);
        assert!(
            !seen_elsewhere,
            "{code}: a denied session reached another node"
        );
    }
}

#[test]
fn policy_edits_take_effect_on_running_servers() {
    let c = cluster(3, 18103);
    let home = tempfile::tempdir().unwrap();
    let original = std::fs::read_to_string(signers_path(&c, 1)).unwrap();
    let other = keygen(home.path(), "other", "ed25519", "");

    // Remove the user's line (the file stays valid: another user's key).
    set_signers(
        &c,
        &format!(
            "# the testbed user was removed\nother@lab namespaces=\"mon-*@mon\" {}\n",
            pub_line(&other)
        ),
    );
    let r = run(c.client().arg("count"));
    assert_eq!(r.code, 3, "{r:?}");
    assert!(r.stderr.contains("[key-not-listed]"), "{r:?}");

    // A broken file is rejected whole; the last good policy (still without the user) stays.
    let before = super::policy_events(&c, 1);
    for i in 1..=c.n {
        std::fs::write(signers_path(&c, i), format!("{original}garbage line\n")).unwrap();
    }
    let t = std::time::Instant::now();
    while events(&c, 1, "policy.error").is_empty() || super::policy_events(&c, 1) <= before {
        assert!(t.elapsed().as_secs() < 15, "no policy.error on n1");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let r = run(c.client().arg("count"));
    assert_eq!(r.code, 3, "a broken file must not open the slice: {r:?}");

    // Restored: allowed again, on every node.
    set_signers(&c, &original);
    let r = run(c.client().args(["--json", "count"]));
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.json()["result"], 3, "{r:?}");
}
