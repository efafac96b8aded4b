//! The console's accept loop: HTTP/1 over TCP, or over TLS (rustls) when `--tls-cert` and
//! `--tls-key` are given. Every connection is bounded: at most [`MAX_CONNECTIONS`] at once,
//! of which at most [`MAX_PER_SOURCE`] from one source (an IPv4 address, an IPv6 /64), so
//! that one source cannot hold every slot (more are closed at accept); [`HANDSHAKE_TIMEOUT`]
//! for the TLS handshake and [`HEADER_TIMEOUT`] for each request's headers (a slowloris
//! client is cut off).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;

/// Connections the console serves at once; more are closed as soon as accepted.
pub const MAX_CONNECTIONS: usize = 64;
/// Connections the console serves at once from one source (see [`source`]); more from it
/// are closed as soon as accepted, while other sources are still served.
pub const MAX_PER_SOURCE: usize = 16;

/// The source a connection counts against: its IPv4 address, or its IPv6 address's /64 (one
/// host usually holds a whole /64). An IPv4-mapped IPv6 address counts as the IPv4 one.
fn source(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(a) => {
            let s = a.segments();
            IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
        v4 => v4,
    }
}

/// Open connections per source.
#[derive(Clone, Default)]
struct PerSource(Arc<Mutex<HashMap<IpAddr, usize>>>);

/// One connection's count against its source, given back when dropped.
struct SourceSlot {
    counts: PerSource,
    source: IpAddr,
}

impl PerSource {
    /// A slot for one more connection from `source`, unless it holds [`MAX_PER_SOURCE`].
    fn acquire(&self, source: IpAddr) -> Option<SourceSlot> {
        let mut m = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let n = m.entry(source).or_insert(0);
        if *n >= MAX_PER_SOURCE {
            return None;
        }
        *n += 1;
        Some(SourceSlot {
            counts: self.clone(),
            source,
        })
    }
}

