//! Step 6 of [`SlicePolicy::evaluate`]: `mon_policy` narrowing for one principal.
//!
//! Every `mon_policy` line applying to the principal must allow the request; the first line
//! that does not decides the denial. Order of the checks (the first failing one decides):
//! `from` → `nodes` → the operation's own option (`command`, `grep-paths`, `push-dirs`) →
//! `max-fanout` → `max-lifetime` → `run-as` agreement. Push is closed without `push-dirs`.

use crate::decision::Reason;
use crate::mon_policy::PolicyLine;
use crate::operation::Operation;
use crate::paths::{is_within, normalize_abs_path};
use crate::pattern::match_pattern;
use crate::slice::{Request, SlicePolicy};

/// A denial by `mon_policy` (or by the absence of a needed option).
pub(super) struct Denial {
    pub reason: Reason,
    pub line: Option<usize>,
    pub message: String,
    pub applied: Vec<usize>,
}

/// What `mon_policy` allows.
pub(super) struct Narrowed {
    pub applied: Vec<usize>,
    pub run_as: Option<String>,
    pub push_dir: Option<String>,
    pub allow_setid: bool,
    pub grep_paths: Vec<Vec<String>>,
}

/// The `mon_policy` lines applying to one principal, and how a denial by one of them is worded.
struct Scope<'a> {
    principal: &'a str,
    lines: Vec<&'a PolicyLine>,
    /// Their line numbers, reported with the decision.
    applied: Vec<usize>,
    /// The `mon_policy` path as text, empty without a `mon_policy` file.
    mp: String,
}

/// How the applying lines' `run-as` options combine.
enum RunAs<'a> {
    /// No line sets one, or all agree on this user.
    Agreed(Option<&'a str>),
    /// Lines disagree on a query: it runs as nobody and is allowed without narrowing.
    QueryConflict,
}

impl SlicePolicy {
    /// Applies every `mon_policy` line for `principal`.
    pub(super) fn narrow(&self, req: &Request<'_>, principal: &str) -> Result<Narrowed, Denial> {
        let s = Scope::new(self, principal);
        s.check_from(req)?;
        s.check_nodes(req)?;
        let (push_dir, grep_paths) = match req.op {
            Operation::Exec { argv } => {
                s.check_command(argv)?;
                (None, Vec::new())
            }
            Operation::Grep { path } => (None, s.grep_paths(path)?),
            Operation::Push { dest } => (s.push_dir(dest)?, Vec::new()),
            Operation::Query { .. } | Operation::Audit => (None, Vec::new()),
        };
        s.check_bounds(req)?;
        let run_as = match s.run_as(req.op)? {
            RunAs::Agreed(u) => u.map(str::to_string),
            RunAs::QueryConflict => {
                return Ok(Narrowed {
                    applied: s.applied,
                    run_as: None,
                    push_dir: None,
                    allow_setid: false,
                    grep_paths: Vec::new(),
                })
            }
        };
        Ok(Narrowed {
            allow_setid: s.lines.iter().any(|l| l.allow_setid),
            applied: s.applied,
            run_as,
            push_dir,
            grep_paths,
        })
    }
}

