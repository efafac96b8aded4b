use super::*;

fn guard() -> Guard {
    Guard::new("127.0.0.1:7480".parse().expect("addr"), false)
}

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.append(
            header::HeaderName::from_bytes(k.as_bytes()).expect("name"),
            HeaderValue::from_str(v).expect("value"),
        );
    }
    h
}

/// A fresh login URL's token, as the operator copies it from stdout.
fn token(g: &Guard) -> String {
    let url = g.fresh_login_url();
    let (base, t) = url.split_once("/login?token=").expect("a login URL");
    assert_eq!(base, g.base_url());
    t.to_string()
}

/// The `name=value` pair of the login cookie.
fn cookie_pair(g: &Guard) -> String {
    g.set_cookie().split(';').next().expect("pair").to_string()
}

/// The page key, as the page reads it from the login redirect's fragment.
fn page_key(g: &Guard) -> String {
    g.login_location()
        .strip_prefix("/#k=")
        .expect("a fragment")
        .to_string()
}

/// Our Host, the cookie and the page key, plus `extra`.
fn logged_in(g: &Guard, extra: &[(&str, &str)]) -> HeaderMap {
    let (c, k) = (cookie_pair(g), page_key(g));
    let mut v = vec![
        ("host", "127.0.0.1:7480"),
        ("cookie", c.as_str()),
        (PAGE_KEY_HEADER, k.as_str()),
    ];
    v.extend_from_slice(extra);
    headers(&v)
}

const SAME: (&str, &str) = ("sec-fetch-site", "same-origin");

#[test]
fn the_secrets_are_long_distinct_and_fresh_each_start() {
    let (a, b) = (guard(), guard());
    assert_eq!(token(&a).len(), 32);
    assert_ne!(token(&a), token(&b));
    assert_eq!(page_key(&a).len(), 64);
    assert_ne!(page_key(&a), page_key(&b));
    assert!(
        !a.set_cookie().contains(&token(&a)),
        "the cookie is not the token"
    );
    assert!(
        !a.set_cookie().contains(&page_key(&a)),
        "the cookie is not the page key"
    );
    assert!(!a.set_cookie().contains("Secure"));
    let tls = Guard::new("127.0.0.1:7480".parse().expect("addr"), true);
    assert!(
        tls.set_cookie().ends_with("; Secure"),
        "{}",
        tls.set_cookie()
    );
    assert_eq!(tls.base_url(), "https://127.0.0.1:7480");
    assert!(tls.origin_ok(Some("https://127.0.0.1:7480")));
    assert!(!tls.origin_ok(Some("http://127.0.0.1:7480")));
}

#[test]
fn only_the_listen_address_and_localhost_are_served() {
    let g = guard();
    assert!(g.host_ok(Some("127.0.0.1:7480")));
    assert!(g.host_ok(Some("LOCALHOST:7480")));
    assert!(!g.host_ok(Some("evil.example:7480")));
    assert!(!g.host_ok(Some("127.0.0.1:7481")));
    assert!(!g.host_ok(None));
    let h = headers(&[("host", "rebound.example:7480")]);
    assert_eq!(
        g.check(&Method::GET, "/", None, &h),
        Err(Refusal::ForeignHost)
    );
}

#[test]
fn login_needs_the_exact_token_and_the_page_is_public() {
    let g = guard();
    let h = headers(&[("host", "127.0.0.1:7480")]);
    let t = token(&g);
    let short = format!("token={}", &t[..31]);
    assert_eq!(
        g.check(&Method::GET, "/login", Some(&short), &h),
        Err(Refusal::BadToken)
    );
    assert_eq!(
        g.check(&Method::GET, "/login", None, &h),
        Err(Refusal::BadToken)
    );
    let q = format!("token={t}");
    assert_eq!(
        g.check(&Method::GET, "/login", Some(&q), &h),
        Ok(Admit::Login)
    );
    for p in ["/", "/app.js", "/app.css"] {
        assert_eq!(g.check(&Method::GET, p, None, &h), Ok(Admit::Public), "{p}");
    }
    assert_eq!(
        g.check(&Method::GET, "/anything", None, &h),
        Err(Refusal::NoSession)
    );
}

