//! `mon web`, the console, against 20 real servers: plain HTTP checks of its security layer
//! (no token, wrong token, foreign Host, foreign Origin, `exec` without `--allow`), then
//! headless Chromium driven through chromedriver: the fleet page counts 20 nodes, `histo load`
//! draws bars that sum to 20, the topology draws 20 nodes and hovering one names its parent.
//!
//! Needs Debian's `chromium` and `chromium-driver` (`.ci/run` installs them); without them
//! the test fails and says so. `MON_CONSOLE_SCREENSHOTS=docs/console` (relative to the
//! workspace) saves a screenshot of each page there.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{ClientBuilder, Locator};
use mon_tests::Cluster;
use serde_json::{json, Value};

const N: u32 = 20;
/// This test's ports (22200–22299): the servers, two consoles, chromedriver.
const SERVERS: u16 = 22200;
const WEB: u16 = 22201;
const WEB_EXEC: u16 = 22202;
const DRIVER: u16 = 22203;

/// A child process killed when dropped.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `mon web` through node 1; returns it and its login URL (read from its stdout).
fn start_console(c: &Cluster, port: u16, allow: &[&str]) -> (Proc, String) {
    let mut cmd = c.client();
    cmd.args(["web", "--listen", &format!("127.0.0.1:{port}")]);
    if !allow.is_empty() {
        cmd.args(["--allow", &allow.join(",")]);
    }
    let mut p = Proc(
        cmd.stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn mon web"),
    );
    let out = p.0.stdout.take().expect("stdout");
    let mut lines = BufReader::new(out).lines();
    let url = lines
        .by_ref()
        .take(5)
        .map_while(Result::ok)
        .find_map(|l| {
            l.split_whitespace()
                .find(|w| w.contains("/login?token="))
                .map(str::to_string)
        })
        .expect("mon web printed no login URL");
    (p, url)
}

/// One HTTP/1.1 request to 127.0.0.1:`port`; returns the status and the whole response.
fn http(
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

fn body_json(resp: &str) -> Value {
    let body = resp.split("\r\n\r\n").nth(1).unwrap_or("");
    serde_json::from_str(body).unwrap_or(Value::Null)
}

/// Logs in with the URL's token; returns the `name=value` cookie.
fn login(port: u16, url: &str) -> String {
    let path = &url[url.find("/login").expect("login path")..];
    let (status, resp) = http(port, "GET", path, &[], "");
    assert_eq!(status, 303, "{resp}");
    let line = resp
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("set-cookie:"))
        .expect("a Set-Cookie");
    assert!(
        line.contains("HttpOnly") && line.contains("SameSite=Strict"),
        "{line}"
    );
    line.split_once(':')
        .and_then(|(_, v)| v.trim().split(';').next())
        .expect("cookie")
        .to_string()
}

fn post(port: u16, cookie: &str, origin: &str, path: &str, body: Value) -> (u16, Value) {
    let headers = [
        ("Cookie", cookie),
        ("Origin", origin),
        ("Content-Type", "application/json"),
    ];
    let (status, resp) = http(port, "POST", path, &headers, &body.to_string());
    (status, body_json(&resp))
}

