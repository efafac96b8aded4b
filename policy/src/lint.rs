//! Warnings about policies that parse but are probably not what the admin meant.

use std::collections::HashMap;
use std::path::Path;

use crate::allowed_signers::{AllowedSigners, SignerLine};
use crate::diag::Diagnostic;
use crate::mon_policy::{MonPolicy, PolicyLine};
use crate::operation::{CLASSES, NS_AUDIT, NS_EXEC, NS_PUSH, NS_READ};
use crate::pattern::match_pattern;
use crate::revoked::RevokedKeys;
use crate::validity::{format_time, OutsideWindow};

/// The files of one slice, borrowed for [`lint_slice`].
pub(crate) struct SliceFilesRef<'a> {
    pub signers: &'a AllowedSigners,
    pub mon_policy: Option<&'a MonPolicy>,
    pub revoked: Option<&'a RevokedKeys>,
}

/// Lints a whole slice at time `now_unix_s`: the [`allowed_signers`](lint_allowed_signers)
/// warnings, plus warnings needing several files: exec or push granted without `mon_policy`
/// narrowing, push without `push-dirs`, read without `grep-paths`, exec/read/push without
/// `run-as` (a root server refuses them), revoked keys still listed, `allow-setid` anywhere in
/// `mon_policy`. (The public entry point is `mon_policy::lint`, on a whole `SlicePolicy`.)
pub(crate) fn lint_slice(files: &SliceFilesRef<'_>, now_unix_s: u64) -> Vec<Diagnostic> {
    let mut out = lint_allowed_signers(files.signers, now_unix_s);
    let empty = MonPolicy::default();
    let mp = files.mon_policy.unwrap_or(&empty);
    for line in &files.signers.lines {
        let revoked_at = files.revoked.and_then(|r| r.line_of(&line.key));
        if let Some(rv_line) = revoked_at {
            out.push(Diagnostic::warning(
                &files.signers.path,
                line.line,
                line.key_col,
                format!("key is revoked (revoked_keys line {rv_line}); remove this line"),
            ));
            continue;
        }
        lint_grants(&files.signers.path, line, mp, &mut out);
    }
    for l in mp.lines.iter().filter(|l| l.allow_setid) {
        out.push(Diagnostic::warning(
            &mp.path,
            l.line,
            l.col_of("allow-setid"),
            "allow-setid lets a push land setuid, setgid or sticky files: whoever may push here can plant a setuid program owned by the run-as user; grant it only to a principal and push-dirs that need it".to_string(),
        ));
    }
    out
}

/// What one `allowed_signers` line grants of exec, read and push, and how (for messages).
struct Grants {
    exec: bool,
    read: bool,
    push: bool,
    /// The granted classes, e.g. `exec, push`.
    what: String,
    /// Why they are granted: the `namespaces=` option or its absence.
    how: String,
}

impl Grants {
    fn of(line: &SignerLine) -> Grants {
        let exec = line.grants_namespace(NS_EXEC);
        let push = line.grants_namespace(NS_PUSH);
        let read = line.grants_namespace(NS_READ);
        let what = [(exec, "exec"), (read, "read"), (push, "push")]
            .iter()
            .filter(|(on, _)| *on)
            .map(|(_, w)| *w)
            .collect::<Vec<_>>()
            .join(", ");
        let how = if line.namespaces.is_none() {
            "no namespaces= option grants every class".to_string()
        } else {
            format!(
                "namespaces=\"{}\" grants {what}",
                line.namespaces
                    .as_ref()
                    .map(|n| n.as_str())
                    .unwrap_or_default()
            )
        };
        Grants {
            exec,
            read,
            push,
            what,
            how,
        }
    }
}

/// Warnings for the classes one signer line grants that `mon_policy` does not narrow, for each
/// of its non-negated principal patterns.
fn lint_grants(path: &Path, line: &SignerLine, mp: &MonPolicy, out: &mut Vec<Diagnostic>) {
    let g = Grants::of(line);
    if !g.exec && !g.push && !g.read {
        return;
    }
    let col = if line.namespaces_col > 0 {
        line.namespaces_col
    } else {
        line.key_col
    };
    for item in line.principals.items().iter().filter(|i| !i.negated) {
        let p = item.pattern.as_str();
        let applying: Vec<&PolicyLine> = mp.applicable(p).collect();
        for msg in unnarrowed(p, &g, &applying) {
            out.push(Diagnostic::warning(path, line.line, col, msg));
        }
    }
}

