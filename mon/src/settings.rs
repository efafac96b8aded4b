//! Settings files in `KEY VALUE` form, one parser for `server.conf` and the client's
//! `~/.config/mon/config`: one setting a line, `KEY VALUE` or `KEY = VALUE`, `#` starts a
//! comment, `"…"` or `'…'` around a value are removed, keys are named like the long flags
//! (`known-nodes`; `known_nodes` is the same key). Each setting becomes its flag and is checked
//! as the flag would be by `probe`; an error names the file and the line.

use std::ffi::OsString;
use std::path::Path;

use anyhow::bail;

/// The flags (`--KEY VALUE` pairs, in file order) the settings in `text` stand for. `keys`:
/// the settings allowed; `probe`: checks one `--KEY VALUE` pair as the command line would,
/// returning clap's message on error.
pub fn flags(
    path: &Path,
    text: &str,
    keys: &[&str],
    probe: impl Fn(&str, &str) -> Result<(), String>,
) -> anyhow::Result<Vec<OsString>> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let at = || format!("{}: line {}", path.display(), i + 1);
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, value) = match line.split_once(|c: char| c == '=' || c.is_whitespace()) {
            Some((k, v)) => (k.trim(), v.trim_start_matches([' ', '\t', '=']).trim()),
            None => (line, ""),
        };
        let key = key.replace('_', "-");
        if !keys.contains(&key.as_str()) {
            bail!(
                "{}: unknown setting `{key}` (known: {})",
                at(),
                keys.join(", ")
            );
        }
        let value = unquote(value);
        if value.is_empty() {
            bail!("{}: `{key}` needs a value", at());
        }
        let flag = format!("--{key}");
        if let Err(msg) = probe(&flag, value) {
            let first = msg.lines().next().unwrap_or("invalid value");
            bail!("{}: {}", at(), first.trim_start_matches("error: "));
        }
        out.push(OsString::from(flag));
        out.push(OsString::from(value));
    }
    Ok(out)
}

/// `"…"` or `'…'` around a value are removed.
fn unquote(v: &str) -> &str {
    for q in ['"', '\''] {
        if let Some(inner) = v.strip_prefix(q).and_then(|s| s.strip_suffix(q)) {
            return inner;
        }
    }
    v
}