impl Drop for SourceSlot {
    fn drop(&mut self) {
        let mut m = self.counts.0.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = m.get_mut(&self.source) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                m.remove(&self.source);
            }
        }
    }
}
/// Time a client has to send a request's headers (also the idle time of a kept-alive
/// connection between requests).
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Time a client has to finish the TLS handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves `router` on `listener` until `stop` completes.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    tls: Option<TlsAcceptor>,
    stop: impl std::future::Future<Output = ()>,
) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let per_source = PerSource::default();
    tokio::pin!(stop);
    loop {
        let (tcp, peer) = tokio::select! {
            _ = &mut stop => return,
            r = listener.accept() => match r {
                Ok(c) => c,
                Err(e) => {
                    // Out of descriptors and the like: wait a little rather than spin.
                    tracing::warn!(error = %e, "console: accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let Some(source_slot) = per_source.acquire(source(peer.ip())) else {
            tracing::info!(%peer, "console: refused a connection ({MAX_PER_SOURCE} open from its source)");
            drop(tcp);
            continue;
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            tracing::info!(%peer, "console: refused a connection ({MAX_CONNECTIONS} open)");
            drop(tcp);
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let svc = TowerToHyperService::new(router.clone());
        let tls = tls.clone();
        tokio::spawn(async move {
            let _slots = (slot, source_slot);
            match tls {
                None => connection(TokioIo::new(tcp), svc).await,
                Some(acc) => match tokio::time::timeout(HANDSHAKE_TIMEOUT, acc.accept(tcp)).await {
                    Ok(Ok(s)) => connection(TokioIo::new(s), svc).await,
                    Ok(Err(e)) => {
                        tracing::info!(%peer, error = %e, "console: TLS handshake failed")
                    }
                    Err(_) => tracing::info!(%peer, "console: TLS handshake timed out"),
                },
            }
        });
    }
}

/// One HTTP/1 connection, with the header timeout.
async fn connection<I>(io: TokioIo<I>, svc: TowerToHyperService<Router>)
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let r = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT)
        .serve_connection(io, svc)
        .await;
    if let Err(e) = r {
        tracing::debug!(error = %e, "console: connection ended");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    use tokio::net::TcpStream;

    async fn start() -> std::net::SocketAddr {
        let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = l.local_addr().expect("addr");
        let router = Router::new().route("/", axum::routing::get(|| async { "ok" }));
        tokio::spawn(serve(l, router, None, std::future::pending()));
        addr
    }

    /// A connection to `addr` from the local address `from`.
    async fn connect_from(from: &str, addr: std::net::SocketAddr) -> TcpStream {
        let sock = tokio::net::TcpSocket::new_v4().expect("socket");
        sock.bind(format!("{from}:0").parse().expect("from"))
            .expect("bind");
        sock.connect(addr).await.expect("connect")
    }

    /// Sends one request on `s` and reads its answer; whether it was served.
    async fn served(s: &mut TcpStream) -> bool {
        let _ = s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await;
        let mut got = Vec::new();
        let mut buf = [0u8; 512];
        while !got.ends_with(b"\r\n\r\nok") {
            match s.read(&mut buf).await {
                Ok(n) if n > 0 => got.extend_from_slice(&buf[..n]),
                _ => return false,
            }
        }
        got.starts_with(b"HTTP/1.1 200")
    }

    /// Reads until the server closes; what came.
    async fn read_all(s: &mut TcpStream) -> String {
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out).await;
        String::from_utf8_lossy(&out).into_owned()
    }

    #[tokio::test(start_paused = true)]
    async fn a_client_that_never_finishes_its_headers_is_cut_off() {
        let addr = start().await;
        let mut s = TcpStream::connect(addr).await.expect("connect");
        s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n")
            .await
            .expect("send");
        // The clock is paused and jumps to the next timer when everything waits: the server's
        // header timeout closes the connection long before this bound (without the timeout,
        // the bound runs out and the test fails).
        let r = tokio::time::timeout(HEADER_TIMEOUT * 2, read_all(&mut s)).await;
        assert!(
            r.is_ok(),
            "the connection stayed open past the header timeout"
        );
    }

    #[tokio::test]
    async fn connections_beyond_the_cap_are_closed_at_once() {
        let addr = start().await;
        let mut held = Vec::new();
        // From as many sources as the per-source cap needs to reach the overall one.
        for i in 0..MAX_CONNECTIONS {
            let from = format!("127.0.0.{}", 1 + i / MAX_PER_SOURCE);
            held.push(connect_from(&from, addr).await);
        }
        // One of them is served (and kept alive) …
        held[0]
            .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .expect("send");
        let mut got = Vec::new();
        let mut buf = [0u8; 512];
        while !got.ends_with(b"\r\n\r\nok") {
            let n = held[0].read(&mut buf).await.expect("read");
            assert!(n > 0, "closed: {}", String::from_utf8_lossy(&got));
            got.extend_from_slice(&buf[..n]);
        }
        assert!(got.starts_with(b"HTTP/1.1 200"));
        // … while one more, accepted after all of them, is closed unanswered (from a source
        // that holds none).
        let mut s = connect_from("127.0.0.99", addr).await;
        let _ = s
            .write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await;
        let extra = read_all(&mut s).await;
        assert_eq!(extra, "", "a connection beyond the cap was served");
    }

    #[tokio::test(start_paused = true)]
    async fn an_idle_kept_alive_connection_is_closed() {
        // Any local user may fetch the page's public files: a kept-alive connection that then
        // sends nothing more must not hold one of the MAX_CONNECTIONS slots for good.
        let addr = start().await;
        let mut s = TcpStream::connect(addr).await.expect("connect");
        s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .expect("send");
        let mut got = Vec::new();
        let mut buf = [0u8; 512];
        while !got.ends_with(b"\r\n\r\nok") {
            let n = s.read(&mut buf).await.expect("read");
            assert!(n > 0, "closed before the answer");
            got.extend_from_slice(&buf[..n]);
        }
        let r = tokio::time::timeout(HEADER_TIMEOUT * 2, read_all(&mut s)).await;
        assert!(r.is_ok(), "an idle kept-alive connection stayed open");
    }

    #[tokio::test]
    async fn one_source_cannot_hold_every_slot() {
        let addr = start().await;
        let mut held = Vec::new();
        for _ in 0..MAX_PER_SOURCE {
            held.push(connect_from("127.0.0.1", addr).await);
        }
        assert!(
            served(&mut held[0]).await,
            "the source's own connections are served"
        );
        // One more from the same source is closed unanswered …
        let mut extra = connect_from("127.0.0.1", addr).await;
        assert!(
            !served(&mut extra).await,
            "a connection beyond the source's cap was served"
        );
        // … while another source is served.
        let mut other = connect_from("127.0.0.2", addr).await;
        assert!(served(&mut other).await, "another source was refused");
        // A slot given back is the source's again.
        drop(held.pop());
        let mut again = loop {
            let mut s = connect_from("127.0.0.1", addr).await;
            if served(&mut s).await {
                break s;
            }
            tokio::task::yield_now().await;
        };
        assert!(served(&mut again).await);
    }

    #[test]
    fn sources_are_ipv4_addresses_and_ipv6_slash_64s() {
        let ip = |s: &str| s.parse::<IpAddr>().expect("ip");
        assert_eq!(source(ip("192.0.2.7")), ip("192.0.2.7"));
        assert_eq!(source(ip("::ffff:192.0.2.7")), ip("192.0.2.7"));
        assert_eq!(source(ip("2001:db8:1:2:a:b:c:d")), ip("2001:db8:1:2::"));
        assert_eq!(
            source(ip("2001:db8:1:2:ffff::1")),
            source(ip("2001:db8:1:2::2"))
        );
        assert_ne!(source(ip("2001:db8:1:3::1")), source(ip("2001:db8:1:2::1")));
    }
}
