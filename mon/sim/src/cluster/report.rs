//! Summaries of simulated sessions: the fields of the paper's Table 1 (coverage, session
//! creation time, count time) with percentiles, and the count-time CDF.

use serde::Serialize;

use super::session::SessionRecord;
use super::{crypto_kind, Column, SimConfig};

/// Minimum, median and maximum of a per-node quantity.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct Spread {
    /// Smallest.
    pub min: f64,
    /// Median.
    pub p50: f64,
    /// Largest.
    pub max: f64,
}

impl Spread {
    /// The spread of `v` (all zero when empty).
    pub fn of(v: &[f64]) -> Spread {
        let mut s = v.to_vec();
        s.sort_by(f64::total_cmp);
        Spread {
            min: s.first().copied().unwrap_or(0.0),
            p50: percentile(&s, 0.5),
            max: s.last().copied().unwrap_or(0.0),
        }
    }
}

/// Round-trip times of the latency model over random pairs of nodes, ms.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct RttSummary {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Largest sampled.
    pub max: f64,
}

/// The result of one overlay configuration (one column of Table 1).
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct SimReport {
    /// Nodes simulated.
    pub nodes: usize,
    /// Nodes alive during the sessions.
    pub live: usize,
    /// Nodes that died just before the first session.
    pub dead: usize,
    /// Slow nodes.
    pub stragglers: usize,
    /// `random`, `twostage` or `dag`.
    pub overlay: String,
    /// The fanout asked for, or with `fanout_mode` = `adaptive` the median of the servers'
    /// adaptive defaults at the first session.
    pub fanout: u16,
    /// `fixed` or `adaptive`.
    pub fanout_mode: String,
    /// The servers' adaptive default fanout at the first session (over live nodes).
    pub adaptive_fanout: Spread,
    /// The servers' estimates of the number of live nodes at the first session.
    pub size_estimate: Spread,
    /// Sessions run with this configuration.
    pub sessions: usize,
    /// Seed of the run.
    pub seed: u64,
    /// Mean of answered / live.
    pub coverage_mean: f64,
    /// Smallest answered / live.
    pub coverage_min: f64,
    /// Mean number of nodes counted (the paper's "coverage").
    pub coverage_nodes_mean: f64,
    /// Fraction of sessions that counted every live node.
    pub full_coverage_fraction: f64,
    /// Tree creation time (Session sent → last node joined), mean, ms.
    pub create_ms_mean: f64,
    /// Its median, ms.
    pub create_ms_p50: f64,
    /// Its 95th percentile, ms.
    pub create_ms_p95: f64,
    /// Session sent → entry node's SessionOk, mean, ms.
    pub entry_ms_mean: f64,
    /// Count time (Go → result), mean, ms.
    pub count_ms_mean: f64,
    /// Its median, ms.
    pub count_ms_p50: f64,
    /// Its 95th percentile, ms.
    pub count_ms_p95: f64,
    /// Its 99th percentile, ms.
    pub count_ms_p99: f64,
    /// Its maximum, ms.
    pub count_ms_max: f64,
    /// Mean depth.
    pub depth_mean: f64,
    /// Largest depth.
    pub depth_max: u32,
    /// Session packets (not gossip) per live node and session, mean.
    pub packets_per_node: f64,
    /// Sessions without a result.
    pub failed_sessions: usize,
    /// Every `avg` answer equalled the mean over the nodes reached.
    pub avg_ok: bool,
    /// Round-trip times of the latency model.
    pub rtt_ms: RttSummary,
    /// Packet loss rate.
    pub loss: f64,
    /// Latency model: `planetlab` or `lan`.
    pub latency: String,
    /// Virtual seconds of membership before the first session.
    pub settle_s: f64,
    /// Virtual seconds simulated in all.
    pub virtual_s: f64,
    /// `real` (Ed25519/X25519) or `sim` (the insecure stand-in of the `sim-crypto` feature).
    pub crypto: String,
    /// Every session, when asked for.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub per_session: Vec<SessionRecord>,
}

/// Nearest-rank percentile of sorted `v` (0 when empty).
pub fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn mean(v: &[f64]) -> f64 {
    if v.is_empty() {
        0.0
    } else {
        v.iter().sum::<f64>() / v.len() as f64
    }
}

/// Rounds to 3 decimals (µs for ms values), so that reports read well and compare exactly.
fn r3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// The statistics of `recs` (failed sessions count as coverage 0 and are left out of the
/// times).
pub(crate) struct Summary {
    pub coverage_mean: f64,
    pub coverage_min: f64,
    pub coverage_nodes_mean: f64,
    pub full_coverage_fraction: f64,
    pub create: (f64, f64, f64),
    pub entry_mean: f64,
    pub count: [f64; 6],
    pub depth_mean: f64,
    pub depth_max: u32,
    pub packets_per_node: f64,
    pub failed: usize,
    pub avg_ok: bool,
}

