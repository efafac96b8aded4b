//! The console test's HTTP side: `mon web` processes, raw HTTP/1.1 requests, logging in
//! (cookie and page key) and requests as the logged-in page.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::process::{Child, ChildStdin, ChildStdout, Stdio};
use std::time::Duration;

use mon_tests::Cluster;
use serde_json::Value;

/// A child process killed when dropped.
pub struct Proc(pub Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A running `mon web`: its stdin (a line asks for a new login URL) and its stdout.
pub struct Console {
    stdin: ChildStdin,
    lines: std::io::Lines<BufReader<ChildStdout>>,
    _proc: Proc,
}

impl Console {
    /// The next login URL `mon web` prints.
    fn next_url(&mut self) -> String {
        self.lines
            .by_ref()
            .take(5)
            .map_while(Result::ok)
            .find_map(|l| {
                l.split_whitespace()
                    .find(|w| w.contains("/login?token="))
                    .map(str::to_string)
            })
            .expect("mon web printed no login URL")
    }

    /// A new login URL: a line on `mon web`'s stdin (the operator presses Enter).
    pub fn fresh_url(&mut self) -> String {
        self.stdin
            .write_all(b"\n")
            .expect("write to mon web's stdin");
        self.stdin.flush().expect("flush");
        self.next_url()
    }
}

/// Starts `mon web` through node 1; returns it and its login URL (read from its stdout).
pub fn start_console(c: &Cluster, port: u16, allow: &[&str]) -> (Console, String) {
    let mut cmd = c.client();
    cmd.args(["web", "--listen", &format!("127.0.0.1:{port}")]);
    if !allow.is_empty() {
        cmd.args(["--allow", &allow.join(",")]);
    }
    let mut p = Proc(
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn mon web"),
    );
    let out = p.0.stdout.take().expect("stdout");
    let stdin = p.0.stdin.take().expect("stdin");
    let mut console = Console {
        stdin,
        lines: BufReader::new(out).lines(),
        _proc: p,
    };
    let url = console.next_url();
    (console, url)
}

/// One HTTP/1.1 request to 127.0.0.1:`port`; returns the status and the whole response.
pub fn http(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect to the console");
    s.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let mut req = format!("{method} {path} HTTP/1.1\r\nConnection: close\r\n");
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        req.push_str(&format!("Host: 127.0.0.1:{port}\r\n"));
    }
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    s.write_all(req.as_bytes()).expect("send");
    let mut resp = String::new();
    s.read_to_string(&mut resp).expect("read");
    let status = resp
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, resp)
}

pub fn body_json(resp: &str) -> Value {
    let body = resp.split("\r\n\r\n").nth(1).unwrap_or("");
    serde_json::from_str(body).unwrap_or(Value::Null)
}

/// A logged-in client: the cookie and the page key (from the login redirect's fragment).
pub struct Login {
    pub port: u16,
    pub cookie: String,
    pub key: String,
}

/// The value of response header `name` (any case).
pub fn header<'a>(resp: &'a str, name: &str) -> Option<&'a str> {
    resp.split("\r\n\r\n").next()?.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case(name).then_some(v.trim())
    })
}

/// Logs in with the URL's token.
pub fn login(port: u16, url: &str) -> Login {
    let path = &url[url.find("/login").expect("login path")..];
    let (status, resp) = http(port, "GET", path, &[], "");
    assert_eq!(status, 303, "{resp}");
    let line = header(&resp, "set-cookie").expect("a Set-Cookie");
    assert!(
        line.contains("HttpOnly") && line.contains("SameSite=Strict"),
        "{line}"
    );
    let cookie = line.split(';').next().expect("cookie").to_string();
    let key = header(&resp, "location")
        .and_then(|l| l.strip_prefix("/#k="))
        .expect("a redirect to /#k=PAGE_KEY")
        .to_string();
    Login { port, cookie, key }
}

impl Login {
    /// A GET of the page (the cookie, the page key, `Sec-Fetch-Site: same-origin`).
    pub fn get(&self, path: &str) -> (u16, Value) {
        let headers = [
            ("Cookie", self.cookie.as_str()),
            ("X-Mon-Console", self.key.as_str()),
            ("Sec-Fetch-Site", "same-origin"),
        ];
        let (status, resp) = http(self.port, "GET", path, &headers, "");
        (status, body_json(&resp))
    }

    /// A POST of the page from `origin`.
    pub fn post_from(&self, origin: &str, path: &str, body: Value) -> (u16, Value) {
        let headers = [
            ("Cookie", self.cookie.as_str()),
            ("X-Mon-Console", self.key.as_str()),
            ("Origin", origin),
            ("Content-Type", "application/json"),
        ];
        let (status, resp) = http(self.port, "POST", path, &headers, &body.to_string());
        (status, body_json(&resp))
    }

    /// A POST of the page, from its own origin.
    pub fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.post_from(&format!("http://127.0.0.1:{}", self.port), path, body)
    }
}

/// Every API route, each refused without the cookie AND the page key.
pub const API: &[(&str, &str)] = &[
    ("GET", "/api/info"),
    ("GET", "/api/members"),
    ("GET", "/api/audit"),
    ("GET", "/api/push/1"),
    ("POST", "/api/query"),
    ("POST", "/api/exec"),
    ("POST", "/api/push"),
];
