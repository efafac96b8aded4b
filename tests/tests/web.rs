//! `mon web`, the console, against 20 real servers: plain HTTP checks of its security layer
//! (no token, wrong token, the cookie without the page key, foreign Host, foreign Origin,
//! `exec` and `push` without `--allow`), a push uploaded over the API, then headless
//! Chromium driven through chromedriver: the fleet page counts 20 nodes, `histo load` draws
//! bars that sum to 20, the topology draws 20 nodes and hovering one names its parent, and
//! the push page pushes a file to the 20 nodes and shows each one done, and the audit review
//! shows every node's chain verified.
//!
//! Needs Debian's `chromium` and `chromium-driver` (`.ci/run` installs them); without them
//! the test fails and says so. `MON_CONSOLE_SCREENSHOTS=docs/console` (relative to the
//! workspace) saves a screenshot of each page there.

#[path = "web/http.rs"]
mod http;
#[path = "web/push.rs"]
mod push;

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use fantoccini::{ClientBuilder, Locator};
use mon_tests::Cluster;
use serde_json::json;

use http::{http, login, start_console, Proc, API};
use push::{check_push_api, make_push_dirs, push_dest, push_dir};

const N: u32 = 20;
/// This test's ports (22200–22299): the servers, three consoles, chromedriver.
const SERVERS: u16 = 22200;
const WEB: u16 = 22201;
const WEB_EXEC: u16 = 22202;
const DRIVER: u16 = 22203;
const WEB_PUSH: u16 = 22204;

fn check_security_layer(c: &Cluster) {
    let (mut web, url) = start_console(c, WEB, &[]);
    let own = format!("http://127.0.0.1:{WEB}");

    // Without the token: the page's static files (no secret in them), with the strict
    // headers; every API route refused.
    let (status, resp) = http(WEB, "GET", "/", &[], "");
    assert_eq!(status, 200, "{resp}");
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

    let me = login(WEB, &url);
    let (status, v) = me.get("/api/info");
    assert_eq!(status, 200, "{v}");

    // The login URL logs in once: opened again (from the history, a shared screen) it is
    // refused; a line on the console's stdin prints a new one, which logs in once.
    let path = &url[url.find("/login").expect("login path")..];
    let (status, resp) = http(WEB, "GET", path, &[], "");
    assert_eq!(status, 403, "a used login URL: {resp}");
    assert!(!resp.to_ascii_lowercase().contains("set-cookie"), "{resp}");
    let url2 = web.fresh_url();
    assert_ne!(url2, url);
    let again = login(WEB, &url2);
    assert_eq!(again.key, me.key, "the same page key");
    let (status, _) = http(
        WEB,
        "GET",
        &url2[url2.find("/login").expect("path")..],
        &[],
        "",
    );
    assert_eq!(status, 403, "the new URL is spent too");

    // Cookies ignore the port: another local user's server on 127.0.0.1 may be sent the
    // cookie. The cookie alone (every same-origin header, no page key) opens no API route;
    // nor does the page key without the cookie.
    let count = json!({"words": ["count"]});
    for (method, path) in API {
        let body = if *method == "POST" {
            count.to_string()
        } else {
            String::new()
        };
        for h in [
            ("Cookie", me.cookie.as_str()),
            ("X-Mon-Console", me.key.as_str()),
        ] {
            let (status, resp) = http(
                WEB,
                method,
                path,
                &[
                    h,
                    ("Origin", &own),
                    ("Sec-Fetch-Site", "same-origin"),
                    ("Content-Type", "application/json"),
                ],
                &body,
            );
            assert_eq!(status, 401, "{method} {path} with only {}: {resp}", h.0);
        }
    }

    // DNS rebinding: the right secrets under a foreign Host name are refused.
    let (status, resp) = http(
        WEB,
        "GET",
        "/api/members",
        &[
            ("Host", &format!("rebound.example:{WEB}")),
            ("Cookie", &me.cookie),
            ("X-Mon-Console", &me.key),
        ],
        "",
    );
    assert_eq!(status, 421, "{resp}");

    // A GET that signs a session (members) needs a same-origin request too.
    let (status, resp) = http(
        WEB,
        "GET",
        "/api/members",
        &[("Cookie", &me.cookie), ("X-Mon-Console", &me.key)],
        "",
    );
    assert_eq!(
        status, 403,
        "members without Origin or Sec-Fetch-Site: {resp}"
    );
    let (status, resp) = http(
        WEB,
        "GET",
        "/api/members",
        &[
            ("Cookie", &me.cookie),
            ("X-Mon-Console", &me.key),
            ("Sec-Fetch-Site", "cross-site"),
        ],
        "",
    );
    assert_eq!(status, 403, "members from another site: {resp}");
    let (status, v) = me.get("/api/members");
    assert_eq!(status, 200, "{v}");

    // CSRF: a POST from a foreign Origin (or none) is refused; from our own it runs.
    let (status, v) = me.post_from("http://evil.example", "/api/query", count.clone());
    assert_eq!(status, 403, "{v}");
    let (status, resp) = http(
        WEB,
        "POST",
        "/api/query",
        &[
            ("Cookie", &me.cookie),
            ("X-Mon-Console", &me.key),
            ("Content-Type", "application/json"),
        ],
        &count.to_string(),
    );
    assert_eq!(status, 403, "no Origin: {resp}");
    let (status, v) = me.post("/api/query", count);
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["answers"][0]["result"], N, "{v}");

    // exec and push need --allow.
    let (status, v) = me.post("/api/exec", json!({"argv": ["true"]}));
    assert_eq!(status, 403, "{v}");
    assert!(
        v["error"].as_str().unwrap_or("").contains("--allow exec"),
        "{v}"
    );
    let (status, v) = me.post("/api/push", json!({}));
    assert_eq!(status, 403, "{v}");
    assert!(
        v["error"].as_str().unwrap_or("").contains("--allow push"),
        "{v}"
    );

    // With --allow exec, exec runs on every node, signed by the operator's key.
    let (_web2, url2) = start_console(c, WEB_EXEC, &["exec"]);
    let me2 = login(WEB_EXEC, &url2);
    let (status, v) = me2.post("/api/exec", json!({"argv": ["echo", "hi"]}));
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

