//! One round of the node's output, in the order `durable.rs` sets: the records of a batch are
//! written before anything of it happens; its packets go out at once; its actions wait until
//! those records are on disk (or run now when they already are). Push file I/O answers at
//! once and may make more output, so a round goes on until nothing is left. When the records
//! cannot be written, nothing of their batch happens and the node refuses new sessions until
//! they can (fail closed; the server keeps running).

use mon_proto::agg::Local;
use mon_proto::audit::AuditEvent;
use mon_proto::node::{Node, Output};
use mon_proto::wire::packet::{Packet, MAX_DATAGRAM};

use super::durable::{Admit, Durable};
use super::outbound::Io;
use crate::clock::now_ms;

/// Handles the node's output (and the actions `durable` released) until none is left.
pub(super) async fn flush(
    node: &mut Node,
    durable: &mut Durable,
    io: &mut Io,
    storage_down: &mut bool,
) {
    loop {
        note_storage(node, durable, storage_down);
        let released = durable.release();
        let mut outs = Vec::new();
        while let Some(o) = node.poll_output() {
            outs.push(o);
        }
        if released.is_empty() && outs.is_empty() {
            break;
        }
        for o in released {
            io.dispatch(node, o).await;
        }
        let (recs, lines) = records(&outs);
        if !durable.write(&recs, &lines) {
            withhold(node, outs);
            continue;
        }
        dispatch_batch(node, durable, io, outs).await;
    }
}

/// Tells the node when the storage fails or recovers (it refuses new sessions meanwhile).
fn note_storage(node: &mut Node, durable: &Durable, storage_down: &mut bool) {
    let down = durable.failure().map(str::to_string);
    if down.is_some() != *storage_down {
        *storage_down = down.is_some();
        node.set_storage_failure(down);
    }
}

/// A batch's audit records and journal lines.
fn records(outs: &[Output]) -> (Vec<AuditEvent>, Vec<String>) {
    let mut recs = Vec::new();
    let mut lines = Vec::new();
    for o in outs {
        match o {
            Output::Audit(ev) => recs.push((**ev).clone()),
            Output::Journal(l) => lines.extend(l.iter().cloned()),
            _ => {}
        }
    }
    (recs, lines)
}

/// A batch whose records are written: packets go out, actions run when `durable` admits them.
async fn dispatch_batch(node: &mut Node, durable: &mut Durable, io: &mut Io, outs: Vec<Output>) {
    for o in outs {
        match o {
            Output::Audit(_) | Output::Journal(_) => {}
            o @ (Output::Send { .. } | Output::SendStream { .. } | Output::CloseClient(_)) => {
                io.dispatch(node, o).await
            }
            o => match durable.admit(o) {
                Admit::Now(o) => io.dispatch(node, o).await,
                Admit::Held => {}
                // Stopping a run is never held back by the records: it only ends work.
                Admit::Refused(o @ Output::CancelRun { .. }) => io.dispatch(node, o).await,
                Admit::Refused(o) => refuse_action(node, o),
            },
        }
    }
}

/// What a refused action's reason says.
const NOT_DURABLE: &str = "not run: this node cannot write its audit log or replay journal";

/// An action whose records may not be on disk: it never runs (an operation reports a
/// failure, push file I/O is dropped and its session fails).
pub(super) fn refuse_action(node: &mut Node, o: Output) {
    if let Output::Run(req) = o {
        node.handle_local(
            now_ms(),
            req.session,
            req.index,
            Local::Failed(NOT_DURABLE.into()),
        );
    }
}

/// A batch whose records could not be written: none of it happens. Its packets are withheld;
/// a session it accepted is dropped and its parent told why (signed Deny, nothing durable).
fn withhold(node: &mut Node, outs: Vec<Output>) {
    let mut aborted = Vec::new();
    for o in outs {
        match o {
            Output::Send { bytes, .. } | Output::SendStream { bytes, .. } => {
                if let Ok(Packet::SessionOk {
                    session_hash,
                    extra: false,
                    ..
                }) = Packet::from_bytes(&bytes, MAX_DATAGRAM.max(4096))
                {
                    aborted.push(*session_hash);
                }
            }
            Output::Audit(_) | Output::Journal(_) | Output::CloseClient(_) => {}
            o => refuse_action(node, o),
        }
    }
    for h in aborted {
        node.abort_session(
            h,
            mon_proto::node::STORAGE_UNAVAILABLE,
            "this node could not write the session's audit record; it refuses sessions until \
             its operator frees space or repairs the disk",
        );
    }
}
