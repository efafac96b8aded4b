//! SSHSIG armor (as `ssh-keygen -Y sign` writes it) and the few SSHSIG fields `export` reads.

use base64::Engine as _;

const BEGIN: &str = "-----BEGIN SSH SIGNATURE-----";
const END: &str = "-----END SSH SIGNATURE-----";
const WRAP: usize = 70;

/// Armors a raw SSHSIG blob exactly as ssh-keygen does: the BEGIN line, standard padded base64
/// wrapped at 70 columns, the END line, each line ending in `\n`.
pub fn armor_sshsig(blob: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(blob);
    let mut out = String::with_capacity(b64.len() + b64.len() / WRAP + 64);
    out.push_str(BEGIN);
    out.push('\n');
    let mut rest = b64.as_str();
    while !rest.is_empty() {
        let (line, tail) = rest.split_at(rest.len().min(WRAP));
        out.push_str(line);
        out.push('\n');
        rest = tail;
    }
    out.push_str(END);
    out.push('\n');
    out
}

/// Why a blob is not an SSHSIG this tool can read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SshSigError {
    /// Does not start with the `SSHSIG` magic.
    #[error("not an SSHSIG blob (no SSHSIG magic)")]
    Magic,
    /// Version other than 1.
    #[error("unsupported SSHSIG version {0}")]
    Version(u32),
    /// A length runs past the end.
    #[error("truncated SSHSIG blob")]
    Truncated,
    /// The namespace is not UTF-8.
    #[error("SSHSIG namespace is not UTF-8")]
    Namespace,
}

/// Reads the namespace of an SSHSIG blob: `"SSHSIG"`, u32 version (1), string publickey,
/// string namespace, … (PROTOCOL.sshsig).
pub fn sshsig_namespace(blob: &[u8]) -> Result<String, SshSigError> {
    let rest = blob.strip_prefix(b"SSHSIG").ok_or(SshSigError::Magic)?;
    let (version, rest) = take_u32(rest)?;
    if version != 1 {
        return Err(SshSigError::Version(version));
    }
    let (_publickey, rest) = take_string(rest)?;
    let (namespace, _) = take_string(rest)?;
    String::from_utf8(namespace.to_vec()).map_err(|_| SshSigError::Namespace)
}

fn take_u32(b: &[u8]) -> Result<(u32, &[u8]), SshSigError> {
    let (head, rest) = b.split_first_chunk::<4>().ok_or(SshSigError::Truncated)?;
    Ok((u32::from_be_bytes(*head), rest))
}

fn take_string(b: &[u8]) -> Result<(&[u8], &[u8]), SshSigError> {
    let (len, rest) = take_u32(b)?;
    let len = usize::try_from(len).map_err(|_| SshSigError::Truncated)?;
    if rest.len() < len {
        return Err(SshSigError::Truncated);
    }
    Ok(rest.split_at(len))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn blob(version: u32, ns: &[u8]) -> Vec<u8> {
        let mut b = b"SSHSIG".to_vec();
        b.extend_from_slice(&version.to_be_bytes());
        b.extend_from_slice(&3u32.to_be_bytes());
        b.extend_from_slice(b"key");
        b.extend_from_slice(&(ns.len() as u32).to_be_bytes());
        b.extend_from_slice(ns);
        b
    }

    #[test]
    fn reads_namespace() {
        assert_eq!(
            sshsig_namespace(&blob(1, b"mon-exec@mon")).unwrap(),
            "mon-exec@mon"
        );
        assert_eq!(
            sshsig_namespace(&blob(2, b"x")),
            Err(SshSigError::Version(2))
        );
        assert_eq!(sshsig_namespace(b"SSHSIX"), Err(SshSigError::Magic));
        let b = blob(1, b"mon-exec@mon");
        for cut in 6..b.len() {
            assert_eq!(
                sshsig_namespace(&b[..cut]),
                Err(SshSigError::Truncated),
                "{cut}"
            );
        }
    }

    #[test]
    fn armor_wraps_at_70() {
        let a = armor_sshsig(&[7u8; 120]); // 160 base64 chars: 70 + 70 + 20
        let lines: Vec<&str> = a.lines().collect();
        assert_eq!(lines.len(), 5);
        assert_eq!(lines[0], BEGIN);
        assert_eq!(
            (lines[1].len(), lines[2].len(), lines[3].len()),
            (70, 70, 20)
        );
        assert_eq!(lines[4], END);
        assert!(a.ends_with("-----\n"));
    }
}
