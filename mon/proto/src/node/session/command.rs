//! Follow-up Commands of an interactive session (`mon shell`): a session whose signed body
//! says `interactive` keeps its overlay (parent and children links, their keys) after its
//! result went up, and runs each Command its first parent seals to it:
//!
//! 1. screen: for this session, signed by its `cmd_key`, `seq` above the last one accepted
//!    here (the replay window: a replayed, reordered or duplicated Command runs nothing; the
//!    exact last one again gets its result again, for a lost result, a few times at most);
//! 2. the policy's decision, as for a first command ([`crate::verify::verify_command`]): the
//!    session's class and principal must cover the command's operations, or every operation
//!    is denied on this node, audited (`op.deny`) and reported in the result;
//! 3. stop the previous command's runs still in flight here (`runs.rs`); forward to every
//!    linked child; run this node's part (none for a cancel, a Command with no operations);
//! 4. aggregate as the first command did (`aggregate.rs`): a child whose subtree does not
//!    answer by the deadline is reported missing in this command's result.
//!
//! The session ends on every node at its signed lifetime, or once no command came for
//! [`SESSION_IDLE_MS`].

use mon_keys::hop::CLIENT_NAME;

use super::{sealed, ChildState, Ctx, Session};
use crate::agg::Query;
use crate::node::{Node, Output, Peer};
use crate::timing::{DUPLICATE_RESENDS, SESSION_IDLE_MS};
use crate::verify::{verify_command, CommandGrant, Context};
use crate::wire::command::{Command, CommandError};
use crate::wire::packet::Inner;
use crate::wire::session::{SessionHash, MAX_OPS};

/// Highest `seq` a Command may carry: `u32::MAX`, or less where a run index (a `usize`,
/// `seq × MAX_OPS + operation`) would not hold it (on a 32-bit target), so that a run index
/// never overflows and never reaches the push condition's index (`usize::MAX`).
pub const MAX_COMMAND_SEQ: u64 = max_command_seq(usize::MAX as u64);

/// [`MAX_COMMAND_SEQ`] on a target whose `usize::MAX` is `usize_max`.
const fn max_command_seq(usize_max: u64) -> u64 {
    // The last command's last index stays below `usize_max` (the push condition's).
    let fits = usize_max / MAX_OPS as u64 - 1;
    if fits < u32::MAX as u64 {
        fits
    } else {
        u32::MAX as u64
    }
}

/// Why a Command that came after its session's lifetime or idle end runs nothing.
pub const SESSION_ENDED: &str = "command-session-ended";

/// The run index the driver echoes back for operation `i` of command `seq` (0: the session's
/// own operations, whose indices stay `0..ops`).
pub(in crate::node) fn run_index(seq: u64, i: usize) -> usize {
    // `seq` ≤ MAX_COMMAND_SEQ (screened) and `i` < MAX_OPS: no overflow on any target;
    // saturating all the same (never a panic, never a wrap onto another run's index).
    usize::try_from(seq)
        .unwrap_or(usize::MAX)
        .saturating_mul(MAX_OPS)
        .saturating_add(i)
}

/// The command and operation a run index names.
pub(in crate::node) fn split_run_index(index: usize) -> (u64, usize) {
    ((index / MAX_OPS) as u64, index % MAX_OPS)
}

/// An interactive session's command state on one node.
pub(in crate::node) struct Interactive {
    /// The last accepted Command's `seq` (0 before any).
    pub seq: u64,
    /// The last accepted Command: a duplicate of it gets the result again; it is resent to
    /// children that have not answered.
    pub last: Option<Box<Command>>,
    /// Time this node gives a command (what it had for the session's own operations), ms.
    pub budget_ms: u64,
    /// The signed lifetime ends here (unix ms, counted from the signed `issued_at`, or from
    /// when this node joined if that is earlier: a client clock ahead within the allowed skew
    /// buys no extra time).
    pub ends_at: u64,
    /// When the last Command went to the children, and how many times again.
    pub sent_at: u64,
    pub tries: u32,
    /// When a duplicate of the last Command last got its result again, and how many times
    /// it did (at most [`DUPLICATE_RESENDS`], one RTO apart).
    pub dup_sent_at: Option<u64>,
    pub dup_resends: u32,
}

