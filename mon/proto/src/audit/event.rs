//! What a server records: [`AuditEvent`], built with chained setters and sealed into a line by
//! [`Chain::seal`](super::Chain::seal).

use base64::Engine as _;

/// The kind of an audit record (`event` field). The wire strings are stable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventKind {
    /// A signed session passed every entry check on this node.
    SessionAccept,
    /// A signed session was refused (reason says which check).
    SessionDeny,
    /// An operation of an accepted session is about to run (written before it runs).
    OpStart,
    /// An operation finished (exit code, duration).
    OpEnd,
    /// One operation of an accepted session was refused (policy narrowing, targets).
    OpDeny,
    /// This node starts serving a push.
    PushServe,
    /// A push was refused.
    PushDeny,
    /// A push finished on this node.
    PushDone,
    /// A slice policy was (re)loaded.
    PolicyLoad,
    /// A slice policy file was rejected; the last good policy stays.
    PolicyError,
    /// A session or command was refused by the replay cache.
    ReplayReject,
    /// A hop frame failed authentication or decoding.
    FrameReject,
    /// Counted undecodable traffic from one source (see [`JunkSummarizer`](super::JunkSummarizer)).
    JunkSummary,
    /// The server started.
    ServerStart,
    /// The server stopped.
    ServerStop,
    /// The audit log and replay journal take records again after a failed write or sync;
    /// `count` records could not be written meanwhile (issue 10, part 4).
    StorageResume,
    /// The first record of a new file of the log after a rotation: `file`, `last_seq` and
    /// `last_hash` name the previous file and its last record (`last_hash` = `prev`).
    LogRotate,
    /// Retention removed the oldest file of the log: `file` names it, `last_seq` and
    /// `last_hash` its last record; every record up to `last_seq` is gone from the node.
    LogRetention,
}

impl EventKind {
    /// Every kind, in documentation order.
    pub const ALL: [EventKind; 18] = [
        EventKind::SessionAccept,
        EventKind::SessionDeny,
        EventKind::OpStart,
        EventKind::OpEnd,
        EventKind::OpDeny,
        EventKind::PushServe,
        EventKind::PushDeny,
        EventKind::PushDone,
        EventKind::PolicyLoad,
        EventKind::PolicyError,
        EventKind::ReplayReject,
        EventKind::FrameReject,
        EventKind::JunkSummary,
        EventKind::ServerStart,
        EventKind::ServerStop,
        EventKind::StorageResume,
        EventKind::LogRotate,
        EventKind::LogRetention,
    ];

    /// The `event` string written to the log, e.g. `"session.accept"`.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::SessionAccept => "session.accept",
            EventKind::SessionDeny => "session.deny",
            EventKind::OpStart => "op.start",
            EventKind::OpEnd => "op.end",
            EventKind::OpDeny => "op.deny",
            EventKind::PushServe => "push.serve",
            EventKind::PushDeny => "push.deny",
            EventKind::PushDone => "push.done",
            EventKind::PolicyLoad => "policy.load",
            EventKind::PolicyError => "policy.error",
            EventKind::ReplayReject => "replay.reject",
            EventKind::FrameReject => "frame.reject",
            EventKind::JunkSummary => "junk.summary",
            EventKind::ServerStart => "server.start",
            EventKind::ServerStop => "server.stop",
            EventKind::StorageResume => "storage.resume",
            EventKind::LogRotate => "log.rotate",
            EventKind::LogRetention => "log.retention",
        }
    }

    /// Parses an `event` string; `None` for strings this version does not know.
    pub fn parse(s: &str) -> Option<EventKind> {
        EventKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl std::fmt::Display for EventKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The `result` field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// An authorization decision that allowed the request.
    Allow,
    /// An authorization decision that denied the request.
    Deny,
    /// An action that completed.
    Ok,
    /// An action that failed.
    Error,
}

impl Outcome {
    /// The `result` string written to the log.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Allow => "allow",
            Outcome::Deny => "deny",
            Outcome::Ok => "ok",
            Outcome::Error => "error",
        }
    }
}

/// The `reason` field: a stable machine code and a human text.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reason {
    /// Stable code, e.g. `"not_in_allowed_signers"`.
    pub code: String,
    /// Free text for humans.
    pub text: String,
}

