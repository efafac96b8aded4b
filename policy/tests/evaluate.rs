//! Every deny reason and the allow path of `SlicePolicy::evaluate`, with real ssh-keygen keys.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::IpAddr;
use std::path::PathBuf;

use common::*;
use mon_policy::{Decision, Reason, SlicePolicy, SourceLine, NS_EXEC, NS_PUSH, NS_QUERY, NS_READ};

struct Fixture {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    policy: SlicePolicy,
    alice: Key,
    bob: Key,
    carol: Key,
    dave: Key,
    eve: Key,
    frank: Key,
    gina: Key,
    ops: Key,
}

fn fixture() -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let k = |n: &str| keygen(tmp.path(), n);
    let (alice, bob, carol, dave, eve, frank, gina, ops) = (
        k("alice"),
        k("bob"),
        k("carol"),
        k("dave"),
        k("eve"),
        k("frank"),
        k("gina"),
        k("ops"),
    );
    let allowed = format!(
        "# slice lab\n\
         alice@lab namespaces=\"mon-query@mon,mon-exec@mon\" {} alice\n\
         bob@lab namespaces=\"mon-query@mon,mon-read@mon,mon-push@mon\" {}\n\
         dave@lab {}\n\
         frank@lab valid-before=\"20250101Z\" {}\n\
         gina@lab valid-after=\"20270101Z\" {}\n\
         ops-* namespaces=\"mon-*@mon\" {}\n\
         carol@lab,carol2@lab namespaces=\"mon-query@mon\" {}\n",
        alice.line, bob.line, dave.line, frank.line, gina.line, ops.line, carol.line
    );
    let mon_policy = "alice@lab command=\"uptime*\",nodes=\"n*,!n13\",from=\"10.0.0.0/8,!10.9.0.0/16\",run-as=\"mon\"\n\
         bob@lab grep-paths=\"/var/log\",push-dirs=\"/srv/apps,/opt/x\",max-fanout=8,max-lifetime=600\n\
         bob@lab push-dirs=\"/srv\"\n\
         ops-admin run-as=\"root\"\n\
         ops-* run-as=\"ops\"\n";
    let revoked = format!("# gone\n{} dave\n", dave.line);
    let dir = slice_dir(
        tmp.path(),
        "lab",
        Some(&allowed),
        Some(mon_policy),
        Some(&revoked),
    );
    let (policy, _warnings) = SlicePolicy::load(&dir).expect("policy loads");
    Fixture {
        dir,
        policy,
        alice,
        bob,
        carol,
        dave,
        eve,
        frank,
        gina,
        ops,
        _tmp: tmp,
    }
}

impl Fixture {
    fn as_path(&self) -> PathBuf {
        self.dir.join("allowed_signers")
    }
    fn mp(&self, line: usize) -> SourceLine {
        SourceLine {
            file: self.dir.join("mon_policy"),
            line,
        }
    }
}

fn assert_deny(d: &Decision, reason: Reason, file: Option<&PathBuf>, line: Option<usize>) {
    assert!(!d.allowed, "expected deny {reason:?}, got {d:?}");
    assert_eq!(d.reason, reason, "{}", d.message);
    assert_eq!(d.file.as_ref(), file, "{}", d.message);
    assert_eq!(d.line, line, "{}", d.message);
}

#[test]
fn allow_exec_reports_deciding_lines_and_run_as() {
    let f = fixture();
    let op = exec("uptime -p");
    for principal in [None, Some("alice@lab")] {
        let mut r = req(&f.alice.public, principal, &op);
        r.client_addr = Some("10.1.2.3".parse().unwrap());
        let d = f.policy.evaluate(&r);
        assert!(d.allowed, "{}", d.message);
        assert_eq!(d.reason, Reason::Allowed);
        assert_eq!(d.reason.code(), "allowed");
        assert_eq!(d.principal.as_deref(), Some("alice@lab"));
        assert_eq!(d.file, Some(f.as_path()));
        assert_eq!(d.line, Some(2));
        assert_eq!(d.policy_lines, vec![f.mp(1)]);
        assert_eq!(d.run_as.as_deref(), Some("mon"));
        assert!(d.message.contains("allowed_signers:2"), "{}", d.message);
    }
}

