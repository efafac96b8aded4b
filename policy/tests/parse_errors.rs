//! Parse errors name the right file, line and column; a broken file rejects the whole slice.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;

use common::*;
use mon_policy::{
    parse_allowed_signers, parse_mon_policy, parse_revoked_keys, Diagnostic, PolicySources,
    Severity, SlicePolicy, MAX_FILE_BYTES, MAX_LINE_BYTES,
};

/// 1-based character column of the first occurrence of `needle` in `line` ("END": just past
/// the end of the line).
fn col(line: &str, needle: &str) -> usize {
    if needle == "END" {
        return line.chars().count() + 1;
    }
    let byte = line.find(needle).expect("needle in line");
    line[..byte].chars().count() + 1
}

fn one_error(diags: Vec<Diagnostic>) -> Diagnostic {
    assert_eq!(diags.len(), 1, "{diags:#?}");
    let d = diags.into_iter().next().unwrap();
    assert_eq!(d.severity, Severity::Error);
    d
}

/// Parses `allowed_signers` whose line 2 is `bad` (line 1 is a good line); returns the error.
fn as_error(good: &str, bad: &str) -> Diagnostic {
    let text = format!("{good}\n{bad}\n");
    let errs = parse_allowed_signers(Path::new("as"), text.as_bytes()).expect_err("must fail");
    let d = one_error(errs);
    assert_eq!(d.line, 2, "{d}");
    d
}

#[test]
fn allowed_signers_errors_point_at_the_token() {
    let tmp = tempfile::tempdir().unwrap();
    let k = keygen(tmp.path(), "k");
    let rsa = keygen_line(tmp.path(), "r", "rsa");
    let ecdsa = keygen_line(tmp.path(), "e", "ecdsa");
    let good = format!("ok@lab {}", k.line);
    let cases: Vec<(String, &str, &str)> = vec![
        (
            format!("alice valid-after=20240101 {}", k.line),
            "20240101",
            "missing start quote",
        ),
        (
            format!("alice namespaces=\"mon-query@mon\" {rsa}"),
            "ssh-rsa",
            "MON needs Ed25519 keys",
        ),
        (
            format!("alice {ecdsa}"),
            "ecdsa-sha2",
            "MON needs Ed25519 keys",
        ),
        (
            format!("alice cert-authority {}", k.line),
            "cert-authority",
            "not supported yet in MON",
        ),
        (
            format!("alice foo=\"x\" {}", k.line),
            "foo",
            "unknown option",
        ),
        (
            "alice ssh-ed25519 !!!notbase64".to_string(),
            "!!!",
            "invalid ssh-ed25519 key data",
        ),
        ("alice ssh-ed25519".to_string(), "END", "missing base64"),
        ("alice".to_string(), "END", "missing key"),
        (
            format!(
                "  bob namespaces=\"a\",valid-after=\"20240231Z\" {}",
                k.line
            ),
            "20240231Z",
            "invalid \"valid-after\" time",
        ),
        (
            format!(
                "bob valid-after=\"20250101Z\",valid-before=\"20240101Z\" {}",
                k.line
            ),
            "valid-after",
            "not after",
        ),
        (
            format!("\"alice {}", k.line),
            "\"alice",
            "missing end quote",
        ),
        (
            format!("bob namespaces=\"a\",NAMESPACES=\"b\" {}", k.line),
            "NAMESPACES",
            "multiple \"namespaces\"",
        ),
        (
            format!("ålice,bø namespaces=\"x\" {rsa}"),
            "ssh-rsa",
            "MON needs Ed25519 keys",
        ),
        (
            format!("bob namespaces=\"a\", {}", k.line),
            " ssh",
            "unexpected end of options",
        ),
        (
            format!("bo\"b {}", k.line),
            "\"b",
            "unexpected '\"' in principals",
        ),
        (
            format!("bob weird\"quote {}", k.line),
            "\"quote",
            "unexpected character after option",
        ),
    ];
    for (bad, at, msg) in cases {
        let d = as_error(&good, &bad);
        assert_eq!(d.col, col(&bad, at), "{bad}\n{d}");
        assert!(d.message.contains(msg), "{bad}\n{d}");
        let shown = d.to_string();
        assert!(
            shown.starts_with(&format!("as:2:{}: error: ", d.col)),
            "{shown}"
        );
    }
}

