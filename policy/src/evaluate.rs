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
use crate::operation::{namespace_covers, required_namespace};
use crate::slice::{Request, SlicePolicy};
use crate::validity::{format_time, OutsideWindow};

mod narrow;

pub use narrow::{grep_entry_matches, grep_path_allowed};
use narrow::{Denial, Narrowed};

/// A signer line and the principal it is considered for.
type Candidate<'a> = (&'a SignerLine, &'a str);

/// A denial before `mon_policy` is looked at (or by it, with `policy_lines` added); boxed, as
/// the early `Err` of a step.
fn deny(
    reason: Reason,
    principal: Option<&str>,
    file: Option<&Path>,
    line: Option<usize>,
    message: String,
) -> Box<Decision> {
    Box::new(Decision {
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
    })
}

/// Why a key's line (`at`, `file:line`) is outside its validity window, as a reason and a
/// message naming the key (`fp`) and `principal`.
fn outside_window(
    outside: Result<(), OutsideWindow>,
    fp: &str,
    principal: &str,
    at: &str,
) -> (Reason, String) {
    match outside {
        Err(OutsideWindow::NotYetValid(t)) => (
            Reason::NotYetValid,
            format!(
                "key {fp} of \"{principal}\" is not valid before {} ({at})",
                format_time(t)
            ),
        ),
        Err(OutsideWindow::Expired(t)) => (
            Reason::Expired,
            format!(
                "key {fp} of \"{principal}\" expired at {} ({at})",
                format_time(t)
            ),
        ),
        Ok(()) => (
            Reason::Expired,
            format!("key {fp} is outside its validity window ({at})"),
        ),
    }
}

/// The (line, principal) pairs of the key's lines: the `named` principal where a line's
/// patterns match it, else (none named) every literal principal of each line; file order.
fn principals_of<'a>(key_lines: &[&'a SignerLine], named: Option<&'a str>) -> Vec<Candidate<'a>> {
    let mut cands: Vec<Candidate<'a>> = Vec::new();
    match named {
        Some(p) => {
            cands.extend(
                key_lines
                    .iter()
                    .filter(|l| l.principals.matches(p))
                    .map(|l| (*l, p)),
            );
        }
        None => {
            for l in key_lines {
                cands.extend(l.principals.literals().into_iter().map(|p| (*l, p)));
            }
        }
    }
    cands
}

impl SlicePolicy {
    /// Decides `req`. Never panics; default deny.
    pub fn evaluate(&self, req: &Request<'_>) -> Decision {
        let fp = req.key.fingerprint(HashAlg::Sha256).to_string();
        match self.decide(req, &fp) {
            Ok(d) => d,
            Err(d) => *d,
        }
    }

    /// The checks in the module's order; `Err` is an early denial.
    fn decide(&self, req: &Request<'_>, fp: &str) -> Result<Decision, Box<Decision>> {
        self.check_revoked(req, fp)?;
        let cands = self.candidates(req, fp)?;
        let valid = self.valid_at(req, fp, &cands)?;
        let granted = self.granting(req, &valid)?;
        self.check_class(req, granted[0])?;
        Ok(self.narrow_first(req, &granted, fp))
    }

    /// Step 1: The key is not revoked.
    fn check_revoked(&self, req: &Request<'_>, fp: &str) -> Result<(), Box<Decision>> {
        let Some(rv) = &self.revoked else {
            return Ok(());
        };
        match rv.line_of(req.key) {
            Some(line) => Err(deny(
                Reason::Revoked,
                req.principal,
                Some(&rv.path),
                Some(line),
                format!("key {fp} is revoked ({}:{line})", rv.path.display()),
            )),
            None => Ok(()),
        }
    }

