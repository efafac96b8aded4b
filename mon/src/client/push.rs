//! `mon push FILE DEST`: the client is the source. It signs a push session whose manifest
//! lists every block's hash, serves blocks to the entry node (its only child) on the push
//! channel, and prints the aggregated outcome: nodes done, failed with reasons, time, rate.
//! The console (`mon web`) runs the same push through [`plan`] and [`push_session`], with
//! its own [`PushProgress`].

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use mon_keys::known_nodes::KnownNodes;
use mon_proto::agg::{Query, QueryParseError, Where};
use mon_proto::client::finish::PushSummary;
use mon_proto::client::push_source::SourceEvent;
use mon_proto::client::{ClientError, ClientSession, PushSource, SessionRequest};
use mon_proto::push::build_manifest;
use mon_proto::push::ends::NodeEnd;
use mon_proto::push::geometry::{self, GeometryError, MAX_BLOCK_SIZE, MIN_BLOCK_SIZE};
use mon_proto::timing::{SessionKind, SessionTiming};
use mon_proto::wire::packet::{Packet, SubtreeResult, MAX_STREAM_PACKET};
use mon_proto::wire::session::Manifest;
use tokio::net::TcpStream;

use super::session::{connect_entry, now_ms, read_packet};
use super::GlobalOpts;
use crate::exit;
use crate::framing::{self, Opener};

/// What to push.
#[derive(Debug, Clone, clap::Args)]
pub struct PushArgs {
    /// The file to push.
    pub file: PathBuf,
    /// Absolute destination path on every node; `{node}` stands for the node's name.
    pub dest: String,
    /// Mode of the landed file, octal.
    #[arg(long, default_value = "0644")]
    pub mode: String,
    /// Block size, 4K–512K (e.g. 64K, 256K; default: about 1024 blocks, 32K–512K; files up
    /// to 6000 blocks of 512K, about 2.9 GiB).
    #[arg(long, value_name = "SIZE")]
    pub block_size: Option<String>,
    /// Land the file only where RES OP VALUE holds (OP: G L GE LE EQ NE > < >= <= == !=);
    /// the other nodes still relay blocks and are reported as skipped.
    #[arg(long = "where", num_args = 3, value_names = ["RES", "OP", "VALUE"], allow_hyphen_values = true)]
    pub where_: Vec<String>,
}

/// `--where RES OP VALUE` as a condition (checked like `exec --where`).
fn parse_where(w: &[String]) -> anyhow::Result<Option<Where>> {
    let [res, op, value] = w else {
        return Ok(None);
    };
    // The query grammar's parser; push words its number error the way it always has.
    let cond = Where::parse(res, op, value).map_err(|e| match e {
        QueryParseError::BadNumber { .. } => {
            anyhow::anyhow!("--where VALUE {value:?}: expected a finite number")
        }
        e => e.into(),
    })?;
    mon_proto::agg::check_resource_name(res).context("--where RES")?;
    Ok(Some(cond))
}

fn parse_size(s: &str) -> anyhow::Result<u32> {
    let (num, mult) = match s.chars().last() {
        Some('K' | 'k') => (&s[..s.len() - 1], 1024),
        Some('M' | 'm') => (&s[..s.len() - 1], 1024 * 1024),
        _ => (s, 1),
    };
    let n: u32 = num
        .parse()
        .with_context(|| format!("--block-size {s:?}: expected e.g. 65536, 64K or 1M"))?;
    n.checked_mul(mult)
        .with_context(|| format!("--block-size {s:?} is too large"))
}

/// A push ready to run: the file, its signed-to-be manifest and timing.
pub(crate) struct PushPlan {
    file: File,
    manifest: Manifest,
    timing: SessionTiming,
}

/// The file mode from `--mode` (octal permission bits).
fn parse_mode(mode: &str) -> anyhow::Result<u32> {
    u32::from_str_radix(mode.trim_start_matches("0o"), 8)
        .ok()
        .filter(|m| *m <= 0o7777)
        .with_context(|| format!("--mode {mode:?}: expected octal permission bits such as 0755"))
}

/// Refuses a DEST that is relative or names a directory.
fn check_dest(a: &PushArgs) -> anyhow::Result<()> {
    if !a.dest.starts_with('/') {
        bail!("DEST {:?} must be an absolute path", a.dest);
    }
    if a.dest.ends_with('/') || a.dest.ends_with("/.") {
        bail!(
            "DEST {:?} names a directory: give the file to write, e.g. {}/{}",
            a.dest,
            a.dest
                .strip_suffix("/.")
                .unwrap_or(&a.dest)
                .trim_end_matches('/'),
            a.file
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "FILE".into())
        );
    }
    Ok(())
}

