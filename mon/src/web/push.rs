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
use std::time::Instant;

use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine as _;
use mon_proto::client::finish::PushSummary;
use mon_proto::push::ends::{End, NodeEnd};
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
    /// `running`, then `done`, `skipped` (`--where` did not hold), `failed`, `denied`,
    /// `missing`, or `unlisted` (the result's lists name at most 256 nodes: a node in none
    /// of them whose state the totals cannot tell, and that reported no end while the push
    /// ran). `done`, `skipped` and `failed` may come while the push runs (from the entry
    /// node's per-node reports, `failed` then with a short code as the reason); the result
    /// settles every row.
    state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    /// Seconds into the push when the console learnt, while the push ran, that this node's
    /// part ended (absent: only the result told).
    #[serde(skip_serializing_if = "Option::is_none")]
    at: Option<f64>,
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

/// The job's progress, as the push reports it (and since when it runs).
struct Progress(Shared, Option<Instant>);

impl PushProgress for Progress {
    fn start(&mut self, size: u64, nodes: &[String]) {
        self.1 = Some(Instant::now());
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
                at: None,
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

    /// The node's row turns done, skipped or failed now (a node outside the session's rows
    /// is not added: the result lists it).
    fn node_ended(&mut self, e: &NodeEnd) {
        let at = self.1.map(|t| t.elapsed().as_secs_f64());
        let mut j = lock(&self.0);
        let Some(row) = j
            .nodes
            .iter_mut()
            .find(|r| r.node == e.node && r.state == "running")
        else {
            return;
        };
        (row.state, row.reason) = match &e.end {
            End::Done => ("done", None),
            End::Skipped => ("skipped", None),
            End::Failed(code) => ("failed", Some(code.clone())),
        };
        row.at = at;
    }
}

/// The result's rows, with what the push reported while it ran: when each node's end came,
/// and, when `ended_well` ([`unlisted_ended_well`]), its state where the result leaves it
/// `unlisted`. The reports are no node's signed word (any node of the tree can name any
/// roster node): a report may only tell done from skipped where the result's totals say
/// every unlisted node is one of them, never turn a node the result may count failing,
/// denied or missing into a done one.
fn settle(live: &[NodeState], mut rows: Vec<NodeState>, ended_well: bool) -> Vec<NodeState> {
    let live: HashMap<&str, &NodeState> = live
        .iter()
        .filter(|r| r.at.is_some())
        .map(|r| (r.node.as_str(), r))
        .collect();
    for r in &mut rows {
        let Some(l) = live.get(r.node.as_str()) else {
            continue;
        };
        r.at = l.at;
        if ended_well && r.state == "unlisted" && l.state != "failed" {
            r.state = l.state;
        }
    }
    rows
}

/// Whether the result's totals say that every node its lists do not name (of the session's
/// `nodes`) landed the file or was skipped: then none of them is failing, denied or missing.
fn unlisted_ended_well(s: &PushSummary, nodes: &[String]) -> bool {
    let named: std::collections::HashSet<&str> = [&s.failed, &s.denied, &s.missing]
        .into_iter()
        .flatten()
        .map(|(n, _)| n.as_str())
        .collect();
    let unnamed = nodes.iter().filter(|n| !named.contains(n.as_str())).count() as u64;
    unnamed == s.done.saturating_add(s.skipped)
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
                at: None,
            },
            None => NodeState {
                node: n.clone(),
                state: rest,
                reason: None,
                at: None,
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
        at: None,
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
        let mut progress = Progress(job.clone(), None);
        let end = app.backend.push(args, &mut progress).await;
        let mut j = lock(&job);
        match end {
            Ok(PushEnd::Finished(r)) => {
                j.state = "finished";
                let ended_well = unlisted_ended_well(&r.summary, &r.nodes);
                j.nodes = settle(&j.nodes, node_states(&r), ended_well);
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

    fn job() -> Shared {
        Jobs::default().add("f".into(), "/d".into()).expect("a job")
    }

    #[test]
    fn rows_turn_done_or_failed_as_the_nodes_report_and_the_result_settles_them() {
        let j = job();
        let mut p = Progress(j.clone(), None);
        p.start(10, &["n1".into(), "n2".into(), "n3".into()]);
        p.node_ended(&NodeEnd {
            node: "n2".into(),
            end: End::Failed("no-space".into()),
        });
        p.node_ended(&NodeEnd {
            node: "n1".into(),
            end: End::Done,
        });
        // Not one of the session's rows: not added.
        p.node_ended(&NodeEnd {
            node: "n9".into(),
            end: End::Done,
        });
        let live = lock(&j).nodes.clone();
        let states: Vec<_> = live.iter().map(|r| (r.state, r.reason.clone())).collect();
        assert_eq!(
            states,
            [
                ("done", None),
                ("failed", Some("no-space".into())),
                ("running", None)
            ]
        );
        assert!(live[0].at.is_some() && live[2].at.is_none());
        // The result: n1 unlisted (the totals could not tell), n2's whole reason.
        let row = |node: &str, state, reason: Option<&str>| NodeState {
            node: node.into(),
            state,
            reason: reason.map(str::to_string),
            at: None,
        };
        let end = settle(
            &live,
            vec![
                row("n1", "unlisted", None),
                row("n2", "failed", Some("no-space: disk full")),
                row("n3", "unlisted", None),
            ],
            true,
        );
        assert_eq!(end[0].state, "done");
        assert!(end[0].at.is_some());
        assert_eq!(end[1].reason.as_deref(), Some("no-space: disk full"));
        assert_eq!(end[2].state, "unlisted");
        assert!(end[2].at.is_none());
    }

    /// A compromised node reports nodes done that the result cannot name (its lists hold at
    /// most 256 a kind): the rows stay `unlisted` when the totals say some unlisted node did
    /// not land the file, so that the console never shows a failing node done.
    #[test]
    fn a_forged_report_does_not_turn_a_node_the_result_counts_failing_done() {
        let nodes: Vec<String> = ["n1", "n2", "n3"].map(String::from).to_vec();
        let mut sum = PushSummary {
            done: 1,
            skipped: 0,
            // n2 and n3 failed; the list named only n2 (as when more than 256 failed).
            failed: vec![("n2".into(), "no-space: disk full".into())],
            denied: Vec::new(),
            missing: Vec::new(),
            relayed: 0,
            failing: 2,
        };
        assert!(!unlisted_ended_well(&sum, &nodes));
        let j = job();
        let mut p = Progress(j.clone(), None);
        p.start(10, &nodes);
        for n in ["n1", "n3"] {
            p.node_ended(&NodeEnd {
                node: n.into(),
                end: End::Done,
            });
        }
        let live = lock(&j).nodes.clone();
        let row = |node: &str, state, reason: Option<&str>| NodeState {
            node: node.into(),
            state,
            reason: reason.map(str::to_string),
            at: None,
        };
        let rows = || {
            vec![
                row("n1", "unlisted", None),
                row("n2", "failed", Some("no-space: disk full")),
                row("n3", "unlisted", None),
            ]
        };
        let end = settle(&live, rows(), unlisted_ended_well(&sum, &nodes));
        let states: Vec<_> = end.iter().map(|r| r.state).collect();
        assert_eq!(states, ["unlisted", "failed", "unlisted"]);
        assert!(end[2].at.is_some(), "when the report came is still shown");
        // When the totals say every unlisted node landed it or was skipped, a report tells
        // which.
        sum.done = 1;
        sum.skipped = 1;
        sum.failing = 1;
        assert!(unlisted_ended_well(&sum, &nodes));
        let end = settle(&live, rows(), unlisted_ended_well(&sum, &nodes));
        let states: Vec<_> = end.iter().map(|r| r.state).collect();
        assert_eq!(states, ["done", "failed", "done"]);
    }

    #[test]
    fn the_body_bound_holds_the_largest_upload() {
        let b64 = base64::engine::general_purpose::STANDARD.encode(vec![0u8; MAX_UPLOAD]);
        assert!(b64.len() + 1024 < MAX_PUSH_BODY);
    }
}
