//! The option grammar shared by `allowed_signers` and `mon_policy` (as in OpenSSH's
//! `authorized_keys`): `name[=value]` items separated by commas without spaces; a value is
//! either `"quoted"` (may contain commas and spaces; `\"` is a literal quote) or a bare word.
//! The option list ends at the first unquoted space or tab.

/// A syntax error: byte offset in the line and message.
pub(crate) type SyntaxError = (usize, String);

/// The value of an option.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OptValue {
    /// The value with quotes removed and `\"` unescaped.
    pub text: String,
    /// Whether it was written in double quotes.
    pub quoted: bool,
    /// For each byte of `text` (and one past its end), the byte offset in the line.
    map: Vec<usize>,
}

impl OptValue {
    /// Byte offset in the line of byte `i` of the value.
    pub fn line_off(&self, i: usize) -> usize {
        self.map
            .get(i)
            .or_else(|| self.map.last())
            .copied()
            .unwrap_or(0)
    }
}

/// One `name[=value]` item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RawOption {
    /// The name as written.
    pub name: String,
    /// Byte offset of the name in the line.
    pub off: usize,
    /// The value, if `=` followed.
    pub value: Option<OptValue>,
}

fn is_name_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'-' || c == b'_'
}

fn is_ws(c: u8) -> bool {
    c == b' ' || c == b'\t'
}

/// Parses the option list starting at byte `start` of `text`. Returns the options and the
/// offset just past the list.
pub(crate) fn parse_options(
    text: &str,
    start: usize,
) -> Result<(Vec<RawOption>, usize), SyntaxError> {
    let b = text.as_bytes();
    let mut i = start;
    let mut out = Vec::new();
    loop {
        let (opt, next) = parse_option(text, i)?;
        out.push(opt);
        i = next;
        if i >= b.len() || is_ws(b[i]) {
            return Ok((out, i));
        }
        i = skip_separator(b, i)?;
    }
}

/// Parses one `name` or `name=value` option starting at byte `start`; returns it and the
/// offset just past it.
fn parse_option(text: &str, start: usize) -> Result<(RawOption, usize), SyntaxError> {
    let b = text.as_bytes();
    let mut i = start;
    while i < b.len() && is_name_byte(b[i]) {
        i += 1;
    }
    if i == start {
        return Err((i, "expected an option name".to_string()));
    }
    let name = text.get(start..i).unwrap_or_default().to_string();
    let mut value = None;
    if i < b.len() && b[i] == b'=' {
        i += 1;
        let (v, next) = if i < b.len() && b[i] == b'"' {
            parse_quoted(text, i)?
        } else {
            parse_unquoted(text, i)?
        };
        value = Some(v);
        i = next;
    }
    let opt = RawOption {
        name,
        off: start,
        value,
    };
    Ok((opt, i))
}

/// Parses an unquoted value starting at byte `vstart`: it runs to the next comma or blank.
fn parse_unquoted(text: &str, vstart: usize) -> Result<(OptValue, usize), SyntaxError> {
    let b = text.as_bytes();
    let mut i = vstart;
    let mut map = Vec::new();
    while i < b.len() && b[i] != b',' && !is_ws(b[i]) {
        if b[i] == b'"' {
            return Err((i, "unexpected '\"' in an unquoted value".to_string()));
        }
        map.push(i);
        i += 1;
    }
    map.push(i);
    let value = OptValue {
        text: text.get(vstart..i).unwrap_or_default().to_string(),
        quoted: false,
        map,
    };
    Ok((value, i))
}

/// Checks the comma at byte `i` that separates two options (not at the end of the list);
/// returns the offset of the next option.
fn skip_separator(b: &[u8], i: usize) -> Result<usize, SyntaxError> {
    if b[i] != b',' {
        return Err((
            i,
            "unexpected character after option (options are separated by commas, without spaces)"
                .to_string(),
        ));
    }
    let i = i + 1;
    if i >= b.len() || is_ws(b[i]) {
        return Err((i, "unexpected end of options after ','".to_string()));
    }
    Ok(i)
}

/// Parses `"…"` starting at the opening quote at byte `open`; returns the value and the offset
/// after the closing quote.
fn parse_quoted(text: &str, open: usize) -> Result<(OptValue, usize), SyntaxError> {
    let rest = text.get(open + 1..).unwrap_or_default();
    let mut out = String::new();
    let mut map = Vec::new();
    let mut chars = rest.char_indices().peekable();
    while let Some((ci, c)) = chars.next() {
        let at = open + 1 + ci;
        match c {
            '"' => {
                map.push(at);
                return Ok((
                    OptValue {
                        text: out,
                        quoted: true,
                        map,
                    },
                    at + 1,
                ));
            }
            '\\' if matches!(chars.peek(), Some((_, '"'))) => {
                chars.next();
                map.push(at);
                out.push('"');
            }
            _ => {
                for _ in 0..c.len_utf8() {
                    map.push(at);
                }
                out.push(c);
            }
        }
    }
    Err((open, "missing end quote".to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options() {
        let t = r#"a="x,y",b=3,cert-authority rest"#;
        let (opts, end) = parse_options(t, 0).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(opts.len(), 3);
        assert_eq!(opts[0].value.as_ref().map(|v| v.text.as_str()), Some("x,y"));
        assert_eq!(opts[0].value.as_ref().map(|v| v.line_off(2)), Some(5));
        assert_eq!(opts[1].value.as_ref().map(|v| v.quoted), Some(false));
        assert!(opts[2].value.is_none());
        assert_eq!(&t[end..], " rest");
        let (opts, _) = parse_options(r#"c="a\"b""#, 0).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(
            opts[0].value.as_ref().map(|v| v.text.as_str()),
            Some("a\"b")
        );
        assert_eq!(parse_options(r#"a="x"#, 0).map_err(|e| e.0), Err(2));
        assert_eq!(parse_options("a=1,", 0).map_err(|e| e.0), Err(4));
        assert_eq!(parse_options(r#"a="1";b"#, 0).map_err(|e| e.0), Err(5));
        assert_eq!(parse_options(",", 0).map_err(|e| e.0), Err(0));
    }
}
