//! A minimal JSON object writer with a fixed field order.
//!
//! Audit lines are written by hand rather than through `serde_json::to_string` so that sealing
//! cannot fail and the byte layout is exactly the documented one: no whitespace, fields in
//! declaration order, strings escaped as below. Readers parse with `serde_json`, which accepts
//! this subset of JSON.

/// Writes `{"k":v,"k2":v2,…` into a `String`; [`ObjectWriter::finish`] appends the `}`.
pub(crate) struct ObjectWriter {
    out: String,
    first: bool,
}

impl ObjectWriter {
    pub(crate) fn new() -> ObjectWriter {
        ObjectWriter {
            out: String::with_capacity(256),
            first: true,
        }
    }

    fn key(&mut self, k: &str) {
        if self.first {
            self.out.push('{');
            self.first = false;
        } else {
            self.out.push(',');
        }
        push_str_literal(&mut self.out, k);
        self.out.push(':');
    }

    pub(crate) fn str(&mut self, k: &str, v: &str) {
        self.key(k);
        push_str_literal(&mut self.out, v);
    }

    pub(crate) fn opt_str(&mut self, k: &str, v: Option<&str>) {
        if let Some(v) = v {
            self.str(k, v);
        }
    }

    pub(crate) fn u64(&mut self, k: &str, v: u64) {
        self.key(k);
        self.out.push_str(&v.to_string());
    }

    pub(crate) fn opt_u64(&mut self, k: &str, v: Option<u64>) {
        if let Some(v) = v {
            self.u64(k, v);
        }
    }

    pub(crate) fn opt_i64(&mut self, k: &str, v: Option<i64>) {
        if let Some(v) = v {
            self.key(k);
            self.out.push_str(&v.to_string());
        }
    }

    pub(crate) fn opt_str_array(&mut self, k: &str, v: Option<&[String]>) {
        if let Some(items) = v {
            self.key(k);
            self.out.push('[');
            for (i, s) in items.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                push_str_literal(&mut self.out, s);
            }
            self.out.push(']');
        }
    }

    /// Writes `"k":{"code":…,"text":…}`.
    pub(crate) fn opt_reason(&mut self, k: &str, code_text: Option<(&str, &str)>) {
        if let Some((code, text)) = code_text {
            self.key(k);
            let mut inner = ObjectWriter::new();
            inner.str("code", code);
            inner.str("text", text);
            self.out.push_str(&inner.finish());
        }
    }

    /// Closes the object and returns its text.
    pub(crate) fn finish(mut self) -> String {
        if self.first {
            self.out.push('{');
        }
        self.out.push('}');
        self.out
    }
}

/// Appends `s` as a JSON string literal: `"` and `\` are backslash-escaped, `\n` `\r` `\t` use
/// their short forms, other control characters (U+0000–U+001F, U+007F) and the line separators
/// U+2028/U+2029 are written as `\uXXXX`; everything else is copied as UTF-8.
pub(crate) fn push_str_literal(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c == '\u{7f}' || c == '\u{2028}' || c == '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn escapes_round_trip_through_serde_json() {
        let nasty = "a\"b\\c\nd\re\tf\u{0}g\u{1b}[31mh\u{7f}i\u{2028}j\u{1F600}";
        let mut w = ObjectWriter::new();
        w.str("k", nasty);
        let text = w.finish();
        assert!(!text.contains('\n'));
        assert!(!text.contains('\u{1b}'));
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["k"], nasty);
    }

    #[test]
    fn empty_object() {
        assert_eq!(ObjectWriter::new().finish(), "{}");
    }
}
