//! The decision function: [`SlicePolicy::evaluate`].
//!
//! Order (the first failing check decides, so the reason is the most useful one):
//! revoked → key listed (and principal) → validity window → namespace granted → namespace
//! covers the operation → `mon_policy` narrowing (from, nodes, command, grep-paths, push-dirs,
//! max-fanout, max-lifetime, run-as) → allow. Default deny.

use std::path::Path;

use ssh_key::HashAlg;

use crate::allowed_signers::SignerLine;
use crate::decision::{Decision, Reason, SourceLine};
use crate::mon_policy::PolicyLine;
use crate::operation::{namespace_covers, required_namespace, Operation};
use crate::paths::{is_within, normalize_abs_path};
use crate::pattern::match_pattern;
use crate::slice::{Request, SlicePolicy};
use crate::validity::{format_time, OutsideWindow};

/// A denial by `mon_policy` (or by the absence of a needed option).
struct Denial {
    reason: Reason,
    line: Option<usize>,
    message: String,
    applied: Vec<usize>,
}

/// What `mon_policy` allows.
struct Narrowed {
    applied: Vec<usize>,
    run_as: Option<String>,
    push_dir: Option<String>,
    allow_setid: bool,
    grep_paths: Vec<Vec<String>>,
}

impl SlicePolicy {
    /// Decides `req`. Never panics; default deny.
    pub fn evaluate(&self, req: &Request<'_>) -> Decision {
        let fp = req.key.fingerprint(HashAlg::Sha256);
        let as_path = self.signers.path.as_path();
        let deny = |reason: Reason,
                    principal: Option<&str>,
                    file: Option<&Path>,
                    line: Option<usize>,
                    message: String| Decision {
            allowed: false,
            reason,
            principal: principal.map(str::to_string),
            file: file.map(Path::to_path_buf),
            line,
            policy_lines: Vec::new(),
            run_as: None,
            push_dir: None,
            allow_setid: false,
            grep_paths: Vec::new(),
            message,
        };

        // 1. revoked
        if let Some(rv) = &self.revoked {
            if let Some(line) = rv.line_of(req.key) {
                return deny(
                    Reason::Revoked,
                    req.principal,
                    Some(&rv.path),
                    Some(line),
                    format!("key {fp} is revoked ({}:{line})", rv.path.display()),
                );
            }
        }

        // 2. key listed, principal
        let key_lines: Vec<&SignerLine> = self.signers.lines_for_key(req.key).collect();
        let Some(first_key_line) = key_lines.first() else {
            return deny(
                Reason::KeyNotListed,
                req.principal,
                Some(as_path),
                None,
                format!("key {fp} is not listed in {}", as_path.display()),
            );
        };
        let mut cands: Vec<(&SignerLine, &str)> = Vec::new();
        match req.principal {
            Some(p) => {
                cands.extend(
                    key_lines
                        .iter()
                        .filter(|l| l.principals.matches(p))
                        .map(|l| (*l, p)),
                );
            }
            None => {
                for l in &key_lines {
                    cands.extend(l.principals.literals().into_iter().map(|p| (*l, p)));
                }
            }
        }
        let Some(&(first_line, first_principal)) = cands.first() else {
            let at = format!("{}:{}", as_path.display(), first_key_line.line);
            let message = match req.principal {
                Some(p) => format!(
                    "key {fp} is listed ({at}, principals \"{}\") but not for principal \"{p}\"",
                    first_key_line.principals.as_str()
                ),
                None => format!(
                    "key {fp} is listed ({at}) only under principal patterns \"{}\"; name the principal",
                    first_key_line.principals.as_str()
                ),
            };
            return deny(
                Reason::PrincipalMismatch,
                req.principal,
                Some(as_path),
                Some(first_key_line.line),
                message,
            );
        };

        // 3. validity window
        let valid: Vec<(&SignerLine, &str)> = cands
            .iter()
            .copied()
            .filter(|(l, _)| l.validity.check(req.now_unix_s).is_ok())
            .collect();
        let Some(&(v_line, v_principal)) = valid.first() else {
            let at = format!("{}:{}", as_path.display(), first_line.line);
            let (reason, message) = match first_line.validity.check(req.now_unix_s) {
                Err(OutsideWindow::NotYetValid(t)) => (
                    Reason::NotYetValid,
                    format!(
                        "key {fp} of \"{first_principal}\" is not valid before {} ({at})",
                        format_time(t)
                    ),
                ),
                Err(OutsideWindow::Expired(t)) => (
                    Reason::Expired,
                    format!(
                        "key {fp} of \"{first_principal}\" expired at {} ({at})",
                        format_time(t)
                    ),
                ),
                Ok(()) => (
                    Reason::Expired,
                    format!("key {fp} is outside its validity window ({at})"),
                ),
            };
            return deny(
                reason,
                Some(first_principal),
                Some(as_path),
                Some(first_line.line),
                message,
            );
        };

        // 4. namespace granted
        let granted: Vec<(&SignerLine, &str)> = valid
            .iter()
            .copied()
            .filter(|(l, _)| l.grants_namespace(req.namespace))
            .collect();
        let Some(&(g_line, g_principal)) = granted.first() else {
            let (l, p) = (v_line, v_principal);
            let grants = l.namespaces.as_ref().map(|n| n.as_str()).unwrap_or("*");
            return deny(
                Reason::NamespaceNotGranted,
                Some(p),
                Some(as_path),
                Some(l.line),
                format!(
                    "\"{p}\" is not granted namespace {} ({}:{} grants namespaces=\"{grants}\")",
                    req.namespace,
                    as_path.display(),
                    l.line
                ),
            );
        };

        // 5. the class covers the operation
        if !namespace_covers(req.namespace, req.op) {
            return deny(
                Reason::OpNotInClass,
                Some(g_principal),
                Some(as_path),
                Some(g_line.line),
                format!(
                    "{} needs a session signed for {}, this one is signed for {}",
                    req.op.describe(),
                    required_namespace(req.op),
                    req.namespace
                ),
            );
        }

        // 6. mon_policy narrowing, per distinct principal; the first that passes allows.
        let mut first_denial: Option<(Denial, &str)> = None;
        let mut tried: Vec<&str> = Vec::new();
        for (line, principal) in granted {
            if tried.contains(&principal) {
                continue;
            }
            tried.push(principal);
            match self.narrow(req, principal) {
                Ok(n) => return self.allow(req, line, principal, n, &fp.to_string()),
                Err(d) => {
                    if first_denial.is_none() {
                        first_denial = Some((d, principal));
                    }
                }
            }
        }
        match first_denial {
            Some((d, principal)) => {
                let mp = self.mon_policy.as_ref().map(|m| m.path.as_path());
                let file = if d.line.is_some() { mp } else { None };
                let mut out = deny(d.reason, Some(principal), file, d.line, d.message);
                out.policy_lines = self.sources(&d.applied);
                out
            }
            None => deny(
                Reason::KeyNotListed,
                req.principal,
                Some(as_path),
                None,
                format!("key {fp}: no line decided"),
            ),
        }
    }