/// What principal pattern `p` is granted (`g`) that the mon_policy lines `applying` to it do
/// not narrow, one message each.
fn unnarrowed(p: &str, g: &Grants, applying: &[&PolicyLine]) -> Vec<String> {
    let how = &g.how;
    let mut out = Vec::new();
    if g.exec && !applying.iter().any(|l| l.narrows_exec()) {
        out.push(format!(
            "\"{p}\" may exec anything anywhere ({how}) with no mon_policy narrowing; add a mon_policy line such as: {p} command=\"…\",nodes=\"…\",run-as=\"…\""
        ));
    }
    if g.push && !applying.iter().any(|l| l.push_dirs.is_some()) {
        out.push(format!(
            "\"{p}\" is granted push ({how}) but mon_policy has no push-dirs for it, so every push is denied; add: {p} push-dirs=\"/srv/…\""
        ));
    }
    if g.read && !applying.iter().any(|l| l.grep_paths.is_some()) {
        out.push(format!(
            "\"{p}\" is granted read ({how}) but mon_policy has no grep-paths for it, so grep may read any file its run-as user can; add: {p} grep-paths=\"/var/log/…\""
        ));
    }
    if !applying.iter().any(|l| l.run_as.is_some()) {
        out.push(format!(
            "\"{p}\" is granted {} but has no run-as in mon_policy: a server running as root refuses them (run-as-missing); add: {p} run-as=\"USER\" (a user the node's server.conf lists in run-as-users)",
            g.what
        ));
    }
    out
}

/// Warnings about `allowed_signers` alone at time `now_unix_s`: expired keys, keys not valid
/// yet, duplicate keys, principal patterns that match everything, namespaces granting no MON
/// class, wildcard namespace patterns (`mon-*@mon`).
pub fn lint_allowed_signers(signers: &AllowedSigners, now_unix_s: u64) -> Vec<Diagnostic> {
    let path = &signers.path;
    let mut out = Vec::new();
    let mut seen: HashMap<[u8; 32], usize> = HashMap::new();
    for line in &signers.lines {
        out.extend(validity_warning(path, line, now_unix_s));
        if let Some(first) = seen.get(&line.key_raw) {
            out.push(duplicate(path, line, *first));
        } else {
            seen.insert(line.key_raw, line.line);
        }
        out.extend(match_all_warning(path, line));
        out.extend(no_class_warning(path, line));
        out.extend(wildcard_namespace_warnings(path, line));
    }
    out
}

/// A `namespaces=` pattern with `*` or `?`: it grants every MON class it matches, the audit
/// class (`mon-audit@mon`: every node's audit log) among them, and any class added later.
fn wildcard_namespace_warnings(path: &Path, line: &SignerLine) -> Vec<Diagnostic> {
    let Some(ns) = line.namespaces.as_ref() else {
        return Vec::new();
    };
    ns.items()
        .iter()
        .filter(|i| !i.negated && i.pattern.contains(['*', '?']))
        .map(|i| {
            let granted: Vec<&str> = CLASSES
                .iter()
                .copied()
                .filter(|c| match_pattern(c, &i.pattern) && ns.matches(c))
                .collect();
            let audit = if granted.contains(&NS_AUDIT) {
                format!(", {NS_AUDIT} (reading every node's audit log) included")
            } else {
                String::new()
            };
            Diagnostic::warning(
                path,
                line.line,
                line.namespaces_col,
                format!(
                    "wildcard namespace grant \"{}\" grants {}{audit}, and any class a later MON adds; list the classes by name (namespaces=\"mon-query@mon,…\")",
                    i.pattern,
                    if granted.is_empty() { "no class today".to_string() } else { granted.join(", ") }
                ),
            )
        })
        .collect()
}

/// A principal pattern that matches every principal.
fn match_all_warning(path: &Path, line: &SignerLine) -> Option<Diagnostic> {
    let item = line.principals.match_all_item()?;
    Some(Diagnostic::warning(
        path,
        line.line,
        line.principals_col + item.offset,
        format!(
            "principal pattern \"{}\" matches every principal: anyone holding this key may claim any name",
            item.pattern
        ),
    ))
}

/// A `namespaces=` option that grants none of MON's classes.
fn no_class_warning(path: &Path, line: &SignerLine) -> Option<Diagnostic> {
    let ns = line.namespaces.as_ref()?;
    if CLASSES.iter().any(|c| ns.matches(c)) {
        return None;
    }
    Some(Diagnostic::warning(
        path,
        line.line,
        line.namespaces_col,
        format!(
            "namespaces=\"{}\" grants no MON class ({}): this line allows nothing in MON",
            ns.as_str(),
            CLASSES.join(", ")
        ),
    ))
}

/// A key outside its validity window at `now_unix_s`: expired or not valid yet.
fn validity_warning(path: &Path, line: &SignerLine, now_unix_s: u64) -> Option<Diagnostic> {
    match line.validity.check(now_unix_s) {
        Err(OutsideWindow::Expired(t)) => Some(Diagnostic::warning(
            path,
            line.line,
            line.valid_before_col,
            format!(
                "key expired at {} (valid-before); remove the line or renew the key",
                format_time(t)
            ),
        )),
        Err(OutsideWindow::NotYetValid(t)) => Some(Diagnostic::warning(
            path,
            line.line,
            line.valid_after_col,
            format!("key is not valid yet: valid-after {}", format_time(t)),
        )),
        Ok(()) => None,
    }
}

fn duplicate(path: &Path, line: &SignerLine, first: usize) -> Diagnostic {
    Diagnostic::warning(
        path,
        line.line,
        line.key_col,
        format!(
            "duplicate key: also listed at line {first}; a key may sign for every principal of every line listing it"
        ),
    )
}
