//! OpenSSH key type names: the one list MON knows, used by every key-line parser
//! (`allowed_signers` and `revoked_keys` in mon-policy, [`crate::known_nodes`]).
//!
//! MON accepts only [`ED25519`]; the other names are known so that a line holding, say, an RSA
//! key is refused with "unsupported key type" rather than read as options or a garbled line.

/// The only key type MON accepts, for user keys and node keys.
pub const ED25519: &str = "ssh-ed25519";

/// Every OpenSSH key (and signature algorithm) name a key line may start with, [`ED25519`]
/// included; certificate types are recognised by [`CERT_SUFFIX`] instead.
pub const OPENSSH_KEY_TYPES: &[&str] = &[
    ED25519,
    "ssh-rsa",
    "ssh-dss",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
    "ssh-xmss@openssh.com",
    "rsa-sha2-256",
    "rsa-sha2-512",
];

/// The suffix of OpenSSH certificate key types (`ssh-ed25519-cert-v01@openssh.com`, …).
pub const CERT_SUFFIX: &str = "-cert-v01@openssh.com";

/// True for a token that names an OpenSSH key or certificate type.
pub fn is_openssh_key_type(tok: &str) -> bool {
    OPENSSH_KEY_TYPES.contains(&tok) || tok.ends_with(CERT_SUFFIX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_and_certificate_types() {
        assert!(is_openssh_key_type("ssh-ed25519"));
        assert!(is_openssh_key_type("ssh-rsa"));
        assert!(is_openssh_key_type("ssh-ed25519-cert-v01@openssh.com"));
        assert!(!is_openssh_key_type("alice@lab"));
        assert!(!is_openssh_key_type("namespaces=\"x\""));
    }
}
