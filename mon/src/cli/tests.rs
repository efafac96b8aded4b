#![allow(clippy::unwrap_used)]
use clap::FromArgMatches;

use super::*;

fn parse(argv: &[&str]) -> Result<Cli, clap::Error> {
    let m = command().try_get_matches_from(std::iter::once("mon").chain(argv.iter().copied()))?;
    Cli::from_arg_matches(&m)
}

/// The client options a command line gives (before and after the command, merged).
fn client(argv: &[&str]) -> GlobalArgs {
    let Cli { global, command } = parse(argv).unwrap();
    let sub = match command {
        Command::Count { g } | Command::Members { g } => g,
        Command::Exec { g, .. } => g,
        other => panic!("not a client command: {other:?}"),
    };
    global.then(sub)
}

#[test]
fn client_options_go_before_or_after_the_command() {
    assert!(client(&["count", "--json"]).json);
    assert!(client(&["--json", "count"]).json);
    let g = client(&["--server", "n1", "count", "--server", "n2:7461"]);
    assert_eq!(g.server.unwrap().to_string(), "n2:7461");
    let g = client(&["members", "--slice", "lab", "--server", "::1"]);
    assert_eq!(g.slice.as_deref(), Some("lab"));
    assert_eq!(g.server.unwrap().to_string(), "::1");
}

#[test]
fn a_repeated_flag_keeps_its_last_value_and_list_flags_gather() {
    let g = client(&[
        "--slice",
        "a",
        "--slice",
        "b",
        "--timeout",
        "3",
        "--timeout",
        "4",
        "count",
    ]);
    assert_eq!(g.slice.as_deref(), Some("b"));
    assert_eq!(g.timeout, Some(4.0));
    let g = client(&[
        "--targets",
        "web*",
        "--targets",
        "db1,db2",
        "count",
        "--targets",
        "!web13",
    ]);
    assert_eq!(g.targets, ["web*", "db1", "db2", "!web13"]);
    let Cli { command, .. } = parse(&[
        "exec", "--where", "load", "G", "1", "--where", "mem", "l", "2", "ls",
    ])
    .unwrap();
    let Command::Exec { where_, argv, .. } = command else {
        panic!("exec")
    };
    let q = exec_query(5, &where_, false, argv).unwrap();
    let Query::Exec {
        where_: Some(w), ..
    } = q
    else {
        panic!("{q:?}")
    };
    assert_eq!((w.res.as_str(), w.value), ("mem", 2.0));
    // server args too
    let Cli { command, .. } = parse(&["server", "--name", "a", "--name", "b"]).unwrap();
    let Command::Server { args, .. } = command else {
        panic!("server")
    };
    assert_eq!(args.name.as_deref(), Some("b"));
}

#[test]
fn exec_takes_the_command_without_dashes_unless_it_starts_with_one() {
    let argv_of = |argv: &[&str]| match parse(argv).unwrap().command {
        Command::Exec { argv, shell, g, .. } => (argv, shell, g.json),
        other => panic!("{other:?}"),
    };
    assert_eq!(argv_of(&["exec", "uname", "-r"]).0, ["uname", "-r"]);
    // Everything from the command's first word is the command's, flags included.
    assert_eq!(
        argv_of(&["exec", "--shell", "--json", "ls", "-l", "--json"]),
        (vec!["ls".into(), "-l".into(), "--json".into()], true, true)
    );
    assert_eq!(argv_of(&["exec", "--", "-weird", "x"]).0, ["-weird", "x"]);
    let e = parse(&["exec", "-weird"]).unwrap_err().to_string();
    assert!(e.contains("to pass '-w' as a value, use '-- -w'"), "{e}");
}

#[test]
fn comparison_operators_take_any_case() {
    for op in ["ge", "GE", "Ge", ">="] {
        let Command::Filter { args, .. } = parse(&["filter", "load", op, "0.5"]).unwrap().command
        else {
            panic!("filter")
        };
        assert!(Query::parse_filter(&args).is_ok(), "{op}");
    }
    // A negative VALUE is a value, and options may still follow.
    let Cli { command, .. } = parse(&["filter", "load", "l", "-1", "--json"]).unwrap();
    let Command::Filter { args, g } = command else {
        panic!("filter")
    };
    assert_eq!(args, ["load", "l", "-1"]);
    assert!(g.json);
    let e = Query::parse_filter(&["load".into(), "gee".into(), "1".into()]).unwrap_err();
    assert!(e.to_string().contains("gee"), "{e}");
}

#[test]
fn key_show_takes_the_key_given_before_it() {
    let Cli { global, command } = parse(&["--key", "/k1", "key", "show"]).unwrap();
    assert!(matches!(command, Command::Key(_)));
    assert_eq!(global.key.unwrap().to_str(), Some("/k1"));
}