impl<'a> Scope<'a> {
    fn new(policy: &'a SlicePolicy, principal: &'a str) -> Scope<'a> {
        let lines: Vec<&PolicyLine> = match &policy.mon_policy {
            Some(m) => m.applicable(principal).collect(),
            None => Vec::new(),
        };
        let applied: Vec<usize> = lines.iter().map(|l| l.line).collect();
        let mp = policy
            .mon_policy
            .as_ref()
            .map(|m| m.path.display().to_string())
            .unwrap_or_default();
        Scope {
            principal,
            lines,
            applied,
            mp,
        }
    }

    /// A denial by `line`: `what`, then where and for whom.
    fn denial(&self, reason: Reason, line: &PolicyLine, what: String) -> Denial {
        Denial {
            reason,
            line: Some(line.line),
            message: format!(
                "{what} ({}:{} for \"{}\")",
                self.mp, line.line, self.principal
            ),
            applied: self.applied.clone(),
        }
    }

    /// The first line holding a bound `is_violated`.
    fn first_where(&self, is_violated: impl Fn(&PolicyLine) -> bool) -> Option<&'a PolicyLine> {
        self.lines.iter().copied().find(|l| is_violated(l))
    }

    /// `from=`: the client's address (when known) must be allowed by every line.
    fn check_from(&self, req: &Request<'_>) -> Result<(), Denial> {
        let Some(addr) = req.client_addr else {
            return Ok(());
        };
        match self.first_where(|l| !l.from_allows(addr)) {
            Some(l) => Err(self.denial(
                Reason::FromDenied,
                l,
                format!("client address {addr} is not allowed by from="),
            )),
            None => Ok(()),
        }
    }

    /// `nodes=`: this node must match every line's pattern list.
    fn check_nodes(&self, req: &Request<'_>) -> Result<(), Denial> {
        match self.first_where(|l| l.nodes.as_ref().is_some_and(|n| !n.matches(req.node))) {
            Some(l) => {
                let pat = l.nodes.as_ref().map(|n| n.as_str()).unwrap_or_default();
                Err(self.denial(
                    Reason::NodeDenied,
                    l,
                    format!("node \"{}\" is not in nodes=\"{pat}\"", req.node),
                ))
            }
            None => Ok(()),
        }
    }

    /// `command=`: the command line (argv joined by spaces) must match every line's glob.
    fn check_command(&self, argv: &[String]) -> Result<(), Denial> {
        let cmdline = argv.join(" ");
        let violated = |l: &PolicyLine| {
            l.command
                .as_ref()
                .is_some_and(|c| !match_pattern(&cmdline, c))
        };
        match self.first_where(violated) {
            Some(l) => {
                let pat = l.command.as_deref().unwrap_or_default();
                Err(self.denial(
                    Reason::CommandDenied,
                    l,
                    format!("command \"{cmdline}\" does not match command=\"{pat}\""),
                ))
            }
            None => Ok(()),
        }
    }

    /// `grep-paths=`: the normalized path must match an entry of every restricting line; the
    /// restricting lines' lists are returned for the node to check the opened file again.
    fn grep_paths(&self, path: &str) -> Result<Vec<Vec<String>>, Denial> {
        let restricted: Vec<&PolicyLine> = self
            .lines
            .iter()
            .copied()
            .filter(|l| l.grep_paths.is_some())
            .collect();
        if let Some(first) = restricted.first() {
            self.check_grep_path(first, &restricted, path)?;
        }
        Ok(restricted
            .iter()
            .filter_map(|l| l.grep_paths.clone())
            .collect())
    }

    /// `path`, normalized, must match an entry of each of the `restricted` lines (the
    /// first of which, `first`, is blamed for a path that does not normalize).
    fn check_grep_path(
        &self,
        first: &PolicyLine,
        restricted: &[&PolicyLine],
        path: &str,
    ) -> Result<(), Denial> {
        let norm = normalize_abs_path(path).map_err(|m| {
            self.denial(
                Reason::GrepPathDenied,
                first,
                format!("grep path \"{path}\": {m}"),
            )
        })?;
        if let Some((l, list)) = first_not_holding(
            restricted,
            |l| l.grep_paths.as_ref(),
            |e| grep_entry_matches(&norm, e),
        ) {
            return Err(self.denial(
                Reason::GrepPathDenied,
                l,
                format!("grep path \"{norm}\" is outside grep-paths=\"{list}\""),
            ));
        }
        Ok(())
    }

    /// `push-dirs=`: push is closed without one; DEST must name a file (not a directory, not a
    /// push dir itself) inside an entry of every restricting line. Returns the deepest holding
    /// entry, the directory the push lands beneath.
    fn push_dir(&self, dest: &str) -> Result<Option<String>, Denial> {
        let restricted: Vec<&PolicyLine> = self
            .lines
            .iter()
            .copied()
            .filter(|l| l.push_dirs.is_some())
            .collect();
        let Some(first) = restricted.first() else {
            return Err(self.push_closed());
        };
        let norm = self.normalized_push_dest(first, dest)?;
        self.check_push_dest(&restricted, &norm)?;
        // Every restricting line holds DEST, so the deepest holding entry lies below
        // (or at) every other one: landing beneath it satisfies them all.
        Ok(restricted
            .iter()
            .filter_map(|l| l.push_dirs.as_ref())
            .flatten()
            .filter(|dir| is_within(&norm, dir))
            .max_by_key(|dir| dir.len())
            .cloned())
    }

    /// DEST normalized; one that ends in `/` (names a directory) or does not normalize is
    /// denied, blaming the first restricting line `first`.
    fn normalized_push_dest(&self, first: &PolicyLine, dest: &str) -> Result<String, Denial> {
        if dest.ends_with('/') || dest.ends_with("/.") {
            return Err(self.denial(
                Reason::PushDestIsDir,
                first,
                format!(
                    "push destination \"{dest}\" ends in '/': DEST names the file to write, e.g. {dest}FILE"
                ),
            ));
        }
        normalize_abs_path(dest).map_err(|m| {
            self.denial(
                Reason::PushDirDenied,
                first,
                format!("push destination \"{dest}\": {m}"),
            )
        })
    }

    /// The denial of a push when no applying line has `push-dirs=`.
    fn push_closed(&self) -> Denial {
        let where_ = if self.mp.is_empty() {
            "no mon_policy file".to_string()
        } else {
            format!("no push-dirs= in {}", self.mp)
        };
        let principal = self.principal;
        Denial {
            reason: Reason::NoPushDirs,
            line: None,
            message: format!(
                "push is closed by default: {where_} for \"{principal}\"; add e.g. {principal} push-dirs=\"/srv/apps\""
            ),
            applied: self.applied.clone(),
        }
    }

    /// The normalized DEST is not a push dir itself and lies inside every restricting line.
    fn check_push_dest(&self, restricted: &[&PolicyLine], norm: &str) -> Result<(), Denial> {
        let norm_s = norm.to_string();
        if let Some(l) = restricted
            .iter()
            .find(|l| l.push_dirs.as_ref().is_some_and(|d| d.contains(&norm_s)))
        {
            return Err(self.denial(
                Reason::PushDestIsDir,
                l,
                format!(
                    "push destination \"{norm}\" is a push dir itself: DEST names the file to write, e.g. {norm}/FILE"
                ),
            ));
        }
        if let Some((l, list)) = first_not_holding(
            restricted,
            |l| l.push_dirs.as_ref(),
            |dir| is_within(norm, dir),
        ) {
            return Err(self.denial(
                Reason::PushDirDenied,
                l,
                format!("push destination \"{norm}\" is outside push-dirs=\"{list}\""),
            ));
        }
        Ok(())
    }

    /// `max-fanout=` and `max-lifetime=`: an explicit fanout or lifetime above any line's bound.
    fn check_bounds(&self, req: &Request<'_>) -> Result<(), Denial> {
        if let Some(f) = req.fanout {
            if let Some(l) = self.first_where(|l| l.max_fanout.is_some_and(|m| f > m)) {
                let m = l.max_fanout.unwrap_or_default();
                return Err(self.denial(
                    Reason::FanoutTooLarge,
                    l,
                    format!("fanout {f} exceeds max-fanout={m}"),
                ));
            }
        }
        if let Some(t) = req.lifetime_s {
            if let Some(l) = self.first_where(|l| l.max_lifetime.is_some_and(|m| t > m)) {
                let m = l.max_lifetime.unwrap_or_default();
                return Err(self.denial(
                    Reason::LifetimeTooLong,
                    l,
                    format!("session lifetime {t} s exceeds max-lifetime={m}"),
                ));
            }
        }
        Ok(())
    }

    /// `run-as=`: every line setting one must name the same user; a disagreement denies
    /// exec/read/push and lets a query through unnarrowed.
    fn run_as(&self, op: &Operation) -> Result<RunAs<'a>, Denial> {
        let mut run_as: Option<(&str, &PolicyLine)> = None;
        for l in &self.lines {
            if let Some(u) = l.run_as.as_deref() {
                match run_as {
                    None => run_as = Some((u, l)),
                    Some((prev, prev_line)) if prev != u => {
                        if matches!(op, Operation::Query { .. } | Operation::Audit) {
                            return Ok(RunAs::QueryConflict);
                        }
                        return Err(self.denial(
                            Reason::RunAsConflict,
                            l,
                            format!(
                                "run-as=\"{u}\" conflicts with run-as=\"{prev}\" at line {}",
                                prev_line.line
                            ),
                        ));
                    }
                    Some(_) => {}
                }
            }
        }
        Ok(RunAs::Agreed(run_as.map(|(u, _)| u)))
    }
}