/// One event to be recorded. Every field but `event` is optional and omitted when `None`.
///
/// ```
/// use mon_proto::audit::{AuditEvent, EventKind, Outcome};
/// let ev = AuditEvent::new(EventKind::SessionAccept)
///     .result(Outcome::Allow)
///     .slice("lab")
///     .principal("alice@lab")
///     .policy_at("/etc/mon/slices/lab/allowed_signers", 3);
/// assert_eq!(ev.slice.as_deref(), Some("lab"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    /// What happened.
    pub event: EventKind,
    /// `allow`/`deny` for decisions, `ok`/`error` for actions.
    pub result: Option<Outcome>,
    /// Why (stable code + text).
    pub reason: Option<Reason>,
    /// The slice the session or policy belongs to.
    pub slice: Option<String>,
    /// The principal (named in the session or found by key).
    pub principal: Option<String>,
    /// The signer key fingerprint, `SHA256:…`.
    pub key_fp: Option<String>,
    /// The policy file that decided.
    pub policy_file: Option<String>,
    /// The line in `policy_file` that decided.
    pub policy_line: Option<u32>,
    /// The session id, lowercase hex.
    pub session_id: Option<String>,
    /// The client address as seen by the entry node.
    pub client_addr: Option<String>,
    /// The neighbour node (parent) or source address this record is about.
    pub peer: Option<String>,
    /// The operation name.
    pub op: Option<String>,
    /// The operation arguments.
    pub argv: Option<Vec<String>>,
    /// The exit code of an operation.
    pub exit_code: Option<i64>,
    /// How long an operation took.
    pub duration_ms: Option<u64>,
    /// Base64 (standard, padded) of the signed session's CBOR body, on `session.*` records.
    pub session_body: Option<String>,
    /// Base64 (standard, padded) of the raw SSHSIG blob over `session_body`.
    pub session_sig: Option<String>,
    /// How many events a summary stands for (`junk.summary`).
    pub count: Option<u64>,
    /// A file of the log (`log.rotate`: the previous file; `log.retention`: the removed one).
    pub file: Option<String>,
    /// `seq` of the last record of `file`.
    pub last_seq: Option<u64>,
    /// `hash` of the last record of `file`.
    pub last_hash: Option<String>,
}

impl AuditEvent {
    /// An event of `kind` with every optional field absent.
    pub fn new(kind: EventKind) -> AuditEvent {
        AuditEvent {
            event: kind,
            result: None,
            reason: None,
            slice: None,
            principal: None,
            key_fp: None,
            policy_file: None,
            policy_line: None,
            session_id: None,
            client_addr: None,
            peer: None,
            op: None,
            argv: None,
            exit_code: None,
            duration_ms: None,
            session_body: None,
            session_sig: None,
            count: None,
            file: None,
            last_seq: None,
            last_hash: None,
        }
    }

    /// Sets `result`.
    pub fn result(mut self, r: Outcome) -> Self {
        self.result = Some(r);
        self
    }
    /// Sets `reason` from a stable code and a text.
    pub fn reason(mut self, code: impl Into<String>, text: impl Into<String>) -> Self {
        self.reason = Some(Reason {
            code: code.into(),
            text: text.into(),
        });
        self
    }
    /// Sets `slice`.
    pub fn slice(mut self, s: impl Into<String>) -> Self {
        self.slice = Some(s.into());
        self
    }
    /// Sets `principal`.
    pub fn principal(mut self, p: impl Into<String>) -> Self {
        self.principal = Some(p.into());
        self
    }
    /// Sets `key_fp` (`SHA256:…`).
    pub fn key_fp(mut self, fp: impl Into<String>) -> Self {
        self.key_fp = Some(fp.into());
        self
    }
    /// Sets `policy_file` and `policy_line`: the line that decided.
    pub fn policy_at(mut self, file: impl Into<String>, line: u32) -> Self {
        self.policy_file = Some(file.into());
        self.policy_line = Some(line);
        self
    }
    /// Sets `policy_file` alone (e.g. a file rejected as a whole).
    pub fn policy_file(mut self, file: impl Into<String>) -> Self {
        self.policy_file = Some(file.into());
        self
    }
    /// Sets `session_id` from the raw id bytes (written as lowercase hex).
    pub fn session_id(mut self, id: &[u8]) -> Self {
        self.session_id = Some(hex::encode(id));
        self
    }
    /// Sets `client_addr`.
    pub fn client_addr(mut self, a: impl Into<String>) -> Self {
        self.client_addr = Some(a.into());
        self
    }
    /// Sets `peer`.
    pub fn peer(mut self, p: impl Into<String>) -> Self {
        self.peer = Some(p.into());
        self
    }
    /// Sets `op`.
    pub fn op(mut self, op: impl Into<String>) -> Self {
        self.op = Some(op.into());
        self
    }
    /// Sets `argv`.
    pub fn argv<I, S>(mut self, argv: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.argv = Some(argv.into_iter().map(Into::into).collect());
        self
    }
    /// Sets `exit_code`.
    pub fn exit_code(mut self, code: i64) -> Self {
        self.exit_code = Some(code);
        self
    }
    /// Sets `duration_ms`.
    pub fn duration_ms(mut self, ms: u64) -> Self {
        self.duration_ms = Some(ms);
        self
    }
    /// Records the signed session exactly as received: the CBOR `body` bytes and the raw SSHSIG
    /// blob (not armored), so `mon audit export` can hand them to `ssh-keygen -Y verify` later.
    pub fn session(mut self, body: &[u8], sshsig: &[u8]) -> Self {
        let b64 = base64::engine::general_purpose::STANDARD;
        self.session_body = Some(b64.encode(body));
        self.session_sig = Some(b64.encode(sshsig));
        self
    }
    /// Sets `count`.
    pub fn count(mut self, n: u64) -> Self {
        self.count = Some(n);
        self
    }
    /// Sets `file`, `last_seq` and `last_hash`: a file of the log and its last record.
    pub fn file_end(mut self, file: impl Into<String>, last_seq: u64, last_hash: &str) -> Self {
        self.file = Some(file.into());
        self.last_seq = Some(last_seq);
        self.last_hash = Some(last_hash.to_owned());
        self
    }
}