pub(crate) fn summarize(recs: &[SessionRecord], live: usize) -> Summary {
    let cov: Vec<f64> = recs.iter().map(|r| r.coverage).collect();
    let ok: Vec<&SessionRecord> = recs.iter().filter(|r| r.ok).collect();
    let create = sorted(ok.iter().map(|r| r.create_ms));
    let count = sorted(ok.iter().map(|r| r.count_ms));
    let depths: Vec<f64> = ok.iter().map(|r| f64::from(r.depth)).collect();
    let answered: Vec<f64> = recs.iter().map(|r| r.answered as f64).collect();
    Summary {
        coverage_mean: (mean(&cov) * 1e6).round() / 1e6,
        coverage_min: cov.iter().copied().fold(f64::INFINITY, f64::min).min(1.0),
        coverage_nodes_mean: r3(mean(&answered)),
        full_coverage_fraction: full_coverage_fraction(recs, live),
        create: (
            r3(mean(&create)),
            percentile(&create, 0.5),
            percentile(&create, 0.95),
        ),
        entry_mean: r3(mean(&ok.iter().map(|r| r.entry_ms).collect::<Vec<_>>())),
        count: [
            r3(mean(&count)),
            percentile(&count, 0.5),
            percentile(&count, 0.95),
            percentile(&count, 0.99),
            count.last().copied().unwrap_or(0.0),
            0.0,
        ],
        depth_mean: r3(mean(&depths)),
        depth_max: ok.iter().map(|r| r.depth).max().unwrap_or(0),
        packets_per_node: r3(
            mean(&recs.iter().map(|r| r.packets as f64).collect::<Vec<_>>()) / live.max(1) as f64,
        ),
        failed: recs.len() - ok.len(),
        avg_ok: ok.iter().all(|r| r.avg_ok),
    }
}

/// The values, sorted.
fn sorted(values: impl Iterator<Item = f64>) -> Vec<f64> {
    let mut v: Vec<f64> = values.collect();
    v.sort_by(f64::total_cmp);
    v
}

/// The fraction of sessions that counted every one of the `live` nodes.
fn full_coverage_fraction(recs: &[SessionRecord], live: usize) -> f64 {
    if recs.is_empty() {
        return 0.0;
    }
    recs.iter().filter(|r| r.answered as usize >= live).count() as f64 / recs.len() as f64
}

/// The empirical CDF of the count times of `recs` (successful sessions): `(ms, fraction ≤)`.
pub fn count_cdf(recs: &[SessionRecord]) -> Vec<(f64, f64)> {
    let mut v: Vec<f64> = recs.iter().filter(|r| r.ok).map(|r| r.count_ms).collect();
    v.sort_by(f64::total_cmp);
    let n = v.len() as f64;
    v.iter()
        .enumerate()
        .map(|(i, &x)| (x, (i + 1) as f64 / n))
        .collect()
}

/// What every column's report shares.
pub(super) struct RunFacts {
    pub(super) live: usize,
    pub(super) dead: usize,
    pub(super) stragglers: usize,
    pub(super) adaptive: Spread,
    pub(super) size_estimate: Spread,
    pub(super) rtt: RttSummary,
    pub(super) virtual_s: f64,
}

/// `fixed` for a column with a fanout of its own, `adaptive` for the servers' default.
fn fanout_mode(col: &Column) -> &'static str {
    if col.fanout.is_some() {
        "fixed"
    } else {
        "adaptive"
    }
}

/// The report of one column.
pub(super) fn column_report(
    cfg: &SimConfig,
    col: &Column,
    recs: Vec<SessionRecord>,
    facts: &RunFacts,
) -> SimReport {
    let s = summarize(&recs, facts.live);
    SimReport {
        nodes: cfg.nodes,
        live: facts.live,
        dead: facts.dead,
        stragglers: facts.stragglers,
        overlay: col.kind.as_str().to_string(),
        fanout: col.fanout.unwrap_or(facts.adaptive.p50 as u16),
        fanout_mode: fanout_mode(col).to_string(),
        adaptive_fanout: facts.adaptive.clone(),
        size_estimate: facts.size_estimate.clone(),
        sessions: recs.len(),
        seed: cfg.seed,
        coverage_mean: s.coverage_mean,
        coverage_min: s.coverage_min,
        coverage_nodes_mean: s.coverage_nodes_mean,
        full_coverage_fraction: s.full_coverage_fraction,
        create_ms_mean: s.create.0,
        create_ms_p50: s.create.1,
        create_ms_p95: s.create.2,
        entry_ms_mean: s.entry_mean,
        count_ms_mean: s.count[0],
        count_ms_p50: s.count[1],
        count_ms_p95: s.count[2],
        count_ms_p99: s.count[3],
        count_ms_max: s.count[4],
        depth_mean: s.depth_mean,
        depth_max: s.depth_max,
        packets_per_node: s.packets_per_node,
        failed_sessions: s.failed,
        avg_ok: s.avg_ok,
        rtt_ms: facts.rtt.clone(),
        loss: cfg.loss,
        latency: cfg.latency.as_str().to_string(),
        settle_s: cfg.settle_ms as f64 / 1000.0,
        virtual_s: (facts.virtual_s * 1000.0).round() / 1000.0,
        crypto: crypto_kind().to_string(),
        per_session: recs,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank() {
        let v = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(percentile(&v, 0.5), 2.0);
        assert_eq!(percentile(&v, 0.95), 4.0);
        assert_eq!(percentile(&v, 0.0), 1.0);
        assert_eq!(percentile(&[], 0.5), 0.0);
    }
}
