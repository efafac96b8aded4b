//! One slice's policy: the three files parsed together, loaded from a directory.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use ssh_key::PublicKey;

use crate::allowed_signers::{parse_allowed_signers, AllowedSigners};
use crate::diag::{Diagnostic, PolicyLoadError};
use crate::input::{read_limited, ReadError};
use crate::lint::{lint_slice, SliceFilesRef};
use crate::mon_policy::{parse_mon_policy, MonPolicy};
use crate::operation::Operation;
use crate::revoked::{parse_revoked_keys, RevokedKeys};
use crate::{ALLOWED_SIGNERS, MON_POLICY, REVOKED_KEYS};

/// Everything a policy decision looks at.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The principal named in the session, if any. `None`: found by key, as
    /// `ssh-keygen -Y find-principals` does.
    pub principal: Option<&'a str>,
    /// The user's key (the session signer).
    pub key: &'a PublicKey,
    /// The SSHSIG namespace the session is signed with (its capability class).
    pub namespace: &'a str,
    /// The operation to authorize.
    pub op: &'a Operation,
    /// The client's address: `Some` only at the entry node, where `from=` is checked.
    pub client_addr: Option<IpAddr>,
    /// This node's name (for `nodes=`).
    pub node: &'a str,
    /// Now, unix seconds (for `valid-after` / `valid-before`).
    pub now_unix_s: u64,
    /// The session's overlay fanout (for `max-fanout=`), when known.
    pub fanout: Option<u32>,
    /// The session's lifetime in seconds (for `max-lifetime=`), when known.
    pub lifetime_s: Option<u64>,
}

/// The raw contents of a slice's files, for [`SlicePolicy::from_sources`]: `(path, bytes)`.
#[derive(Debug, Clone, Copy)]
pub struct PolicySources<'a> {
    /// `allowed_signers` (required).
    pub allowed_signers: (&'a Path, &'a [u8]),
    /// `mon_policy`, if present.
    pub mon_policy: Option<(&'a Path, &'a [u8])>,
    /// `revoked_keys`, if present.
    pub revoked_keys: Option<(&'a Path, &'a [u8])>,
}

/// A slice's parsed policy. Immutable; [`PolicyStore`](crate::PolicyStore) swaps whole values.
#[derive(Debug, Clone)]
pub struct SlicePolicy {
    pub(crate) signers: AllowedSigners,
    pub(crate) mon_policy: Option<MonPolicy>,
    pub(crate) revoked: Option<RevokedKeys>,
}

/// The result of reading a slice directory, for the loader and the linter.
pub(crate) struct DirOutcome {
    /// The policy, or every error.
    pub result: Result<(SlicePolicy, Vec<Diagnostic>), Vec<Diagnostic>>,
    /// Some file exists but could not be read (permission, I/O).
    pub unreadable: bool,
}

/// Lints a whole slice at time `now_unix_s` (see [`lint_slice`] for the warnings).
pub fn lint(policy: &SlicePolicy, now_unix_s: u64) -> Vec<Diagnostic> {
    let files = SliceFilesRef {
        signers: &policy.signers,
        mon_policy: policy.mon_policy.as_ref(),
        revoked: policy.revoked.as_ref(),
    };
    lint_slice(&files, now_unix_s)
}

/// Unix seconds now (0 if the clock is before 1970).
pub(crate) fn now_unix_s() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl SlicePolicy {
    /// Loads the slice directory `dir` (`allowed_signers`, optional `mon_policy` and
    /// `revoked_keys`). `Ok` carries the warnings of parsing and of [`lint`] at the current
    /// time; `Err` carries every error of every file: a broken file rejects the whole slice.
    pub fn load(dir: &Path) -> Result<(SlicePolicy, Vec<Diagnostic>), PolicyLoadError> {
        load_dir(dir, now_unix_s())
            .result
            .map_err(|diagnostics| PolicyLoadError { diagnostics })
    }

    /// Parses a slice from file contents (no file system access, no clock). `Ok` carries parse
    /// warnings only.
    pub fn from_sources(
        src: &PolicySources<'_>,
    ) -> Result<(SlicePolicy, Vec<Diagnostic>), PolicyLoadError> {
        parse_sources(src).map_err(|diagnostics| PolicyLoadError { diagnostics })
    }

    /// The literal principals of every `allowed_signers` line listing `key` that is valid at
    /// `now_unix_s`, in file order without duplicates; empty for a revoked key.
    ///
    /// Like `ssh-keygen -Y find-principals`, except that ssh-keygen prints the principals
    /// field of the first matching line only, patterns included; MON needs names, so it
    /// collects the literal ones of all matching lines.
    pub fn find_principals(&self, key: &PublicKey, now_unix_s: u64) -> Vec<String> {
        if self.is_revoked(key).is_some() {
            return Vec::new();
        }
        let mut out: Vec<String> = Vec::new();
        for line in self.signers.lines_for_key(key) {
            if line.validity.check(now_unix_s).is_err() {
                continue;
            }
            for p in line.principals.literals() {
                if !out.iter().any(|o| o == p) {
                    out.push(p.to_string());
                }
            }
        }
        out
    }

    /// The `revoked_keys` line revoking `key`, if any.
    pub fn is_revoked(&self, key: &PublicKey) -> Option<usize> {
        self.revoked.as_ref().and_then(|r| r.line_of(key))
    }

    /// The parsed `allowed_signers`.
    pub fn allowed_signers(&self) -> &AllowedSigners {
        &self.signers
    }

    /// The parsed `mon_policy`, if the slice has one.
    pub fn mon_policy(&self) -> Option<&MonPolicy> {
        self.mon_policy.as_ref()
    }

    /// The parsed `revoked_keys`, if the slice has one.
    pub fn revoked_keys(&self) -> Option<&RevokedKeys> {
        self.revoked.as_ref()
    }

    /// The files this policy was built from.
    pub fn files(&self) -> Vec<PathBuf> {
        let mut v = vec![self.signers.path.clone()];
        v.extend(self.mon_policy.as_ref().map(|m| m.path.clone()));
        v.extend(self.revoked.as_ref().map(|r| r.path.clone()));
        v
    }
}

