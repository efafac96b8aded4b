//! `revoked_keys`: one public key per line (`ssh-ed25519 AAAA… [comment]`), `#` comments and
//! blank lines. A revoked key is refused whatever `allowed_signers` says. Keys of other types
//! cannot sign MON sessions anyway; they are ignored with a warning.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use ssh_key::PublicKey;

use crate::diag::Diagnostic;
use crate::input::{parse_lines, Line};
use crate::keyline::{ed25519_raw, parse_key, KeyError};

/// A parsed `revoked_keys` file.
#[derive(Debug, Clone, Default)]
pub struct RevokedKeys {
    /// The file it was read from.
    pub path: PathBuf,
    /// Revoked key → first line listing it.
    by_key: HashMap<[u8; 32], usize>,
}

impl RevokedKeys {
    /// The line revoking `key`, if it is revoked.
    pub fn line_of(&self, key: &PublicKey) -> Option<usize> {
        ed25519_raw(key).and_then(|raw| self.by_key.get(&raw).copied())
    }

    /// Number of distinct revoked keys.
    pub fn len(&self) -> usize {
        self.by_key.len()
    }

    /// True when no key is revoked.
    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }
}

/// Adds the key of one line to `by_key` (revoked key → line); a duplicate or a key of another
/// type is a warning, anything else that is not a key an error `(offset, message)`.
fn revoke_line(
    path: &Path,
    line: Line<'_>,
    by_key: &mut HashMap<[u8; 32], usize>,
    warnings: &mut Vec<Diagnostic>,
) -> Result<(), (usize, String)> {
    match parse_key(line.text, 0) {
        Ok(k) => {
            if let Some(first) = by_key.get(&k.raw) {
                warnings.push(Diagnostic::warning(
                    path,
                    line.no,
                    line.col(k.off),
                    format!("duplicate key: already revoked at line {first}"),
                ));
            } else {
                by_key.insert(k.raw, line.no);
            }
        }
        Err(KeyError::Unsupported { off, key_type }) => warnings.push(Diagnostic::warning(
            path,
            line.no,
            line.col(off),
            format!(
                "{key_type} key ignored: MON only accepts Ed25519 keys, so it cannot sign anyway"
            ),
        )),
        Err(KeyError::Invalid { off, message }) => return Err((off, message)),
    }
    Ok(())
}

/// Parses `revoked_keys` bytes. `Ok` carries the list and its warnings (ignored non-Ed25519
/// keys, duplicates); `Err` every error.
pub fn parse_revoked_keys(
    path: &Path,
    bytes: &[u8],
) -> Result<(RevokedKeys, Vec<Diagnostic>), Vec<Diagnostic>> {
    let mut warnings = Vec::new();
    let mut by_key = HashMap::new();
    let (_, errors) = parse_lines(path, bytes, |line| {
        revoke_line(path, line, &mut by_key, &mut warnings)
    });
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok((
        RevokedKeys {
            path: path.to_path_buf(),
            by_key,
        },
        warnings,
    ))
}
