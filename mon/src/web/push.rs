//! Pushes started from the console's push page (`mon web --allow push`). Each is one signed
//! push session run in the background by the client's own push code
//! ([`crate::client::api::push`], as `mon push`), holding one of the console's session
//! slots; the page polls `GET /api/push/{id}` for its progress.
//!
//! The file is either uploaded by the page (JSON, base64, at most [`MAX_UPLOAD`] bytes,
//! kept in a private temporary directory until the push ends) or named by an absolute path
//! on the operator's machine (read as the operator, any size `mon push` takes).

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::routes::{error, refused, App, MAX_SESSIONS};
use super::Allow;
use crate::client::{PushArgs, PushEnd, PushProgress, PushReport};

/// The largest file the page may upload (a larger one: name its path instead).
pub const MAX_UPLOAD: usize = 16 * 1024 * 1024;
/// The largest `POST /api/push` body: the upload in base64, and room for the rest.
pub const MAX_PUSH_BODY: usize = MAX_UPLOAD.div_ceil(3) * 4 + 64 * 1024;
/// Push jobs the console remembers (running or finished); the oldest finished one is
/// forgotten first.
pub const MAX_JOBS: usize = 16;
/// The longest uploaded file name kept (bytes); the name lands in the manifest.
const MAX_NAME: usize = 255;

/// `POST /api/push`: `{"dest": "/abs/path", "mode": "0644", "path": "/local/file"}` or
/// `{…, "upload": {"name": "app.bin", "base64": "…"}}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PushReq {
    dest: String,
    #[serde(default)]
    mode: Option<String>,
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    upload: Option<Upload>,
}

/// A file the page uploads.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Upload {
    name: String,
    base64: String,
}

/// One node's state in a push.
#[derive(Debug, Clone, Serialize)]
pub struct NodeState {
    node: String,
    /// `running`, then `done`, `failed`, `denied`, `missing`, or `unlisted` (the result's
    /// lists name at most 256 nodes: a node in none of them whose state the totals cannot
    /// tell).
    state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
}

/// One push, as `GET /api/push/{id}` answers it.
#[derive(Debug, Clone, Serialize)]
pub struct Job {
    id: u64,
    /// `starting` (hashing the file), `running`, `finished`, `denied` or `error`.
    state: &'static str,
    file: String,
    dest: String,
    size: u64,
    /// Bytes the source (this console) served.
    served: u64,
    /// Nodes in the session, and how many finished so far (the entry's count).
    total: u64,
    complete: u64,
    nodes: Vec<NodeState>,
    #[serde(skip_serializing_if = "Option::is_none")]
    done: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    failing: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    seconds: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

type Shared = Arc<Mutex<Job>>;

/// The console's push jobs.
#[derive(Debug, Default)]
pub struct Jobs {
    next: Mutex<u64>,
    list: Mutex<VecDeque<Shared>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Jobs {
    /// A new job, or `None` when every remembered job still runs.
    fn add(&self, file: String, dest: String) -> Option<Shared> {
        let mut list = lock(&self.list);
        if list.len() >= MAX_JOBS {
            let old = list.iter().position(|j| {
                let s = lock(j).state;
                s != "starting" && s != "running"
            })?;
            list.remove(old);
        }
        let id = {
            let mut n = lock(&self.next);
            *n += 1;
            *n
        };
        let job = Arc::new(Mutex::new(Job {
            id,
            state: "starting",
            file,
            dest,
            size: 0,
            served: 0,
            total: 0,
            complete: 0,
            nodes: Vec::new(),
            done: None,
            failing: None,
            seconds: None,
            error: None,
        }));
        list.push_back(job.clone());
        Some(job)
    }

    fn get(&self, id: u64) -> Option<Job> {
        lock(&self.list)
            .iter()
            .map(|j| lock(j).clone())
            .find(|j| j.id == id)
    }
}

/// The job's progress, as the push reports it.
struct Progress(Shared);

impl PushProgress for Progress {
    fn start(&mut self, size: u64, nodes: &[String]) {
        let mut j = lock(&self.0);
        j.state = "running";
        j.size = size;
        j.total = nodes.len() as u64;
        j.nodes = nodes
            .iter()
            .map(|n| NodeState {
                node: n.clone(),
                state: "running",
                reason: None,
            })
            .collect();
    }

    fn served(&mut self, bytes: u64) {
        lock(&self.0).served = bytes;
    }