impl Interactive {
    /// The state of a session signed at `issued_at`, joined at `now_ms`, with `budget_ms` per
    /// command and a signed lifetime of `lifetime_s` (admission already held `issued_at`
    /// within the node's clock skew).
    pub fn new(now_ms: u64, issued_at: u64, budget_ms: u64, lifetime_s: u32) -> Interactive {
        Interactive {
            seq: 0,
            last: None,
            budget_ms,
            ends_at: issued_at
                .min(now_ms)
                .saturating_add(u64::from(lifetime_s) * 1000),
            sent_at: now_ms,
            tries: 0,
            dup_sent_at: None,
            dup_resends: 0,
        }
    }

    /// Whether a duplicate of the last Command at `now_ms` gets its result again: at most
    /// [`DUPLICATE_RESENDS`] times per Command, one `rto_ms` apart (a lost result costs the
    /// client one resend; a replayed frame cannot make the node send more).
    pub fn may_resend_result(&mut self, now_ms: u64, rto_ms: u64) -> bool {
        let due = self
            .dup_sent_at
            .is_none_or(|t| now_ms >= t.saturating_add(rto_ms));
        if !due || self.dup_resends >= DUPLICATE_RESENDS {
            return false;
        }
        self.dup_sent_at = Some(now_ms);
        self.dup_resends += 1;
        true
    }

    /// When the session is forgotten if nothing comes after `t`: idle timeout or lifetime.
    pub fn forget_after(&self, t: u64) -> u64 {
        t.saturating_add(SESSION_IDLE_MS).min(self.ends_at)
    }
}

/// What screening a Command found.
pub(in crate::node) enum Screen {
    /// New: its operations, to be decided and run.
    Fresh(Vec<Query>),
    /// The last accepted Command again: nothing runs; its result is sent again.
    Duplicate,
    /// Refused (not this session's, the session over, bad signature, replayed or reordered
    /// below the window, malformed): nothing runs.
    Refused(&'static str),
}

impl Session {
    /// The `seq` of the command this session is on (0: its own operations).
    pub(in crate::node) fn cmd_seq(&self) -> u64 {
        self.cmd.as_ref().map_or(0, |c| c.seq)
    }

    /// Step 1: whether `cmd`, arriving at `now_ms`, is this session's next command.
    pub(in crate::node) fn screen_command(
        &self,
        now_ms: u64,
        hash: &SessionHash,
        cmd: &Command,
    ) -> Screen {
        let Some(st) = self.cmd.as_ref() else {
            return Screen::Refused(crate::wire::command::COMMAND_UNSUPPORTED);
        };
        // The session's end holds at the Command itself, not only when the timer sweeps the
        // session away (a driver may hand over a datagram before the due timer).
        if now_ms >= st.ends_at || self.forget_at.is_some_and(|f| now_ms >= f) {
            return Screen::Refused(SESSION_ENDED);
        }
        if *cmd.session_hash != *hash {
            return Screen::Refused("command-session-mismatch");
        }
        if cmd.seq > MAX_COMMAND_SEQ {
            return Screen::Refused("command-seq-range");
        }
        if st.seq > 0 && cmd.seq == st.seq && st.last.as_deref() == Some(cmd) {
            return Screen::Duplicate;
        }
        let verify = |k: &[u8; 32], m: &[u8], s: &[u8; 64]| {
            mon_keys::nodekey::verify_node_sig(k, m, s).is_ok()
        };
        match cmd.open(&self.body.cmd_key, st.seq, verify) {
            Ok(ops) => Screen::Fresh(ops),
            Err(e @ (CommandError::BadSignature | CommandError::Replayed { .. })) => {
                Screen::Refused(e.code())
            }
            Err(CommandError::Decode(d)) => Screen::Refused(d.code()),
        }
    }

