//! The client side of a session, sans-IO: build and sign the session, check the entry
//! node's SessionOk against known_nodes, send Go, open the result.

use mon_keys::frame::{Opener, Sealer};
use mon_keys::hop::{ChildHello, HopError, Initiator, CLIENT_NAME};
use mon_keys::known_nodes::{KnownNodes, Pin, Trust};
use mon_keys::nodekey::{verify_node_sig, NodeKey};
use mon_keys::sshsig::Signer;
use rand::{CryptoRng, RngCore};

use crate::agg::Query;
use crate::verify::{namespace_for, policy_op};
use crate::wire::packet::{Inner, Packet, SubtreeResult};
use crate::wire::session::{
    Manifest, OverlaySpec, SessionBody, SessionHash, SignedSession, SESSION_VERSION,
};

/// What the user asked for.
#[derive(Clone, Debug)]
pub struct SessionRequest {
    /// Slice.
    pub slice: String,
    /// Principal, if the user named one.
    pub principal: Option<String>,
    /// Operations.
    pub ops: Vec<Query>,
    /// Push manifest.
    pub push: Option<Manifest>,
    /// Target patterns.
    pub targets: Vec<String>,
    /// Overlay.
    pub overlay: OverlaySpec,
    /// Query timeout, ms.
    pub timeout_ms: u32,
    /// Session lifetime, s.
    pub max_lifetime_s: u32,
    /// Join window, ms.
    pub join_window_ms: u64,
}

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
}

/// A session being run by the client.
pub struct ClientSession {
    /// The signed session.
    pub signed: SignedSession,
    /// Its body.
    pub body: SessionBody,
    /// Its hash.
    pub hash: SessionHash,
    initiator: Option<Initiator>,
    /// Command key (signs follow-up commands).
    pub cmd_key: NodeKey,
    link: Option<(Sealer, Opener)>,
    push_link: Option<(Sealer, Opener)>,
    /// Entry node name, once known.
    pub entry: Option<String>,
}

impl std::fmt::Debug for ClientSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientSession")
            .field("entry", &self.entry)
            .finish_non_exhaustive()
    }
}

impl ClientSession {
    /// Builds and signs a session at `now_ms`.
    pub fn new<R: RngCore + CryptoRng>(
        rng: &mut R,
        signer: &dyn Signer,
        req: SessionRequest,
        now_ms: u64,
    ) -> Result<ClientSession, ClientError> {
        let initiator = Initiator::new(rng);
        let cmd_key = NodeKey::generate(rng);
        let mut ops: Vec<mon_policy::Operation> = req.ops.iter().map(policy_op).collect();
        if let Some(m) = &req.push {
            ops.push(mon_policy::Operation::Push {
                dest: m.dest.clone(),
            });
        }
        let ns = namespace_for(&ops);
        let mut session_id = [0u8; 16];
        rng.fill_bytes(&mut session_id);
        let body = SessionBody {
            v: SESSION_VERSION,
            ns: ns.to_string(),
            session_id: session_id.into(),
            slice: req.slice,
            principal: req.principal,
            key_fp: mon_keys::sshsig::fingerprint(signer.public_key()),
            issued_at: now_ms,
            expires_at: now_ms + req.join_window_ms,
            max_lifetime_s: req.max_lifetime_s,
            timeout_ms: req.timeout_ms,
            client_eph: initiator.public().into(),
            cmd_key: cmd_key.public().into(),
            targets: req.targets,
            overlay: req.overlay,
            ops: req.ops,
            push: req.push,
        };
        let bytes = body.to_bytes();
        let sshsig = signer
            .sign(ns, &bytes)
            .map_err(|e| ClientError::Sign(e.to_string()))?;
        let signed = SignedSession {
            v: SESSION_VERSION,
            body: bytes,
            sshsig,
        };
        let hash = signed.hash();
        Ok(ClientSession {
            signed,
            body,
            hash,
            initiator: Some(initiator),
            cmd_key,
            link: None,
            push_link: None,
            entry: None,
        })
    }

    /// The first packet to the entry node.
    pub fn session_packet(&self) -> Packet {
        Packet::Session {
            session: self.signed.clone(),
            parent: CLIENT_NAME.to_string(),
            e_p: self.body.client_eph,
            parent_sig: None,
            level: 0,
            budget_ms: self.body.timeout_ms,
        }
    }

    /// Handles the entry node's answer to the Session, dialled as its address `entry_addr`
    /// (see [`ClientSession::on_answer_dialled`]).
    pub fn on_answer(
        &mut self,
        packet: Packet,
        entry_addr: std::net::SocketAddr,
        known: &KnownNodes,
    ) -> Result<Packet, ClientError> {
        let typed = entry_addr.ip().to_string();
        self.on_answer_dialled(packet, &typed, entry_addr, known)
    }

