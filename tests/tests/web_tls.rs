//! `mon web` over TLS: a console started with `--tls-cert` and `--tls-key` (a self-signed
//! certificate made here with `openssl`) answers HTTPS through a rustls client that trusts
//! that certificate, sets a `Secure` cookie, and serves `/api/info`; plain HTTP gets no
//! answer there. A non-loopback `--listen` without TLS is refused at start-up.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use mon_tests::Cluster;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// This test's ports (23100–23199): one server, the TLS console.
const SERVERS: u16 = 23100;
const WEB: u16 = 23101;

struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A self-signed server certificate for 127.0.0.1 (P-256, not a CA), PEM, in `dir`.
fn self_signed(dir: &Path) -> (PathBuf, PathBuf) {
    let (cert, key, cfg) = (
        dir.join("console.crt"),
        dir.join("console.key"),
        dir.join("openssl.cnf"),
    );
    std::fs::write(
        &cfg,
        "[req]\ndistinguished_name = dn\nx509_extensions = ext\nprompt = no\n\
         [dn]\nCN = 127.0.0.1\n\
         [ext]\nbasicConstraints = critical, CA:FALSE\nsubjectAltName = IP:127.0.0.1\n\
         keyUsage = critical, digitalSignature\nextendedKeyUsage = serverAuth\n",
    )
    .unwrap();
    let st = Command::new("openssl")
        .args(["req", "-x509", "-nodes", "-newkey", "ec"])
        .args(["-pkeyopt", "ec_paramgen_curve:prime256v1", "-days", "2"])
        .arg("-config")
        .arg(&cfg)
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("openssl (apt-get install openssl; .ci/run installs it)");
    assert!(st.success(), "openssl could not make a certificate");
    (cert, key)
}

/// One HTTPS/1.1 request through rustls trusting only `cert`; the whole response.
async fn https(cert: &Path, req: String) -> String {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_file(cert).unwrap())
        .unwrap();
    #[allow(deprecated)] // the console's provider (mon/src/web/tls.rs)
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", WEB))
        .await
        .unwrap();
    let name = ServerName::try_from("127.0.0.1").unwrap();
    let mut s = tls.connect(name, tcp).await.expect("a TLS handshake");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    // The server may close without close_notify once it answered: keep what came.
    let _ = tokio::time::timeout(Duration::from_secs(30), s.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

fn header<'a>(resp: &'a str, name: &str) -> Option<&'a str> {
    resp.split("\r\n\r\n").next()?.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case(name).then_some(v.trim())
    })
}

#[test]
fn console_serves_https_with_a_secure_cookie_and_refuses_plain_non_loopback() {
    let c = Cluster::start(1, SERVERS, |_| Vec::new());

    // A non-loopback address without TLS: refused before anything listens.
    let out = c
        .client()
        .args(["web", "--listen", "192.0.2.1:23102"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--tls-cert FILE --tls-key FILE"), "{err}");

    let (cert, key) = self_signed(c.dir.path());
    let mut p = Proc(
        c.client()
            .args(["web", "--listen", &format!("127.0.0.1:{WEB}")])
            .arg("--tls-cert")
            .arg(&cert)
            .arg("--tls-key")
            .arg(&key)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap(),
    );
    let out = p.0.stdout.take().unwrap();
    let url = BufReader::new(out)
        .lines()
        .take(5)
        .map_while(Result::ok)
        .find_map(|l| {
            l.split_whitespace()
                .find(|w| w.contains("/login?token="))
                .map(str::to_string)
        })
        .expect("mon web printed no login URL");
    let origin = format!("https://127.0.0.1:{WEB}");
    assert!(url.starts_with(&origin), "{url}");
    let path = &url[origin.len()..];

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let host = format!("127.0.0.1:{WEB}");
        let resp = https(
            &cert,
            format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"),
        )
        .await;
        assert!(resp.starts_with("HTTP/1.1 303"), "{resp}");
        let set = header(&resp, "set-cookie").expect("a cookie");
        assert!(set.contains("; Secure"), "{set}");
        let cookie = set.split(';').next().unwrap();
        let k = header(&resp, "location")
            .and_then(|l| l.strip_prefix("/#k="))
            .expect("the page key");
        let resp = https(
            &cert,
            format!(
                "GET /api/info HTTP/1.1\r\nHost: {host}\r\nCookie: {cookie}\r\n\
                 X-Mon-Console: {k}\r\nOrigin: {origin}\r\nConnection: close\r\n\r\n"
            ),
        )
        .await;
        assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
        let body = resp.split("\r\n\r\n").nth(1).unwrap_or("");
        let v: serde_json::Value = serde_json::from_str(body).expect("JSON");
        assert!(
            v["key"].as_str().unwrap_or("").starts_with("SHA256:"),
            "{v}"
        );

        // Plain HTTP to the TLS port: no HTTP answer.
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", WEB))
            .await
            .unwrap();
        s.write_all(format!("GET / HTTP/1.1\r\nHost: {host}\r\n\r\n").as_bytes())
            .await
            .unwrap();
        let mut out = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(30), s.read_to_end(&mut out)).await;
        assert!(!out.starts_with(b"HTTP/1.1 200"), "plain HTTP was served");
    });
}