/// The block size for a file of `size` bytes: `--block-size` or the default, within the push
/// geometry (the advice for a file too large names a block size that is accepted).
fn block_size(a: &PushArgs, size: u64) -> anyhow::Result<u32> {
    let asked = a.block_size.as_deref().map(parse_size).transpose()?;
    geometry::choose_block_size(size, asked).map_err(|e| match e {
        GeometryError::BlockSize(_) => anyhow::anyhow!(
            "--block-size must be between {}K and {}K",
            MIN_BLOCK_SIZE / 1024,
            MAX_BLOCK_SIZE / 1024
        ),
        too_many => anyhow::anyhow!("{}: {too_many}", a.file.display()),
    })
}

/// Checks the arguments, opens and hashes the file (before any server is contacted).
pub(crate) fn plan(g: &GlobalOpts, a: &PushArgs) -> anyhow::Result<PushPlan> {
    let mode = parse_mode(&a.mode)?;
    let cond = parse_where(&a.where_)?;
    check_dest(a)?;
    let file = File::open(&a.file).with_context(|| format!("opening {}", a.file.display()))?;
    let size = file
        .metadata()
        .with_context(|| format!("reading {}", a.file.display()))?
        .len();
    let block_size = block_size(a, size)?;
    let name = file_name(&a.file);
    let timing = super::session::session_timing(g, SessionKind::Push)?;
    let mut manifest = build_manifest(
        &name,
        std::io::BufReader::new(&file),
        size,
        mode,
        block_size,
        &a.dest,
    )
    .with_context(|| format!("hashing {}", a.file.display()))?;
    manifest.cond = cond;
    Ok(PushPlan {
        file,
        manifest,
        timing,
    })
}

/// The file's name (the manifest carries it), lossy when not UTF-8.
fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// What a push reports while it runs: the CLI's progress bar, the console's push job.
pub(crate) trait PushProgress: Send {
    /// The push started: the file's size and the nodes in the session (the roster within
    /// `--targets`).
    fn start(&mut self, size: u64, nodes: &[String]);
    /// The source has served `bytes` in all (blocks read from the file and sent).
    fn served(&mut self, bytes: u64);
    /// `nodes` have finished (landed the file or failed), from the entry node's Progress
    /// reports: a count aggregated up the tree, not which nodes.
    fn complete(&mut self, nodes: u64);
    /// One node finished its part (done, skipped, or failed with a short code), from the
    /// entry node's `Ended` reports while the push runs: each node at most once, not
    /// necessarily every node (the result, in [`PushEnd`], is the authority).
    fn node_ended(&mut self, end: &NodeEnd);
}

/// How a push ended.
#[derive(Debug)]
pub(crate) enum PushEnd {
    /// The entry node refused the session.
    Denied {
        /// The node that refused.
        node: String,
        /// Its refusal code.
        code: String,
        /// Its reason.
        text: String,
    },
    /// The result arrived.
    Finished(Box<PushReport>),
}

/// A finished push: what `mon push` prints.
#[derive(Debug)]
pub(crate) struct PushReport {
    /// The entry node's name.
    pub entry: String,
    /// The signed manifest.
    pub manifest: Manifest,
    /// Done, failed, denied, missing.
    pub summary: PushSummary,
    /// The nodes in the session (the roster within `--targets`), sorted as the roster.
    pub nodes: Vec<String>,
    /// Bytes the source served.
    pub served: u64,
    /// Seconds from the first connection to the result.
    pub secs: f64,
}

/// Runs `mon push`. Returns the exit code.
pub fn run_push(g: &GlobalOpts, a: PushArgs) -> anyhow::Result<u8> {
    let (signer, known) = super::session::load_key_and_known(g)?;
    let plan = plan(g, &a)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let mut bar = Bar::new(g);
        match push_session(g, &*signer, &known, &plan, &mut bar).await? {
            PushEnd::Denied { node, code, text } => {
                let exit = super::session::report_denied(g, &node, &code, &text, &*signer);
                print_denied_json(g, &node, &code, &text);
                Ok(exit)
            }
            PushEnd::Finished(r) => {
                bar.0.finish_and_clear();
                print_summary(g, &r.entry, &r.manifest, &r.summary, r.served, r.secs);
                Ok(exit::for_failing(r.summary.failing))
            }
        }
    })
}

