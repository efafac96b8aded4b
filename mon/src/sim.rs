//! `mon sim`: the deterministic simulator ([`mon_sim::cluster`]) from the command line, with
//! output in the shape of the paper's Table 1, one JSON object per configuration, and the
//! count-time CDF as CSV.

use std::io::Write as _;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context as _;
use mon_proto::wire::session::OverlayKind;
use mon_sim::cluster::{self as sim, Column, Latency, SimConfig, SimReport};

use crate::client::OverlayArg;
use crate::out::{err, errln};

/// Arguments of `mon sim`.
#[derive(Debug, Clone, clap::Args)]
pub struct SimArgs {
    /// Number of servers.
    #[arg(long, default_value_t = 330)]
    pub nodes: usize,
    /// Overlay algorithm(s), comma-separated; sessions alternate between the configurations.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "random")]
    pub overlay: Vec<OverlayArg>,
    /// Children per node, comma-separated for several columns; `auto` is the servers'
    /// adaptive default, from their estimate of the system's size [default: auto].
    #[arg(long, value_delimiter = ',', value_parser = parse_fanout, value_name = "K|auto")]
    pub fanout: Vec<Option<u16>>,
    /// Fraction of nodes that die just before the first session.
    #[arg(long, default_value_t = 0.0)]
    pub dead: f64,
    /// Fraction of slow nodes (median 50 ms per packet instead of 0.3 ms).
    #[arg(long, default_value_t = 0.0)]
    pub stragglers: f64,
    /// Sessions per configuration.
    #[arg(long, default_value_t = 100)]
    pub sessions: usize,
    /// Seed: the same seed gives the same output.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Virtual seconds of membership gossip before the first session.
    #[arg(long, default_value_t = 90)]
    pub settle: u64,
    /// The client's timeout, seconds.
    #[arg(long, default_value_t = 10.0)]
    pub timeout: f64,
    /// Packet loss rate between nodes.
    #[arg(long, default_value_t = 0.0)]
    pub loss: f64,
    /// Latency model: PlanetLab-like sites, or one LAN (to compare with `mon testbed`).
    #[arg(long, value_enum, default_value_t = LatencyArg::Planetlab)]
    pub latency: LatencyArg,
    /// Print one JSON object per configuration (one per line).
    #[arg(long)]
    pub json: bool,
    /// With --json, include every session.
    #[arg(long)]
    pub per_session: bool,
    /// Write the count-time CDF here (CSV: overlay,fanout,count_ms,cdf).
    #[arg(long, value_name = "FILE.csv")]
    pub cdf: Option<PathBuf>,
    /// No progress on stderr.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Latency models.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LatencyArg {
    /// Sites on a PlanetLab-like map: RTT median ~140 ms, a few hundred ms at the far end.
    Planetlab,
    /// One LAN or loopback: tens of µs.
    Lan,
}

/// `auto` or a fanout of 1 to 1024.
fn parse_fanout(s: &str) -> Result<Option<u16>, String> {
    if s == "auto" {
        return Ok(None);
    }
    match s.parse::<u16>() {
        Ok(k) if (1..=1024).contains(&k) => Ok(Some(k)),
        _ => Err(format!("{s:?}: expected `auto` or a fanout from 1 to 1024")),
    }
}

fn kind(o: OverlayArg) -> OverlayKind {
    match o {
        OverlayArg::Random => OverlayKind::Random,
        OverlayArg::Twostage => OverlayKind::Twostage,
        OverlayArg::Dag => OverlayKind::Dag,
    }
}

/// The configurations: every overlay with every fanout (or the adaptive default).
fn columns(a: &SimArgs) -> Vec<Column> {
    let fanouts: Vec<Option<u16>> = if a.fanout.is_empty() {
        vec![None]
    } else {
        a.fanout.clone()
    };
    a.overlay
        .iter()
        .flat_map(|o| {
            fanouts.iter().map(move |f| Column {
                kind: kind(*o),
                fanout: *f,
            })
        })
        .collect()
}

/// A column label as in the paper: `rand5`, `twostage5`, `dag8`, `rand-auto`.
fn label(r: &SimReport) -> String {
    let short = match r.overlay.as_str() {
        "random" => "rand",
        other => other,
    };
    if r.fanout_mode == "adaptive" {
        format!("{short}-auto")
    } else {
        format!("{short}{}", r.fanout)
    }
}