    /// Step 2: The key is listed, for the named principal (or, unnamed, for literal principals).
    /// Returns every (line, principal) candidate in file order; never empty.
    fn candidates<'a>(
        &'a self,
        req: &Request<'a>,
        fp: &str,
    ) -> Result<Vec<Candidate<'a>>, Box<Decision>> {
        let as_path = self.signers.path.as_path();
        let key_lines: Vec<&SignerLine> = self.signers.lines_for_key(req.key).collect();
        let Some(first_key_line) = key_lines.first() else {
            return Err(deny(
                Reason::KeyNotListed,
                req.principal,
                Some(as_path),
                None,
                format!("key {fp} is not listed in {}", as_path.display()),
            ));
        };
        let cands = principals_of(&key_lines, req.principal);
        if !cands.is_empty() {
            return Ok(cands);
        }
        Err(self.principal_mismatch(req, fp, first_key_line))
    }

    /// The denial of a listed key whose lines name no usable principal: not the one the
    /// session names, or (none named) only patterns.
    fn principal_mismatch(
        &self,
        req: &Request<'_>,
        fp: &str,
        first_key_line: &SignerLine,
    ) -> Box<Decision> {
        let as_path = self.signers.path.as_path();
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
        deny(
            Reason::PrincipalMismatch,
            req.principal,
            Some(as_path),
            Some(first_key_line.line),
            message,
        )
    }

    /// Step 3: The candidates whose line is inside its validity window now; never empty.
    fn valid_at<'a>(
        &self,
        req: &Request<'_>,
        fp: &str,
        cands: &[Candidate<'a>],
    ) -> Result<Vec<Candidate<'a>>, Box<Decision>> {
        let valid: Vec<Candidate<'a>> = cands
            .iter()
            .copied()
            .filter(|(l, _)| l.validity.check(req.now_unix_s).is_ok())
            .collect();
        if !valid.is_empty() {
            return Ok(valid);
        }
        let as_path = self.signers.path.as_path();
        let (first_line, first_principal) = cands[0];
        let at = format!("{}:{}", as_path.display(), first_line.line);
        let outside = first_line.validity.check(req.now_unix_s);
        let (reason, message) = outside_window(outside, fp, first_principal, &at);
        Err(deny(
            reason,
            Some(first_principal),
            Some(as_path),
            Some(first_line.line),
            message,
        ))
    }

    /// Step 4: The valid candidates whose line grants the session's namespace; never empty.
    fn granting<'a>(
        &self,
        req: &Request<'_>,
        valid: &[Candidate<'a>],
    ) -> Result<Vec<Candidate<'a>>, Box<Decision>> {
        let granted: Vec<Candidate<'a>> = valid
            .iter()
            .copied()
            .filter(|(l, _)| l.grants_namespace(req.namespace))
            .collect();
        if !granted.is_empty() {
            return Ok(granted);
        }
        let as_path = self.signers.path.as_path();
        let (l, p) = valid[0];
        let grants = l.namespaces.as_ref().map(|n| n.as_str()).unwrap_or("*");
        Err(deny(
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
        ))
    }

    /// Step 5: The signed class covers the operation.
    fn check_class(
        &self,
        req: &Request<'_>,
        (g_line, g_principal): Candidate<'_>,
    ) -> Result<(), Box<Decision>> {
        if namespace_covers(req.namespace, req.op) {
            return Ok(());
        }
        Err(deny(
            Reason::OpNotInClass,
            Some(g_principal),
            Some(self.signers.path.as_path()),
            Some(g_line.line),
            format!(
                "{} needs a session signed for {}, this one is signed for {}",
                req.op.describe(),
                required_namespace(req.op),
                req.namespace
            ),
        ))
    }

    /// Step 6: `mon_policy` narrowing, per distinct principal; the first that passes allows, else
    /// the first denial decides.
    fn narrow_first(&self, req: &Request<'_>, granted: &[Candidate<'_>], fp: &str) -> Decision {
        let mut first_denial: Option<(Denial, &str)> = None;
        let mut tried: Vec<&str> = Vec::new();
        for &(line, principal) in granted {
            if tried.contains(&principal) {
                continue;
            }
            tried.push(principal);
            match self.narrow(req, principal) {
                Ok(n) => return self.allow(req, line, principal, n, fp),
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
                let mut out = *deny(d.reason, Some(principal), file, d.line, d.message);
                out.policy_lines = self.sources(&d.applied);
                out
            }
            None => *deny(
                Reason::KeyNotListed,
                req.principal,
                Some(self.signers.path.as_path()),
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
}