/// Signs and runs one push session with `signer`, serving `plan`'s file; reports to
/// `progress` while it runs.
pub(crate) async fn push_session(
    g: &GlobalOpts,
    signer: &dyn mon_keys::sshsig::Signer,
    known: &KnownNodes,
    plan: &PushPlan,
    progress: &mut dyn PushProgress,
) -> anyhow::Result<PushEnd> {
    let sreq = session_request(g, plan).await?;
    let mut cs = ClientSession::new(&mut rand::rngs::OsRng, signer, sreq, now_ms())?;
    let t0 = Instant::now();
    let mut s = connect_entry(g).await?;
    let _ = s.set_nodelay(true);
    framing::write_preamble(&mut s, Opener::Client).await?;
    framing::write_frame(&mut s, &cs.session_packet().to_bytes()).await?;
    let answer = read_packet(&mut s, Duration::from_secs(10), g).await?;
    let go = match cs.on_answer_dialled(answer, &g.server.typed, g.server.addr, known) {
        Ok(go) => go,
        Err(ClientError::Denied { node, code, text }) => {
            return Ok(PushEnd::Denied { node, code, text })
        }
        Err(e) => return Err(e.into()),
    };
    framing::write_frame(&mut s, &go.to_bytes()).await?;
    let clock = Instant::now();
    let src = PushSource::start(cs, &plan.manifest, 0)?;
    let report = serve(src, &mut s, plan, g, t0, clock, known, progress).await?;
    Ok(PushEnd::Finished(Box::new(report)))
}

/// The push session: a count carrying the manifest, with the push's timing.
async fn session_request(g: &GlobalOpts, plan: &PushPlan) -> anyhow::Result<SessionRequest> {
    let manifest = Some(plan.manifest.clone());
    let ops = vec![Query::Count];
    super::session::session_request(g, SessionKind::Push, ops, manifest, 0, &plan.timing).await
}

/// The progress bar: `N/T nodes complete; source served BYTES (RATE) ELAPSED` (hidden with
/// `--json`).
struct Bar(indicatif::ProgressBar, u64);

impl Bar {
    fn new(g: &GlobalOpts) -> Bar {
        if g.json {
            return Bar(indicatif::ProgressBar::hidden(), 0);
        }
        let b = indicatif::ProgressBar::new(0);
        b.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} {msg} complete; source served {bytes} ({bytes_per_sec}) {elapsed}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
        );
        Bar(b, 0)
    }
}

impl PushProgress for Bar {
    fn start(&mut self, size: u64, nodes: &[String]) {
        let nodes = nodes.len() as u64;
        self.1 = nodes;
        self.0.set_length(size);
        self.0.set_message(format!("0/{nodes} nodes"));
    }

    fn served(&mut self, bytes: u64) {
        self.0.set_position(bytes);
    }

    fn complete(&mut self, nodes: u64) {
        let total = self.1;
        self.0
            .set_message(format!("{}/{total} nodes", nodes.min(total)));
    }

    /// Failures are printed as they come (above the bar; nothing with `--json`).
    fn node_ended(&mut self, e: &NodeEnd) {
        if let Some(line) = print::ended_line(e) {
            self.0.println(line);
        }
    }
}

/// Serves the push until the result arrives; what it came to.
#[allow(clippy::too_many_arguments)]
async fn serve(
    mut src: PushSource,
    s: &mut TcpStream,
    plan: &PushPlan,
    g: &GlobalOpts,
    t0: Instant,
    clock: Instant,
    known: &KnownNodes,
    progress: &mut dyn PushProgress,
) -> anyhow::Result<PushReport> {
    // Nodes in the session: the roster (known_nodes) within --targets. Nodes complete come
    // from the entry node's Progress reports (aggregated up the first-parent tree).
    let roster = mon_proto::roster::Roster::from_known(known);
    let targets = src.session().body.targets.clone();
    let nodes: Vec<String> = roster
        .unreached(&roster.empty_bitmap(), |n| {
            mon_proto::targets::matches_list(&targets, n)
        })
        .into_iter()
        .map(str::to_string)
        .collect();
    progress.start(plan.manifest.size, &nodes);
    let result = drive(&mut src, s, plan, g, clock, progress).await?;
    let secs = t0.elapsed().as_secs_f64().max(0.001);
    let session = src.session();
    let Some(summary) = PushSummary::from_result(*result, &roster, &targets) else {
        bail!("the entry node returned an empty result");
    };
    Ok(PushReport {
        entry: session.entry.clone().unwrap_or_default(),
        manifest: plan.manifest.clone(),
        summary,
        nodes,
        served: src.served(),
        secs,
    })
}

