//! Reading records back: [`AuditRecord`], one parsed line.

use base64::Engine as _;

use super::chain::MAX_LINE_BYTES;
use super::event::{EventKind, Reason};

/// One record as read from a log line. Unknown fields are rejected (the field set of `v` = 1
/// is fixed); `event` and `result` are kept as strings so that a reader can show records of
/// kinds it does not know.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditRecord {
    /// Format version (1).
    pub v: u64,
    /// The log id, 32 hex digits.
    pub log_id: String,
    /// Position in the log, from 0.
    pub seq: u64,
    /// RFC 3339 UTC time.
    pub ts: String,
    /// The node that wrote the record.
    pub node: String,
    /// The event kind string, e.g. `session.accept`.
    pub event: String,
    /// `allow`, `deny`, `ok` or `error`.
    #[serde(default)]
    pub result: Option<String>,
    /// Stable code and text.
    #[serde(default)]
    pub reason: Option<Reason>,
    /// The slice.
    #[serde(default)]
    pub slice: Option<String>,
    /// The principal.
    #[serde(default)]
    pub principal: Option<String>,
    /// The signer key fingerprint.
    #[serde(default)]
    pub key_fp: Option<String>,
    /// The deciding policy file.
    #[serde(default)]
    pub policy_file: Option<String>,
    /// The deciding line in `policy_file`.
    #[serde(default)]
    pub policy_line: Option<u64>,
    /// The session id, hex.
    #[serde(default)]
    pub session_id: Option<String>,
    /// The client address at the entry node.
    #[serde(default)]
    pub client_addr: Option<String>,
    /// The neighbour node or source address.
    #[serde(default)]
    pub peer: Option<String>,
    /// The operation.
    #[serde(default)]
    pub op: Option<String>,
    /// The operation arguments.
    #[serde(default)]
    pub argv: Option<Vec<String>>,
    /// The exit code of an operation.
    #[serde(default)]
    pub exit_code: Option<i64>,
    /// How long an operation took.
    #[serde(default)]
    pub duration_ms: Option<u64>,
    /// Base64 of the signed session body (CBOR).
    #[serde(default)]
    pub session_body: Option<String>,
    /// Base64 of the raw SSHSIG blob.
    #[serde(default)]
    pub session_sig: Option<String>,
    /// How many events a summary stands for.
    #[serde(default)]
    pub count: Option<u64>,
    /// A file of the log (`log.rotate`, `log.retention`).
    #[serde(default)]
    pub file: Option<String>,
    /// `seq` of the last record of `file`.
    #[serde(default)]
    pub last_seq: Option<u64>,
    /// `hash` of the last record of `file`.
    #[serde(default)]
    pub last_hash: Option<String>,
    /// The previous record's hash.
    pub prev: String,
    /// This record's hash.
    pub hash: String,
}

/// A line that is not a record, or a record field that does not decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// The line is longer than [`MAX_LINE_BYTES`].
    #[error("record longer than {MAX_LINE_BYTES} bytes")]
    TooLong,
    /// The line is not a JSON object with the v1 fields.
    #[error("{0}")]
    Json(String),
    /// `session_body` or `session_sig` is not valid base64.
    #[error("{field} is not valid base64")]
    Base64 {
        /// Which field.
        field: &'static str,
    },
}

impl AuditRecord {
    /// Parses one line (without its `\n`). Checks the JSON shape only, not the hash chain (see
    /// [`Verifier`](super::Verifier)).
    pub fn parse(line: &str) -> Result<AuditRecord, RecordError> {
        if line.len() > MAX_LINE_BYTES {
            return Err(RecordError::TooLong);
        }
        if !line.starts_with('{') {
            return Err(RecordError::Json("not a JSON object".into()));
        }
        serde_json::from_str(line).map_err(|e| RecordError::Json(e.to_string()))
    }

    /// The event kind, if this build knows it.
    pub fn kind(&self) -> Option<EventKind> {
        EventKind::parse(&self.event)
    }

    /// True for refusals: `result` is `deny`, or the event is a `*.deny` or `*.reject` kind.
    pub fn is_denied(&self) -> bool {
        self.result.as_deref() == Some("deny")
            || self.event.ends_with(".deny")
            || self.event.ends_with(".reject")
    }

    /// The signed session's CBOR body bytes, if the record carries them.
    pub fn session_body_bytes(&self) -> Result<Option<Vec<u8>>, RecordError> {
        decode_b64(self.session_body.as_deref(), "session_body")
    }

    /// The raw SSHSIG blob, if the record carries it.
    pub fn session_sig_bytes(&self) -> Result<Option<Vec<u8>>, RecordError> {
        decode_b64(self.session_sig.as_deref(), "session_sig")
    }
}

fn decode_b64(v: Option<&str>, field: &'static str) -> Result<Option<Vec<u8>>, RecordError> {
    v.map(|s| {
        base64::engine::general_purpose::STANDARD
            .decode(s)
            .map_err(|_| RecordError::Base64 { field })
    })
    .transpose()
}