#[test]
fn key_not_listed() {
    let f = fixture();
    let op = query();
    let d = f.policy.evaluate(&req(&f.eve.public, None, &op));
    assert_deny(&d, Reason::KeyNotListed, Some(&f.as_path()), None);
    assert_eq!(d.reason.code(), "key-not-listed");
    assert!(d.message.contains("SHA256:"), "{}", d.message);
}

#[test]
fn principal_mismatch() {
    let f = fixture();
    let op = query();
    let d = f
        .policy
        .evaluate(&req(&f.alice.public, Some("bob@lab"), &op));
    assert_deny(&d, Reason::PrincipalMismatch, Some(&f.as_path()), Some(2));
    // A key listed only under a wildcard pattern needs the principal named.
    let d = f.policy.evaluate(&req(&f.ops.public, None, &op));
    assert_deny(&d, Reason::PrincipalMismatch, Some(&f.as_path()), Some(7));
    let d = f.policy.evaluate(&req(&f.ops.public, Some("ops-x"), &op));
    assert!(d.allowed, "{}", d.message);
    assert_eq!(d.line, Some(7));
    assert_eq!(d.principal.as_deref(), Some("ops-x"));
}

#[test]
fn validity_window() {
    let f = fixture();
    let op = query();
    let d = f.policy.evaluate(&req(&f.frank.public, None, &op));
    assert_deny(&d, Reason::Expired, Some(&f.as_path()), Some(5));
    assert_eq!(d.principal.as_deref(), Some("frank@lab"));
    let d = f.policy.evaluate(&req(&f.gina.public, None, &op));
    assert_deny(&d, Reason::NotYetValid, Some(&f.as_path()), Some(6));
    // The same keys inside their windows.
    let mut r = req(&f.frank.public, None, &op);
    r.now_unix_s = 1_700_000_000;
    assert!(f.policy.evaluate(&r).allowed);
    let mut r = req(&f.gina.public, None, &op);
    r.now_unix_s = 1_900_000_000;
    assert!(f.policy.evaluate(&r).allowed);
}

#[test]
fn namespace_not_granted_and_op_not_in_class() {
    let f = fixture();
    let op = exec("uptime");
    let d = f.policy.evaluate(&req(&f.carol.public, None, &op));
    assert_deny(&d, Reason::NamespaceNotGranted, Some(&f.as_path()), Some(8));
    // alice signs for mon-query@mon (granted) but carries exec.
    let mut r = req(&f.alice.public, None, &op);
    r.namespace = NS_QUERY;
    let d = f.policy.evaluate(&r);
    assert_deny(&d, Reason::OpNotInClass, Some(&f.as_path()), Some(2));
    assert!(d.message.contains(NS_EXEC), "{}", d.message);
    // bob: grep under read is fine, push under read is not.
    let g = grep("/var/log/syslog");
    let d = f.policy.evaluate(&req(&f.bob.public, None, &g));
    assert!(d.allowed, "{}", d.message);
    let p = push("/srv/apps/x");
    let mut r = req(&f.bob.public, None, &p);
    r.namespace = NS_READ;
    assert_deny(
        &f.policy.evaluate(&r),
        Reason::OpNotInClass,
        Some(&f.as_path()),
        Some(3),
    );
}

#[test]
fn revoked_beats_everything() {
    let f = fixture();
    let op = query();
    let d = f
        .policy
        .evaluate(&req(&f.dave.public, Some("dave@lab"), &op));
    assert_deny(
        &d,
        Reason::Revoked,
        Some(&f.dir.join("revoked_keys")),
        Some(2),
    );
    assert!(f.policy.find_principals(&f.dave.public, NOW).is_empty());
}

#[test]
fn from_is_checked_at_the_entry_node() {
    let f = fixture();
    let op = exec("uptime");
    let at = |ip: &str| {
        let mut r = req(&f.alice.public, None, &op);
        r.client_addr = Some(ip.parse::<IpAddr>().unwrap());
        f.policy.evaluate(&r)
    };
    assert!(at("10.200.0.1").allowed);
    assert!(
        at("::ffff:10.200.0.1").allowed,
        "IPv4-mapped addresses match IPv4 CIDRs"
    );
    assert_deny(
        &at("192.168.1.1"),
        Reason::FromDenied,
        Some(&f.dir.join("mon_policy")),
        Some(1),
    );
    assert_deny(
        &at("10.9.1.1"),
        Reason::FromDenied,
        Some(&f.dir.join("mon_policy")),
        Some(1),
    );
    // Relays do not know the client address: from= is not checked there.
    assert!(f.policy.evaluate(&req(&f.alice.public, None, &op)).allowed);
}