/// Drives the [`PushSource`] over the stream (`clock` is its time zero) until the result
/// arrives; sends the result's ack, best effort.
async fn drive(
    src: &mut PushSource,
    s: &mut TcpStream,
    plan: &PushPlan,
    g: &GlobalOpts,
    clock: Instant,
    progress: &mut dyn PushProgress,
) -> anyhow::Result<Box<SubtreeResult>> {
    let now = || clock.elapsed().as_millis() as u64;
    let (rd, mut wr) = s.split();
    // Frames are read whole by their own future: a timed-out read must never be cut short
    // mid-frame (that would desynchronise the stream).
    let (ftx, mut frx) = tokio::sync::mpsc::channel(16);
    let reader = read_frames(rd, ftx);
    tokio::pin!(reader);
    let mut reader_done = false;
    let result = loop {
        handle_timeout(src, now(), g)?;
        while let Some(p) = src.poll_transmit() {
            framing::write_frame(&mut wr, &p.to_bytes()).await?;
        }
        let wait = src.poll_timeout().unwrap_or(0).saturating_sub(now());
        let frame = tokio::select! {
            _ = &mut reader, if !reader_done => {
                reader_done = true;
                None
            }
            r = frx.recv() => Some(received(r, g)?),
            _ = tokio::time::sleep(Duration::from_millis(wait)) => None,
        };
        let Some(frame) = frame else { continue };
        src.handle_packet(Packet::from_bytes(&frame, MAX_STREAM_PACKET)?)?;
        if let Some(r) = drain_events(src, &plan.file, progress)? {
            break r;
        }
    };
    // The ack: best effort, the result is in.
    while let Some(p) = src.poll_transmit() {
        let _ = framing::write_frame(&mut wr, &p.to_bytes()).await;
    }
    Ok(result)
}

/// The source's timers; no result within the push timeout is an error.
fn handle_timeout(src: &mut PushSource, now: u64, g: &GlobalOpts) -> anyhow::Result<()> {
    match src.handle_timeout(now) {
        Err(ClientError::NoResult) => {
            bail!("no result from {} within the push timeout", g.server)
        }
        r => Ok(r?),
    }
}

/// A frame from [`read_frames`]; a read error or the end of the stream is an error.
fn received(
    r: Option<std::io::Result<Option<Vec<u8>>>>,
    g: &GlobalOpts,
) -> anyhow::Result<Vec<u8>> {
    match r {
        Some(r) => r
            .with_context(|| format!("reading from {}", g.server))?
            .with_context(|| format!("{} closed the connection", g.server)),
        None => bail!("{} closed the connection", g.server),
    }
}

/// Reads frames from the entry server into `ftx` until the stream ends or fails (that last
/// outcome is sent too).
async fn read_frames(
    mut rd: tokio::net::tcp::ReadHalf<'_>,
    ftx: tokio::sync::mpsc::Sender<std::io::Result<Option<Vec<u8>>>>,
) {
    loop {
        let r = framing::read_frame(&mut rd).await;
        let stop = !matches!(r, Ok(Some(_)));
        if ftx.send(r).await.is_err() || stop {
            break;
        }
    }
}

/// Does what the source asks: reads requested blocks from the file, shows progress; returns
/// the result once it came.
fn drain_events(
    src: &mut PushSource,
    file: &File,
    progress: &mut dyn PushProgress,
) -> anyhow::Result<Option<Box<SubtreeResult>>> {
    while let Some(ev) = src.poll_event() {
        match ev {
            SourceEvent::ReadBlock { index, offset, len } => {
                let mut buf = vec![0u8; len as usize];
                file.read_exact_at(&mut buf, offset)
                    .context("reading the pushed file")?;
                src.block_read(index, buf)?;
                progress.served(src.served());
            }
            SourceEvent::Progress(n) => progress.complete(n),
            SourceEvent::Ended(ends) => ends.iter().for_each(|e| progress.node_ended(e)),
            SourceEvent::Result(r) => return Ok(Some(r)),
        }
    }
    Ok(None)
}

mod print;
use print::{print_denied_json, print_summary};

#[cfg(test)]
mod tests;