    /// Steps 2–3: `cmd` (screened: `ops`) becomes the command this session is on; this
    /// node's part starts (or, refused by the policy, is denied and audited) and the command
    /// goes to every linked child.
    pub(in crate::node) fn begin_command(
        &mut self,
        now_ms: u64,
        hash: SessionHash,
        cmd: Command,
        ops: Vec<Query>,
        decision: Result<CommandGrant, (String, String)>,
        cx: &mut Ctx<'_>,
    ) {
        if self.cmd.is_none() {
            return;
        }
        // The previous command's runs still in flight stop (as Ctrl-C and a new command
        // would at a local shell): one session never runs two commands at once here.
        let why = format!("command {} of the session began", cmd.seq);
        self.cancel_runs(now_ms, hash, &why, cx);
        let Some(st) = self.cmd.as_mut() else {
            return;
        };
        st.seq = cmd.seq;
        st.sent_at = now_ms;
        st.tries = 0;
        st.dup_sent_at = None;
        st.dup_resends = 0;
        self.finish_by = now_ms.saturating_add(st.budget_ms).min(st.ends_at);
        self.forget_at = Some(st.forget_after(self.finish_by));
        st.last = Some(Box::new(cmd));
        // A Command proves the first parent's go (only it can seal on that link).
        self.parent.go = true;
        self.local_started = true;
        self.local = vec![None; ops.len()];
        self.ops = ops;
        self.result_packet = None;
        self.result_tries = 0;
        self.result_acked = false;
        match decision {
            Ok(grant) => {
                self.run_as = grant.run_as;
                self.grep_paths = grant.grep_paths;
                self.start_ops(now_ms, hash, cx);
            }
            Err((code, text)) => self.deny_command(&code, &text, cx),
        }
        self.send_command(hash, cx, false);
    }

    /// A Command the policy refuses on this node: one `op.deny` record per operation, and
    /// every operation's partial says this node denied it.
    fn deny_command(&mut self, code: &str, text: &str, cx: &mut Ctx<'_>) {
        for i in 0..self.ops.len() {
            let p = self.denied_op(&self.ops[i], code, text, cx);
            self.local[i] = Some(p);
        }
    }

    /// Seals the last Command to every linked child that has not answered it (`again`: a
    /// retransmission, else to every linked child, whose last result is cleared).
    pub(in crate::node) fn send_command(
        &mut self,
        hash: SessionHash,
        cx: &mut Ctx<'_>,
        again: bool,
    ) {
        let Some(cmd) = self.cmd.as_ref().and_then(|c| c.last.clone()) else {
            return;
        };
        let inner = Inner::Command(*cmd);
        for c in &mut self.children {
            let ChildState::Linked { sealer, result, .. } = &mut c.state else {
                continue;
            };
            if again && result.is_some() {
                continue;
            }
            *result = None;
            if let Some(p) = sealed(hash, &cx.cfg.name, sealer, &inner) {
                cx.out.push_back(Output::Send {
                    to: Peer::Addr(c.addr),
                    bytes: p.to_bytes(),
                });
            }
        }
    }

    /// When the last Command goes again to children that have not answered it, if it does.
    pub(in crate::node) fn command_resend_due(&self) -> Option<u64> {
        let st = self.cmd.as_ref()?;
        if st.seq == 0 || self.result_packet.is_some() {
            return None;
        }
        let waiting = self
            .children
            .iter()
            .filter(|c| matches!(c.state, ChildState::Linked { result: None, .. }))
            .map(|c| c.rto_ms)
            .max()?;
        Some(st.sent_at + waiting.max(self.rto_ms))
    }