async fn drive_browser(url: &str, chromium: &Path, c: &Cluster) {
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

    // Push (this console has --allow push): upload a file through the page; each of the 20
    // nodes ends done, and the file lands in their push dirs.
    let data = b"pushed from the console's page\n".repeat(3000);
    let src = c.dir.path().join("page.bin");
    std::fs::write(&src, &data).expect("write");
    b.goto(&format!("{base}/#push")).await.expect("push page");
    b.find(Locator::Id("p-upload"))
        .await
        .expect("file input")
        .send_keys(&src.display().to_string())
        .await
        .expect("choose the file");
    b.execute(
        "document.getElementById('p-dest').value = arguments[0];",
        vec![json!(push_dest(c, "page.bin"))],
    )
    .await
    .expect("fill the destination");
    b.find(Locator::Id("p-run"))
        .await
        .expect("button")
        .click()
        .await
        .expect("click");
    let done = wait_for("the push's nodes done", || async {
        let status = b
            .find(Locator::Id("p-status"))
            .await
            .ok()?
            .text()
            .await
            .ok()?;
        if !status.contains("nodes done") {
            return None;
        }
        let rows = b
            .find_all(Locator::Css("#p-nodes tbody tr[data-state=done]"))
            .await
            .ok()?;
        Some((rows.len(), status))
    })
    .await;
    assert_eq!(done.0, N as usize, "nodes shown done: {}", done.1);
    assert!(
        done.1.contains(&format!("{N}/{N} nodes done")),
        "{}",
        done.1
    );
    for i in 1..=N {
        let got = std::fs::read(push_dir(c, i).join("page.bin")).expect("the pushed file");
        assert!(got == data, "n{i}: content differs");
    }
    shot(&b, "push").await;

    // Audit review (the testbed's key is granted `mon-*@mon`, so the audit class too): every
    // node's chain verified, and the newest records name their nodes.
    b.goto(&format!("{base}/#audit")).await.expect("audit page");
    b.find(Locator::Id("a-run"))
        .await
        .expect("button")
        .click()
        .await
        .expect("click");
    let chains = wait_for("the audit review", || async {
        let t = b
            .find(Locator::Id("a-chains"))
            .await
            .ok()?
            .text()
            .await
            .ok()?;
        t.contains("chain verified on").then_some(t)
    })
    .await;
    assert!(
        chains.contains(&format!("chain verified on {N} node(s)")) && !chains.contains("NOT"),
        "{chains}"
    );
    let rows = b
        .find_all(Locator::Css("#a-records tbody tr"))
        .await
        .expect("records");
    assert!(!rows.is_empty(), "no audit records shown");
    shot(&b, "audit").await;
    b.close().await.expect("close the browser");
}

#[test]
fn console_is_guarded_and_draws_twenty_servers_in_headless_chromium() {
    let (chromium, driver) = browser_paths();
    let c = Cluster::start(N, SERVERS, |_| Vec::new());
    let live = c.settle(u64::from(N), Duration::from_secs(90));
    assert_eq!(live, u64::from(N), "membership did not settle");

    check_security_layer(&c);

    make_push_dirs(&c);
    let (mut web, url) = start_console(&c, WEB_PUSH, &["push"]);
    check_push_api(&c, &login(WEB_PUSH, &url));
    // That login spent the URL; the browser gets a new one, as the operator would.
    let url = web.fresh_url();
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
    rt.block_on(drive_browser(&url, &chromium, &c));
}