    /// Handles the entry node's answer to the Session. The entry must prove the key that
    /// known_nodes pins for what the client dialled ([`KnownNodes::pin_dialled`]: the name as
    /// `typed`, then the address it resolved to), whatever name it claims: a SessionOk whose
    /// handshake does not verify with that key is refused ("the key of ADDR does not match
    /// known_nodes FILE:LINE"), and so is a Deny its signature does not cover. On SessionOk,
    /// returns the Go packet to send.
    pub fn on_answer_dialled(
        &mut self,
        packet: Packet,
        typed: &str,
        entry_addr: std::net::SocketAddr,
        known: &KnownNodes,
    ) -> Result<Packet, ClientError> {
        let file = known.source().display().to_string();
        let (key, line) = match known.pin_dialled(typed, entry_addr.ip()) {
            Pin::Line(n) => (*n.key(), n.line()),
            Pin::Unknown => {
                return Err(ClientError::Pin(format!(
                    "no line of known_nodes {file} names {typed} or {}: add the entry node's \
                     line (`NAME,IP ssh-ed25519 …`, from `mon server init`)",
                    entry_addr.ip()
                )))
            }
            Pin::Conflict(a, b) => {
                return Err(ClientError::Pin(format!(
                    "known_nodes {file}:{} and {file}:{} both match {typed} ({}) with different \
                     keys: fix one of them",
                    a.line(),
                    b.line(),
                    entry_addr.ip()
                )))
            }
            Pin::Revoked(n) => {
                return Err(ClientError::Pin(format!(
                    "the key of {entry_addr} in known_nodes {file}:{} is revoked",
                    n.line()
                )))
            }
        };
        let mismatch = || {
            ClientError::Pin(format!(
                "the key of {entry_addr} does not match known_nodes {file}:{line} \
                 (possible impersonation; if that node's key was changed on purpose, \
                 update the line)"
            ))
        };
        match packet {
            Packet::SessionOk {
                session_hash,
                child,
                e_c,
                sig,
                confirm,
                ..
            } if *session_hash == self.hash => {
                let confirm = <[u8; 16]>::try_from(confirm.as_slice())
                    .map_err(|_| ClientError::Handshake("bad key confirmation length".into()))?;
                let init = self
                    .initiator
                    .take()
                    .ok_or_else(|| ClientError::Protocol("second SessionOk".into()))?;
                let hello = ChildHello {
                    e_c: *e_c,
                    sig: *sig,
                    confirm,
                };
                let mut keys = match init.finish(&self.hash, CLIENT_NAME, &child, &key, &hello) {
                    Ok(k) => k,
                    Err(HopError::ChildSignature(_)) => return Err(mismatch()),
                    Err(e) => return Err(ClientError::Handshake(e.to_string())),
                };
                // It holds the pinned key; the name it claims must be one that line allows.
                if !matches!(
                    known.check(&child, Some(entry_addr.ip()), &key),
                    Trust::Trusted
                ) {
                    return Err(ClientError::EntryKey {
                        name: child,
                        addr: entry_addr.to_string(),
                        what: format!(
                            "it holds the key of known_nodes {file}:{line} but claims a name \
                             that line does not give it"
                        ),
                    });
                }
                let (mut sealer, opener) = keys
                    .channel(0)
                    .map_err(|e| ClientError::Handshake(e.to_string()))?;
                if self.body.push.is_some() {
                    let k = keys
                        .channel(u64::from(crate::push::msg::PUSH_CHANNEL))
                        .map_err(|e| ClientError::Handshake(e.to_string()))?;
                    self.push_link = Some(k);
                }
                let frame = sealer
                    .seal(&Inner::Go.to_bytes())
                    .map_err(|e| ClientError::Handshake(e.to_string()))?;
                self.link = Some((sealer, opener));
                self.entry = Some(child);
                Ok(Packet::Sealed {
                    session_hash: self.hash.into(),
                    from: CLIENT_NAME.into(),
                    channel: 0,
                    frame,
                })
            }
            Packet::Deny {
                session_hash,
                child,
                code,
                text,
                sig,
            } if *session_hash == self.hash => {
                // Only the pinned key's holder may refuse for the entry: an unsigned or forged
                // Deny is not believed (it would make the user retry elsewhere or give up).
                let signed = crate::node::deny_signed_data(&self.hash, &code);
                if verify_node_sig(&key, &signed, &sig).is_err() {
                    return Err(ClientError::Pin(format!(
                        "a refusal claiming to come from {entry_addr} is not signed by the key \
                         of known_nodes {file}:{line}; ignored (possible impersonation)"
                    )));
                }
                Err(ClientError::Denied {
                    node: child,
                    code,
                    text,
                })
            }
            Packet::Prune { .. } => Err(ClientError::Protocol(
                "the entry node has already run this session".into(),
            )),
            other => Err(ClientError::Protocol(format!(
                "{:?}",
                std::mem::discriminant(&other)
            ))),
        }
    }