    /// The command resend at `now_ms`, at most `retries` times.
    pub(in crate::node) fn resend_command(
        &mut self,
        now_ms: u64,
        hash: SessionHash,
        retries: u32,
        cx: &mut Ctx<'_>,
    ) {
        if self.command_resend_due().is_none_or(|t| now_ms < t) {
            return;
        }
        let Some(st) = self.cmd.as_mut() else {
            return;
        };
        if st.tries >= retries {
            return;
        }
        st.tries += 1;
        st.sent_at = now_ms;
        self.send_command(hash, cx, true);
    }
}

impl Node {
    /// A follow-up Command from the first parent (or the client, at the entry node).
    pub(in crate::node) fn on_command(
        &mut self,
        now_ms: u64,
        from: Peer,
        hash: SessionHash,
        cmd: Command,
    ) {
        let Some(s) = self.sessions.get_mut(&hash) else {
            return;
        };
        let ops = match s.screen_command(now_ms, &hash, &cmd) {
            Screen::Fresh(ops) => ops,
            Screen::Duplicate => {
                self.counters.commands_duplicate += 1;
                let rto_ms = s.rto_ms;
                let resend = s.result_packet.is_some()
                    && s.cmd
                        .as_mut()
                        .is_some_and(|st| st.may_resend_result(now_ms, rto_ms));
                match s.result_packet.clone() {
                    Some(b) if resend => {
                        let to = s.parent.peer;
                        self.out.push_back(Output::Send { to, bytes: b });
                    }
                    _ => self.counters.commands_duplicate_dropped += 1,
                }
                return;
            }
            Screen::Refused(code) => {
                tracing::debug!(code, "follow-up Command refused");
                self.counters.commands_refused += 1;
                if code == crate::wire::command::COMMAND_UNSUPPORTED {
                    self.counters.junk += 1;
                    self.junk.note(from.ip(), now_ms);
                    self.drain_junk(now_ms);
                }
                return;
            }
        };
        self.counters.commands_accepted += 1;
        // A cancel (no operations) runs nothing: there is nothing for the policy to decide.
        let decision = if ops.is_empty() {
            Ok(CommandGrant::default())
        } else {
            self.command_decision(now_ms, from, &hash, &ops)
        };
        // Before the Command clears the last results: whom they did not reach (a cancel
        // offers nothing again: there is nothing for a late node to run).
        let cancel = ops.is_empty();
        let missed = self.missed_by_overlay(now_ms, &hash);
        let Some((s, mut cx)) = self.session_cx(&hash) else {
            return;
        };
        s.begin_command(now_ms, hash, cmd, ops, decision, &mut cx);
        if !cancel {
            self.reoffer(now_ms, hash, missed);
        }
        self.try_finish(now_ms, hash);
    }

    /// Step 2: the policy's decision on `ops` for session `hash` on this node.
    fn command_decision(
        &self,
        now_ms: u64,
        from: Peer,
        hash: &SessionHash,
        ops: &[Query],
    ) -> Result<CommandGrant, (String, String)> {
        let Some(s) = self.sessions.get(hash) else {
            return Err(("no-session".into(), "the session ended".into()));
        };
        let client_addr = match from {
            Peer::Client(_, ip) if s.parent.name == CLIENT_NAME => Some(ip),
            _ => None,
        };
        let ctx = Context {
            now_ms,
            node: &self.cfg.name,
            client_addr,
            policy: self.policies.get(&s.body.slice).map(|p| &**p),
            limits: &self.cfg.limits,
        };
        verify_command(&ctx, &s.signed, &s.body, s.principal.as_deref(), ops)
            .map_err(|(r, text)| (r.code().to_string(), text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_highest_seq_keeps_its_run_indices_below_the_push_conditions() {
        // A 64-bit target: every u32 seq.
        assert_eq!(max_command_seq(u64::MAX), u64::from(u32::MAX));
        // A 32-bit target: a u32 seq × MAX_OPS would overflow its usize; the bound keeps the
        // last command's last operation below usize::MAX (the push condition's index).
        let usize32 = u64::from(u32::MAX);
        let top = max_command_seq(usize32);
        assert!(top < u64::from(u32::MAX));
        let last = top * MAX_OPS as u64 + (MAX_OPS as u64 - 1);
        assert!(last < usize32, "{last} reaches {usize32}");
        // Here: the highest seq's indices split back to it.
        let i = run_index(MAX_COMMAND_SEQ, MAX_OPS - 1);
        assert_eq!(split_run_index(i), (MAX_COMMAND_SEQ, MAX_OPS - 1));
        assert!(i < usize::MAX);
    }
}
