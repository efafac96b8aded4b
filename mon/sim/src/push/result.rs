//! The outcome of a simulated push ([`SimResult`]): when each node finished or why it did
//! not, the makespan against the Kumar–Ross bound, and the downloads' counters summed over
//! every node.

use super::{kumar_ross_bound, Sim, SimNode, SimResult};

/// Who finished: the makespan (ms), the number of receivers done, and the failed ones with
/// why.
struct Finished {
    makespan: f64,
    done: usize,
    failed: Vec<(u32, &'static str)>,
}

/// The downloads' counters summed over every node.
#[derive(Default)]
struct Totals {
    corrupt: u32,
    duplicates: u32,
    hedges: u32,
    timeouts: u32,
    dropped_parents: u32,
    rebalanced: u32,
}

impl Sim<'_> {
    /// The result of the push once the simulation stopped; `nodes` as given to it.
    pub(super) fn result(&self, nodes: &[SimNode]) -> SimResult {
        let file = self.cfg.file_size as f64;
        let Finished {
            makespan,
            done,
            failed,
        } = self.finished();
        let uploads: Vec<f64> = nodes.iter().skip(1).map(|n| n.upload).collect();
        let source_upload = nodes.first().map_or(1.0, |n| n.upload);
        let d_min = nodes
            .iter()
            .skip(1)
            .map(|n| n.download)
            .fold(f64::INFINITY, f64::min);
        let bound = kumar_ross_bound(file, source_upload, &uploads, d_min);
        let totals = self.totals();
        SimResult {
            finish_ms: self.nodes.iter().map(|s| s.finish).collect(),
            failed,
            makespan_ms: makespan,
            bound_ms: bound,
            ratio: if bound > 0.0 { makespan / bound } else { 0.0 },
            aggregate_rate: if makespan > 0.0 {
                done as f64 * file / makespan
            } else {
                0.0
            },
            uploaded: self.nodes.iter().map(|s| s.uploaded).collect(),
            corrupt_rejected: totals.corrupt,
            duplicates: totals.duplicates,
            hedges: totals.hedges,
            timeouts: totals.timeouts,
            dropped_parents: totals.dropped_parents,
            rebalanced: totals.rebalanced,
        }
    }

    /// The receivers' outcomes: finished (the last one sets the makespan), or failed because
    /// they lost all their parents, died, or stalled.
    fn finished(&self) -> Finished {
        let mut f = Finished {
            makespan: 0.0,
            done: 0,
            failed: Vec::new(),
        };
        for (i, s) in self.nodes.iter().enumerate().skip(1) {
            match s.finish {
                Some(t) => {
                    f.makespan = f.makespan.max(t);
                    f.done += 1;
                }
                None if s.dl.failed().is_some() => f.failed.push((i as u32, "lost-all-parents")),
                None if !s.alive => f.failed.push((i as u32, "dead")),
                None => f.failed.push((i as u32, "stalled")),
            }
        }
        f
    }

    /// The downloads' counters summed over every node.
    fn totals(&self) -> Totals {
        let mut t = Totals::default();
        for s in &self.nodes {
            let st = s.dl.stats();
            t.corrupt += st.corrupt;
            t.duplicates += st.duplicates;
            t.hedges += st.hedges;
            t.timeouts += st.timeouts;
            t.dropped_parents += st.dropped_parents;
            t.rebalanced += st.rebalanced;
        }
        t
    }
}
