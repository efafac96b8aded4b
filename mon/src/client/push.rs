//! `mon push FILE DEST`: the client is the source. It signs a push session whose manifest
//! lists every block's hash, serves blocks to the entry node (its only child) on the push
//! channel, and prints the aggregated outcome: nodes done, failed with reasons, time, rate.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use mon_keys::known_nodes::KnownNodes;
use mon_proto::agg::{CmpOp, Query, Where};
use mon_proto::client::{ClientError, ClientSession, SessionRequest};
use mon_proto::push::geometry::{
    self, block_len, block_offset, GeometryError, MAX_BLOCK_SIZE, MIN_BLOCK_SIZE,
};
use mon_proto::push::msg::{PushMsg, PING_MS, PUSH_CHANNEL};
use mon_proto::push::{build_manifest, BitSet};
use mon_proto::timing::{SessionKind, SessionTiming};
use mon_proto::wire::packet::{Packet, MAX_STREAM_PACKET};
use mon_proto::wire::session::{Manifest, OverlayKind, OverlaySpec};
use serde_json::json;
use tokio::net::TcpStream;

use super::session::{connect_entry, now_ms, read_packet};
use super::{known_nodes_path, GlobalOpts, OverlayArg};
use crate::exit;
use crate::server::net::{self, Opener};

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
    let op: CmpOp = op.parse()?;
    let value: f64 = value
        .parse()
        .ok()
        .filter(|v: &f64| v.is_finite())
        .with_context(|| format!("--where VALUE {value:?}: expected a finite number"))?;
    mon_proto::agg::check_resource_name(res).context("--where RES")?;
    Ok(Some(Where {
        res: res.clone(),
        op,
        value,
    }))
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

fn human(bytes: f64) -> String {
    if bytes >= 1024.0 * 1024.0 {
        format!("{:.1} MiB", bytes / (1024.0 * 1024.0))
    } else {
        format!("{:.1} KiB", bytes / 1024.0)
    }
}

/// The roster nodes whose results reached the client (empty when the subtrees' rosters
/// differ from ours).
fn reached_nodes(
    known: &KnownNodes,
    digest: Option<&[u8; 32]>,
    bitmap: &[u8],
) -> std::collections::HashSet<String> {
    let roster = mon_proto::roster::Roster::from_known(known);
    if digest != Some(&roster.digest()) {
        return Default::default();
    }
    let unreached: std::collections::HashSet<&str> =
        roster.unreached(bitmap, |_| true).into_iter().collect();
    roster
        .unreached(&roster.empty_bitmap(), |n| !unreached.contains(n))
        .into_iter()
        .map(str::to_string)
        .collect()
}

/// The roster nodes within `targets` whose results did not reach the client (empty when the
/// subtrees' rosters differ from ours).
fn unreached_nodes(
    known: &KnownNodes,
    targets: &[String],
    digest: Option<&[u8; 32]>,
    bitmap: &[u8],
) -> Vec<String> {
    let roster = mon_proto::roster::Roster::from_known(known);
    if digest != Some(&roster.digest()) {
        return Vec::new();
    }
    roster
        .unreached(bitmap, |n| mon_proto::targets::matches_list(targets, n))
        .into_iter()
        .map(str::to_string)
        .collect()
}

