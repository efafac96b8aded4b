//! The console's security layer, in front of every route: the browser ↔ console trust
//! boundary (SECURITY.md, "The console").
//!
//! - Host: only the listen address and `localhost` names at its port are served; any other
//!   Host (a DNS-rebinding page's name) gets 421.
//! - Login: a login token (128 random bits from the OS, printed in the URL only, never
//!   logged) is exchanged once at `/login?token=…` for an HttpOnly, SameSite=Strict cookie whose
//!   value is a second secret (256 bits), and a redirect to `/#k=…` carrying a third (256
//!   bits, the page key) in the fragment, which the page moves into its origin's
//!   sessionStorage and sends as the [`PAGE_KEY_HEADER`] on every API call. Every route but
//!   the static page ([`super::assets::PUBLIC`]) needs the cookie AND the header (401):
//!   cookies ignore the port, so a server of another local user on 127.0.0.1 may be sent
//!   the cookie, but never the page key (storage is per origin, port included). All secrets
//!   are compared in constant time. A token logs in once: a second `/login` with it, or with
//!   one replaced by a newer URL ([`Guard::fresh_login_url`]), is refused (403) and logged
//!   (without the token).
//! - `/api/…` needs a same-origin request, any method: `Origin` this console's own, or
//!   `Sec-Fetch-Site: same-origin` (else 403). State-changing requests (any method but GET
//!   and HEAD) need that `Origin` itself (else 403) and a JSON body (else 415): a cross-site
//!   form can send neither.
//! - Every response carries a strict Content-Security-Policy (no inline script or style, no
//!   framing), `X-Frame-Options: DENY`, `nosniff`, `no-referrer` and `no-store`.

use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};

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

/// The header in which the page sends the page key.
pub const PAGE_KEY_HEADER: &str = "x-mon-console";

/// What a request that passed the checks is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    /// `/login` with the right token: set the cookie, hand over the page key.
    Login,
    /// One of the static page's files (they hold no secret).
    Public,
    /// A request of a logged-in page.
    Session,
}

