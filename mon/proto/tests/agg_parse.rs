//! Query parsing and limits of `mon_proto::agg`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use mon_proto::agg::{CmpOp, Query, QueryError, QueryParseError, Where};

fn words(s: &str) -> Vec<String> {
    s.split_whitespace().map(str::to_string).collect()
}

fn parse(s: &str) -> Result<Query, QueryParseError> {
    Query::parse(&words(s))
}

#[test]
fn every_cmpop_spelling_parses() {
    let cases = [
        (["G", "g", ">"], CmpOp::Gt),
        (["L", "l", "<"], CmpOp::Lt),
        (["GE", "ge", ">="], CmpOp::Ge),
        (["LE", "Le", "<="], CmpOp::Le),
        (["EQ", "eq", "=="], CmpOp::Eq),
        (["NE", "nE", "!="], CmpOp::Ne),
    ];
    for (spellings, op) in cases {
        for s in spellings {
            assert_eq!(s.parse::<CmpOp>().unwrap(), op, "{s}");
        }
        // Display round-trips.
        assert_eq!(op.to_string().parse::<CmpOp>().unwrap(), op);
        assert_eq!(op.letters().parse::<CmpOp>().unwrap(), op);
    }
    for bad in ["", "GT", "=", "=>", "X", "<>", "G "] {
        assert!(
            matches!(bad.parse::<CmpOp>(), Err(QueryParseError::BadOp(_))),
            "{bad:?}"
        );
    }
}

#[test]
fn cmpop_eval() {
    assert!(CmpOp::Gt.eval(20.5, 20.0));
    assert!(!CmpOp::Gt.eval(20.0, 20.0));
    assert!(CmpOp::Ge.eval(20.0, 20.0));
    assert!(CmpOp::Lt.eval(1.0, 2.0));
    assert!(CmpOp::Le.eval(2.0, 2.0));
    assert!(CmpOp::Eq.eval(0.5, 0.5));
    assert!(CmpOp::Ne.eval(0.5, 0.25));
    assert!(!CmpOp::Ne.eval(0.5, 0.5));
}

#[test]
fn parses_every_command() {
    assert_eq!(parse("count").unwrap(), Query::Count);
    assert_eq!(parse("COUNT").unwrap(), Query::Count);
    assert_eq!(parse("depth").unwrap(), Query::Depth);
    assert_eq!(parse("topology").unwrap(), Query::Topology);
    assert_eq!(
        parse("avg load").unwrap(),
        Query::Avg { res: "load".into() }
    );
    assert_eq!(
        parse("top 5 mem").unwrap(),
        Query::Top {
            n: 5,
            res: "mem".into()
        }
    );
    let h = |b| Query::Histo {
        res: "load".into(),
        buckets: b,
    };
    assert_eq!(parse("histo load").unwrap(), h(10));
    assert_eq!(parse("histo load 7").unwrap(), h(7));
    assert_eq!(parse("histo load --buckets 12").unwrap(), h(12));
    assert_eq!(parse("histo load --buckets=3").unwrap(), h(3));
    assert_eq!(parse("histo --buckets 4 load").unwrap(), h(4));
    assert_eq!(
        parse("filter load G 20.0").unwrap(),
        Query::Filter {
            res: "load".into(),
            op: CmpOp::Gt,
            value: 20.0
        }
    );
    assert_eq!(
        parse("filter disk <= -1e3").unwrap(),
        Query::Filter {
            res: "disk".into(),
            op: CmpOp::Le,
            value: -1000.0
        }
    );
    assert_eq!(
        parse("filter grep ERROR /var/log/mon.log").unwrap(),
        Query::Grep {
            word: "ERROR".into(),
            file: "/var/log/mon.log".into()
        }
    );
}

#[test]
fn parses_exec() {
    assert_eq!(
        parse("exec -- uname -a").unwrap(),
        Query::Exec {
            argv: words("uname -a"),
            shell: false,
            timeout_s: 30,
            where_: None
        }
    );
    assert_eq!(
        parse("exec uptime").unwrap(),
        Query::Exec {
            argv: words("uptime"),
            shell: false,
            timeout_s: 30,
            where_: None
        }
    );
    assert_eq!(
        parse("exec --cmd-timeout 5 --shell --where load GE 2.5 -- ls -l --color").unwrap(),
        Query::Exec {
            argv: words("ls -l --color"),
            shell: true,
            timeout_s: 5,
            where_: Some(Where {
                res: "load".into(),
                op: CmpOp::Ge,
                value: 2.5
            })
        }
    );
    assert_eq!(
        parse("exec --cmd-timeout=9 -- true").unwrap(),
        Query::Exec {
            argv: words("true"),
            shell: false,
            timeout_s: 9,
            where_: None
        }
    );
    assert!(matches!(
        parse("exec --cmd-timeout 5 --"),
        Err(QueryParseError::Missing { .. })
    ));
    assert!(matches!(
        parse("exec --verbose -- ls"),
        Err(QueryParseError::UnknownOption { .. })
    ));
    assert!(matches!(
        parse("exec --where load G -- ls"),
        Err(QueryParseError::BadNumber { .. })
    ));
    assert!(matches!(
        parse("exec --cmd-timeout 0 -- ls"),
        Err(QueryParseError::Invalid(QueryError::Timeout { got: 0, .. }))
    ));
}

