//! MON per-slice key policy: `allowed_signers` (OpenSSH format), `mon_policy` (narrowing
//! options) and `revoked_keys`. Parse, lint and evaluate.
