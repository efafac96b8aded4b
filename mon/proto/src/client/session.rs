//! The client's session: build and sign it, then seal and open what travels on its link to
//! the entry node (Go, commands, results, push messages). The handshake with the entry node is
//! in [`super::answer`].

use mon_keys::frame::{Opener, Sealer};
use mon_keys::hop::{Initiator, CLIENT_NAME};
use mon_keys::nodekey::NodeKey;
use mon_keys::sshsig::Signer;
use rand::{CryptoRng, RngCore};

use super::ClientError;
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

/// A session being run by the client.
pub struct ClientSession {
    /// The signed session.
    pub signed: SignedSession,
    /// Its body.
    pub body: SessionBody,
    /// Its hash.
    pub hash: SessionHash,
    pub(super) initiator: Option<Initiator>,
    /// Command key (signs follow-up commands).
    pub cmd_key: NodeKey,
    pub(super) link: Option<(Sealer, Opener)>,
    pub(super) push_link: Option<(Sealer, Opener)>,
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

/// The operation class the session is signed for: that of its operations and push.
fn session_namespace(req: &SessionRequest) -> &'static str {
    let mut ops: Vec<mon_policy::Operation> = req.ops.iter().map(policy_op).collect();
    if let Some(m) = &req.push {
        ops.push(mon_policy::Operation::Push {
            dest: m.dest.clone(),
        });
    }
    namespace_for(&ops)
}

/// The body for `req` issued at `now_ms` (a fresh random session id) with the client's
/// ephemeral key and command key.
fn session_body<R: RngCore + CryptoRng>(
    rng: &mut R,
    signer: &dyn Signer,
    req: SessionRequest,
    now_ms: u64,
    initiator: &Initiator,
    cmd_key: &NodeKey,
) -> SessionBody {
    let ns = session_namespace(&req);
    let mut session_id = [0u8; 16];
    rng.fill_bytes(&mut session_id);
    SessionBody {
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
        interactive: false,
    }
}

/// Signs the encoded body under its namespace.
fn sign_body(signer: &dyn Signer, body: &SessionBody) -> Result<SignedSession, ClientError> {
    let bytes = body.to_bytes();
    let sshsig = signer
        .sign(&body.ns, &bytes)
        .map_err(|e| ClientError::Sign(e.to_string()))?;
    Ok(SignedSession {
        v: SESSION_VERSION,
        body: bytes,
        sshsig,
    })
}

/// Opens and decodes a result frame: a result with one partial per operation, answering
/// command `seq` (0: the session's own operations).
fn open_result(opener: &mut Opener, frame: &[u8]) -> Result<SubtreeResult, ClientError> {
    let plain = opener
        .open(frame)
        .map_err(|e| ClientError::Protocol(e.to_string()))?;
    let inner = Inner::from_bytes(&plain).map_err(|e| ClientError::Protocol(e.to_string()))?;
    let Inner::Result(r) = inner else {
        return Err(ClientError::Protocol("expected a result".into()));
    };
    Ok(r)
}

/// Whether `r` answers command `seq` with its `n_ops` operations.
fn check_result(r: SubtreeResult, n_ops: usize, seq: u64) -> Result<SubtreeResult, ClientError> {
    if r.seq != seq {
        return Err(ClientError::Protocol(format!(
            "result for command {} while waiting for command {seq}",
            r.seq
        )));
    }
    if r.partials.len() != n_ops {
        return Err(ClientError::Protocol(
            "result has the wrong number of operations".into(),
        ));
    }
    Ok(r)
}

impl ClientSession {
    /// Builds and signs a session at `now_ms`.
    pub fn new<R: RngCore + CryptoRng>(
        rng: &mut R,
        signer: &dyn Signer,
        req: SessionRequest,
        now_ms: u64,
    ) -> Result<ClientSession, ClientError> {
        Self::build(rng, signer, req, now_ms, |_| {})
    }

    /// Builds and signs an interactive session at `now_ms` (`mon shell`): the body says
    /// `interactive`, so every node keeps the overlay for follow-up Commands
    /// ([`ClientSession::command_packet`]); it is signed for `class` (an operation class
    /// such as `mon-exec@mon`, which must cover every command the user will type: the
    /// servers deny the others), or for the narrowest class of `req.ops` when `None`.
    pub fn new_interactive<R: RngCore + CryptoRng>(
        rng: &mut R,
        signer: &dyn Signer,
        req: SessionRequest,
        class: Option<&str>,
        now_ms: u64,
    ) -> Result<ClientSession, ClientError> {
        Self::build(rng, signer, req, now_ms, |b| {
            b.interactive = true;
            if let Some(ns) = class {
                b.ns = ns.to_string();
            }
        })
    }

