//! Why the client could not run a session.

/// Why the client could not run a session.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Signing failed.
    #[error("signing the session failed: {0}")]
    Sign(String),
    /// The entry node refused.
    #[error("{node} denied the session: {text} [{code}]")]
    Denied {
        /// Entry node.
        node: String,
        /// Reason code.
        code: String,
        /// Reason.
        text: String,
    },
    /// The entry node's key is not the one known_nodes pins.
    #[error("entry node {name:?} at {addr}: {what}")]
    EntryKey {
        /// Node name it claims.
        name: String,
        /// Address.
        addr: String,
        /// What is wrong.
        what: String,
    },
    /// The entry node did not prove the key known_nodes pins for what the client dialled
    /// (issue 10, part 6), or known_nodes cannot say which key that is.
    #[error("{0}")]
    Pin(String),
    /// Handshake failed.
    #[error("handshake with the entry node failed: {0}")]
    Handshake(String),
    /// The entry node sent something unexpected.
    #[error("unexpected message from the entry node: {0}")]
    Protocol(String),
    /// The entry node sent, on the push channel, a message only a parent may send (the
    /// client is the entry's only parent, never its child).
    #[error("the entry node sent {0}, which only a parent may send")]
    NotAChildMessage(String),
    /// No result arrived before the push's deadline.
    #[error("no result within the push timeout")]
    NoResult,
}
