//! `mon web`: a local web console that acts with the operator's own key, exactly as the CLI.
//!
//! - `guard.rs`: the security layer (Host, token → cookie, Origin, CSP and other headers);
//! - `routes.rs`: the JSON API, `--allow` checks, bounds;
//! - `backend.rs`: what an action runs on (a fresh signed session per action, today);
//! - `assets.rs` and `assets/`: the embedded page.

mod assets;
mod backend;
mod guard;
mod routes;

use std::net::SocketAddr;
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
    /// Address to serve the console on; loopback only (TLS for other addresses is not built
    /// yet: reach a remote console through `ssh -L`).
    #[arg(long, value_name = "ADDR:PORT", default_value = DEFAULT_LISTEN)]
    pub listen: SocketAddr,
    /// Actions the console may sign besides queries (none by default).
    #[arg(long, value_enum, value_delimiter = ',', value_name = "LIST")]
    pub allow: Vec<Allow>,
}

/// Serves the console until interrupted.
pub fn run(g: &GlobalOpts, args: WebArgs) -> anyhow::Result<u8> {
    if !args.listen.ip().is_loopback() {
        bail!(
            "refusing to serve the console on {}: it can sign sessions with your key, and TLS \
             is not built yet; listen on loopback and reach it through `ssh -L`",
            args.listen
        );
    }
    let id = Identity::load(g)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(serve(g.clone(), id, args))
}

async fn serve(g: GlobalOpts, id: Identity, args: WebArgs) -> anyhow::Result<u8> {
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("listening on {}", args.listen))?;
    let addr: SocketAddr = listener.local_addr()?;
    let guard = Arc::new(guard::Guard::new(addr));
    let mut allow = args.allow.clone();
    allow.dedup();
    let app = Arc::new(routes::App {
        backend: Box::new(backend::SessionBackend { g, id }),
        allow,
        sessions: tokio::sync::Semaphore::new(routes::MAX_SESSIONS),
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
        "mon web: console for {} (key {}), Ctrl-C stops it",
        describe["entry"].as_str().unwrap_or("?"),
        describe["key"].as_str().unwrap_or("?")
    );
    outln!(
        "open (the URL is a secret): http://{addr}/login?token={}",
        guard.token()
    );
    axum::serve(listener, router)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .context("serving the console")?;
    Ok(crate::exit::OK)
}