/// Runs `mon push`. Returns the exit code.
pub fn run_push(g: &GlobalOpts, a: PushArgs) -> anyhow::Result<u8> {
    let signer = crate::cmd::key::load_signer(g.key.clone())?;
    let known_path = known_nodes_path(g).context(
        "no known_nodes file to check the entry server's key: pass --known-nodes FILE or set MON_KNOWN_NODES",
    )?;
    let known = KnownNodes::load(&known_path)
        .with_context(|| format!("loading {}", known_path.display()))?;
    let mode = u32::from_str_radix(a.mode.trim_start_matches("0o"), 8)
        .ok()
        .filter(|m| *m <= 0o7777)
        .with_context(|| {
            format!(
                "--mode {:?}: expected octal permission bits such as 0755",
                a.mode
            )
        })?;
    let cond = parse_where(&a.where_)?;
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
    let file = File::open(&a.file).with_context(|| format!("opening {}", a.file.display()))?;
    let size = file
        .metadata()
        .with_context(|| format!("reading {}", a.file.display()))?
        .len();
    let asked = a.block_size.as_deref().map(parse_size).transpose()?;
    let block_size = geometry::choose_block_size(size, asked).map_err(|e| match e {
        GeometryError::BlockSize(_) => anyhow::anyhow!(
            "--block-size must be between {}K and {}K",
            MIN_BLOCK_SIZE / 1024,
            MAX_BLOCK_SIZE / 1024
        ),
        too_many => anyhow::anyhow!("{}: {too_many}", a.file.display()),
    })?;
    let name = a
        .file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
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
    let timeout_s = g.timeout.unwrap_or(SessionKind::Push.default_timeout_s());
    if !SessionKind::Push.timeout_range_s().contains(&timeout_s) {
        bail!("--timeout must be between 1 and 3600 seconds for a push");
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let slice = super::session::resolve_slice(g).await?;
        let timing = SessionTiming::from_timeout((timeout_s * 1000.0) as u32, SessionKind::Push);
        let timeout_ms = timing.timeout_ms;
        let sreq = SessionRequest {
            slice,
            principal: g.principal.clone(),
            ops: vec![Query::Count],
            push: Some(manifest.clone()),
            targets: g
                .targets
                .split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect(),
            overlay: OverlaySpec {
                kind: match g.overlay {
                    OverlayArg::Random => OverlayKind::Dag,
                    OverlayArg::Twostage => OverlayKind::Twostage,
                    OverlayArg::Dag => OverlayKind::Dag,
                },
                fanout: g.fanout.unwrap_or(0),
                max_parents: g.max_parents.unwrap_or(3),
                stage_one_hops: 2,
                max_depth: 0,
            },
            timeout_ms,
            max_lifetime_s: timing.max_lifetime_s,
            join_window_ms: timing.join_window_ms,
        };
        let mut cs = ClientSession::new(&mut rand::rngs::OsRng, &*signer, sreq, now_ms())?;
        let t0 = Instant::now();
        let mut s = connect_entry(g).await?;
        let _ = s.set_nodelay(true);
        net::write_preamble(&mut s, Opener::Client).await?;
        net::write_frame(&mut s, &cs.session_packet().to_bytes()).await?;
        let answer = read_packet(&mut s, Duration::from_secs(10), g).await?;
        let go = match cs.on_answer_dialled(answer, &g.server.typed, g.server.addr, &known) {
            Ok(go) => go,
            Err(ClientError::Denied { node, code, text }) => {
                let exit = super::session::report_denied(g, &node, &code, &text, &*signer);
                if g.json {
                    println!(
                        "{}",
                        json!({"command": "push", "denied_by": node, "code": code, "reason": text})
                    );
                }
                return Ok(exit);
            }
            Err(e) => return Err(e.into()),
        };
        net::write_frame(&mut s, &go.to_bytes()).await?;
        let nblocks = manifest.blocks.len() as u32;
        let advert = cs.seal_push(&PushMsg::Advert(BitSet::full(nblocks).to_bytes()))?;
        net::write_frame(&mut s, &advert.to_bytes()).await?;
        serve(&mut cs, &mut s, &file, &manifest, timeout_ms, g, t0, &known).await
    })
}

