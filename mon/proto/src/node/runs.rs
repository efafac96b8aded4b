//! The operations this node has handed to its driver to run ([`Output::Run`]) and not heard
//! back from: what a new Command of an interactive session cancels, what a late answer of a
//! cancelled run is checked against, and what bounds the runs of exec and grep in flight on
//! this node across all sessions ([`NodeConfig::max_runs`]).

use std::collections::HashMap;

#[cfg(doc)]
use crate::node::{NodeConfig, Output};
use crate::wire::session::SessionHash;

/// Stable code of an exec or grep this node refuses because
/// [`NodeConfig::max_runs`] of them already run here (its partial says this node denied it,
/// `op.deny` is audited, `runs_refused` counts it).
pub const RUNS_BUSY: &str = "node-runs-busy";

/// Runs in flight on this node, by session and run index; `true`: an exec or grep (the
/// kind [`NodeConfig::max_runs`] bounds).
#[derive(Debug, Default)]
pub(in crate::node) struct RunTable {
    runs: HashMap<(SessionHash, usize), bool>,
    heavy: usize,
}

impl RunTable {
    /// Execs and greps in flight.
    pub fn heavy(&self) -> usize {
        self.heavy
    }

    /// Run `index` of `session` went to the driver.
    pub fn start(&mut self, session: SessionHash, index: usize, heavy: bool) {
        if self.runs.insert((session, index), heavy) == Some(true) {
            self.heavy -= 1;
        }
        self.heavy += usize::from(heavy);
    }

    /// Run `index` of `session` answered or was cancelled: whether it was in flight (a
    /// cancelled run's late answer was not).
    pub fn end(&mut self, session: SessionHash, index: usize) -> bool {
        match self.runs.remove(&(session, index)) {
            Some(heavy) => {
                self.heavy -= usize::from(heavy);
                true
            }
            None => false,
        }
    }

    /// The run indices of `session` in flight.
    pub fn of_session(&self, session: &SessionHash) -> Vec<usize> {
        let mut v: Vec<usize> = self
            .runs
            .keys()
            .filter(|(h, _)| h == session)
            .map(|(_, i)| *i)
            .collect();
        v.sort_unstable();
        v
    }
}