    fn sources(&self, lines: &[usize]) -> Vec<SourceLine> {
        match &self.mon_policy {
            Some(m) => lines
                .iter()
                .map(|&line| SourceLine {
                    file: m.path.clone(),
                    line,
                })
                .collect(),
            None => Vec::new(),
        }
    }

    fn allow(
        &self,
        req: &Request<'_>,
        line: &SignerLine,
        principal: &str,
        n: Narrowed,
        fp: &str,
    ) -> Decision {
        let as_path = &self.signers.path;
        let policy_lines = self.sources(&n.applied);
        let mut message = format!(
            "{} allowed for \"{principal}\" (key {fp}, namespace {}) by {}:{}",
            req.op.describe(),
            req.namespace,
            as_path.display(),
            line.line
        );
        if !policy_lines.is_empty() {
            let list: Vec<String> = policy_lines.iter().map(|s| s.to_string()).collect();
            message.push_str(&format!(", narrowed by {}", list.join(", ")));
        }
        Decision {
            allowed: true,
            reason: Reason::Allowed,
            principal: Some(principal.to_string()),
            file: Some(as_path.clone()),
            line: Some(line.line),
            policy_lines,
            run_as: n.run_as,
            push_dir: n.push_dir,
            allow_setid: n.allow_setid,
            grep_paths: n.grep_paths,
            message,
        }
    }

