//! One pump of a session's push part: the download's events forwarded to the links, block
//! requests to parents, the end of the download (commit, relay, or orphaned), and block
//! reads for children. It only queues link frames and driver requests; what the node must do
//! besides (audits, a new first parent, adoption, failure) comes back as a [`PumpStep`],
//! which [`Node::push_pump`](crate::node::Node) carries out after, in its field order.

use std::collections::VecDeque;

use super::cond;
use super::send_on;
use super::state::{Land, PushState, MAX_SENDING, ORPHAN_GRACE_MS};
use crate::agg::Local;
use crate::node::session::Session;
use crate::node::Output;
use crate::push::manifest::block_offset;
use crate::push::msg::PushMsg;
use crate::push::Event;
use crate::wire::session::SessionHash;

/// What one pump asks of the node.
#[derive(Default)]
pub(in crate::node) struct PumpStep {
    /// Parents dropped: (name, reason code, reason text), each a `push.deny` audit record.
    pub audits: Vec<(String, &'static str, String)>,
    /// The extra parent that becomes the first parent (results go to it).
    pub new_primary: Option<String>,
    /// Orphaned just now: ask the children to adopt us.
    pub ask_adoption: bool,
    /// A relay-only node's download is complete: its local result.
    pub relay_done: Option<Local>,
    /// Orphaned too long: the local part fails with (code, text).
    pub fail: Option<(String, String)>,
}

/// Where frames and driver requests of one pump go.
struct Wire<'a> {
    out: &'a mut VecDeque<Output>,
    me: &'a str,
    hash: SessionHash,
    now_ms: u64,
}

impl Wire<'_> {
    fn send(&mut self, l: &mut super::state::PLink, m: &PushMsg) {
        send_on(self.out, self.me, self.hash, l, m, self.now_ms, None);
    }
}

impl Session {
    /// Pumps the session's push part (`None`: it has none).
    pub(in crate::node) fn pump_push(
        &mut self,
        now_ms: u64,
        hash: SessionHash,
        me: &str,
        out: &mut VecDeque<Output>,
    ) -> Option<PumpStep> {
        let mut step = PumpStep::default();
        let result_parent = self.parent.name.clone();
        // A parent that linked to an orphan takes over its result once recorded.
        if let Some(name) = self.push.as_ref().and_then(|p| p.pending_primary.clone()) {
            if self.extra_parents.iter().any(|x| x.name == name) {
                step.new_primary = Some(name);
                if let Some(p) = self.push.as_mut() {
                    p.pending_primary = None;
                }
            }
        }
        let targeted = self.targeted;
        let p = self.push.as_mut()?;
        let mut w = Wire {
            out,
            me,
            hash,
            now_ms,
        };
        if matches!(p.land, Land::Ready | Land::Committing | Land::Done) {
            p.forward_events(&mut w, &result_parent, &mut step);
        }
        if p.land == Land::Ready {
            p.request_blocks(&mut w);
            p.check_download(&mut w, targeted, &mut step);
        }
        p.queue_reads(&mut w);
        Some(step)
    }
}

impl PushState {
    /// The download's events, told to the links they concern.
    fn forward_events(&mut self, w: &mut Wire<'_>, result_parent: &str, step: &mut PumpStep) {
        while let Some(ev) = self.dl.poll_event() {
            match ev {
                Event::Have(i) => {
                    for l in &mut self.children {
                        w.send(l, &PushMsg::Have(i));
                    }
                }
                Event::Cancel { parent, index } => {
                    if let Some(l) = self.parents.get_mut(parent as usize) {
                        w.send(l, &PushMsg::Cancel(index));
                    }
                }
                Event::PrimaryChanged(parent) => {
                    self.primary_changed(w, parent, result_parent, step);
                }
                Event::Preferred(parent) => {
                    if let Some(l) = self.parents.get_mut(parent as usize) {
                        w.send(l, &PushMsg::Prefer);
                    }
                }
                Event::ParentDropped { parent, reason } => {
                    if let Some(l) = self.parents.get_mut(parent as usize) {
                        if l.alive && l.name == result_parent {
                            l.data = false;
                        } else {
                            // It must not hold its result waiting for us.
                            w.send(l, &PushMsg::Finished);
                            l.alive = false;
                        }
                        step.audits
                            .push((l.name.clone(), reason.code(), reason.to_string()));
                    }
                }
            }
        }
    }

