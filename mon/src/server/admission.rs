//! Admission of inbound TCP streams: how many are served at once, how many one source address
//! may hold before they authenticate, and how many client streams one address may hold. A
//! stream's place is taken at accept time and given back when it authenticates or closes
//! (`Drop`), so a place can never leak.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use mon_proto::wire::packet::MAX_STREAM_PACKET;

use crate::framing;

/// Inbound TCP streams served at once.
pub(super) const MAX_STREAMS: usize = 512;
/// Inbound streams one source address may hold open before they have authenticated (a
/// verified session, a hop signature, or a sealed frame that opened); further connections
/// from that address are closed at once.
pub(super) const MAX_UNAUTH_STREAMS_PER_ADDR: usize = 32;
/// Client streams one source address may hold open at once, authenticated or not: a verified
/// session sets a stream free of [`MAX_UNAUTH_STREAMS_PER_ADDR`], and one listed key (query
/// rights are enough) could otherwise hold every one of the [`MAX_STREAMS`] slots from one
/// address. A `mon` command uses one stream.
pub(super) const MAX_CLIENT_STREAMS_PER_ADDR: usize = MAX_STREAMS / 4;

/// Inbound streams per source address that have not authenticated yet (also used, as a
/// second table, for client streams per address).
#[derive(Default)]
pub(super) struct UnauthStreams(std::sync::Mutex<HashMap<IpAddr, usize>>);

impl UnauthStreams {
    /// Counts one more stream from `ip` unless it holds `max` already.
    fn take(&self, ip: IpAddr, max: usize) -> bool {
        let mut t = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let n = t.entry(ip).or_insert(0);
        if *n >= max {
            return false;
        }
        *n += 1;
        true
    }

    /// Counts one stream from `ip` less.
    fn give_back(&self, ip: IpAddr) {
        let mut t = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = t.get_mut(&ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                t.remove(&ip);
            }
        }
    }
}

/// One inbound stream's place among its address's unauthenticated streams, given back when it
/// authenticates or closes; and how far the event loop has handled its frames.
pub(super) struct StreamAdmission {
    table: Arc<UnauthStreams>,
    ip: IpAddr,
    authenticated: AtomicBool,
    handled: AtomicU64,
    notify: tokio::sync::Notify,
}

impl StreamAdmission {
    /// A place for a new stream from `ip`, if that address has one left.
    pub(super) fn admit(table: &Arc<UnauthStreams>, ip: IpAddr) -> Option<StreamAdmission> {
        if !table.take(ip, MAX_UNAUTH_STREAMS_PER_ADDR) {
            return None;
        }
        Some(StreamAdmission {
            table: table.clone(),
            ip,
            authenticated: AtomicBool::new(false),
            handled: AtomicU64::new(0),
            notify: tokio::sync::Notify::new(),
        })
    }

    fn release(&self) {
        self.table.give_back(self.ip);
    }

    /// The event loop handled one of the stream's frames; `authenticated`: it proved its
    /// sender.
    pub(super) fn handled(&self, authenticated: bool) {
        if authenticated && !self.authenticated.swap(true, Ordering::SeqCst) {
            self.release();
        }
        self.handled.fetch_add(1, Ordering::SeqCst);
        self.notify.notify_waiters();
    }

    /// The largest frame the stream may send next: [`framing::PRE_AUTH_FRAME`] until one of its
    /// frames authenticated. A longer length waits until the event loop has handled the
    /// `sent` frames before it (at most 10 s), since one of them may authenticate the stream.
    pub(super) async fn frame_limit(&self, len: usize, sent: u64) -> usize {
        let limit = |a: &Self| {
            if a.authenticated.load(Ordering::SeqCst) {
                MAX_STREAM_PACKET
            } else {
                framing::PRE_AUTH_FRAME
            }
        };
        if len <= framing::PRE_AUTH_FRAME || self.authenticated.load(Ordering::SeqCst) {
            return limit(self);
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let n = self.notify.notified();
            tokio::pin!(n);
            n.as_mut().enable();
            if self.handled.load(Ordering::SeqCst) >= sent {
                return limit(self);
            }
            if tokio::time::timeout_at(deadline, n).await.is_err() {
                return limit(self);
            }
        }
    }
}

impl Drop for StreamAdmission {
    fn drop(&mut self) {
        if !self.authenticated.load(Ordering::SeqCst) {
            self.release();
        }
    }
}

/// One client stream's place among its address's client streams ([`MAX_CLIENT_STREAMS_PER_ADDR`]),
/// given back when the stream closes.
pub(super) struct ClientPlace {
    table: Arc<UnauthStreams>,
    ip: IpAddr,
}

impl ClientPlace {
    pub(super) fn take(table: &Arc<UnauthStreams>, ip: IpAddr) -> Option<ClientPlace> {
        if !table.take(ip, MAX_CLIENT_STREAMS_PER_ADDR) {
            return None;
        }
        Some(ClientPlace {
            table: table.clone(),
            ip,
        })
    }
}

impl Drop for ClientPlace {
    fn drop(&mut self) {
        self.table.give_back(self.ip);
    }
}