    fn build<R: RngCore + CryptoRng>(
        rng: &mut R,
        signer: &dyn Signer,
        req: SessionRequest,
        now_ms: u64,
        adjust: impl FnOnce(&mut SessionBody),
    ) -> Result<ClientSession, ClientError> {
        let initiator = Initiator::new(rng);
        let cmd_key = NodeKey::generate(rng);
        let mut body = session_body(rng, signer, req, now_ms, &initiator, &cmd_key);
        adjust(&mut body);
        let signed = sign_body(signer, &body)?;
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

    /// A sealed frame on `channel` of the link to the entry node.
    pub(super) fn sealed(&self, channel: u8, frame: Vec<u8>) -> Packet {
        Packet::Sealed {
            session_hash: self.hash.into(),
            from: CLIENT_NAME.into(),
            channel,
            frame,
        }
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

    /// A follow-up Command (`seq` from 1, strictly increasing) signed with the session's
    /// `cmd_key` and sealed to the entry node. Servers run it only in an interactive session
    /// ([`ClientSession::new_interactive`]); they refuse it otherwise
    /// ([`crate::wire::command::COMMAND_UNSUPPORTED`]).
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
        Ok(self.sealed(0, frame))
    }

    /// Opens a sealed result from the entry node; returns the result and the ack packet.
    pub fn on_result(&mut self, packet: Packet) -> Result<(SubtreeResult, Packet), ClientError> {
        let n = self.body.ops.len();
        self.on_command_result(packet, 0, n)
    }

    /// A frame sealed to the entry node on channel 0 (a Cancel, an acknowledgement).
    fn seal_inner(&mut self, inner: &Inner) -> Result<Packet, ClientError> {
        let Some((sealer, _)) = self.link.as_mut() else {
            return Err(ClientError::Protocol("frame before handshake".into()));
        };
        let frame = sealer
            .seal(&inner.to_bytes())
            .map_err(|e| ClientError::Protocol(e.to_string()))?;
        Ok(self.sealed(0, frame))
    }

    /// A Cancel to the entry node: it answers the running command at once with what it
    /// has (an interactive session stays for the next command).
    pub fn cancel_packet(&mut self) -> Result<Packet, ClientError> {
        self.seal_inner(&Inner::Cancel)
    }

    /// An acknowledgement again, to keep the stream to the entry node open while an
    /// interactive session waits for the user (it changes nothing on the node).
    pub fn keepalive_packet(&mut self) -> Result<Packet, ClientError> {
        self.seal_inner(&Inner::ResultAck)
    }

    /// Opens a sealed result from the entry node answering command `seq` (0: the session's
    /// own operations) of `n_ops` operations; returns the result and the ack packet.
    pub fn on_command_result(
        &mut self,
        packet: Packet,
        seq: u64,
        n_ops: usize,
    ) -> Result<(SubtreeResult, Packet), ClientError> {
        match self.on_command_result_skipping(packet, seq, n_ops)? {
            Ok(answer) => Ok(answer),
            Err(_) => Err(ClientError::Protocol(format!(
                "result for an earlier command while waiting for command {seq}"
            ))),
        }
    }

    /// Like [`ClientSession::on_command_result`], for a result that may answer an earlier
    /// command than `seq` (the empty result of a cancel the client sent after its Ctrl-C):
    /// `Ok(Err(ack))` for such a stale one, to be acknowledged and skipped.
    #[allow(clippy::type_complexity)]
    pub fn on_command_result_skipping(
        &mut self,
        packet: Packet,
        seq: u64,
        n_ops: usize,
    ) -> Result<Result<(SubtreeResult, Packet), Packet>, ClientError> {
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
        let r = open_result(opener, &frame)?;
        let ack = sealer
            .seal(&Inner::ack(r.seq).to_bytes())
            .map_err(|e| ClientError::Protocol(e.to_string()))?;
        let ack = self.sealed(0, ack);
        if r.seq < seq {
            return Ok(Err(ack));
        }
        Ok(Ok((check_result(r, n_ops, seq)?, ack)))
    }

    /// Seals a push message to the entry node (the client is its first parent, the source).
    pub fn seal_push(&mut self, m: &crate::push::msg::PushMsg) -> Result<Packet, ClientError> {
        let Some((sealer, _)) = self.push_link.as_mut() else {
            return Err(ClientError::Protocol("not a push session".into()));
        };
        let frame = sealer
            .seal(&m.to_bytes())
            .map_err(|e| ClientError::Protocol(e.to_string()))?;
        Ok(self.sealed(crate::push::msg::PUSH_CHANNEL, frame))
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
