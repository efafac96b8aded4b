//! The console's security layer, in front of every route: the browser ↔ console trust
//! boundary (SECURITY.md, "The console").
//!
//! - Host: only the listen address and `localhost` names at its port are served; any other
//!   Host (a DNS-rebinding page's name) gets 421.
//! - Login: the start-up token (128 random bits from the OS, printed in the URL only, never
//!   logged) is exchanged at `/login?token=…` for an HttpOnly, SameSite=Strict cookie whose
//!   value is a second secret (256 bits); every other route needs that cookie (401). Both are
//!   compared in constant time.
//! - State-changing requests (any method but GET and HEAD) need an `Origin` that is this
//!   console's own (else 403) and a JSON body (else 415): a cross-site form cannot send one.
//! - Every response carries a strict Content-Security-Policy (no inline script or style, no
//!   framing), `X-Frame-Options: DENY`, `nosniff`, `no-referrer` and `no-store`.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rand::RngCore as _;
use subtle::ConstantTimeEq as _;
use zeroize::Zeroizing;

/// The Content-Security-Policy of every response.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
                       connect-src 'self'; base-uri 'none'; form-action 'none'; \
                       frame-ancestors 'none'";

/// Why a request was refused (the text the browser shows).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The Host header is not this console's (DNS rebinding, or a proxy).
    ForeignHost,
    /// No valid session cookie.
    NoSession,
    /// `/login` with a wrong or missing token.
    BadToken,
    /// A state-changing request whose Origin is missing or not this console's.
    ForeignOrigin,
    /// A state-changing request without a JSON body.
    NotJson,
}

impl Refusal {
    /// The HTTP status.
    pub fn status(self) -> StatusCode {
        match self {
            Refusal::ForeignHost => StatusCode::MISDIRECTED_REQUEST,
            Refusal::NoSession | Refusal::BadToken => StatusCode::UNAUTHORIZED,
            Refusal::ForeignOrigin => StatusCode::FORBIDDEN,
            Refusal::NotJson => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        }
    }

    /// The explanation.
    pub fn text(self) -> &'static str {
        match self {
            Refusal::ForeignHost => {
                "this console serves only its own address and localhost (foreign Host header)"
            }
            Refusal::NoSession => {
                "not logged in: open the URL with the token that `mon web` printed at start-up"
            }
            Refusal::BadToken => {
                "wrong or missing token: use the URL `mon web` printed at start-up"
            }
            Refusal::ForeignOrigin => {
                "refused: a state-changing request must come from this console's own page (Origin)"
            }
            Refusal::NotJson => "refused: a state-changing request must send application/json",
        }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let body = serde_json::json!({"error": self.text()}).to_string();
        (
            self.status(),
            [(header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response()
    }
}

/// The console's secrets and the names it answers to.
pub struct Guard {
    token: Zeroizing<String>,
    session: Zeroizing<String>,
    cookie_name: String,
    hosts: Vec<String>,
    origins: Vec<String>,
}

impl std::fmt::Debug for Guard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guard")
            .field("hosts", &self.hosts)
            .finish_non_exhaustive()
    }
}

fn random_hex(bytes: usize) -> Zeroizing<String> {
    let mut b = Zeroizing::new(vec![0u8; bytes]);
    rand::rngs::OsRng.fill_bytes(&mut b);
    Zeroizing::new(hex::encode(&*b))
}

/// Constant-time equality of two secrets (their lengths are not secret).
fn secret_eq(a: &str, b: &str) -> bool {
    bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

impl Guard {
    /// Fresh secrets for a console bound to `listen` (the bound address, port resolved).
    pub fn new(listen: SocketAddr) -> Guard {
        let port = listen.port();
        let ip = match listen.ip() {
            IpAddr::V4(a) => a.to_string(),
            IpAddr::V6(a) => format!("[{a}]"),
        };
        let mut hosts = vec![format!("{ip}:{port}"), format!("localhost:{port}")];
        if listen.ip().is_loopback() {
            hosts.push(format!("localhost.:{port}"));
        }
        let origins = hosts.iter().map(|h| format!("http://{h}")).collect();
        Guard {
            token: random_hex(16),
            session: random_hex(32),
            // Cookies are per host, not per port: the port keeps two consoles apart.
            cookie_name: format!("mon_console_{port}"),
            hosts,
            origins,
        }
    }

    /// The start-up token (for the printed URL only).
    pub fn token(&self) -> &str {
        &self.token
    }

    /// Whether `host` (the Host header) is one of this console's names (any case).
    pub fn host_ok(&self, host: Option<&str>) -> bool {
        host.is_some_and(|h| self.hosts.iter().any(|a| a.eq_ignore_ascii_case(h)))
    }

    /// Whether `origin` (the Origin header) is this console's own.
    pub fn origin_ok(&self, origin: Option<&str>) -> bool {
        origin.is_some_and(|o| self.origins.iter().any(|a| a.eq_ignore_ascii_case(o)))
    }

    /// Whether `token` is the start-up token.
    pub fn token_ok(&self, token: &str) -> bool {
        secret_eq(token, &self.token)
    }

    /// Whether the Cookie headers carry this console's session cookie.
    pub fn session_ok(&self, headers: &HeaderMap) -> bool {
        let mut ok = false;
        for v in headers.get_all(header::COOKIE) {
            let Ok(v) = v.to_str() else { continue };
            for pair in v.split(';') {
                if let Some((k, val)) = pair.trim().split_once('=') {
                    if k == self.cookie_name {
                        ok |= secret_eq(val, &self.session);
                    }
                }
            }
        }
        ok
    }

    /// The Set-Cookie value that logs a browser in.
    pub fn set_cookie(&self) -> String {
        format!(
            "{}={}; Path=/; HttpOnly; SameSite=Strict",
            self.cookie_name, &*self.session
        )
    }

    /// The checks of one request, in order: Host, then `/login`'s token or the session
    /// cookie, then Origin and JSON for a state-changing method. `Ok(true)`: a valid login
    /// (the caller sets the cookie).
    pub fn check(
        &self,
        method: &Method,
        path: &str,
        query: Option<&str>,
        headers: &HeaderMap,
    ) -> Result<bool, Refusal> {
        let h = |n: header::HeaderName| headers.get(n).and_then(|v| v.to_str().ok());
        if !self.host_ok(h(header::HOST)) {
            return Err(Refusal::ForeignHost);
        }
        if path == "/login" {
            let token = query
                .unwrap_or("")
                .split('&')
                .find_map(|kv| kv.strip_prefix("token="))
                .unwrap_or("");
            return if self.token_ok(token) {
                Ok(true)
            } else {
                Err(Refusal::BadToken)
            };
        }
        if !self.session_ok(headers) {
            return Err(Refusal::NoSession);
        }
        if method != Method::GET && method != Method::HEAD {
            if !self.origin_ok(h(header::ORIGIN)) {
                return Err(Refusal::ForeignOrigin);
            }
            let json = h(header::CONTENT_TYPE).is_some_and(|c| {
                c.split(';')
                    .next()
                    .is_some_and(|m| m.trim() == "application/json")
            });
            if !json {
                return Err(Refusal::NotJson);
            }
        }
        Ok(false)
    }
}

/// The security headers every response carries.
fn harden(r: &mut Response) {
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        "cross-origin-resource-policy",
        HeaderValue::from_static("same-origin"),
    );
}