/// Why a request was refused (the text the browser shows).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The Host header is not this console's (DNS rebinding, or a proxy).
    ForeignHost,
    /// No valid session cookie and page key.
    NoSession,
    /// `/login` with a wrong or missing token.
    BadToken,
    /// `/login` with a token that logged in already or that a newer URL replaced.
    SpentToken,
    /// An API request not from this console's own page (Origin, Sec-Fetch-Site).
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
            Refusal::ForeignOrigin | Refusal::SpentToken => StatusCode::FORBIDDEN,
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
                "not logged in (in this tab): open the URL with the token that `mon web` \
                 printed at start-up"
            }
            Refusal::BadToken => "wrong or missing token: use the newest URL `mon web` printed",
            Refusal::SpentToken => {
                "this login URL was used already (or a newer one replaced it): press Enter in \
                 the terminal of `mon web` for a new one"
            }
            Refusal::ForeignOrigin => {
                "refused: an API request must come from this console's own page (Origin)"
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

/// How many used or replaced login tokens are remembered (to refuse them as spent, 403,
/// rather than as wrong, 401).
const SPENT_KEPT: usize = 16;

/// The login tokens: the one that logs in (the newest URL's, until used) and the last
/// [`SPENT_KEPT`] used or replaced.
#[derive(Default)]
struct Tokens {
    live: Option<Zeroizing<String>>,
    spent: VecDeque<Zeroizing<String>>,
}

impl Tokens {
    fn retire(&mut self) {
        if let Some(t) = self.live.take() {
            if self.spent.len() == SPENT_KEPT {
                self.spent.pop_front();
            }
            self.spent.push_back(t);
        }
    }
}

/// The console's secrets and the names it answers to.
pub struct Guard {
    tokens: Mutex<Tokens>,
    session: Zeroizing<String>,
    page_key: Zeroizing<String>,
    cookie_name: String,
    tls: bool,
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
    /// Fresh secrets for a console bound to `listen` (the bound address, port resolved),
    /// serving HTTPS when `tls`.
    pub fn new(listen: SocketAddr, tls: bool) -> Guard {
        let port = listen.port();
        let ip = match listen.ip() {
            IpAddr::V4(a) => a.to_string(),
            IpAddr::V6(a) => format!("[{a}]"),
        };
        let mut hosts = vec![format!("{ip}:{port}"), format!("localhost:{port}")];
        if listen.ip().is_loopback() {
            hosts.push(format!("localhost.:{port}"));
        }
        let scheme = if tls { "https" } else { "http" };
        let origins = hosts.iter().map(|h| format!("{scheme}://{h}")).collect();
        Guard {
            tokens: Mutex::new(Tokens::default()),
            session: random_hex(32),
            page_key: random_hex(32),
            // Cookies are per host, not per port: the name keeps two consoles' cookies apart
            // (the page key, not the cookie, keeps other servers out).
            cookie_name: format!("mon_console_{port}"),
            tls,
            hosts,
            origins,
        }
    }

    /// `http://ADDR:PORT` (or `https://`): where the console serves.
    pub fn base_url(&self) -> &str {
        &self.origins[0]
    }

    /// A new login URL (`BASE/login?token=…`, for stdout only): a fresh token, which logs in
    /// once; the previous URL's token, used or not, no longer does.
    pub fn fresh_login_url(&self) -> Zeroizing<String> {
        let token = random_hex(16);
        let url = Zeroizing::new(format!("{}/login?token={}", self.base_url(), &*token));
        let mut t = self.tokens.lock().unwrap_or_else(PoisonError::into_inner);
        t.retire();
        t.live = Some(token);
        url
    }

    /// Whether `host` (the Host header) is one of this console's names (any case).
    pub fn host_ok(&self, host: Option<&str>) -> bool {
        host.is_some_and(|h| self.hosts.iter().any(|a| a.eq_ignore_ascii_case(h)))
    }

    /// Whether `origin` (the Origin header) is this console's own.
    pub fn origin_ok(&self, origin: Option<&str>) -> bool {
        origin.is_some_and(|o| self.origins.iter().any(|a| a.eq_ignore_ascii_case(o)))
    }

    /// Spends `token` if it is the live login token (then it logs in: [`Admit::Login`]);
    /// else refuses it as spent (a used or replaced one) or wrong. One lock: of two logins
    /// with the same token, one wins.
    fn spend(&self, token: &str) -> Result<Admit, Refusal> {
        let mut t = self.tokens.lock().unwrap_or_else(PoisonError::into_inner);
        if t.live.as_ref().is_some_and(|l| secret_eq(token, l)) {
            t.retire();
            return Ok(Admit::Login);
        }
        let spent = t.spent.iter().fold(false, |a, s| a | secret_eq(token, s));
        Err(if spent && !token.is_empty() {
            Refusal::SpentToken
        } else {
            Refusal::BadToken
        })
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

    /// Whether the page key header is this console's.
    pub fn page_key_ok(&self, headers: &HeaderMap) -> bool {
        let mut ok = false;
        for v in headers.get_all(PAGE_KEY_HEADER) {
            ok |= secret_eq(v.to_str().unwrap_or(""), &self.page_key);
        }
        ok
    }

    /// Whether the request comes from this console's own page: its `Origin`, or (a GET
    /// without one) `Sec-Fetch-Site: same-origin`.
    pub fn same_origin(&self, headers: &HeaderMap) -> bool {
        let h = |n: &str| headers.get(n).and_then(|v| v.to_str().ok());
        match h("origin") {
            Some(o) => self.origin_ok(Some(o)),
            None => h("sec-fetch-site") == Some("same-origin"),
        }
    }

    /// The Set-Cookie value that logs a browser in (`Secure` under TLS).
    pub fn set_cookie(&self) -> String {
        let secure = if self.tls { "; Secure" } else { "" };
        format!(
            "{}={}; Path=/; HttpOnly; SameSite=Strict{secure}",
            self.cookie_name, &*self.session
        )
    }

    /// Where `/login` sends the browser: the page, with the page key in the fragment (which
    /// the browser never sends to a server).
    pub fn login_location(&self) -> Zeroizing<String> {
        Zeroizing::new(format!("/#k={}", &*self.page_key))
    }

    /// The checks of one request, in order: Host; `/login`'s token (spent by a login); the
    /// static page; the
    /// session cookie and page key; for `/api/…` a same-origin request; for a
    /// state-changing method our own Origin and JSON.
    pub fn check(
        &self,
        method: &Method,
        path: &str,
        query: Option<&str>,
        headers: &HeaderMap,
    ) -> Result<Admit, Refusal> {
        let h = |n: header::HeaderName| headers.get(n).and_then(|v| v.to_str().ok());
        if !self.host_ok(h(header::HOST)) {
            return Err(Refusal::ForeignHost);
        }
        let read_only = method == Method::GET || method == Method::HEAD;
        if path == "/login" {
            let token = query
                .unwrap_or("")
                .split('&')
                .find_map(|kv| kv.strip_prefix("token="))
                .unwrap_or("");
            return self.spend(token);
        }
        if read_only && super::assets::PUBLIC.contains(&path) {
            return Ok(Admit::Public);
        }
        // Both, always: no early exit that would tell which one failed sooner.
        let cookie = self.session_ok(headers);
        let key = self.page_key_ok(headers);
        if !(cookie & key) {
            return Err(Refusal::NoSession);
        }
        if (path.starts_with("/api/") || path == "/api") && !self.same_origin(headers) {
            return Err(Refusal::ForeignOrigin);
        }
        if !read_only {
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
        Ok(Admit::Session)
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
        Err(refusal @ Refusal::SpentToken) => {
            // The path only: never the query, which holds the token.
            tracing::warn!(
                path = uri.path(),
                "console: a used or replaced login URL was opened"
            );
            refusal.into_response()
        }
        Err(refusal) => {
            tracing::info!(
                path = uri.path(),
                refusal = refusal.text(),
                "console: refused"
            );
            refusal.into_response()
        }
        Ok(Admit::Login) => match (
            HeaderValue::from_str(&g.login_location()),
            HeaderValue::from_str(&g.set_cookie()),
        ) {
            (Ok(loc), Ok(cookie)) => {
                let mut r = StatusCode::SEE_OTHER.into_response();
                r.headers_mut().insert(header::LOCATION, loc);
                r.headers_mut().insert(header::SET_COOKIE, cookie);
                r
            }
            _ => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        },
        Ok(Admit::Public | Admit::Session) => next.run(req).await,
    };
    harden(&mut r);
    r
}

#[cfg(test)]
mod tests;