    /// True when a `mon_policy` line for `principal` limits the client's address (`from=`).
    /// A server takes such a principal's sessions only over TCP, whose handshake proves the
    /// address; a UDP datagram's source address can be forged.
    pub fn restricts_client_address(&self, principal: &str) -> bool {
        self.mon_policy
            .as_ref()
            .is_some_and(|m| m.applicable(principal).any(|l| l.from.is_some()))
    }

    /// The smallest `max-fanout=` of the `mon_policy` lines for `principal` (None: no bound).
    /// A session with an explicit fanout above it is denied (`fanout-too-large`); one with
    /// the adaptive fanout (0) offers to at most this many random children on every node.
    pub fn max_fanout(&self, principal: &str) -> Option<u32> {
        self.mon_policy
            .as_ref()
            .and_then(|m| m.applicable(principal).filter_map(|l| l.max_fanout).min())
    }

    /// Applies every `mon_policy` line for `principal`.
    fn narrow(&self, req: &Request<'_>, principal: &str) -> Result<Narrowed, Denial> {
        let lines: Vec<&PolicyLine> = match &self.mon_policy {
            Some(m) => m.applicable(principal).collect(),
            None => Vec::new(),
        };
        let applied: Vec<usize> = lines.iter().map(|l| l.line).collect();
        let mp = self
            .mon_policy
            .as_ref()
            .map(|m| m.path.display().to_string())
            .unwrap_or_default();
        let denial = |reason: Reason, line: &PolicyLine, what: String| Denial {
            reason,
            line: Some(line.line),
            message: format!("{what} ({mp}:{} for \"{principal}\")", line.line),
            applied: applied.clone(),
        };

        if let Some(addr) = req.client_addr {
            if let Some(l) = lines.iter().find(|l| !l.from_allows(addr)) {
                return Err(denial(
                    Reason::FromDenied,
                    l,
                    format!("client address {addr} is not allowed by from="),
                ));
            }
        }
        if let Some(l) = lines
            .iter()
            .find(|l| l.nodes.as_ref().is_some_and(|n| !n.matches(req.node)))
        {
            let pat = l.nodes.as_ref().map(|n| n.as_str()).unwrap_or_default();
            return Err(denial(
                Reason::NodeDenied,
                l,
                format!("node \"{}\" is not in nodes=\"{pat}\"", req.node),
            ));
        }
        let mut push_dir: Option<String> = None;
        let mut grep_paths: Vec<Vec<String>> = Vec::new();
        match req.op {
            Operation::Exec { argv } => {
                let cmdline = argv.join(" ");
                if let Some(l) = lines.iter().find(|l| {
                    l.command
                        .as_ref()
                        .is_some_and(|c| !match_pattern(&cmdline, c))
                }) {
                    let pat = l.command.as_deref().unwrap_or_default();
                    return Err(denial(
                        Reason::CommandDenied,
                        l,
                        format!("command \"{cmdline}\" does not match command=\"{pat}\""),
                    ));
                }
            }
            Operation::Grep { path } => {
                let restricted: Vec<&&PolicyLine> =
                    lines.iter().filter(|l| l.grep_paths.is_some()).collect();
                if let Some(first) = restricted.first() {
                    let norm = normalize_abs_path(path).map_err(|m| {
                        denial(
                            Reason::GrepPathDenied,
                            first,
                            format!("grep path \"{path}\": {m}"),
                        )
                    })?;
                    if let Some(l) = restricted.iter().find(|l| {
                        !l.grep_paths
                            .as_ref()
                            .is_some_and(|g| g.iter().any(|e| grep_entry_matches(&norm, e)))
                    }) {
                        let list = l
                            .grep_paths
                            .as_ref()
                            .map(|g| g.join(","))
                            .unwrap_or_default();
                        return Err(denial(
                            Reason::GrepPathDenied,
                            l,
                            format!("grep path \"{norm}\" is outside grep-paths=\"{list}\""),
                        ));
                    }
                }
                grep_paths = restricted
                    .iter()
                    .filter_map(|l| l.grep_paths.clone())
                    .collect();
            }
            Operation::Push { dest } => {
                let restricted: Vec<&&PolicyLine> =
                    lines.iter().filter(|l| l.push_dirs.is_some()).collect();
                let Some(first) = restricted.first() else {
                    let where_ = if mp.is_empty() {
                        "no mon_policy file".to_string()
                    } else {
                        format!("no push-dirs= in {mp}")
                    };
                    return Err(Denial {
                        reason: Reason::NoPushDirs,
                        line: None,
                        message: format!(
                            "push is closed by default: {where_} for \"{principal}\"; add e.g. {principal} push-dirs=\"/srv/apps\""
                        ),
                        applied,
                    });
                };
                if dest.ends_with('/') || dest.ends_with("/.") {
                    return Err(denial(
                        Reason::PushDestIsDir,
                        first,
                        format!(
                            "push destination \"{dest}\" ends in '/': DEST names the file to write, e.g. {dest}FILE"
                        ),
                    ));
                }
                let norm = normalize_abs_path(dest).map_err(|m| {
                    denial(
                        Reason::PushDirDenied,
                        first,
                        format!("push destination \"{dest}\": {m}"),
                    )
                })?;
                if let Some(l) = restricted
                    .iter()
                    .find(|l| l.push_dirs.as_ref().is_some_and(|d| d.contains(&norm)))
                {
                    return Err(denial(
                        Reason::PushDestIsDir,
                        l,
                        format!(
                            "push destination \"{norm}\" is a push dir itself: DEST names the file to write, e.g. {norm}/FILE"
                        ),
                    ));
                }
                if let Some(l) = restricted.iter().find(|l| {
                    !l.push_dirs
                        .as_ref()
                        .is_some_and(|d| d.iter().any(|dir| is_within(&norm, dir)))
                }) {
                    let list = l
                        .push_dirs
                        .as_ref()
                        .map(|d| d.join(","))
                        .unwrap_or_default();
                    return Err(denial(
                        Reason::PushDirDenied,
                        l,
                        format!("push destination \"{norm}\" is outside push-dirs=\"{list}\""),
                    ));
                }
                // Every restricting line holds DEST, so the deepest holding entry lies below
                // (or at) every other one: landing beneath it satisfies them all.
                push_dir = restricted
                    .iter()
                    .filter_map(|l| l.push_dirs.as_ref())
                    .flatten()
                    .filter(|dir| is_within(&norm, dir))
                    .max_by_key(|dir| dir.len())
                    .cloned();
            }
            Operation::Query { .. } => {}
        }
        if let Some(f) = req.fanout {
            if let Some(l) = lines.iter().find(|l| l.max_fanout.is_some_and(|m| f > m)) {
                let m = l.max_fanout.unwrap_or_default();
                return Err(denial(
                    Reason::FanoutTooLarge,
                    l,
                    format!("fanout {f} exceeds max-fanout={m}"),
                ));
            }
        }
        if let Some(t) = req.lifetime_s {
            if let Some(l) = lines.iter().find(|l| l.max_lifetime.is_some_and(|m| t > m)) {
                let m = l.max_lifetime.unwrap_or_default();
                return Err(denial(
                    Reason::LifetimeTooLong,
                    l,
                    format!("session lifetime {t} s exceeds max-lifetime={m}"),
                ));
            }
        }
        let mut run_as: Option<(&str, &PolicyLine)> = None;
        for l in &lines {
            if let Some(u) = l.run_as.as_deref() {
                match run_as {
                    None => run_as = Some((u, l)),
                    Some((prev, prev_line)) if prev != u => {
                        if matches!(req.op, Operation::Query { .. }) {
                            return Ok(Narrowed {
                                applied,
                                run_as: None,
                                push_dir: None,
                                allow_setid: false,
                                grep_paths: Vec::new(),
                            });
                        }
                        return Err(denial(
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
        Ok(Narrowed {
            applied,
            run_as: run_as.map(|(u, _)| u.to_string()),
            push_dir,
            allow_setid: lines.iter().any(|l| l.allow_setid),
            grep_paths,
        })
    }
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