#[allow(clippy::too_many_arguments)]
async fn serve(
    cs: &mut ClientSession,
    s: &mut TcpStream,
    file: &File,
    m: &Manifest,
    timeout_ms: u32,
    g: &GlobalOpts,
    t0: Instant,
    known: &KnownNodes,
) -> anyhow::Result<u8> {
    // Nodes in the session: the roster (known_nodes) within --targets. Nodes complete come
    // from the entry node's Progress reports (aggregated up the first-parent tree).
    let roster = mon_proto::roster::Roster::from_known(known);
    let targets = cs.body.targets.clone();
    let total = roster
        .unreached(&roster.empty_bitmap(), |n| {
            mon_proto::targets::matches_list(&targets, n)
        })
        .len() as u64;
    let bar = if g.json {
        indicatif::ProgressBar::hidden()
    } else {
        let b = indicatif::ProgressBar::new(m.size);
        b.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} {msg} complete; source served {bytes} ({bytes_per_sec}) {elapsed}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
        );
        b.set_message(format!("0/{total} nodes"));
        b
    };
    let deadline = Instant::now() + Duration::from_millis(u64::from(timeout_ms) + 5_000);
    let mut served: u64 = 0;
    let mut last_ping = Instant::now();
    let (mut rd, mut wr) = s.split();
    // Frames are read whole by their own future: a timed-out read must never be cut short
    // mid-frame (that would desynchronise the stream).
    let (ftx, mut frx) = tokio::sync::mpsc::channel::<std::io::Result<Option<Vec<u8>>>>(16);
    let reader = async move {
        loop {
            let r = net::read_frame(&mut rd).await;
            let stop = !matches!(r, Ok(Some(_)));
            if ftx.send(r).await.is_err() || stop {
                break;
            }
        }
    };
    tokio::pin!(reader);
    let mut reader_done = false;
    let result = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            bail!("no result from {} within the push timeout", g.server);
        }
        let frame = tokio::select! {
            _ = &mut reader, if !reader_done => {
                reader_done = true;
                None
            }
            r = frx.recv() => match r {
                Some(r) => Some(
                    r.with_context(|| format!("reading from {}", g.server))?
                        .with_context(|| format!("{} closed the connection", g.server))?,
                ),
                None => bail!("{} closed the connection", g.server),
            },
            _ = tokio::time::sleep(Duration::from_millis(PING_MS).min(left)) => None,
        };
        if last_ping.elapsed() >= Duration::from_millis(PING_MS) {
            last_ping = Instant::now();
            let p = cs.seal_push(&PushMsg::Ping)?;
            net::write_frame(&mut wr, &p.to_bytes()).await?;
        }
        let Some(frame) = frame else { continue };
        let packet = Packet::from_bytes(&frame, MAX_STREAM_PACKET)?;
        let is_push = matches!(&packet, Packet::Sealed { channel, .. } if *channel == PUSH_CHANNEL);
        if !is_push {
            break cs.on_result(packet)?;
        }
        match cs.open_push(&packet)? {
            PushMsg::Request(i) => {
                let len = block_len(m.size, m.block_size, i).unwrap_or(0);
                if len == 0 {
                    continue;
                }
                let mut buf = vec![0u8; len as usize];
                file.read_exact_at(&mut buf, block_offset(m.block_size, i))
                    .context("reading the pushed file")?;
                let p = cs.seal_push(&PushMsg::Block(i, buf))?;
                net::write_frame(&mut wr, &p.to_bytes()).await?;
                served += len;
                bar.set_position(served);
            }
            // Requests are answered at once: nothing queued to cancel.
            PushMsg::Progress(n) => bar.set_message(format!("{}/{total} nodes", n.min(total))),
            PushMsg::Cancel(_)
            | PushMsg::Primary
            | PushMsg::Prefer
            | PushMsg::Ping
            | PushMsg::Finished => {}
            other => bail!("the entry node sent {other:?}, which only a parent may send"),
        }
    };
    bar.finish_and_clear();
    let (r, ack) = result;
    let _ = net::write_frame(&mut wr, &ack.to_bytes()).await;
    let secs = t0.elapsed().as_secs_f64().max(0.001);
    let Some(p) = r.partials.into_iter().next() else {
        bail!("the entry node returned an empty result");
    };
    let c = p.coverage();
    let skipped = c.skipped;
    let done = c
        .answered
        .saturating_sub(c.failed.total())
        .saturating_sub(skipped);
    let failed: Vec<(String, String)> = c
        .failed
        .entries()
        .iter()
        .map(|e| (e.node.clone(), e.reason.clone()))
        .collect();
    let denied: Vec<(String, String)> = c
        .denied
        .entries()
        .iter()
        .map(|e| (e.node.clone(), e.reason.clone()))
        .collect();
    // A node whose link to one parent was lost may still have reported through another
    // (the roster bitmap says who did): it is not missing.
    let reached = reached_nodes(known, r.roster.as_deref(), &r.reached);
    let mut missing: Vec<(String, String)> = c
        .missing
        .entries()
        .iter()
        .filter(|e| !reached.contains(&e.node))
        .map(|e| (e.node.clone(), e.reason.clone()))
        .collect();
    // Roster nodes that no result names at all (their result path was cut, or the session
    // never reached them) are missing too: the summary accounts for every known node.
    for n in unreached_nodes(known, &cs.body.targets, r.roster.as_deref(), &r.reached) {
        let named = failed
            .iter()
            .chain(&denied)
            .chain(&missing)
            .any(|(m, _)| *m == n);
        if !named {
            missing.push((
                n,
                "not reached: down, unreachable, or cut off from the push's result".into(),
            ));
        }
    }
    missing.sort();
    let aggregate = done as f64 * m.size as f64 / secs;
    let list = |v: &[(String, String)]| {
        v.iter()
            .map(|(n, r)| json!({"node": n, "reason": r}))
            .collect::<Vec<_>>()
    };
    if g.json {
        println!(
            "{}",
            json!({
                "command": "push",
                "entry": cs.entry.clone().unwrap_or_default(),
                "dest": m.dest,
                "size": m.size,
                "blocks": m.blocks.len(),
                "done": done,
                "skipped": skipped,
                "where": m.cond.as_ref().map(|w| format!("{} {} {}", w.res, w.op, w.value)),
                "failed": list(&failed),
                "denied": list(&denied),
                "missing": list(&missing),
                "relayed": r.relayed,
                "source_bytes": served,
                "seconds": secs,
                "aggregate_bytes_per_s": aggregate,
            })
        );
    } else {
        let skipped_text = match &m.cond {
            Some(w) => format!(
                ", {skipped} skipped ({} {} {} did not hold)",
                w.res, w.op, w.value
            ),
            None => String::new(),
        };
        println!(
            "pushed {} to {}: {done} nodes done{skipped_text}, {} failed, {} denied, {} missing in {secs:.1} s",
            human(m.size as f64),
            m.dest,
            failed.len(),
            denied.len(),
            missing.len()
        );
        println!(
            "source served {} ({:.1}x the file); aggregate {}/s",
            human(served as f64),
            served as f64 / (m.size.max(1)) as f64,
            human(aggregate)
        );
        for (what, v) in [
            ("failed", &failed),
            ("denied", &denied),
            ("missing", &missing),
        ] {
            for (n, reason) in v.iter() {
                println!("  {what} {n}: {reason}");
            }
        }
    }
    Ok(
        if failed.is_empty() && denied.is_empty() && missing.is_empty() {
            exit::OK
        } else {
            exit::PARTIAL_OR_NEGATIVE
        },
    )
}
