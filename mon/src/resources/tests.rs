#![allow(clippy::unwrap_used, clippy::expect_used)]
use super::*;

fn res(defs: &[(&str, &str)], timeout: Duration) -> Resources {
    Resources::new(
        defs.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect(),
        timeout,
    )
    .unwrap()
}

#[tokio::test]
async fn operator_resource_echo() {
    let r = res(
        &[("answer", "echo 42"), ("frac", " printf ' -0.5\\n'")],
        DEFAULT_TIMEOUT,
    );
    assert_eq!(r.read("answer").await.unwrap(), 42.0);
    assert_eq!(r.read("frac").await.unwrap(), -0.5);
}

#[tokio::test]
async fn operator_resource_timeout() {
    let r = res(&[("slow", "sleep 10; echo 1")], Duration::from_secs(1));
    let e = r.read("slow").await.unwrap_err();
    assert!(matches!(e, ResourceError::Timeout { secs: 1, .. }), "{e}");
    assert!(e.to_string().contains("'slow'"), "{e}");
}

#[tokio::test]
async fn operator_resource_errors_are_clear() {
    let r = res(
        &[
            ("word", "echo hello"),
            ("fails", "echo broken pipe >&2; exit 4"),
            ("inf", "echo inf"),
            ("two", "echo 1 2"),
        ],
        DEFAULT_TIMEOUT,
    );
    let e = r.read("word").await.unwrap_err();
    assert!(matches!(e, ResourceError::NotANumber { .. }));
    assert!(e.to_string().contains("'hello'"), "{e}");
    let e = r.read("fails").await.unwrap_err();
    assert_eq!(
        e.to_string(),
        "resource 'fails': the command exited with 4: broken pipe"
    );
    assert!(matches!(
        r.read("inf").await,
        Err(ResourceError::NotANumber { .. })
    ));
    assert!(matches!(
        r.read("two").await,
        Err(ResourceError::NotANumber { .. })
    ));
}

#[tokio::test]
async fn unknown_resource_lists_known_ones() {
    let r = res(&[("conns", "echo 3")], DEFAULT_TIMEOUT);
    let e = r.read("lod").await.unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("'lod'"), "{msg}");
    assert!(
        msg.contains("load, load5, load15, cpu, mem, disk, procs, uptime, conns"),
        "{msg}"
    );
}

#[test]
fn definitions_are_checked() {
    assert_eq!(
        Resources::parse_definition("conns=ss -t | wc -l").unwrap(),
        ("conns".to_string(), "ss -t | wc -l".to_string())
    );
    assert_eq!(
        Resources::parse_definition("x=a=b").unwrap(),
        ("x".to_string(), "a=b".to_string())
    );
    assert!(matches!(
        Resources::parse_definition("nocommand"),
        Err(ResourceError::BadDefinition(_))
    ));
    let new = |n: &str, c: &str| Resources::new(vec![(n.into(), c.into())], DEFAULT_TIMEOUT);
    assert!(matches!(
        new("Bad", "echo 1"),
        Err(ResourceError::BadName(_))
    ));
    assert!(matches!(new("", "echo 1"), Err(ResourceError::BadName(_))));
    assert!(matches!(
        new("load", "echo 1"),
        Err(ResourceError::ShadowsBuiltin(_))
    ));
    assert!(matches!(
        new("grep", "echo 1"),
        Err(ResourceError::Reserved)
    ));
    assert!(matches!(
        new("x", "  "),
        Err(ResourceError::EmptyCommand(_))
    ));
    let dup = Resources::new(
        vec![("x".into(), "echo 1".into()), ("x".into(), "echo 2".into())],
        DEFAULT_TIMEOUT,
    );
    assert!(matches!(dup, Err(ResourceError::Duplicate(_))));
}

#[test]
fn every_builtin_has_a_unit_that_help_shows() {
    let help = help_list();
    for b in BUILTINS {
        assert!(
            help.contains(b.name) && help.contains(b.unit.name()),
            "{help}"
        );
    }
    assert_eq!(unit_of("mem"), Unit::MiB);
    assert_eq!(unit_of("mem").format(23434.839844), "22.9 GiB");
    assert_eq!(unit_of("queue"), Unit::Number);
    assert!(
        help.contains("  mem     MiB             available memory\n"),
        "{help}"
    );
}

#[tokio::test]
async fn builtins_read_plausible_values() {
    let r = res(&[], DEFAULT_TIMEOUT);
    for name in BUILTINS.iter().map(|b| b.name) {
        let v = r.read(name).await.unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(v.is_finite() && v >= 0.0, "{name} = {v}");
    }
    let cpu = r.read("cpu").await.unwrap();
    assert!(cpu <= 100.0, "cpu = {cpu}");
    assert!(r.read("procs").await.unwrap() >= 1.0);
    assert!(r.read("uptime").await.unwrap() > 0.0);
    assert!(r.read("mem").await.unwrap() > 0.0);
}

#[test]
fn proc_parsers() {
    let stat = "cpu  100 0 50 800 50 0 0 0 0 0\ncpu0 1 2 3 4\n";
    let a = parse_proc_stat(stat).unwrap();
    assert_eq!(
        a,
        CpuTimes {
            total: 1000,
            idle: 850
        }
    );
    let b = CpuTimes {
        total: 1100,
        idle: 900,
    };
    assert_eq!(cpu_percent(a, b), 50.0);
    assert_eq!(cpu_percent(a, a), 0.0);
    assert_eq!(parse_proc_stat("intr 1 2"), None);
    assert_eq!(parse_proc_stat("cpu  a b c d"), None);
    let la = "0.52 0.41 0.30 1/234 5678\n";
    assert_eq!(parse_loadavg(la, 0), Some(0.52));
    assert_eq!(parse_loadavg(la, 2), Some(0.30));
    assert_eq!(parse_loadavg("", 0), None);
}
