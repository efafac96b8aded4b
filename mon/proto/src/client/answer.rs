//! The entry node's answer to the Session. The entry must prove the key known_nodes pins for
//! what the client dialled ([`KnownNodes::pin_dialled`]), whatever name it claims: a SessionOk
//! opens the session's links and yields the Go to send; a Deny is believed only when that key
//! signed it. Order of the checks: the pin (before looking at the packet), then the packet.

use std::net::SocketAddr;

use mon_keys::frame::{Opener, Sealer};
use mon_keys::hop::{ChildHello, HopError, LinkKeys, CLIENT_NAME};
use mon_keys::known_nodes::{KnownNodes, Pin, Trust};
use mon_keys::nodekey::verify_node_sig;

use super::{ClientError, ClientSession};
use crate::wire::packet::{Inner, Packet};

/// The key known_nodes pins for the entry as dialled, and where.
struct Pinned<'a> {
    key: [u8; 32],
    line: usize,
    file: String,
    addr: SocketAddr,
    known: &'a KnownNodes,
}

impl Pinned<'_> {
    /// The entry holds the pinned key: the name it claims must be one that line gives it.
    fn check_claimed_name(&self, child: &str) -> Result<(), ClientError> {
        if matches!(
            self.known.check(child, Some(self.addr.ip()), &self.key),
            Trust::Trusted
        ) {
            return Ok(());
        }
        Err(ClientError::EntryKey {
            name: child.to_string(),
            addr: self.addr.to_string(),
            what: format!(
                "it holds the key of known_nodes {}:{} but claims a name \
                 that line does not give it",
                self.file, self.line
            ),
        })
    }

    /// The error for an answer its key did not sign.
    fn mismatch(&self) -> ClientError {
        ClientError::Pin(format!(
            "the key of {} does not match known_nodes {}:{} \
             (possible impersonation; if that node's key was changed on purpose, \
             update the line)",
            self.addr, self.file, self.line
        ))
    }
}

/// Finds the pinned key for `typed` (then the address it resolved to), or says why there is
/// none that can be trusted.
fn pinned_key<'a>(
    known: &'a KnownNodes,
    typed: &'a str,
    addr: SocketAddr,
) -> Result<Pinned<'a>, ClientError> {
    let file = known.source().display().to_string();
    let (key, line) = match known.pin_dialled(typed, addr.ip()) {
        Pin::Line(n) => (*n.key(), n.line()),
        Pin::Unknown => return Err(no_pin(&file, typed, addr)),
        Pin::Conflict(a, b) => {
            return Err(conflicting_pins(&file, typed, addr, a.line(), b.line()))
        }
        Pin::Revoked(n) => {
            return Err(ClientError::Pin(format!(
                "the key of {addr} in known_nodes {file}:{} is revoked",
                n.line()
            )))
        }
    };
    Ok(Pinned {
        key,
        line,
        file,
        addr,
        known,
    })
}

/// No line of known_nodes names what was dialled.
fn no_pin(file: &str, typed: &str, addr: SocketAddr) -> ClientError {
    ClientError::Pin(format!(
        "no line of known_nodes {file} names {typed} or {}: add the entry node's \
         line (`NAME,IP ssh-ed25519 …`, from `mon server init`)",
        addr.ip()
    ))
}

/// Two known_nodes lines (`a`, `b`) match what was dialled with different keys.
fn conflicting_pins(file: &str, typed: &str, addr: SocketAddr, a: usize, b: usize) -> ClientError {
    ClientError::Pin(format!(
        "known_nodes {file}:{a} and {file}:{b} both match {typed} ({}) with different \
         keys: fix one of them",
        addr.ip()
    ))
}

/// The error for an answer that is neither this session's SessionOk nor its Deny.
fn unexpected_answer(packet: &Packet) -> ClientError {
    match packet {
        Packet::Prune { .. } => {
            ClientError::Protocol("the entry node has already run this session".into())
        }
        other => ClientError::Protocol(format!("{:?}", std::mem::discriminant(other))),
    }
}