#[test]
fn the_api_needs_the_cookie_and_the_page_key_together() {
    let g = guard();
    let api = "/api/members";
    assert_eq!(
        g.check(&Method::GET, api, None, &logged_in(&g, &[SAME])),
        Ok(Admit::Session)
    );
    // The cookie alone (what a server of another local user on another port is sent).
    let c = cookie_pair(&g);
    let cookie_only = headers(&[("host", "127.0.0.1:7480"), ("cookie", &c), SAME]);
    // The page key alone.
    let k = page_key(&g);
    let key_only = headers(&[("host", "127.0.0.1:7480"), (PAGE_KEY_HEADER, &k), SAME]);
    // A wrong page key with the right cookie; the right key with a forged cookie.
    let wrong_key = headers(&[
        ("host", "127.0.0.1:7480"),
        ("cookie", &c),
        (PAGE_KEY_HEADER, &"0".repeat(64)),
        SAME,
    ]);
    let forged = headers(&[
        ("host", "127.0.0.1:7480"),
        ("cookie", "mon_console_7480=00"),
        (PAGE_KEY_HEADER, &k),
        SAME,
    ]);
    for h in [&cookie_only, &key_only, &wrong_key, &forged] {
        for (m, p) in [
            (Method::GET, "/api/info"),
            (Method::GET, "/api/members"),
            (Method::GET, "/api/push/1"),
            (Method::POST, "/api/query"),
            (Method::POST, "/api/exec"),
            (Method::POST, "/api/push"),
        ] {
            assert_eq!(g.check(&m, p, None, h), Err(Refusal::NoSession), "{m} {p}");
        }
    }
}

#[test]
fn an_api_get_needs_a_same_origin_request() {
    let g = guard();
    let api = "/api/members";
    let ours = ("origin", "http://127.0.0.1:7480");
    assert_eq!(
        g.check(&Method::GET, api, None, &logged_in(&g, &[ours])),
        Ok(Admit::Session)
    );
    for extra in [
        vec![],
        vec![("sec-fetch-site", "same-site")],
        vec![("sec-fetch-site", "cross-site")],
        vec![("origin", "http://127.0.0.1:7481"), SAME],
        vec![("origin", "null")],
    ] {
        assert_eq!(
            g.check(&Method::GET, api, None, &logged_in(&g, &extra)),
            Err(Refusal::ForeignOrigin),
            "{extra:?}"
        );
    }
}

#[test]
fn a_post_needs_our_origin_and_json() {
    let g = guard();
    let json = ("content-type", "application/json");
    let p = "/api/query";
    let post = |extra: &[(&str, &str)]| g.check(&Method::POST, p, None, &logged_in(&g, extra));
    assert_eq!(
        post(&[("origin", "http://127.0.0.1:7480"), json]),
        Ok(Admit::Session)
    );
    assert_eq!(
        post(&[("origin", "http://evil.example"), json]),
        Err(Refusal::ForeignOrigin)
    );
    assert_eq!(post(&[json]), Err(Refusal::ForeignOrigin));
    assert_eq!(post(&[json, SAME]), Err(Refusal::ForeignOrigin));
    assert_eq!(
        post(&[
            ("origin", "http://localhost:7480"),
            ("content-type", "text/plain")
        ]),
        Err(Refusal::NotJson)
    );
}

#[test]
fn a_login_token_logs_in_once_and_a_new_url_replaces_the_last() {
    let g = guard();
    let h = headers(&[("host", "127.0.0.1:7480")]);
    let login = |t: &str| g.check(&Method::GET, "/login", Some(&format!("token={t}")), &h);
    let first = token(&g);
    assert_eq!(login(&first), Ok(Admit::Login));
    // Whoever reads the URL afterwards (history, a shoulder, a log of the terminal) gets
    // nothing from it.
    assert_eq!(login(&first), Err(Refusal::SpentToken));
    assert_eq!(Refusal::SpentToken.status(), StatusCode::FORBIDDEN);
    // A new URL logs in once; printing another retires it unused.
    let second = token(&g);
    let third = token(&g);
    assert_eq!(login(&second), Err(Refusal::SpentToken));
    assert_eq!(login(&first), Err(Refusal::SpentToken));
    assert_eq!(login(&third), Ok(Admit::Login));
    assert_eq!(login(&third), Err(Refusal::SpentToken));
    assert_eq!(login(""), Err(Refusal::BadToken));
    assert_eq!(login(&"0".repeat(32)), Err(Refusal::BadToken));
}