#[test]
fn all_errors_of_a_file_are_reported() {
    let text = "a ssh-ed25519 x\n# fine\nb\n\nc foo=\"1\" ssh-ed25519 AAAA\n";
    let errs = parse_allowed_signers(Path::new("as"), text.as_bytes()).expect_err("must fail");
    let lines: Vec<usize> = errs.iter().map(|d| d.line).collect();
    assert_eq!(lines, vec![1, 3, 5]);
}

#[test]
fn mon_policy_errors_point_at_the_token() {
    let cases: &[(&str, &str, &str)] = &[
        ("alice bogus=\"x\"", "bogus", "unknown option"),
        (
            "alice from=\"10.0.0.0/8,foo.example\"",
            "foo.example",
            "not an IP address",
        ),
        (
            "alice from=\"10.0.0.0/8,!300.1.1.1\"",
            "!300",
            "not an IP address",
        ),
        (
            "alice push-dirs=\"/srv,/srv/../etc\"",
            "/srv/../etc",
            "must not contain '..'",
        ),
        ("alice push-dirs=\"srv\"", "srv\"", "absolute"),
        ("alice push-dirs=\"/srv/*\"", "/srv/*", "not patterns"),
        ("alice grep-paths=\"/var/log,,/x\"", ",/x", "empty entry"),
        ("alice max-fanout=0", "0", "at least 1"),
        ("alice max-lifetime=\"ten\"", "ten", "positive integer"),
        ("alice max-fanout=99999999999", "99999999999", "too large"),
        ("alice nodes=web1", "web1", "quoted value"),
        (
            "alice command=\"x\" trailing",
            "trailing",
            "unexpected text",
        ),
        ("alice run-as=\"-x\"", "-x", "not a valid user name"),
        (
            "alice run-as=\"a\",run-as=\"b\"",
            "run-as=\"b",
            "given twice",
        ),
        (
            "alice from=\"1.2.3.4\", nodes=\"x\"",
            " nodes",
            "unexpected end of options",
        ),
        ("alice command", "command", "needs a value"),
        ("alice allow-setid=\"yes\"", "allow-setid", "takes no value"),
        (
            "alice command=\"unterminated",
            "\"unterminated",
            "missing end quote",
        ),
    ];
    for (bad, at, msg) in cases {
        let text = format!("# header\nbob@lab nodes=\"n*\"\n{bad}\n");
        let errs = parse_mon_policy(Path::new("mp"), text.as_bytes()).expect_err(bad);
        let d = one_error(errs);
        assert_eq!(d.line, 3, "{bad}\n{d}");
        assert_eq!(d.col, col(bad, at), "{bad}\n{d}");
        assert!(d.message.contains(msg), "{bad}\n{d}");
    }
}

#[test]
fn mon_policy_accepts_its_grammar() {
    let text = "# narrowing\n\
        alice@lab,ops-* from=\"10.0.0.0/8,!10.9.0.0/16,2001:db8::/32,192.0.2.7\",command=\"systemctl restart *\",nodes=\"web*,!web13\",run-as=\"deploy\" # comment\n\
        \"bob@lab\" grep-paths=\"/var/log,/srv/*/logs/*.log\",push-dirs=\"/srv/apps/\",max-fanout=\"16\",max-lifetime=3600\n\
        carol\n\
        dave push-dirs=\"/opt/tools\",allow-setid\n";
    let (mp, warnings) = parse_mon_policy(Path::new("mp"), text.as_bytes()).unwrap();
    assert_eq!(mp.lines.len(), 4);
    assert!(mp.lines[3].allow_setid);
    assert!(!mp.lines[1].allow_setid);
    let bob = &mp.lines[1];
    assert_eq!(
        bob.push_dirs.as_deref(),
        Some(&["/srv/apps".to_string()][..])
    );
    assert_eq!(bob.max_fanout, Some(16));
    assert_eq!(bob.max_lifetime, Some(3600));
    assert_eq!(mp.lines[0].from.as_ref().map(Vec::len), Some(4));
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert_eq!(
        (warnings[0].line, warnings[0].severity),
        (4, Severity::Warning)
    );
}

