//! What the console's actions run on: today each action is one fresh signed session through
//! the client's code ([`crate::client::api`]), exactly as the CLI runs it. Long-lived sessions
//! (follow-up Commands) and the fleet audit query can replace [`SessionBackend`] behind the
//! same trait.

use std::future::Future;
use std::pin::Pin;

use mon_proto::agg::Query;

use crate::client::api::{self, Identity, Reply};
use crate::client::{AnswerOpts, GlobalOpts, PushArgs, PushEnd, PushProgress};

/// A boxed future of a backend call.
pub type Pending<'a> = Pin<Box<dyn Future<Output = anyhow::Result<Reply>> + Send + 'a>>;
/// A boxed future of a push.
pub type PendingPush<'a> = Pin<Box<dyn Future<Output = anyhow::Result<PushEnd>> + Send + 'a>>;

/// Runs the console's actions as the operator.
pub trait Backend: Send + Sync + 'static {
    /// One query operation (`exec` included: the routes check `--allow` first).
    fn query(&self, op: Query, opts: AnswerOpts) -> Pending<'_>;
    /// The entry node's partial view (`mon members`).
    fn members(&self) -> Pending<'_>;
    /// One push, as `mon push` (the routes check `--allow` first), reporting to `progress`.
    fn push<'a>(&'a self, args: PushArgs, progress: &'a mut dyn PushProgress) -> PendingPush<'a>;
    /// Who acts and through which entry, for the page's header.
    fn describe(&self) -> serde_json::Value;
}

/// Each action a fresh signed session with the operator's key, as the CLI.
#[derive(Debug)]
pub struct SessionBackend {
    /// The client options (`--server`, `--slice`, `--targets`, `--timeout`, …).
    pub g: GlobalOpts,
    /// The operator's key and known_nodes.
    pub id: Identity,
}

impl Backend for SessionBackend {
    fn query(&self, op: Query, opts: AnswerOpts) -> Pending<'_> {
        Box::pin(async move {
            let name = op.name();
            api::query(&self.g, &self.id, name, vec![op], &opts, false).await
        })
    }

    fn members(&self) -> Pending<'_> {
        Box::pin(async move {
            let opts = AnswerOpts::default();
            api::query(
                &self.g,
                &self.id,
                "members",
                vec![Query::Count],
                &opts,
                true,
            )
            .await
        })
    }

    fn push<'a>(&'a self, args: PushArgs, progress: &'a mut dyn PushProgress) -> PendingPush<'a> {
        Box::pin(api::push(&self.g, &self.id, args, progress))
    }

    fn describe(&self) -> serde_json::Value {
        serde_json::json!({
            "entry": self.g.server.to_string(),
            "slice": self.g.slice,
            "key": self.id.fingerprint(),
        })
    }
}
