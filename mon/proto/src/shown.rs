//! Node-supplied text as a human output shows it on a terminal.
//!
//! Every string a node sends (its name, a denial or failure reason, a logged field, a
//! command's output) is untrusted: a compromised node, or the command's own output, could put
//! escape sequences into the operator's terminal (clear it, move the cursor, rewrite or forge
//! lines, retitle the window) or reorder what is shown with bidirectional overrides. The human
//! renderers pass such text through [`shown`] (one-line fields) or [`shown_output`] (a
//! command's output, whose lines and tabs are kept). The JSON outputs keep the strings as
//! sent (JSON escapes them).
//!
//! The rule, in one place: control characters (C0, DEL, C1), the line and paragraph
//! separators (U+2028, U+2029) and the bidirectional marks, embeddings, overrides and
//! isolates (U+061C, U+200E, U+200F, U+202A–U+202E, U+2066–U+2069) are written as `\u{…}`.

use std::borrow::Cow;

/// How a human answer writes a command's output (`mon exec`): escaped for a terminal, as
/// the command wrote it when piped or asked for (`--raw`). Everything else a node sent is
/// always escaped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CommandOutput {
    /// Through [`shown_output`] (the default: fail closed).
    #[default]
    Escaped,
    /// As the command wrote it.
    Raw,
}

/// Whether `c` is written escaped (see the module doc); a format that cannot escape it
/// (`--dot`) leaves it out.
pub fn hidden(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
        )
}

/// `s` with every hidden character but those `keep` allows escaped (`\u{1b}`).
fn escaped(s: &str, keep: impl Fn(char) -> bool) -> Cow<'_, str> {
    let bad = |c: char| hidden(c) && !keep(c);
    if !s.chars().any(bad) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if bad(c) {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// A one-line field (node name, reason, logged string) for a human output: every control
/// character, newlines and tabs included, escaped, so it stays one cell of one line.
pub fn shown(s: &str) -> Cow<'_, str> {
    escaped(s, |_| false)
}

/// A command's output for a terminal: newlines and tabs kept, every other control character
/// (escape sequences, carriage returns, backspaces, bells) and the bidirectional overrides
/// escaped.
pub fn shown_output(s: &str) -> Cow<'_, str> {
    escaped(s, |c| c == '\n' || c == '\t')
}

/// JSON text (`--json`) for a terminal: the characters [`shown`] escapes that JSON writers
/// leave as they are (DEL, C1 controls, line separators, bidirectional marks; JSON escapes
/// the C0 controls itself) written as `\uXXXX` escapes, which decode to the same strings:
/// the same JSON value, which cannot drive or reorder the terminal. (They can stand only
/// inside strings: outside one they are not JSON.)
pub fn shown_json(json: &str) -> Cow<'_, str> {
    if !json.chars().any(|c| c >= '\u{7f}' && hidden(c)) {
        return Cow::Borrowed(json);
    }
    let mut out = String::with_capacity(json.len() + 8);
    for c in json.chars() {
        if c >= '\u{7f}' && hidden(c) {
            // Every such character is in the Basic Multilingual Plane: one `\uXXXX`.
            out.push_str(&format!("\\u{:04x}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_text_keeps_its_value_without_raw_controls_or_bidi_marks() {
        let v = serde_json::json!({"node": "n1\u{202e}gpj\u{9b}2J\u{7f}\u{2028}\u{1b}[H", "ok": "héllo ✓"});
        let text = v.to_string();
        assert!(
            text.contains('\u{202e}'),
            "serde_json writes it raw: {text}"
        );
        let shown = shown_json(&text);
        assert!(!shown.chars().any(hidden), "{shown}");
        let back: serde_json::Value = serde_json::from_str(&shown).expect("JSON");
        assert_eq!(back, v);
        assert!(matches!(shown_json("{\"a\":1}"), Cow::Borrowed(_)));
    }

    #[test]
    fn a_field_shows_every_control_character_escaped() {
        assert_eq!(shown("n1"), "n1");
        assert!(matches!(shown("n1"), Cow::Borrowed(_)));
        assert_eq!(shown("a\u{1b}[2Jb"), r"a\u{1b}[2Jb");
        assert_eq!(shown("x\ny\tz\r"), r"x\u{a}y\u{9}z\u{d}");
        assert_eq!(shown("\u{9b}31m"), r"\u{9b}31m");
        assert_eq!(shown("\u{202e}gpj.exe"), r"\u{202e}gpj.exe");
        assert_eq!(shown("\u{2067}a\u{2069}"), r"\u{2067}a\u{2069}");
        assert_eq!(shown("l\u{2028}m"), r"l\u{2028}m");
        // The Arabic letter mark is a bidirectional mark too (Trojan Source, CVE-2021-42574).
        assert_eq!(shown("a\u{61c}b"), r"a\u{61c}b");
        assert_eq!(shown("héllo ✓"), "héllo ✓");
    }

    #[test]
    fn command_output_keeps_its_lines_and_tabs_only() {
        assert_eq!(shown_output("a\tb\nc\n"), "a\tb\nc\n");
        assert_eq!(
            shown_output("ok\r\u{1b}]0;title\u{7}\u{8}\n"),
            r"ok\u{d}\u{1b}]0;title\u{7}\u{8}".to_string() + "\n"
        );
        assert_eq!(shown_output("\u{202e}x\n"), "\\u{202e}x\n");
    }
}