fn check_security_layer(c: &Cluster) {
    let (_web, url) = start_console(c, WEB, &[]);
    let own = format!("http://127.0.0.1:{WEB}");

    // Without the token: nothing but a refusal, with the strict headers.
    let (status, resp) = http(WEB, "GET", "/", &[], "");
    assert_eq!(status, 401, "{resp}");
    let lower = resp.to_ascii_lowercase();
    assert!(
        lower.contains("content-security-policy: default-src 'none'; script-src 'self'"),
        "{resp}"
    );
    assert!(lower.contains("x-frame-options: deny"), "{resp}");
    assert!(lower.contains("x-content-type-options: nosniff"), "{resp}");
    let (status, _) = http(WEB, "GET", "/api/members", &[], "");
    assert_eq!(status, 401);
    let (status, _) = http(
        WEB,
        "GET",
        "/login?token=00112233445566778899aabbccddeeff",
        &[],
        "",
    );
    assert_eq!(status, 401, "a wrong token logs no one in");

    let cookie = login(WEB, &url);
    let (status, resp) = http(WEB, "GET", "/", &[("Cookie", &cookie)], "");
    assert_eq!(status, 200, "{resp}");

    // DNS rebinding: the right cookie under a foreign Host name is refused.
    let (status, resp) = http(
        WEB,
        "GET",
        "/api/members",
        &[
            ("Host", &format!("rebound.example:{WEB}")),
            ("Cookie", &cookie),
        ],
        "",
    );
    assert_eq!(status, 421, "{resp}");

    // CSRF: a POST from a foreign Origin (or none) is refused; from our own it runs.
    let count = json!({"words": ["count"]});
    let (status, v) = post(
        WEB,
        &cookie,
        "http://evil.example",
        "/api/query",
        count.clone(),
    );
    assert_eq!(status, 403, "{v}");
    let (status, resp) = http(
        WEB,
        "POST",
        "/api/query",
        &[("Cookie", &cookie), ("Content-Type", "application/json")],
        &count.to_string(),
    );
    assert_eq!(status, 403, "no Origin: {resp}");
    let (status, v) = post(WEB, &cookie, &own, "/api/query", count);
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["answers"][0]["result"], N, "{v}");

    // exec and push need --allow.
    let (status, v) = post(WEB, &cookie, &own, "/api/exec", json!({"argv": ["true"]}));
    assert_eq!(status, 403, "{v}");
    assert!(
        v["error"].as_str().unwrap_or("").contains("--allow exec"),
        "{v}"
    );
    let (status, v) = post(WEB, &cookie, &own, "/api/push", json!({}));
    assert_eq!(status, 403, "{v}");

    // With --allow exec, exec runs on every node, signed by the operator's key.
    let (_web2, url2) = start_console(c, WEB_EXEC, &["exec"]);
    let cookie2 = login(WEB_EXEC, &url2);
    let own2 = format!("http://127.0.0.1:{WEB_EXEC}");
    let (status, v) = post(
        WEB_EXEC,
        &cookie2,
        &own2,
        "/api/exec",
        json!({"argv": ["echo", "hi"]}),
    );
    assert_eq!(status, 200, "{v}");
    let groups = &v["answers"][0]["result"];
    assert_eq!(groups[0]["stdout"], "hi\n", "{v}");
    assert_eq!(
        groups[0]["nodes"].as_array().map(Vec::len),
        Some(N as usize),
        "{v}"
    );
}

/// `chromium` and `chromedriver`, or a clear failure.
fn browser_paths() -> (PathBuf, PathBuf) {
    let find = |names: &[&str]| {
        names
            .iter()
            .map(PathBuf::from)
            .find(|p| p.exists())
            .or_else(|| {
                std::env::var_os("PATH").and_then(|path| {
                    std::env::split_paths(&path)
                        .flat_map(|d| names.iter().map(move |n| d.join(n)))
                        .find(|p| p.exists())
                })
            })
    };
    let chromium = find(&["/usr/bin/chromium", "chromium"]);
    let driver = find(&["/usr/bin/chromedriver", "chromedriver"]);
    match (chromium, driver) {
        (Some(c), Some(d)) => (c, d),
        _ => panic!(
            "the console's browser test needs headless Chromium and chromedriver: \
             apt-get install chromium chromium-driver (.ci/run installs them)"
        ),
    }
}

fn screenshot_dir() -> Option<PathBuf> {
    let d = std::env::var_os("MON_CONSOLE_SCREENSHOTS")?;
    let ws = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()?
        .to_path_buf();
    let dir = ws.join(d);
    std::fs::create_dir_all(&dir).ok()?;
    Some(dir)
}

async fn shot(b: &fantoccini::Client, name: &str) {
    if let Some(dir) = screenshot_dir() {
        let png = b.screenshot().await.expect("screenshot");
        std::fs::write(dir.join(format!("{name}.png")), png).expect("write screenshot");
    }
}