    fn complete(&mut self, nodes: u64) {
        let mut j = lock(&self.0);
        j.complete = nodes.min(j.total);
    }
}

/// Each node's end state from the result: the failed, denied and missing lists name theirs;
/// the others landed the file when the totals say so.
fn node_states(r: &PushReport) -> Vec<NodeState> {
    let s = &r.summary;
    let mut named: HashMap<&str, (&'static str, &str)> = HashMap::new();
    for (state, list) in [
        ("failed", &s.failed),
        ("denied", &s.denied),
        ("missing", &s.missing),
    ] {
        for (n, why) in list {
            named.insert(n.as_str(), (state, why.as_str()));
        }
    }
    let unnamed = r
        .nodes
        .iter()
        .filter(|n| !named.contains_key(n.as_str()))
        .count() as u64;
    let rest = if unnamed == s.done && s.skipped == 0 {
        "done"
    } else {
        "unlisted"
    };
    let mut out: Vec<NodeState> = r
        .nodes
        .iter()
        .map(|n| match named.remove(n.as_str()) {
            Some((state, why)) => NodeState {
                node: n.clone(),
                state,
                reason: Some(why.to_string()),
            },
            None => NodeState {
                node: n.clone(),
                state: rest,
                reason: None,
            },
        })
        .collect();
    // Named nodes outside the session's roster (another roster): listed after.
    let mut extra: Vec<_> = named.into_iter().collect();
    extra.sort();
    out.extend(extra.into_iter().map(|(n, (state, why))| NodeState {
        node: n.to_string(),
        state,
        reason: Some(why.to_string()),
    }));
    out
}

/// The file name an upload lands under (its last component; the manifest carries it).
fn upload_name(name: &str) -> String {
    let base = Path::new(name)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if base.is_empty() || base.len() > MAX_NAME {
        "upload.bin".into()
    } else {
        base
    }
}

/// The file to push: the uploaded one written into `dir`, or the named path.
fn source(req: &PushReq, dir: &Path) -> Result<PathBuf, Response> {
    match (&req.path, &req.upload) {
        (Some(p), None) => {
            if !p.starts_with('/') {
                return Err(error(
                    StatusCode::BAD_REQUEST,
                    "path must be an absolute path on the console's machine",
                ));
            }
            Ok(PathBuf::from(p))
        }
        (None, Some(u)) => {
            let data = base64::engine::general_purpose::STANDARD
                .decode(u.base64.as_bytes())
                .map_err(|e| error(StatusCode::BAD_REQUEST, format!("upload: {e}")))?;
            if data.len() > MAX_UPLOAD {
                return Err(too_large());
            }
            let file = dir.join(upload_name(&u.name));
            std::fs::write(&file, &data).map_err(|e| {
                error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("storing the upload: {e}"),
                )
            })?;
            Ok(file)
        }
        _ => Err(error(
            StatusCode::BAD_REQUEST,
            "give either path (a file on the console's machine) or upload",
        )),
    }
}

fn too_large() -> Response {
    error(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!(
            "uploads are limited to {} MiB: give the file's path on the console's machine instead",
            MAX_UPLOAD >> 20
        ),
    )
}

/// `POST /api/push`: starts a push; answers 202 `{"job": id}`.
pub async fn start(State(app): State<Arc<App>>, Json(body): Json<Value>) -> Response {
    if !app.allow.contains(&Allow::Push) {
        return refused(Allow::Push);
    }
    let req: PushReq = match serde_json::from_value(body) {
        Ok(r) => r,
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("push request: {e}")),
    };
    let Ok(permit) = app.sessions.clone().try_acquire_owned() else {
        return error(
            StatusCode::TOO_MANY_REQUESTS,
            format!("{MAX_SESSIONS} sessions already running; retry when one ends"),
        );
    };
    let dir = match tempfile::Builder::new().prefix("mon-web-push-").tempdir() {
        Ok(d) => d,
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, format!("temp dir: {e}")),
    };
    let file = match source(&req, dir.path()) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let Some(job) = app.pushes.add(name, req.dest.clone()) else {
        return error(
            StatusCode::TOO_MANY_REQUESTS,
            format!("{MAX_JOBS} pushes remembered and all still running"),
        );
    };
    let id = lock(&job).id;
    let args = PushArgs {
        file,
        dest: req.dest,
        mode: req.mode.unwrap_or_else(|| "0644".into()),
        block_size: None,
        where_: Vec::new(),
    };
    tokio::spawn(async move {
        let _permit = permit;
        let _dir = dir;
        let mut progress = Progress(job.clone());
        let end = app.backend.push(args, &mut progress).await;
        let mut j = lock(&job);
        match end {
            Ok(PushEnd::Finished(r)) => {
                j.state = "finished";
                j.nodes = node_states(&r);
                j.done = Some(r.summary.done);
                j.failing = Some(r.summary.failing);
                j.seconds = Some(r.secs);
                j.served = r.served;
                j.complete = j.total;
            }
            Ok(PushEnd::Denied { node, code, text }) => {
                j.state = "denied";
                j.error = Some(format!("denied by {node}: {text} [{code}]"));
            }
            Err(e) => {
                j.state = "error";
                j.error = Some(format!("{e:#}"));
            }
        }
        tracing::info!(job = j.id, state = j.state, "console: push ended");
    });
    (StatusCode::ACCEPTED, Json(json!({"job": id}))).into_response()
}

/// `GET /api/push/{id}`: the push's progress.
pub async fn status(State(app): State<Arc<App>>, UrlPath(id): UrlPath<u64>) -> Response {
    match app.pushes.get(id) {
        Some(j) => Json(j).into_response(),
        None => error(StatusCode::NOT_FOUND, format!("no push {id}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_upload_lands_under_its_last_name_only() {
        assert_eq!(upload_name("app.bin"), "app.bin");
        assert_eq!(upload_name("../../etc/passwd"), "passwd");
        assert_eq!(upload_name("/"), "upload.bin");
        assert_eq!(upload_name(".."), "upload.bin");
        assert_eq!(upload_name(&"x".repeat(300)), "upload.bin");
    }

    #[test]
    fn the_body_bound_holds_the_largest_upload() {
        let b64 = base64::engine::general_purpose::STANDARD.encode(vec![0u8; MAX_UPLOAD]);
        assert!(b64.len() + 1024 < MAX_PUSH_BODY);
    }
}
