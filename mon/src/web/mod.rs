//! `mon web`: a local web console that acts with the operator's own key, exactly as the CLI.
//!
//! - `guard.rs`: the security layer (Host, token → cookie, Origin, CSP and other headers);
//! - `routes.rs`: the JSON API, `--allow` checks, bounds;
//! - `backend.rs`: what an action runs on (a fresh signed session per action, today);
//! - `assets.rs` and `assets/`: the embedded page;
//! - `serve.rs`: the accept loop and its bounds (connections, timeouts); `tls.rs`: TLS;
//! - `push.rs`: push jobs run from the page, with their progress.

mod assets;
mod backend;
mod guard;
mod push;
mod routes;
mod serve;
mod tls;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context as _};

use crate::client::api::Identity;
use crate::client::GlobalOpts;
use crate::out::outln;

/// The console's listen address unless `--listen` says otherwise.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:7480";

/// What the console may do beyond queries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Allow {
    /// Run commands on the nodes (`exec`).
    Exec,
    /// Push files to the nodes (`push`).
    Push,
}

impl Allow {
    /// The name `--allow` takes.
    pub fn name(self) -> &'static str {
        match self {
            Allow::Exec => "exec",
            Allow::Push => "push",
        }
    }
}

/// `mon web`'s own options.
#[derive(Debug, Clone, clap::Args)]
pub struct WebArgs {
    /// Address to serve the console on: loopback, or any other one address with
    /// `--tls-cert` and `--tls-key` (browsers then reach it by that address).
    #[arg(long, value_name = "ADDR:PORT", default_value = DEFAULT_LISTEN)]
    pub listen: SocketAddr,
    /// Serve HTTPS with this certificate chain (PEM); needs `--tls-key`.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The private key of `--tls-cert` (PEM).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Actions the console may sign besides queries (none by default).
    #[arg(long, value_enum, value_delimiter = ',', value_name = "LIST")]
    pub allow: Vec<Allow>,
}

/// Refuses a listen address the console must not serve on: any address but loopback
/// without TLS (the console signs with the operator's key), and a wildcard address (the
/// Host check needs the one address browsers use).
pub fn check_listen(listen: SocketAddr, tls: bool) -> anyhow::Result<()> {
    if listen.ip().is_unspecified() {
        bail!(
            "refusing to serve the console on {listen}: give the one address browsers will use \
             (the console checks the Host header against it)"
        );
    }
    if !listen.ip().is_loopback() && !tls {
        bail!(
            "refusing to serve the console on {listen} without TLS: it signs sessions with your \
             key; pass --tls-cert FILE --tls-key FILE, or listen on loopback and reach it \
             through `ssh -L`"
        );
    }
    Ok(())
}

/// Serves the console until interrupted.
pub fn run(g: &GlobalOpts, args: WebArgs) -> anyhow::Result<u8> {
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(c), Some(k)) => Some(tls::acceptor(c, k)?),
        _ => None,
    };
    check_listen(args.listen, tls.is_some())?;
    let id = Identity::load(g)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(serve(g.clone(), id, args, tls))
}

async fn serve(
    g: GlobalOpts,
    id: Identity,
    args: WebArgs,
    tls: Option<tokio_rustls::TlsAcceptor>,
) -> anyhow::Result<u8> {
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("listening on {}", args.listen))?;
    let addr: SocketAddr = listener.local_addr()?;
    let guard = Arc::new(guard::Guard::new(addr, tls.is_some()));
    let mut allow = args.allow.clone();
    allow.dedup();
    let app = Arc::new(routes::App {
        backend: Box::new(backend::SessionBackend { g, id }),
        allow,
        sessions: Arc::new(tokio::sync::Semaphore::new(routes::MAX_SESSIONS)),
        pushes: push::Jobs::default(),
    });
    let describe = app.backend.describe();
    let router =
        routes::router(app)
            .merge(assets::router())
            .layer(axum::middleware::from_fn_with_state(
                guard.clone(),
                guard::layer,
            ));
    // The token goes to stdout only, never to the log.
    outln!(
        "mon web: console for {} (key {}), Ctrl-C stops it; Enter prints a new login URL",
        describe["entry"].as_str().unwrap_or("?"),
        describe["key"].as_str().unwrap_or("?")
    );
    print_login_url(&guard);
    let g2 = guard.clone();
    std::thread::spawn(move || new_urls_on_enter(&g2));
    serve::serve(listener, router, tls, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await;
    Ok(crate::exit::OK)
}

/// Prints a fresh login URL (it logs in once; the last one printed no longer does).
fn print_login_url(guard: &guard::Guard) {
    outln!(
        "open (the URL is a secret, good for one login): {}",
        &*guard.fresh_login_url()
    );
}

/// Prints a new login URL for each line read on stdin, until stdin ends (`/dev/null` under a
/// service manager: then never). On a terminal, SIGTTIN is ignored first, so that a console
/// started in the background (`mon web &`) is not stopped by this read: the read fails
/// instead, and the console serves on without new URLs.
fn new_urls_on_enter(guard: &guard::Guard) {
    use std::io::{BufRead as _, IsTerminal as _};
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        ignore_sigttin();
    }
    for line in stdin.lock().lines() {
        if line.is_err() {
            break;
        }
        print_login_url(guard);
    }
}

#[allow(unsafe_code)]
fn ignore_sigttin() {
    // SAFETY: setting a signal's disposition to SIG_IGN installs no handler and has no
    // memory-safety preconditions.
    unsafe {
        libc::signal(libc::SIGTTIN, libc::SIG_IGN);
    }
}

#[cfg(test)]
mod tests {
    use super::check_listen;

    #[test]
    fn only_loopback_serves_without_tls_and_never_a_wildcard() {
        let ok = |a: &str, tls| check_listen(a.parse().expect("addr"), tls);
        assert!(ok("127.0.0.1:7480", false).is_ok());
        assert!(ok("[::1]:7480", false).is_ok());
        assert!(ok("127.0.0.1:7480", true).is_ok());
        let e = ok("192.0.2.7:7480", false).expect_err("non-loopback without TLS");
        assert!(
            e.to_string().contains("--tls-cert FILE --tls-key FILE"),
            "{e}"
        );
        assert!(ok("192.0.2.7:7480", true).is_ok());
        assert!(ok("0.0.0.0:7480", true).is_err());
        assert!(ok("[::]:7480", true).is_err());
    }
}