fn parse_sources(
    src: &PolicySources<'_>,
) -> Result<(SlicePolicy, Vec<Diagnostic>), Vec<Diagnostic>> {
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    let (as_path, as_bytes) = src.allowed_signers;
    let signers = collect(
        parse_allowed_signers(as_path, as_bytes),
        &mut errors,
        &mut warnings,
    );
    let mon_policy = src
        .mon_policy
        .and_then(|(p, b)| collect(parse_mon_policy(p, b), &mut errors, &mut warnings));
    let revoked = src
        .revoked_keys
        .and_then(|(p, b)| collect(parse_revoked_keys(p, b), &mut errors, &mut warnings));
    match signers {
        Some(signers) if errors.is_empty() => Ok((
            SlicePolicy {
                signers,
                mon_policy,
                revoked,
            },
            warnings,
        )),
        _ => Err(errors),
    }
}

fn collect<T>(
    r: Result<(T, Vec<Diagnostic>), Vec<Diagnostic>>,
    errors: &mut Vec<Diagnostic>,
    warnings: &mut Vec<Diagnostic>,
) -> Option<T> {
    match r {
        Ok((v, w)) => {
            warnings.extend(w);
            Some(v)
        }
        Err(e) => {
            errors.extend(e);
            None
        }
    }
}

/// The raw files of a slice directory, as read.
#[derive(Debug, Default)]
pub(crate) struct SliceFiles {
    pub signers: Option<(PathBuf, Vec<u8>)>,
    pub mon_policy: Option<(PathBuf, Vec<u8>)>,
    pub revoked: Option<(PathBuf, Vec<u8>)>,
    /// Read errors (missing allowed_signers, permission, …).
    pub errors: Vec<Diagnostic>,
    /// Some file exists but could not be read.
    pub unreadable: bool,
}

impl SliceFiles {
    /// A digest of everything read (to tell a real change from a touched file).
    pub fn digest(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        for f in [&self.signers, &self.mon_policy, &self.revoked] {
            f.as_ref().map(|(_, b)| b.as_slice()).hash(&mut h);
        }
        self.errors.len().hash(&mut h);
        h.finish()
    }
}

/// Reads the three files of a slice directory (size-limited).
pub(crate) fn read_slice_files(dir: &Path) -> SliceFiles {
    let mut out = SliceFiles::default();
    for (name, required) in [
        (ALLOWED_SIGNERS, true),
        (MON_POLICY, false),
        (REVOKED_KEYS, false),
    ] {
        let got = out.read_one(dir.join(name), required);
        match name {
            ALLOWED_SIGNERS => out.signers = got,
            MON_POLICY => out.mon_policy = got,
            _ => out.revoked = got,
        }
    }
    out
}

impl SliceFiles {
    /// Reads one file of the slice; a missing `required` file or an unreadable one is an
    /// error (the latter also marks the slice unreadable).
    fn read_one(&mut self, path: PathBuf, required: bool) -> Option<(PathBuf, Vec<u8>)> {
        match read_limited(&path) {
            Ok(b) => Some((path, b)),
            Err(ReadError::NotFound) => {
                if required {
                    self.errors.push(Diagnostic::error(
                        &path,
                        0,
                        0,
                        "missing: a slice needs an allowed_signers file (until it exists the slice denies everything)",
                    ));
                }
                None
            }
            Err(ReadError::Other(m)) => {
                self.unreadable = true;
                self.errors.push(Diagnostic::error(&path, 0, 0, m));
                None
            }
        }
    }

    /// The read errors, then the parse errors of each file read, so one run shows everything.
    fn all_errors(&self) -> Vec<Diagnostic> {
        let mut errors = self.errors.clone();
        if let Some((p, b)) = &self.signers {
            errors.extend(parse_allowed_signers(p, b).err().unwrap_or_default());
        }
        if let Some((p, b)) = &self.mon_policy {
            errors.extend(parse_mon_policy(p, b).err().unwrap_or_default());
        }
        if let Some((p, b)) = &self.revoked {
            errors.extend(parse_revoked_keys(p, b).err().unwrap_or_default());
        }
        errors
    }
}

fn as_source(f: &Option<(PathBuf, Vec<u8>)>) -> Option<(&Path, &[u8])> {
    f.as_ref().map(|(p, b)| (p.as_path(), b.as_slice()))
}

/// Parses files read by [`read_slice_files`]; on success adds [`lint`] warnings at `now`.
pub(crate) fn parse_slice_files(files: &SliceFiles, now: u64) -> DirOutcome {
    let result = match (&files.signers, files.errors.is_empty()) {
        (Some((p, b)), true) => {
            let src = PolicySources {
                allowed_signers: (p, b),
                mon_policy: as_source(&files.mon_policy),
                revoked_keys: as_source(&files.revoked),
            };
            parse_sources(&src).map(|(policy, mut warnings)| {
                warnings.extend(lint(&policy, now));
                (policy, warnings)
            })
        }
        // Report parse errors of the readable files too, so one run shows everything.
        _ => Err(files.all_errors()),
    };
    DirOutcome {
        result,
        unreadable: files.unreadable,
    }
}

/// Reads and parses a slice directory; on success adds [`lint`] warnings at `now`.
pub(crate) fn load_dir(dir: &Path, now: u64) -> DirOutcome {
    parse_slice_files(&read_slice_files(dir), now)
}