/// Polls `f` (bounded: 300 tries, 100 ms apart) until it returns Some.
async fn wait_for<T, F, Fut>(what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    for _ in 0..300 {
        if let Some(v) = f().await {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the console never showed {what}");
}

async fn drive_browser(url: &str, chromium: &Path) {
    let profile = tempfile::tempdir().expect("profile dir");
    let caps = json!({
        "goog:chromeOptions": {
            "binary": chromium,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync",
                "--window-size=1280,900",
                format!("--user-data-dir={}", profile.path().display()),
            ]
        }
    });
    let caps = caps
        .as_object()
        .expect("object")
        .clone()
        .into_iter()
        .collect();
    let b = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{DRIVER}"))
        .await
        .expect("a WebDriver session with headless Chromium");

    // Fleet: the live count reaches 20, the members table fills.
    b.goto(url).await.expect("open the login URL");
    let count = wait_for("the fleet count", || async {
        let t = b
            .find(Locator::Id("fleet-count"))
            .await
            .ok()?
            .text()
            .await
            .ok()?;
        t.parse::<u32>().ok()
    })
    .await;
    assert_eq!(count, N, "the fleet page's live count");
    wait_for("the members table", || async {
        let rows = b.find_all(Locator::Css("#members tbody tr")).await.ok()?;
        (!rows.is_empty()).then_some(())
    })
    .await;
    shot(&b, "fleet").await;

    // Query builder: histo load; the bars add up to every node.
    let base = &url[..url.find("/login").expect("login path")];
    b.goto(&format!("{base}/#query")).await.expect("query page");
    b.find(Locator::Id("q-run"))
        .await
        .expect("run button")
        .click()
        .await
        .expect("click");
    let sum = wait_for("the histogram", || async {
        let bars = b.find_all(Locator::Css("#q-chart rect.bar")).await.ok()?;
        if bars.is_empty() {
            return None;
        }
        let mut sum = 0u64;
        for bar in bars {
            sum += bar.attr("data-count").await.ok()??.parse::<u64>().ok()?;
        }
        Some(sum)
    })
    .await;
    assert_eq!(sum, u64::from(N), "the histogram's bars");
    shot(&b, "query-histo").await;

    // Topology: 20 nodes drawn; hovering one names its parent.
    b.goto(&format!("{base}/#topology"))
        .await
        .expect("topology page");
    b.find(Locator::Id("topo-run"))
        .await
        .expect("button")
        .click()
        .await
        .expect("click");
    let nodes = wait_for("the topology", || async {
        let n = b
            .find_all(Locator::Css("#topo-svg circle.node"))
            .await
            .ok()?
            .len();
        (n > 0).then_some(n)
    })
    .await;
    assert_eq!(nodes, N as usize, "nodes in the topology graph");
    let info = b
        .execute(
            "const c = document.querySelector('#topo-svg circle.node:not(.entry)');\
             c.dispatchEvent(new MouseEvent('mouseenter'));\
             return document.getElementById('topo-info').textContent;",
            vec![],
        )
        .await
        .expect("hover a node");
    let info = info.as_str().unwrap_or("");
    assert!(info.contains("parent: n"), "hover shows the parent: {info}");
    assert!(info.contains("RTT"), "hover shows the RTT: {info}");
    shot(&b, "topology").await;

    // Exec without --allow: the page shows the refusal.
    b.goto(&format!("{base}/#exec")).await.expect("exec page");
    b.find(Locator::Id("x-run"))
        .await
        .expect("button")
        .click()
        .await
        .expect("click");
    let text = wait_for("the exec refusal", || async {
        let t = b
            .find(Locator::Id("x-status"))
            .await
            .ok()?
            .text()
            .await
            .ok()?;
        t.contains("--allow exec").then_some(t)
    })
    .await;
    assert!(text.contains("disabled"), "{text}");
    shot(&b, "exec-refused").await;
    b.close().await.expect("close the browser");
}

#[test]
fn console_is_guarded_and_draws_twenty_servers_in_headless_chromium() {
    let (chromium, driver) = browser_paths();
    let c = Cluster::start(N, SERVERS, |_| Vec::new());
    let live = c.settle(u64::from(N), Duration::from_secs(90));
    assert_eq!(live, u64::from(N), "membership did not settle");

    check_security_layer(&c);

    let (_web, url) = start_console(&c, WEB, &[]);
    let _driver = Proc(
        Command::new(driver)
            .arg(format!("--port={DRIVER}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn chromedriver"),
    );
    let ready = (0..100).any(|_| {
        std::thread::sleep(Duration::from_millis(100));
        TcpStream::connect(("127.0.0.1", DRIVER)).is_ok()
    });
    assert!(ready, "chromedriver did not start on port {DRIVER}");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(drive_browser(&url, &chromium));
}