#[test]
fn nodes_and_command() {
    let f = fixture();
    let op = exec("uptime");
    for node in ["x1", "n13"] {
        let mut r = req(&f.alice.public, None, &op);
        r.node = node;
        assert_deny(
            &f.policy.evaluate(&r),
            Reason::NodeDenied,
            Some(&f.dir.join("mon_policy")),
            Some(1),
        );
    }
    let ls = exec("ls -l /");
    let d = f.policy.evaluate(&req(&f.alice.public, None, &ls));
    assert_deny(
        &d,
        Reason::CommandDenied,
        Some(&f.dir.join("mon_policy")),
        Some(1),
    );
    assert_eq!(d.principal.as_deref(), Some("alice@lab"));
}

#[test]
fn grep_paths() {
    let f = fixture();
    for (path, ok) in [
        ("/var/log/syslog", true),
        ("/var/log", true),
        ("/var//log/./nginx/access.log", true),
        ("/etc/passwd", false),
        ("/var/log/../../etc/shadow", false),
        ("/var/logs", false),
        ("var/log/syslog", false),
    ] {
        let op = grep(path);
        let d = f.policy.evaluate(&req(&f.bob.public, None, &op));
        if ok {
            assert!(d.allowed, "{path}: {}", d.message);
            // The grant the node checks the opened file's real path against.
            assert_eq!(d.grep_paths, vec![vec!["/var/log".to_string()]]);
        } else {
            assert_deny(
                &d,
                Reason::GrepPathDenied,
                Some(&f.dir.join("mon_policy")),
                Some(2),
            );
        }
    }
}

/// The matcher the node applies to the real path of the file it opened: the policy's own
/// (directories cover what is below them, globs match the whole path), normalized, and every
/// restricting line must allow the path; no lines, no restriction.
#[test]
fn grep_path_allowed_is_the_policy_matcher() {
    use mon_policy::grep_path_allowed;
    let one = vec![vec!["/var/log".to_string(), "/srv/*/app.log".to_string()]];
    assert!(grep_path_allowed("/var/log/syslog", &one));
    assert!(grep_path_allowed("/srv/a/b/app.log", &one));
    assert!(!grep_path_allowed("/var/logs/x", &one));
    assert!(!grep_path_allowed("/etc/shadow", &one));
    assert!(!grep_path_allowed("/var/log/../../etc/shadow", &one));
    assert!(!grep_path_allowed("var/log/syslog", &one));
    let two = vec![
        vec!["/var/log".to_string()],
        vec!["/var/log/app".to_string()],
    ];
    assert!(grep_path_allowed("/var/log/app/x", &two));
    assert!(!grep_path_allowed("/var/log/syslog", &two));
    assert!(grep_path_allowed("/anything", &[]));
    // A decision for another operation carries no grep grant.
    let f = fixture();
    let d = f
        .policy
        .evaluate(&req(&f.bob.public, None, &push("/srv/apps/a")));
    assert!(d.allowed, "{}", d.message);
    assert!(d.grep_paths.is_empty());
}

#[test]
fn push_dirs_intersect_and_fail_closed() {
    let f = fixture();
    let ok = push("/srv/apps/app.tar");
    let d = f.policy.evaluate(&req(&f.bob.public, None, &ok));
    assert!(d.allowed, "{}", d.message);
    assert_eq!(d.line, Some(3));
    assert_eq!(d.policy_lines, vec![f.mp(2), f.mp(3)]);
    // Landed beneath the deepest push dir that holds it (every line's dirs hold it).
    assert_eq!(d.push_dir.as_deref(), Some("/srv/apps"));
    assert!(!d.allow_setid);
    // A DEST that names a directory: ends in '/', or is a push dir itself.
    for dir in [
        "/srv/apps/x/",
        "/srv/apps/x/.",
        "/srv/apps",
        "/srv/apps/",
        "/srv//apps/.",
    ] {
        let op = push(dir);
        let d = f.policy.evaluate(&req(&f.bob.public, None, &op));
        assert_eq!(d.reason, Reason::PushDestIsDir, "{dir}: {}", d.message);
        assert!(d.message.contains("DEST names the file"), "{}", d.message);
    }
    // Inside line 2's /opt/x but outside line 3's /srv: both lines apply.
    let op = push("/opt/x/y");
    assert_deny(
        &f.policy.evaluate(&req(&f.bob.public, None, &op)),
        Reason::PushDirDenied,
        Some(&f.dir.join("mon_policy")),
        Some(3),
    );
    for bad in [
        "/srv/apps/../../etc/passwd",
        "/srv/appsx/y",
        "srv/apps/y",
        "/etc/cron.d/x",
    ] {
        let op = push(bad);
        let d = f.policy.evaluate(&req(&f.bob.public, None, &op));
        assert_eq!(d.reason, Reason::PushDirDenied, "{bad}: {}", d.message);
    }
    // ops-* may push (mon-*@mon) but has no push-dirs: push is closed by default.
    let op = push("/srv/apps/x");
    let d = f.policy.evaluate(&req(&f.ops.public, Some("ops-x"), &op));
    assert_deny(&d, Reason::NoPushDirs, None, None);
    assert_eq!(d.reason.code(), "no-push-dirs");
}