/// A SessionOk's handshake fields.
struct Hello<'a> {
    child: String,
    e_c: [u8; 32],
    sig: [u8; 64],
    confirm: &'a [u8],
}

impl ClientSession {
    /// Handles the entry node's answer to the Session, dialled as its address `entry_addr`
    /// (see [`ClientSession::on_answer_dialled`]).
    pub fn on_answer(
        &mut self,
        packet: Packet,
        entry_addr: SocketAddr,
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
        entry_addr: SocketAddr,
        known: &KnownNodes,
    ) -> Result<Packet, ClientError> {
        let pin = pinned_key(known, typed, entry_addr)?;
        match packet {
            Packet::SessionOk {
                session_hash,
                child,
                e_c,
                sig,
                confirm,
                ..
            } if *session_hash == self.hash => {
                let hello = Hello {
                    child,
                    e_c: *e_c,
                    sig: *sig,
                    confirm: &confirm,
                };
                self.accept_session_ok(hello, &pin)
            }
            Packet::Deny {
                session_hash,
                child,
                code,
                text,
                sig,
            } if *session_hash == self.hash => Err(self.check_deny(child, code, text, &sig, &pin)),
            other => Err(unexpected_answer(&other)),
        }
    }

    /// A SessionOk for this session: finish the handshake with the pinned key, check the name
    /// the entry claims, open the links and seal the Go.
    fn accept_session_ok(&mut self, h: Hello<'_>, pin: &Pinned<'_>) -> Result<Packet, ClientError> {
        let confirm = <[u8; 16]>::try_from(h.confirm)
            .map_err(|_| ClientError::Handshake("bad key confirmation length".into()))?;
        let init = self
            .initiator
            .take()
            .ok_or_else(|| ClientError::Protocol("second SessionOk".into()))?;
        let hello = ChildHello {
            e_c: h.e_c,
            sig: h.sig,
            confirm,
        };
        let keys = match init.finish(&self.hash, CLIENT_NAME, &h.child, &pin.key, &hello) {
            Ok(k) => k,
            Err(HopError::ChildSignature(_)) => return Err(pin.mismatch()),
            Err(e) => return Err(ClientError::Handshake(e.to_string())),
        };
        // It holds the pinned key; the name it claims must be one that line allows.
        pin.check_claimed_name(&h.child)?;
        let (mut sealer, opener) = self.open_links(keys)?;
        let frame = sealer
            .seal(&Inner::Go.to_bytes())
            .map_err(|e| ClientError::Handshake(e.to_string()))?;
        self.link = Some((sealer, opener));
        self.entry = Some(h.child);
        Ok(self.sealed(0, frame))
    }

    /// Opens the push channel (for a push) and returns the session's link (channel 0).
    fn open_links(&mut self, mut keys: LinkKeys) -> Result<(Sealer, Opener), ClientError> {
        let link = keys
            .channel(0)
            .map_err(|e| ClientError::Handshake(e.to_string()))?;
        if self.body.push.is_some() {
            let k = keys
                .channel(u64::from(crate::push::msg::PUSH_CHANNEL))
                .map_err(|e| ClientError::Handshake(e.to_string()))?;
            self.push_link = Some(k);
        }
        Ok(link)
    }

    /// A Deny for this session: believed (as [`ClientError::Denied`]) only when the pinned
    /// key signed it; an unsigned or forged Deny would make the user retry elsewhere or give
    /// up.
    fn check_deny(
        &self,
        child: String,
        code: String,
        text: String,
        sig: &[u8; 64],
        pin: &Pinned<'_>,
    ) -> ClientError {
        let signed = crate::node::deny_signed_data(&self.hash, &code);
        if verify_node_sig(&pin.key, &signed, sig).is_err() {
            return ClientError::Pin(format!(
                "a refusal claiming to come from {} is not signed by the key \
                 of known_nodes {}:{}; ignored (possible impersonation)",
                pin.addr, pin.file, pin.line
            ));
        }
        ClientError::Denied {
            node: child,
            code,
            text,
        }
    }
}
