//! The client side of a session, sans-IO, in the style of the node: the caller owns the
//! sockets, the clock and the files, and feeds what arrives to these machines.
//!
//! - `session`: build and sign the session ([`ClientSession::new`]), seal and open what
//!   travels on its link to the entry node.
//! - `answer`: the entry node's answer (SessionOk or Deny), checked against known_nodes.
//! - [`push_source`]: the client as the source of a push ([`PushSource`]): serves blocks,
//!   keeps the link alive, reports progress, until the result arrives.
//! - [`finish`]: turning a result into what the user is told (unreached nodes, answers,
//!   the push summary).
//! - [`verdict`]: whether a command succeeded (the nodes that make its exit code 1, the
//!   statuses an `exec` accepts).
//! - `error`: why a run failed ([`ClientError`]).
//!
//! Order of a run: `ClientSession::new` → send [`ClientSession::session_packet`] →
//! [`ClientSession::on_answer_dialled`] → send Go → for a query, wait for the result and
//! [`ClientSession::on_result`]; for a push, drive a [`PushSource`] until it yields the
//! result → [`finish`].

mod answer;
mod error;
pub mod finish;
pub mod push_source;
mod session;
pub mod verdict;

pub use error::ClientError;
pub use push_source::PushSource;
pub use session::{ClientSession, SessionRequest};