/// The middleware: refuses what [`Guard::check`] refuses, answers `/login`, and hardens
/// every response.
pub async fn layer(State(g): State<Arc<Guard>>, req: Request, next: Next) -> Response {
    let uri = req.uri().clone();
    let mut r = match g.check(req.method(), uri.path(), uri.query(), req.headers()) {
        Err(refusal) => {
            tracing::info!(
                path = uri.path(),
                refusal = refusal.text(),
                "console: refused"
            );
            refusal.into_response()
        }
        Ok(true) => {
            let mut r = (StatusCode::SEE_OTHER, [(header::LOCATION, "/")]).into_response();
            if let Ok(v) = HeaderValue::from_str(&g.set_cookie()) {
                r.headers_mut().insert(header::SET_COOKIE, v);
            }
            r
        }
        Ok(false) => next.run(req).await,
    };
    harden(&mut r);
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard() -> Guard {
        Guard::new("127.0.0.1:7480".parse().expect("addr"))
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

    #[test]
    fn the_token_is_128_bits_and_fresh_each_start() {
        let (a, b) = (guard(), guard());
        assert_eq!(a.token().len(), 32);
        assert_ne!(a.token(), b.token());
        assert!(
            !a.set_cookie().contains(a.token()),
            "the cookie is not the token"
        );
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
    fn login_needs_the_exact_token_then_the_cookie_admits() {
        let g = guard();
        let h = headers(&[("host", "127.0.0.1:7480")]);
        let q = format!("token={}", g.token());
        assert_eq!(g.check(&Method::GET, "/login", Some(&q), &h), Ok(true));
        let short = format!("token={}", &g.token()[..31]);
        assert_eq!(
            g.check(&Method::GET, "/login", Some(&short), &h),
            Err(Refusal::BadToken)
        );
        assert_eq!(
            g.check(&Method::GET, "/login", None, &h),
            Err(Refusal::BadToken)
        );
        assert_eq!(
            g.check(&Method::GET, "/", None, &h),
            Err(Refusal::NoSession)
        );
        let cookie = g.set_cookie();
        let pair = cookie.split(';').next().expect("pair");
        let h = headers(&[
            ("host", "127.0.0.1:7480"),
            ("cookie", &format!("a=b; {pair}")),
        ]);
        assert_eq!(g.check(&Method::GET, "/api/members", None, &h), Ok(false));
        let forged = headers(&[
            ("host", "127.0.0.1:7480"),
            ("cookie", "mon_console_7480=00"),
        ]);
        assert_eq!(
            g.check(&Method::GET, "/", None, &forged),
            Err(Refusal::NoSession)
        );
    }

    #[test]
    fn a_post_needs_our_origin_and_json() {
        let g = guard();
        let cookie = g.set_cookie();
        let pair = cookie.split(';').next().expect("pair").to_string();
        let base = [("host", "127.0.0.1:7480"), ("cookie", pair.as_str())];
        let with = |extra: &[(&str, &str)]| {
            let mut v = base.to_vec();
            v.extend_from_slice(extra);
            headers(&v)
        };
        let json = ("content-type", "application/json");
        let p = "/api/query";
        assert_eq!(
            g.check(
                &Method::POST,
                p,
                None,
                &with(&[("origin", "http://127.0.0.1:7480"), json])
            ),
            Ok(false)
        );
        assert_eq!(
            g.check(
                &Method::POST,
                p,
                None,
                &with(&[("origin", "http://evil.example"), json])
            ),
            Err(Refusal::ForeignOrigin)
        );
        assert_eq!(
            g.check(&Method::POST, p, None, &with(&[json])),
            Err(Refusal::ForeignOrigin)
        );
        assert_eq!(
            g.check(
                &Method::POST,
                p,
                None,
                &with(&[
                    ("origin", "http://localhost:7480"),
                    ("content-type", "text/plain")
                ])
            ),
            Err(Refusal::NotJson)
        );
    }
}
