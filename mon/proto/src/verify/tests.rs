#![allow(clippy::unwrap_used)]
use super::*;

#[test]
fn run_as_rules() {
    let mut r = RunAsRules::default();
    // A server not running as root acts as itself: nothing to check.
    assert_eq!(r.check("lab", Some("alice@lab"), None), Ok(()));
    assert_eq!(r.check("lab", None, Some("root")), Ok(()));
    r.root = true;
    let e = r.check("lab", Some("alice@lab"), None).unwrap_err();
    assert_eq!(e.0.code(), RUN_AS_MISSING);
    assert!(
        e.1.contains("\"alice@lab\"") && e.1.contains("run-as"),
        "{}",
        e.1
    );
    // Nothing listed: every run-as refused, root included.
    for u in ["nobody", "root"] {
        let e = r.check("lab", None, Some(u)).unwrap_err();
        assert_eq!(e.0.code(), RUN_AS_NOT_ALLOWED);
        assert!(e.1.contains(&format!("run-as-users lab {u}")), "{}", e.1);
    }
    r.users
        .insert("lab".into(), vec!["nobody".into(), "deploy".into()]);
    assert_eq!(r.check("lab", None, Some("deploy")), Ok(()));
    assert_eq!(
        r.check("lab", None, Some("root")).unwrap_err().0,
        Refusal::RunAsNotAllowed
    );
    assert_eq!(
        r.check("other", None, Some("nobody")).unwrap_err().0,
        Refusal::RunAsNotAllowed
    );
}