#[test]
fn no_mon_policy_means_no_push() {
    let tmp = tempfile::tempdir().unwrap();
    let k = keygen(tmp.path(), "k");
    let dir = slice_dir(
        tmp.path(),
        "s",
        Some(&format!("root@lab namespaces=\"{NS_PUSH}\" {}\n", k.line)),
        None,
        None,
    );
    let (policy, _) = SlicePolicy::load(&dir).unwrap();
    let op = push("/srv/x");
    assert_deny(
        &policy.evaluate(&req(&k.public, None, &op)),
        Reason::NoPushDirs,
        None,
        None,
    );
    let q = query();
    let mut r = req(&k.public, None, &q);
    r.namespace = NS_PUSH;
    assert!(
        policy.evaluate(&r).allowed,
        "queries ride on a push session"
    );
}

#[test]
fn fanout_and_lifetime_caps() {
    let f = fixture();
    let op = query();
    let mut r = req(&f.bob.public, None, &op);
    r.fanout = Some(8);
    r.lifetime_s = Some(600);
    assert!(f.policy.evaluate(&r).allowed);
    r.fanout = Some(9);
    assert_deny(
        &f.policy.evaluate(&r),
        Reason::FanoutTooLarge,
        Some(&f.dir.join("mon_policy")),
        Some(2),
    );
    r.fanout = Some(8);
    r.lifetime_s = Some(601);
    assert_deny(
        &f.policy.evaluate(&r),
        Reason::LifetimeTooLong,
        Some(&f.dir.join("mon_policy")),
        Some(2),
    );
}

#[test]
fn run_as_conflict_denies_exec_but_not_queries() {
    let f = fixture();
    let op = exec("id");
    let d = f
        .policy
        .evaluate(&req(&f.ops.public, Some("ops-admin"), &op));
    assert_deny(
        &d,
        Reason::RunAsConflict,
        Some(&f.dir.join("mon_policy")),
        Some(5),
    );
    let d = f.policy.evaluate(&req(&f.ops.public, Some("ops-web"), &op));
    assert!(d.allowed, "{}", d.message);
    assert_eq!(d.run_as.as_deref(), Some("ops"));
    let q = query();
    let d = f
        .policy
        .evaluate(&req(&f.ops.public, Some("ops-admin"), &q));
    assert!(d.allowed, "{}", d.message);
    assert_eq!(d.run_as, None);
}

#[test]
fn first_failing_check_decides() {
    let f = fixture();
    // frank: expired AND asking for a namespace his line does grant -> expired, not a later check.
    let op = exec("rm -rf /");
    let d = f.policy.evaluate(&req(&f.frank.public, None, &op));
    assert_eq!(d.reason, Reason::Expired);
    // carol under an unknown namespace: namespace-not-granted before op-not-in-class.
    let q = query();
    let mut r = req(&f.carol.public, None, &q);
    r.namespace = "file";
    assert_eq!(f.policy.evaluate(&r).reason, Reason::NamespaceNotGranted);
}

#[test]
fn find_principals_like_ssh_keygen() {
    let f = fixture();
    assert_eq!(
        f.policy.find_principals(&f.carol.public, NOW),
        vec!["carol@lab", "carol2@lab"]
    );
    assert_eq!(
        f.policy.find_principals(&f.alice.public, NOW),
        vec!["alice@lab"]
    );
    assert!(
        f.policy.find_principals(&f.ops.public, NOW).is_empty(),
        "patterns are not names"
    );
    assert!(f.policy.find_principals(&f.eve.public, NOW).is_empty());
    assert!(
        f.policy.find_principals(&f.frank.public, NOW).is_empty(),
        "expired"
    );
    assert_eq!(
        f.policy.find_principals(&f.frank.public, 1_700_000_000),
        vec!["frank@lab"]
    );
}

