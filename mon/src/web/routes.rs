//! The console's JSON API. Every action is a signed session run by the [`Backend`] with the
//! operator's key, checked by every node like a CLI command; `exec` and `push` are refused
//! (403) unless `mon web --allow` names them. Push jobs: `push.rs`.

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use mon_proto::agg::Query;
use serde::Deserialize;
use serde_json::json;
use tokio::sync::Semaphore;

use super::backend::Backend;
use super::push::{self, Jobs, MAX_PUSH_BODY};
use super::Allow;
use crate::client::api::Reply;
use crate::client::AnswerOpts;

/// The largest request body the console reads.
pub const MAX_BODY: usize = 64 * 1024;
/// Sessions the console runs at once; more get 429.
pub const MAX_SESSIONS: usize = 4;
/// Words in one query, and bytes in one word.
const MAX_WORDS: usize = 64;
const MAX_WORD: usize = 4096;

/// What the routes share.
pub struct App {
    /// Runs the actions.
    pub backend: Box<dyn Backend>,
    /// What `--allow` enabled.
    pub allow: Vec<Allow>,
    /// Bounds the sessions in flight (a push holds one until it ends).
    pub sessions: Arc<Semaphore>,
    /// The pushes started from the page.
    pub pushes: Jobs,
}

type Shared = State<Arc<App>>;

/// An error answer: `{"error": text}` with `status`.
pub(super) fn error(status: StatusCode, text: impl std::fmt::Display) -> Response {
    (status, Json(json!({"error": text.to_string()}))).into_response()
}

/// The routes of the API (under `/api`).
pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/api/info", get(info))
        .route("/api/members", get(members))
        .route("/api/query", post(query))
        .route("/api/exec", post(exec))
        .route(
            "/api/push",
            post(push::start).layer(DefaultBodyLimit::max(MAX_PUSH_BODY)),
        )
        .route("/api/push/{id}", get(push::status))
        .route("/api/audit", post(audit))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(app)
}

async fn info(State(app): Shared) -> Response {
    let mut v = app.backend.describe();
    v["allow"] = json!(app.allow.iter().map(|a| a.name()).collect::<Vec<_>>());
    Json(v).into_response()
}

/// Runs one backend call within the session bound; the reply as JSON.
async fn run(app: &App, call: super::backend::Pending<'_>) -> Response {
    let Ok(_permit) = app.sessions.try_acquire() else {
        return error(
            StatusCode::TOO_MANY_REQUESTS,
            format!("{MAX_SESSIONS} sessions already running; retry when one ends"),
        );
    };
    match call.await {
        Ok(Reply::Answers(answers, code)) => {
            Json(json!({"code": code, "answers": answers})).into_response()
        }
        Ok(Reply::Denied(d)) => (
            StatusCode::FORBIDDEN,
            Json(json!({"error": "denied by the entry node", "denied": d})),
        )
            .into_response(),
        Err(e) => error(StatusCode::BAD_GATEWAY, format!("{e:#}")),
    }
}

async fn members(State(app): Shared) -> Response {
    run(&app, app.backend.members()).await
}

/// `POST /api/query {"words": ["histo", "load"]}`: the words as `mon` takes them.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct QueryReq {
    words: Vec<String>,
}

fn words_ok(words: &[String]) -> Result<(), Response> {
    if words.len() > MAX_WORDS || words.iter().any(|w| w.len() > MAX_WORD) {
        return Err(error(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("at most {MAX_WORDS} words of {MAX_WORD} bytes"),
        ));
    }
    Ok(())
}

async fn query(State(app): Shared, Json(req): Json<QueryReq>) -> Response {
    if let Err(r) = words_ok(&req.words) {
        return r;
    }
    let q = match Query::parse(&req.words) {
        Ok(q) => q,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    if matches!(q, Query::Exec { .. }) {
        return error(StatusCode::BAD_REQUEST, "exec goes through /api/exec");
    }
    run(&app, app.backend.query(q, AnswerOpts::default())).await
}

pub(super) fn refused(what: Allow) -> Response {
    error(
        StatusCode::FORBIDDEN,
        format!(
            "{0} is disabled in this console: start it with `mon web --allow {0}`",
            what.name()
        ),
    )
}

/// `POST /api/exec {"argv": [...], "shell": false, "cmd_timeout": 30}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExecReq {
    argv: Vec<String>,
    #[serde(default)]
    shell: bool,
    #[serde(default)]
    cmd_timeout: Option<u32>,
}

async fn exec(State(app): Shared, Json(req): Json<ExecReq>) -> Response {
    if !app.allow.contains(&Allow::Exec) {
        return refused(Allow::Exec);
    }
    if let Err(r) = words_ok(&req.argv) {
        return r;
    }
    let timeout = req
        .cmd_timeout
        .unwrap_or(mon_proto::agg::DEFAULT_EXEC_TIMEOUT_S);
    let q = match Query::exec(req.argv, req.shell, timeout, None) {
        Ok(q) => q,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    run(&app, app.backend.query(q, AnswerOpts::default())).await
}

/// `POST /api/audit {"since": "1h", "event": "session", "principal": "alice@lab", "denied":
/// true, "limit": 20}` (every field optional): `mon audit fleet --json`'s answer.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AuditReq {
    #[serde(default)]
    since: Option<String>,
    #[serde(default)]
    event: Option<String>,
    #[serde(default)]
    principal: Option<String>,
    #[serde(default)]
    denied: bool,
    #[serde(default)]
    limit: Option<u32>,
}

/// Empty form fields mean "any".
fn given(s: Option<String>) -> Option<String> {
    s.filter(|s| !s.trim().is_empty())
}

async fn audit(State(app): Shared, Json(req): Json<AuditReq>) -> Response {
    let filter = crate::cmd::audit::fleet::filter_of(
        given(req.since).as_deref(),
        given(req.principal),
        given(req.event),
        req.denied,
        req.limit
            .unwrap_or(mon_proto::agg::audit::DEFAULT_AUDIT_LIMIT),
        time::OffsetDateTime::now_utc(),
    );
    let q = match filter.and_then(|f| Ok(Query::audit(f)?)) {
        Ok(q) => q,
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("{e:#}")),
    };
    run(&app, app.backend.query(q, AnswerOpts::default())).await
}
