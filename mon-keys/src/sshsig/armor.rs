//! The ASCII armor `ssh-keygen -Y sign` writes around an SSHSIG blob: a BEGIN line, base64
//! wrapped at 70 columns, an END line.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use super::{SigError, MAX_SSHSIG_LEN};

const BEGIN: &str = "-----BEGIN SSH SIGNATURE-----";
const END: &str = "-----END SSH SIGNATURE-----";
/// ssh-keygen wraps the base64 body at 70 columns.
const WRAP: usize = 70;
/// Largest armored text accepted: base64 of the largest blob, line breaks and the two lines.
const MAX_ARMOR_LEN: usize = MAX_SSHSIG_LEN / 3 * 4 + MAX_SSHSIG_LEN / 30 + 256;

/// Armors a raw SSHSIG blob exactly as `ssh-keygen -Y sign` writes it (ending in a newline).
pub fn armor(blob: &[u8]) -> String {
    let b64 = STANDARD.encode(blob);
    let mut out = String::with_capacity(b64.len() + b64.len() / WRAP + BEGIN.len() + END.len() + 3);
    out.push_str(BEGIN);
    out.push('\n');
    // base64 output is ASCII, so splitting on byte boundaries is safe.
    for line in b64.as_bytes().chunks(WRAP) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(END);
    out.push('\n');
    out
}

/// Removes the armor and decodes the base64 body. Accepts LF or CRLF line ends and surrounding
/// whitespace; rejects anything else before the BEGIN line or after the END line, characters
/// outside base64, bad padding and blobs over [`MAX_SSHSIG_LEN`].
pub fn dearmor(text: &str) -> Result<Vec<u8>, SigError> {
    if text.len() > MAX_ARMOR_LEN {
        return Err(SigError::ArmorTooLong {
            len: text.len(),
            max: MAX_ARMOR_LEN,
        });
    }
    let body = text
        .trim()
        .strip_prefix(BEGIN)
        .ok_or(SigError::ArmorMissingBegin)?
        .strip_suffix(END)
        .ok_or(SigError::ArmorMissingEnd)?;
    let b64 = base64_of_body(body)?;
    let blob = STANDARD
        .decode(b64.as_bytes())
        .map_err(|e| SigError::ArmorBase64(e.to_string()))?;
    if blob.len() > MAX_SSHSIG_LEN {
        return Err(SigError::TooLong {
            len: blob.len(),
            max: MAX_SSHSIG_LEN,
        });
    }
    Ok(blob)
}

/// The base64 characters of the armor body, without its line ends and blanks; any other
/// character is refused.
fn base64_of_body(body: &str) -> Result<String, SigError> {
    let mut b64 = String::with_capacity(body.len());
    for c in body.chars() {
        match c {
            '\n' | '\r' | ' ' | '\t' => {}
            'A'..='Z' | 'a'..='z' | '0'..='9' | '+' | '/' | '=' => b64.push(c),
            other => {
                return Err(SigError::ArmorBadCharacter(
                    other.escape_debug().to_string(),
                ))
            }
        }
    }
    Ok(b64)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn round_trip_and_wrapping() {
        let blob: Vec<u8> = (0..=255u8).collect();
        let text = armor(&blob);
        assert!(text.starts_with("-----BEGIN SSH SIGNATURE-----\n"));
        assert!(text.ends_with("\n-----END SSH SIGNATURE-----\n"));
        assert!(text
            .lines()
            .all(|l| l.len() <= WRAP || l.starts_with("-----")));
        assert_eq!(dearmor(&text).unwrap(), blob);
        assert_eq!(dearmor(&text.replace('\n', "\r\n")).unwrap(), blob);
    }

    #[test]
    fn rejects_bad_armor() {
        let text = armor(b"SSHSIG");
        assert_eq!(dearmor(&text[1..]), Err(SigError::ArmorMissingBegin));
        assert_eq!(
            dearmor(&format!("{text}junk")),
            Err(SigError::ArmorMissingEnd)
        );
        assert!(matches!(
            dearmor(&text.replacen("U1NI", "U1N*", 1)),
            Err(SigError::ArmorBadCharacter(_))
        ));
        assert!(matches!(
            dearmor(&text.replacen("U1NIU0lH", "U1NIU0l", 1)),
            Err(SigError::ArmorBase64(_))
        ));
        let huge = armor(&vec![0u8; MAX_SSHSIG_LEN + 1]);
        assert!(matches!(dearmor(&huge), Err(SigError::TooLong { .. })));
        let longer = "A".repeat(MAX_ARMOR_LEN + 1);
        assert!(matches!(
            dearmor(&longer),
            Err(SigError::ArmorTooLong { .. })
        ));
    }
}