#[test]
fn no_policy_decision() {
    let d = Decision::no_policy("lab");
    assert!(!d.allowed);
    assert_eq!(d.reason.code(), "no-policy");
    assert!(d.message.contains("lab"));
}

#[test]
fn reason_codes_are_stable_and_unique() {
    let codes: Vec<&str> = Reason::ALL.iter().map(|r| r.code()).collect();
    let expected = [
        "allowed",
        "no-policy",
        "key-not-listed",
        "principal-mismatch",
        "namespace-not-granted",
        "op-not-in-class",
        "not-yet-valid",
        "expired",
        "revoked",
        "from-denied",
        "command-denied",
        "grep-path-denied",
        "no-push-dirs",
        "push-dir-denied",
        "node-denied",
        "fanout-too-large",
        "lifetime-too-long",
        "run-as-conflict",
        "push-dest-dir",
        "setid-denied",
    ];
    assert_eq!(codes, expected);
}

#[test]
fn multiple_principals_for_one_key_try_each() {
    // One key, two literal principals on two lines: the one whose mon_policy allows wins.
    let tmp = tempfile::tempdir().unwrap();
    let k = keygen(tmp.path(), "k");
    let allowed = format!(
        "web namespaces=\"{NS_EXEC}\" {0}\ndb namespaces=\"{NS_EXEC}\" {0}\n",
        k.line
    );
    let mp = "web command=\"systemctl * nginx\"\ndb command=\"pg_ctl *\"\n";
    let dir = slice_dir(tmp.path(), "s", Some(&allowed), Some(mp), None);
    let (policy, _) = SlicePolicy::load(&dir).unwrap();
    let op = exec("pg_ctl status");
    let d = policy.evaluate(&req(&k.public, None, &op));
    assert!(d.allowed, "{}", d.message);
    assert_eq!(d.principal.as_deref(), Some("db"));
    assert_eq!(d.line, Some(2));
    let op = exec("reboot");
    let d = policy.evaluate(&req(&k.public, None, &op));
    assert_eq!(d.reason, Reason::CommandDenied);
    assert_eq!(
        d.principal.as_deref(),
        Some("web"),
        "the first candidate's denial is reported"
    );
}

/// Issue 14: reading the audit logs is a class of its own. Exec, read or push grants do not
/// carry it; `mon-*@mon` matches it like any other class (and `mon policy check` warns about
/// that wildcard); a line without `namespaces=` grants it too.
#[test]
fn audit_read_is_its_own_class() {
    let f = fixture();
    let audit = mon_policy::Operation::Audit;
    let r = req(&f.alice.public, None, &audit);
    assert_eq!(r.namespace, mon_policy::NS_AUDIT);
    // alice: query and exec only.
    let d = f.policy.evaluate(&r);
    assert_deny(&d, Reason::NamespaceNotGranted, Some(&f.as_path()), Some(2));
    assert!(d.message.contains("mon-audit@mon"), "{}", d.message);
    // bob: query, read and push only.
    let d = f.policy.evaluate(&req(&f.bob.public, None, &audit));
    assert_deny(&d, Reason::NamespaceNotGranted, Some(&f.as_path()), Some(3));
    // An exec-signed session cannot carry an audit read either.
    let mut r = req(&f.alice.public, None, &audit);
    r.namespace = NS_EXEC;
    let d = f.policy.evaluate(&r);
    assert_deny(&d, Reason::OpNotInClass, Some(&f.as_path()), Some(2));
    // ops-*: namespaces="mon-*@mon" matches mon-audit@mon.
    let d = f
        .policy
        .evaluate(&req(&f.ops.public, Some("ops-audit"), &audit));
    assert!(d.allowed, "{}", d.message);
    assert_eq!(d.line, Some(7));
    // An audit-signed session carries plain queries as well.
    let q = query();
    let mut r = req(&f.ops.public, Some("ops-audit"), &q);
    r.namespace = mon_policy::NS_AUDIT;
    assert!(f.policy.evaluate(&r).allowed);
}