#[test]
fn revoked_keys_errors_and_warnings() {
    let tmp = tempfile::tempdir().unwrap();
    let k = keygen(tmp.path(), "k");
    let rsa = keygen_line(tmp.path(), "r", "rsa");
    let ok = format!("# revoked\n{} old laptop\n\n{rsa}\n{}\n", k.line, k.line);
    let (rv, warnings) = parse_revoked_keys(Path::new("rk"), ok.as_bytes()).unwrap();
    assert_eq!(rv.line_of(&k.public), Some(2));
    assert_eq!(rv.len(), 1);
    let lines: Vec<usize> = warnings.iter().map(|w| w.line).collect();
    assert_eq!(lines, vec![4, 5], "rsa ignored, duplicate noted");
    let bad = format!("{}\nssh-ed25519 AAAAnope\n", k.line);
    let d = one_error(parse_revoked_keys(Path::new("rk"), bad.as_bytes()).expect_err("bad key"));
    assert_eq!((d.line, d.col), (2, 13));
}

#[test]
fn size_limits() {
    let tmp = tempfile::tempdir().unwrap();
    let k = keygen(tmp.path(), "k");
    // A line longer than 8 KiB.
    let long = format!("{} {}\n", "a".repeat(MAX_LINE_BYTES), k.line);
    let d = one_error(parse_allowed_signers(Path::new("as"), long.as_bytes()).expect_err("long"));
    assert_eq!(d.line, 1);
    assert!(d.message.contains("longer than"), "{d}");
    // A file larger than 1 MiB, made of valid lines.
    let line = format!("p {}\n", k.line);
    let big = line.repeat(MAX_FILE_BYTES / line.len() + 1);
    for r in [
        parse_allowed_signers(Path::new("as"), big.as_bytes()).err(),
        parse_mon_policy(Path::new("mp"), big.as_bytes()).err(),
        parse_revoked_keys(Path::new("rk"), big.as_bytes()).err(),
    ] {
        let d = one_error(r.expect("oversize file rejected"));
        assert_eq!(d.line, 0);
        assert!(d.message.contains("1 MiB"), "{d}");
        assert!(d.to_string().contains(": error: file is larger"), "{d}");
    }
    // Not UTF-8, NUL bytes.
    let mut bin = b"ok ".to_vec();
    bin.extend_from_slice(k.line.as_bytes());
    bin.extend_from_slice(b"\nab\xffc\nx\0y\n");
    let errs = parse_allowed_signers(Path::new("as"), &bin).expect_err("binary");
    let at: Vec<(usize, usize)> = errs.iter().map(|d| (d.line, d.col)).collect();
    assert_eq!(at, vec![(2, 3), (3, 2)]);
}

#[test]
fn crlf_and_comments_are_fine() {
    let tmp = tempfile::tempdir().unwrap();
    let k = keygen(tmp.path(), "k");
    let text = format!(
        "# c\r\n\r\n   # indented comment\r\nalice {} laptop key\r\n",
        k.line
    );
    let (a, w) = parse_allowed_signers(Path::new("as"), text.as_bytes()).unwrap();
    assert!(w.is_empty());
    assert_eq!(a.lines.len(), 1);
    assert_eq!(a.lines[0].line, 4);
    assert_eq!(a.lines[0].comment, "laptop key");
}

#[test]
fn a_broken_file_rejects_the_whole_slice_with_every_error() {
    let tmp = tempfile::tempdir().unwrap();
    let k = keygen(tmp.path(), "k");
    let good = format!("alice {}\n", k.line);
    let src = PolicySources {
        allowed_signers: (Path::new("dir/allowed_signers"), good.as_bytes()),
        mon_policy: Some((Path::new("dir/mon_policy"), b"alice nope=\"1\"\n")),
        revoked_keys: Some((Path::new("dir/revoked_keys"), b"ssh-ed25519 !!\n")),
    };
    let e = SlicePolicy::from_sources(&src).expect_err("broken");
    let files: Vec<String> = e
        .diagnostics
        .iter()
        .map(|d| d.file.display().to_string())
        .collect();
    assert_eq!(files, vec!["dir/mon_policy", "dir/revoked_keys"]);
    assert!(
        e.to_string()
            .starts_with("dir/mon_policy:1:7: error: unknown option"),
        "{e}"
    );
    // Missing allowed_signers in a directory.
    let dir = slice_dir(tmp.path(), "s", None, Some("alice run-as=\"x\"\n"), None);
    let e = SlicePolicy::load(&dir).expect_err("no allowed_signers");
    assert!(e.diagnostics[0].message.contains("missing"), "{e}");
}