/// The rows of Table 1 below the labels: name, and the cell of a column.
type Row = (&'static str, fn(&SimReport) -> String);

/// Table 1's rows, top to bottom.
const ROWS: &[Row] = &[
    ("sessions", |r| r.sessions.to_string()),
    ("coverage (nodes, mean)", |r| {
        format!("{:.2}", r.coverage_nodes_mean)
    }),
    ("coverage (% live, mean)", |r| {
        format!("{:.2}%", 100.0 * r.coverage_mean)
    }),
    ("coverage (% live, min)", |r| {
        format!("{:.2}%", 100.0 * r.coverage_min)
    }),
    ("sessions reaching all", |r| {
        format!("{:.0}%", 100.0 * r.full_coverage_fraction)
    }),
    ("create time (ms, mean)", |r| {
        format!("{:.1}", r.create_ms_mean)
    }),
    ("  p50 / p95", |r| {
        format!("{:.0}/{:.0}", r.create_ms_p50, r.create_ms_p95)
    }),
    ("count time (ms, mean)", |r| {
        format!("{:.1}", r.count_ms_mean)
    }),
    ("  p50", |r| format!("{:.1}", r.count_ms_p50)),
    ("  p95", |r| format!("{:.1}", r.count_ms_p95)),
    ("  p99 / max", |r| {
        format!("{:.0}/{:.0}", r.count_ms_p99, r.count_ms_max)
    }),
    ("entry SessionOk (ms)", |r| {
        format!("{:.1}", r.entry_ms_mean)
    }),
    ("depth (mean / max)", |r| {
        format!("{:.1}/{}", r.depth_mean, r.depth_max)
    }),
    ("packets per node", |r| format!("{:.1}", r.packets_per_node)),
    ("sessions without result", |r| r.failed_sessions.to_string()),
    ("avg = ground truth", |r| {
        if r.avg_ok { "yes" } else { "NO" }.to_string()
    }),
];

/// Table 1's two header lines (the run's facts), and an empty line.
fn render_header(first: &SimReport) -> String {
    format!(
        "MON simulator: {} nodes ({} live, {} dead, {} stragglers), seed {}, {} crypto\n\
         latency model {}: RTT p50 {} ms, p90 {} ms, p99 {} ms, max {} ms; loss {}; membership {} s; servers' size estimate {}..{} (median {}), adaptive fanout {}..{} (median {})\n\n",
        first.nodes, first.live, first.dead, first.stragglers, first.seed, first.crypto,
        first.latency, first.rtt_ms.p50, first.rtt_ms.p90, first.rtt_ms.p99, first.rtt_ms.max, first.loss,
        first.settle_s, first.size_estimate.min, first.size_estimate.max, first.size_estimate.p50,
        first.adaptive_fanout.min, first.adaptive_fanout.max, first.adaptive_fanout.p50
    )
}

/// Table 1, one column per configuration.
pub fn render_table(reports: &[SimReport]) -> String {
    let Some(first) = reports.first() else {
        return String::new();
    };
    let mut s = render_header(first);
    // Every column at least one space wider than its widest label ("twostage-auto" is 13).
    let w = reports
        .iter()
        .map(|r| label(r).chars().count() + 2)
        .max()
        .unwrap_or(12)
        .max(12);
    let mut row = |name: &str, f: &dyn Fn(&SimReport) -> String| {
        s.push_str(&format!("{name:<26}"));
        for r in reports {
            s.push_str(&format!("{:>w$}", f(r)));
        }
        s.push('\n');
    };
    row("", &label);
    for (name, f) in ROWS {
        row(name, f);
    }
    s
}

/// The count-time CDF of every configuration as CSV.
pub fn render_cdf(reports: &[SimReport]) -> String {
    let mut s = String::from("overlay,fanout,count_ms,cdf\n");
    for r in reports {
        let name = label(r);
        for (ms, f) in sim::count_cdf(&r.per_session) {
            s.push_str(&format!("{name},{},{ms:.3},{f:.4}\n", r.fanout));
        }
    }
    s
}

/// The simulation `a` asks for.
fn sim_config(a: &SimArgs) -> SimConfig {
    SimConfig {
        nodes: a.nodes,
        columns: columns(a),
        dead: a.dead,
        stragglers: a.stragglers,
        sessions: a.sessions,
        seed: a.seed,
        settle_ms: a.settle.saturating_mul(1000),
        timeout_ms: (a.timeout * 1000.0) as u32,
        loss: a.loss,
        latency: match a.latency {
            LatencyArg::Planetlab => Latency::Planetlab,
            LatencyArg::Lan => Latency::Lan,
        },
        ..SimConfig::default()
    }
}

/// Runs the simulation with a progress line on stderr (unless `quiet`; rewritten in place
/// only on a terminal, no escape otherwise).
fn run_with_progress(cfg: &SimConfig, quiet: bool) -> anyhow::Result<Vec<SimReport>> {
    let t = Instant::now();
    let live = crate::out::stderr_is_terminal();
    let mut progress = |msg: &str| {
        if !quiet && live {
            err!("\r\x1b[Ksim: {msg} ({:.0} s)", t.elapsed().as_secs_f64());
        }
    };
    let reports = sim::run(cfg, &mut progress)?;
    if !quiet {
        let clear = if live { "\r\x1b[K" } else { "" };
        errln!(
            "{clear}sim: done in {:.1} s wall clock",
            t.elapsed().as_secs_f64()
        );
    }
    Ok(reports)
}

/// Prints the reports: one JSON object per line (with every session if `per_session`), or
/// Table 1.
fn print_reports(a: &SimArgs, mut reports: Vec<SimReport>) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    if a.json {
        for r in &mut reports {
            if !a.per_session {
                r.per_session.clear();
            }
            writeln!(out, "{}", serde_json::to_string(r)?)?;
        }
    } else {
        write!(out, "{}", render_table(&reports))?;
    }
    Ok(())
}

/// Runs `mon sim`.
pub fn run(a: SimArgs) -> anyhow::Result<u8> {
    if !(0.1..=3600.0).contains(&a.timeout) {
        anyhow::bail!("--timeout must be between 0.1 and 3600 seconds");
    }
    let reports = run_with_progress(&sim_config(&a), a.quiet)?;
    if let Some(path) = &a.cdf {
        std::fs::write(path, render_cdf(&reports))
            .with_context(|| format!("writing {}", path.display()))?;
    }
    print_reports(&a, reports)?;
    Ok(crate::exit::OK)
}