/// The first of the `restricted` lines none of whose `entries` (its grep-paths or push-dirs)
/// `holds` the path, with its entries joined by commas for the message.
fn first_not_holding<'l>(
    restricted: &[&'l PolicyLine],
    entries: fn(&PolicyLine) -> Option<&Vec<String>>,
    holds: impl Fn(&str) -> bool,
) -> Option<(&'l PolicyLine, String)> {
    let l = restricted
        .iter()
        .find(|l| !entries(l).is_some_and(|list| list.iter().any(|e| holds(e))))?;
    let list = entries(l).map(|list| list.join(",")).unwrap_or_default();
    Some((l, list))
}

/// A `grep-paths` entry with `*` or `?` is a glob over the whole path (`*` crosses `/`); one
/// without is a file or directory that covers everything below it.
pub fn grep_entry_matches(path: &str, entry: &str) -> bool {
    if entry.contains(['*', '?']) {
        match_pattern(path, entry)
    } else {
        is_within(path, entry)
    }
}

/// Whether `path` (absolute) is allowed by a grep decision's [`Decision::grep_paths`]: it is
/// normalized as [`SlicePolicy::evaluate`] does, then must match an entry of every
/// restricting line. No lines: no restriction. The node applies this to the real path of the
/// file it opened, so a symbolic link below an allowed path cannot lead outside it.
///
/// [`Decision::grep_paths`]: crate::Decision::grep_paths
pub fn grep_path_allowed(path: &str, grep_paths: &[Vec<String>]) -> bool {
    if grep_paths.is_empty() {
        return true;
    }
    let Ok(norm) = normalize_abs_path(path) else {
        return false;
    };
    grep_paths
        .iter()
        .all(|g| g.iter().any(|e| grep_entry_matches(&norm, e)))
}
