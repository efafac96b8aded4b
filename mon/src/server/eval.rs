//! Evaluating one operation on this node: resource reads, grep, exec, the audit log read.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use mon_proto::agg::{Local, Query};
use mon_proto::node::RunRequest;

use crate::resources::Resources;

/// Largest file `filter grep` scans.
const GREP_MAX_BYTES: u64 = crate::grep::DEFAULT_MAX_BYTES;
/// Cap on each of stdout and stderr of an exec.
const EXEC_CAP: usize = 64 * 1024;

/// Tells an operation's blocking thread (grep, the audit read) to stop once the operation's
/// future is dropped: a cancelled run's task is aborted, which does not stop a blocking
/// thread, while the node frees the run's slot (`max_runs`) at once.
pub(super) struct StopOnDrop(Arc<AtomicBool>);

impl StopOnDrop {
    /// The guard to hold in the future, and the flag for the blocking thread.
    pub(super) fn new() -> (StopOnDrop, Arc<AtomicBool>) {
        let stop = Arc::new(AtomicBool::new(false));
        (StopOnDrop(stop.clone()), stop)
    }
}

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Runs the operation and reports what this node contributes.
///
/// In `filter grep`, `{node}` in FILE stands for this node's name, for deployments whose
/// logs are named per node (e.g. `/var/log/app-{node}.log`). `audit fleet` reads this
/// server's own log, `audit_log`, as the server (`audit_read.rs`).
pub async fn evaluate(req: &RunRequest, res: &Resources, node: &str, audit_log: &Path) -> Local {
    match &req.query {
        Query::Count | Query::Depth => Local::Present,
        Query::Topology => Local::Topology { parent: None },
        Query::Avg { res: r }
        | Query::Top { res: r, .. }
        | Query::Histo { res: r, .. }
        | Query::Filter { res: r, .. } => match res.read(r).await {
            Ok(v) => Local::Value(v),
            Err(e) => Local::Failed(e.to_string()),
        },
        Query::Grep { word, file } => grep(req, word, file, node).await,
        Query::Audit(f) => super::audit_read::read(audit_log.to_path_buf(), f.clone()).await,
        Query::Exec {
            argv,
            shell,
            timeout_s,
            where_,
        } => {
            if let Some(w) = where_ {
                match res.read(&w.res).await {
                    Ok(v) if w.matches(v) => {}
                    Ok(_) => return Local::Skipped,
                    Err(e) => return Local::Failed(e.to_string()),
                }
            }
            exec(req, argv, *shell, *timeout_s).await
        }
    }
}

/// `filter grep`: as the run-as user, on a thread of its own (never as the server, see
/// asuser).
async fn grep(req: &RunRequest, word: &str, file: &str, node: &str) -> Local {
    let word = word.to_owned();
    let path = std::path::PathBuf::from(file.replace("{node}", node));
    let run_as = req.run_as.clone();
    let grep_paths = req.grep_paths.clone();
    let (_stop_on_drop, stop) = StopOnDrop::new();
    let r = tokio::task::spawn_blocking(move || {
        crate::asuser::on_thread(run_as.as_deref(), move || {
            crate::grep::grep_file_within(&path, &word, GREP_MAX_BYTES, &grep_paths, &stop)
        })
    })
    .await;
    match r {
        Ok(Ok(Ok(m))) => Local::Matched(m),
        Ok(Ok(Err(e))) => Local::Failed(e.to_string()),
        Ok(Err(e)) => Local::Failed(e.to_string()),
        Err(e) => Local::Failed(format!("grep task failed: {e}")),
    }
}

/// `exec` (its `--where` already holds): as the run-as user, within the session's time.
async fn exec(req: &RunRequest, argv: &[String], shell: bool, timeout_s: u32) -> Local {
    // Never as root for a user (the session check refuses this first; fail closed).
    if req.run_as.is_none() && crate::asuser::is_root() {
        return Local::Failed(crate::asuser::AsUserError::Missing.to_string());
    }
    let t = Duration::from_secs(u64::from(timeout_s))
        .min(Duration::from_millis(req.timeout_ms.max(100)));
    match crate::exec::run(argv, shell, t, req.run_as.as_deref(), EXEC_CAP).await {
        Ok(o) => Local::Exec(o),
        Err(e) => Local::Failed(e.to_string()),
    }
}