    /// The download now takes blocks from parent link `parent` first. A result parent that
    /// was dropped for misbehaviour, or that failed, stays the result parent (it waits for
    /// our result): the next parent is only asked to serve us first (`Prefer`); else it
    /// becomes the first parent (`Primary`, and `step.new_primary`).
    fn primary_changed(
        &mut self,
        w: &mut Wire<'_>,
        parent: u32,
        result_parent: &str,
        step: &mut PumpStep,
    ) {
        let kept = self.result_parent_kept(result_parent);
        if let Some(l) = self.parents.get_mut(parent as usize) {
            let m = if kept {
                PushMsg::Prefer
            } else {
                step.new_primary = Some(l.name.clone());
                PushMsg::Primary
            };
            w.send(l, &m);
        }
    }

    /// Whether the result parent is still linked for keepalives only (dropped for
    /// misbehaviour, or failed): it waits for our result, so it stays the result parent.
    pub(super) fn result_parent_kept(&self, result_parent: &str) -> bool {
        self.parents
            .iter()
            .any(|l| l.alive && !l.data && l.name == result_parent)
    }

    /// Block requests the download wants sent to its parents.
    fn request_blocks(&mut self, w: &mut Wire<'_>) {
        for (parent, index) in self.dl.poll_requests(w.now_ms) {
            if let Some(l) = self.parents.get_mut(parent as usize) {
                w.send(l, &PushMsg::Request(index));
            }
        }
    }

    /// A complete download commits (or, on a relay-only node, is done); a failed one waits
    /// [`ORPHAN_GRACE_MS`] for another parent to link, asking for adoption at once.
    fn check_download(&mut self, w: &mut Wire<'_>, targeted: bool, step: &mut PumpStep) {
        if self.dl.complete() {
            match cond::finish(targeted, &self.cond) {
                cond::Finish::Commit => {
                    self.land = Land::Committing;
                    w.out.push_back(Output::PushCommit {
                        session: w.hash,
                        mode: self.manifest.mode,
                        allow_setid: self.allow_setid,
                    });
                }
                cond::Finish::Wait => {}
                // A relay-only node keeps the temporary file to serve, never lands it.
                cond::Finish::Relay(local) => {
                    self.land = Land::Done;
                    step.relay_done = Some(local);
                }
            }
        } else if let Some(f) = self.dl.failed() {
            // Extra parents may still link (their offers come a little later, and a parent
            // dropped at its first block may have been the only one yet).
            if self.orphan_since.is_none() {
                step.ask_adoption = true;
            }
            let since = *self.orphan_since.get_or_insert(w.now_ms);
            if w.now_ms >= since + ORPHAN_GRACE_MS {
                step.fail = Some((f.code().to_string(), f.to_string()));
            }
        } else {
            self.orphan_since = None;
        }
    }

    /// Block reads for children's requests, at most [`MAX_SENDING`] outstanding.
    fn queue_reads(&mut self, w: &mut Wire<'_>) {
        while self.sending < MAX_SENDING {
            let Some((child, index)) = self.serve.next_request_at(w.now_ms) else {
                break;
            };
            if !self.children.get(child as usize).is_some_and(|l| l.alive) {
                self.serve.not_sent(child);
            } else {
                self.sending += 1;
                w.out.push_back(Output::PushRead {
                    session: w.hash,
                    child,
                    index,
                    offset: block_offset(self.manifest.block_size, index),
                    len: self.dl.block_len(index),
                });
            }
        }
    }
}
