//! The client as a library, for the console (`mon web`): each call is one fresh signed
//! session through the same code as the CLI (the same key, known_nodes and options), and
//! returns the JSON objects `--json` prints instead of printing them.

use mon_keys::known_nodes::KnownNodes;
use mon_keys::sshsig::Signer;
use mon_proto::agg::Query;
use mon_proto::client::ClientSession;
use mon_proto::timing::SessionKind;
use serde_json::{json, Value};

use super::push::{PushArgs, PushEnd, PushProgress};
use super::session::{self, ask, load_key_and_known, now_ms, session_request, session_timing};
use super::{AnswerOpts, GlobalOpts};

/// The operator's identity: the signing key (file or ssh-agent) and the known_nodes file
/// that pins the entry's key, loaded once.
pub struct Identity {
    signer: Box<dyn Signer>,
    known: KnownNodes,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity")
            .field("signer", &self.signer.describe())
            .finish_non_exhaustive()
    }
}

impl Identity {
    /// Loads the key and known_nodes as the CLI does (a passphrase is asked on the terminal).
    pub fn load(g: &GlobalOpts) -> anyhow::Result<Identity> {
        let (signer, known) = load_key_and_known(g)?;
        Ok(Identity { signer, known })
    }

    /// The key's fingerprint, for display.
    pub fn fingerprint(&self) -> String {
        mon_keys::sshsig::fingerprint(self.signer.public_key())
    }
}

/// What one session returned.
#[derive(Debug)]
pub enum Reply {
    /// One `--json` object per operation, and the CLI's exit code for them.
    Answers(Vec<Value>, u8),
    /// The entry node refused the session: `{"denied_by", "code", "reason"}`.
    Denied(Value),
}

/// Runs `ops` as one signed query session (`members`: a one-node session at the entry that
/// adds its partial view, answered as `mon members --json` does). A `Query::Audit` (built by
/// `cmd::audit::fleet::filter_of`) is `mon audit fleet --json`: the session is signed for
/// `mon-audit@mon`, as every session is signed for the class its operations need.
pub async fn query(
    g: &GlobalOpts,
    id: &Identity,
    command: &str,
    ops: Vec<Query>,
    opts: &AnswerOpts,
    members: bool,
) -> anyhow::Result<Reply> {
    let kind = SessionKind::Query;
    let timing = session_timing(g, kind)?;
    let sreq = session_request(g, kind, ops.clone(), None, u8::from(members), &timing).await?;
    let cs = ClientSession::new(&mut rand::rngs::OsRng, &*id.signer, sreq, now_ms())?;
    let a = match ask(g, cs, &id.known).await? {
        Ok(a) => a,
        Err((node, code, text)) => {
            return Ok(Reply::Denied(
                json!({"denied_by": node, "code": code, "reason": text}),
            ))
        }
    };
    if members {
        let ms = a.session_ms + a.query_ms;
        let v = super::output::members_json(&a.entry, &a.result.members, ms);
        return Ok(Reply::Answers(vec![v], crate::exit::OK));
    }
    let (outs, code) = session::outcomes(command, &ops, a, &id.known, opts)?;
    Ok(Reply::Answers(
        outs.iter().map(super::output::Outcome::to_json).collect(),
        code,
    ))
}

/// Runs one push session as `mon push` does (the same checks of the arguments, the same
/// manifest and source), reporting to `progress`; the file is hashed off the runtime.
pub(crate) async fn push(
    g: &GlobalOpts,
    id: &Identity,
    args: PushArgs,
    progress: &mut dyn PushProgress,
) -> anyhow::Result<PushEnd> {
    let (g2, a) = (g.clone(), args);
    let plan = tokio::task::spawn_blocking(move || super::push::plan(&g2, &a))
        .await
        .map_err(|e| anyhow::anyhow!("hashing the file: {e}"))??;
    super::push::push_session(g, &*id.signer, &id.known, &plan, progress).await
}