#[test]
fn parse_errors_are_specific() {
    assert_eq!(Query::parse(&[]), Err(QueryParseError::Empty));
    assert!(
        matches!(parse("frobnicate"), Err(QueryParseError::UnknownCommand(c)) if c == "frobnicate")
    );
    assert!(
        matches!(parse("count extra"), Err(QueryParseError::Extra { extra, .. }) if extra == "extra")
    );
    assert!(matches!(parse("avg"), Err(QueryParseError::Missing { .. })));
    assert!(matches!(
        parse("top 5"),
        Err(QueryParseError::Missing { .. })
    ));
    assert!(matches!(
        parse("top five mem"),
        Err(QueryParseError::BadNumber { .. })
    ));
    assert!(matches!(
        parse("top -1 mem"),
        Err(QueryParseError::BadNumber { .. })
    ));
    assert!(matches!(
        parse("filter load G"),
        Err(QueryParseError::Missing { .. })
    ));
    assert!(matches!(
        parse("filter load X 1"),
        Err(QueryParseError::BadOp(_))
    ));
    assert!(matches!(
        parse("filter load G inf"),
        Err(QueryParseError::BadNumber { .. })
    ));
    assert!(matches!(
        parse("filter load G NaN"),
        Err(QueryParseError::BadNumber { .. })
    ));
    assert!(matches!(
        parse("filter grep word"),
        Err(QueryParseError::Missing { .. })
    ));
    assert!(matches!(
        parse("histo load --buckets"),
        Err(QueryParseError::Missing { .. })
    ));
    assert!(matches!(
        parse("histo load --bins 3"),
        Err(QueryParseError::UnknownOption { .. })
    ));
    assert!(matches!(
        parse("histo load 3 4"),
        Err(QueryParseError::Extra { .. })
    ));
    // The message tells how to use the command.
    let msg = parse("top 5").unwrap_err().to_string();
    assert!(msg.contains("top N RES"), "{msg}");
}

#[test]
fn limits_are_enforced() {
    use QueryParseError::Invalid;
    assert!(matches!(
        parse("top 0 mem"),
        Err(Invalid(QueryError::TopN { got: 0, .. }))
    ));
    assert!(parse("top 10000 mem").is_ok());
    assert!(matches!(
        parse("top 10001 mem"),
        Err(Invalid(QueryError::TopN { .. }))
    ));
    assert!(matches!(
        parse("histo load 0"),
        Err(Invalid(QueryError::Buckets { .. }))
    ));
    assert!(parse("histo load 1000").is_ok());
    assert!(matches!(
        parse("histo load 1001"),
        Err(Invalid(QueryError::Buckets { .. }))
    ));
    assert!(matches!(
        parse("avg Load"),
        Err(Invalid(QueryError::ResourceName(_)))
    ));
    assert!(matches!(
        parse("avg lo-ad"),
        Err(Invalid(QueryError::ResourceName(_)))
    ));
    let long = "a".repeat(65);
    assert!(matches!(
        parse(&format!("avg {long}")),
        Err(Invalid(QueryError::ResourceName(_)))
    ));
    assert!(matches!(
        parse("filter grep word relative/path"),
        Err(Invalid(QueryError::BadPath { .. }))
    ));
    let word = "w".repeat(1025);
    assert!(matches!(
        parse(&format!("filter grep {word} /f")),
        Err(Invalid(QueryError::WordTooLong { .. }))
    ));
    let many = vec!["x"; 300].join(" ");
    assert!(matches!(
        parse(&format!("exec -- {many}")),
        Err(Invalid(QueryError::CommandTooLarge { .. }))
    ));
    // A query from the network is validated the same way.
    let q = Query::Filter {
        res: "load".into(),
        op: CmpOp::Gt,
        value: f64::NAN,
    };
    assert_eq!(q.validate(), Err(QueryError::NotFinite("filter VALUE")));
    let q = Query::Exec {
        argv: vec!["a\0b".into()],
        shell: false,
        timeout_s: 1,
        where_: None,
    };
    assert_eq!(q.validate(), Err(QueryError::NulInArgument));
    assert_eq!(
        Query::Grep {
            word: String::new(),
            file: "/f".into()
        }
        .validate(),
        Err(QueryError::EmptyWord)
    );
}

#[test]
fn names_namespaces_resources() {
    assert_eq!(parse("filter grep w /f").unwrap().name(), "grep");
    assert_eq!(
        parse("filter grep w /f").unwrap().namespace(),
        "mon-read@mon"
    );
    assert_eq!(parse("exec ls").unwrap().namespace(), "mon-exec@mon");
    assert_eq!(parse("top 3 cpu").unwrap().namespace(), "mon-query@mon");
    assert_eq!(parse("top 3 cpu").unwrap().resource(), Some("cpu"));
    assert_eq!(
        parse("exec --where mem L 10 -- ls").unwrap().resource(),
        Some("mem")
    );
    assert_eq!(parse("count").unwrap().resource(), None);
}