    /// A follow-up Command (`seq` from 1, strictly increasing) signed with the session's
    /// `cmd_key` and sealed to the entry node. Servers refuse it for now
    /// ([`crate::wire::command::COMMAND_UNSUPPORTED`]) until interactive sessions land.
    pub fn command_packet(
        &mut self,
        seq: u64,
        issued_at: u64,
        ops: &[crate::agg::Query],
    ) -> Result<Packet, ClientError> {
        let Some((sealer, _)) = self.link.as_mut() else {
            return Err(ClientError::Protocol("command before handshake".into()));
        };
        let key = &self.cmd_key;
        let cmd =
            crate::wire::command::Command::new(&self.hash, seq, issued_at, ops, |m| key.sign(m));
        let frame = sealer
            .seal(&Inner::Command(cmd).to_bytes())
            .map_err(|e| ClientError::Protocol(e.to_string()))?;
        Ok(Packet::Sealed {
            session_hash: self.hash.into(),
            from: CLIENT_NAME.into(),
            channel: 0,
            frame,
        })
    }

    /// Opens a sealed result from the entry node; returns the result and the ack packet.
    pub fn on_result(&mut self, packet: Packet) -> Result<(SubtreeResult, Packet), ClientError> {
        let Some((sealer, opener)) = self.link.as_mut() else {
            return Err(ClientError::Protocol("result before handshake".into()));
        };
        let Packet::Sealed {
            session_hash,
            frame,
            ..
        } = packet
        else {
            return Err(ClientError::Protocol("expected a sealed result".into()));
        };
        if *session_hash != self.hash {
            return Err(ClientError::Protocol("result for another session".into()));
        }
        let plain = opener
            .open(&frame)
            .map_err(|e| ClientError::Protocol(e.to_string()))?;
        let inner = Inner::from_bytes(&plain).map_err(|e| ClientError::Protocol(e.to_string()))?;
        let Inner::Result(r) = inner else {
            return Err(ClientError::Protocol("expected a result".into()));
        };
        if r.partials.len() != self.body.ops.len() {
            return Err(ClientError::Protocol(
                "result has the wrong number of operations".into(),
            ));
        }
        let ack = sealer
            .seal(&Inner::ResultAck.to_bytes())
            .map_err(|e| ClientError::Protocol(e.to_string()))?;
        let ack = Packet::Sealed {
            session_hash: self.hash.into(),
            from: CLIENT_NAME.into(),
            channel: 0,
            frame: ack,
        };
        Ok((r, ack))
    }

    /// Seals a push message to the entry node (the client is its first parent, the source).
    pub fn seal_push(&mut self, m: &crate::push::msg::PushMsg) -> Result<Packet, ClientError> {
        let Some((sealer, _)) = self.push_link.as_mut() else {
            return Err(ClientError::Protocol("not a push session".into()));
        };
        let frame = sealer
            .seal(&m.to_bytes())
            .map_err(|e| ClientError::Protocol(e.to_string()))?;
        Ok(Packet::Sealed {
            session_hash: self.hash.into(),
            from: CLIENT_NAME.into(),
            channel: crate::push::msg::PUSH_CHANNEL,
            frame,
        })
    }

    /// Opens a push message from the entry node (a `Sealed` packet on the push channel).
    pub fn open_push(&mut self, packet: &Packet) -> Result<crate::push::msg::PushMsg, ClientError> {
        let Some((_, opener)) = self.push_link.as_mut() else {
            return Err(ClientError::Protocol("not a push session".into()));
        };
        let Packet::Sealed {
            session_hash,
            frame,
            channel,
            ..
        } = packet
        else {
            return Err(ClientError::Protocol(
                "expected a sealed push message".into(),
            ));
        };
        if **session_hash != self.hash || *channel != crate::push::msg::PUSH_CHANNEL {
            return Err(ClientError::Protocol(
                "push message for another session".into(),
            ));
        }
        let plain = opener
            .open(frame)
            .map_err(|e| ClientError::Protocol(e.to_string()))?;
        crate::push::msg::PushMsg::from_bytes(&plain)
            .map_err(|e| ClientError::Protocol(e.to_string()))
    }
}
