//! Running one session against the entry node.

use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use mon_keys::known_nodes::KnownNodes;
use mon_proto::agg::{Query, Unit};
use mon_proto::client::verdict::{self, OkExit};
use mon_proto::client::{finish, ClientError, ClientSession, SessionRequest};
use mon_proto::shown::{shown, shown_json, CommandOutput};
use mon_proto::timing::{SessionKind, SessionTiming};
use mon_proto::wire::packet::{Packet, SubtreeResult, MAX_DATAGRAM, MAX_STREAM_PACKET};
use mon_proto::wire::session::{OverlayKind, OverlaySpec};
use tokio::net::TcpStream;

use super::output::Outcome;
use super::{known_nodes_path, GlobalOpts, OverlayArg};
use crate::exit;
use crate::framing::{self, Info, Opener};
use crate::out::{errln, outln};

pub(super) use crate::clock::now_ms;

async fn server_info(g: &GlobalOpts) -> anyhow::Result<Info> {
    let mut s = connect_entry(g).await?;
    framing::write_preamble(&mut s, Opener::Info).await?;
    let f = tokio::time::timeout(Duration::from_secs(5), framing::read_frame(&mut s))
        .await
        .map_err(|_| anyhow::anyhow!("{} did not answer", g.server))??
        .with_context(|| format!("{} closed the connection", g.server))?;
    Ok(mon_proto::wire::decode_strict(
        "server info",
        &f,
        64 * 1024,
    )?)
}

/// The slice: `--slice`, or the entry server's only one.
pub(super) async fn resolve_slice(g: &GlobalOpts) -> anyhow::Result<String> {
    Ok(match &g.slice {
        Some(s) => s.clone(),
        None => {
            let info = server_info(g).await?;
            match info.slices.as_slice() {
                [one] => one.clone(),
                [] => bail!(
                    "{} ({}) serves no slice with a valid policy",
                    info.name,
                    g.server
                ),
                many => bail!(
                    "{} serves several slices ({}): choose one with --slice or MON_SLICE",
                    info.name,
                    many.join(", ")
                ),
            }
        }
    })
}

/// A TCP connection to the entry server (5 s at most).
pub(super) async fn connect_entry(g: &GlobalOpts) -> anyhow::Result<TcpStream> {
    tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(g.server.addr))
        .await
        .map_err(|_| anyhow::anyhow!("connecting to {} timed out", g.server))?
        .with_context(|| format!("connecting to the entry server {}", g.server))
}

/// How a query's answers are judged and shown.
#[derive(Clone, Debug, Default)]
pub struct AnswerOpts {
    /// `topology --dot`: Graphviz instead of lines.
    pub dot: bool,
    /// `exec --ok-exit`: the exit statuses that count as success.
    pub ok_exit: OkExit,
    /// `exec --raw`: a command's output as written even on a terminal (see
    /// [`command_output`]).
    pub raw: bool,
}

/// How a human answer writes a command's output: escaped when stdout is a terminal (a node,
/// or the command itself, must not drive the operator's terminal), as written when piped
/// (`mon exec cat f > copy`) or with `--raw`. Node names and reasons are always escaped.
pub fn command_output(raw: bool, stdout_terminal: bool) -> CommandOutput {
    if raw || !stdout_terminal {
        CommandOutput::Raw
    } else {
        CommandOutput::Escaped
    }
}

/// Runs `ops` as one session and prints the answer. Returns the exit code.
pub fn run_session(
    g: &GlobalOpts,
    command: &str,
    ops: Vec<Query>,
    opts: &AnswerOpts,
) -> anyhow::Result<u8> {
    run(g, command, ops, opts, false)
}

/// `mon members`: a one-node session at the entry server, which adds its partial view.
pub fn run_members(g: &GlobalOpts) -> anyhow::Result<u8> {
    run(
        g,
        "members",
        vec![Query::Count],
        &AnswerOpts::default(),
        true,
    )
}

/// The user's key and the known_nodes file that pins the entry's key. The key first: a bad
/// key never reaches a server.
pub(super) fn load_key_and_known(
    g: &GlobalOpts,
) -> anyhow::Result<(Box<dyn mon_keys::sshsig::Signer>, KnownNodes)> {
    let signer = crate::cmd::key::load_signer(g.key.clone())?;
    let known_path = known_nodes_path(g.known_nodes.clone()).context(
        "no known_nodes file to check the entry server's key: pass --known-nodes FILE, set MON_KNOWN_NODES or `known-nodes` in ~/.config/mon/config",
    )?;
    let known = KnownNodes::load(&known_path)
        .with_context(|| format!("loading {}", known_path.display()))?;
    Ok((signer, known))
}

/// `--targets` as the list of patterns to sign (node sets checked, groups resolved).
pub(super) fn targets(g: &GlobalOpts) -> anyhow::Result<Vec<String>> {
    super::targets::signed_targets(&g.targets)
}

/// The overlay the user asked for. A push runs `--overlay random` as a DAG and defaults to 3
/// parents per node; a query defaults to 3 in a DAG, else 1.
pub(super) fn overlay(g: &GlobalOpts, kind: SessionKind, max_depth: u8) -> OverlaySpec {
    let push = kind == SessionKind::Push;
    let kind = match g.overlay {
        OverlayArg::Random if push => OverlayKind::Dag,
        OverlayArg::Random => OverlayKind::Random,
        OverlayArg::Twostage => OverlayKind::Twostage,
        OverlayArg::Dag => OverlayKind::Dag,
    };
    let default_parents = if push || kind == OverlayKind::Dag {
        3
    } else {
        1
    };
    OverlaySpec {
        kind,
        fanout: g.fanout.unwrap_or(0),
        max_parents: g.max_parents.unwrap_or(default_parents),
        stage_one_hops: 2,
        max_depth,
    }
}

/// What a query session (or a follow-up command) returned, and how long it took.
pub(super) struct Answered {
    /// The entry's result.
    pub(super) result: SubtreeResult,
    /// The entry node's name.
    pub(super) entry: String,
    pub(super) targets: Vec<String>,
    /// The session's timeout, ms.
    pub(super) timeout_ms: u32,
    pub(super) session_ms: u64,
    pub(super) query_ms: u64,
}

fn run(
    g: &GlobalOpts,
    command: &str,
    ops: Vec<Query>,
    opts: &AnswerOpts,
    members: bool,
) -> anyhow::Result<u8> {
    let (signer, known) = load_key_and_known(g)?;
    let timing = session_timing(g, SessionKind::Query)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let kind = SessionKind::Query;
        let sreq = session_request(g, kind, ops.clone(), None, u8::from(members), &timing).await?;
        let cs = ClientSession::new(&mut rand::rngs::OsRng, &*signer, sreq, now_ms())?;
        let a = match ask(g, cs, &known).await? {
            Ok(a) => a,
            Err((node, code, text)) => return Ok(report_denied(g, &node, &code, &text, &*signer)),
        };
        if members {
            return Ok(print_members(g, &a));
        }
        print_answers(g, command, &ops, a, &known, opts)
    })
}

/// The session's timing from `--timeout` (its default and range are the kind's).
pub(super) fn session_timing(g: &GlobalOpts, kind: SessionKind) -> anyhow::Result<SessionTiming> {
    let timeout = g.timeout.unwrap_or(kind.default_timeout_s());
    let range = kind.timeout_range_s();
    if !range.contains(&timeout) {
        let what = match kind {
            SessionKind::Query => "",
            SessionKind::Push => " for a push",
        };
        bail!(
            "--timeout must be between {} and {} seconds{what}",
            range.start(),
            range.end()
        );
    }
    Ok(SessionTiming::from_timeout((timeout * 1000.0) as u32, kind))
}

/// The session to sign: the slice, principal, targets and overlay from the options, the
/// operations (and push manifest), and the timing.
pub(super) async fn session_request(
    g: &GlobalOpts,
    kind: SessionKind,
    ops: Vec<Query>,
    push: Option<mon_proto::wire::session::Manifest>,
    members: u8,
    timing: &SessionTiming,
) -> anyhow::Result<SessionRequest> {
    Ok(SessionRequest {
        slice: resolve_slice(g).await?,
        principal: g.principal.clone(),
        ops,
        push,
        targets: targets(g)?,
        overlay: overlay(g, kind, members),
        timeout_ms: timing.timeout_ms,
        max_lifetime_s: timing.max_lifetime_s,
        join_window_ms: timing.join_window_ms,
    })
}

/// Runs the session with the entry server: Session, answer, Go, result (acknowledged).
/// `Ok(Err((node, code, text)))` when the entry denied it.
pub(super) async fn ask(
    g: &GlobalOpts,
    mut cs: ClientSession,
    known: &KnownNodes,
) -> anyhow::Result<Result<Answered, (String, String, String)>> {
    let timeout_ms = cs.body.timeout_ms;
    let session_bytes = cs.session_packet().to_bytes();
    let t0 = Instant::now();
    let (mut s, answer) = open_session(g, &session_bytes, timeout_ms).await?;
    let go = match cs.on_answer_dialled(answer, &g.server.typed, g.server.addr, known) {
        Ok(go) => go,
        Err(ClientError::Denied { node, code, text }) => return Ok(Err((node, code, text))),
        Err(e) => return Err(e.into()),
    };
    framing::write_frame(&mut s, &go.to_bytes()).await?;
    let session_ms = t0.elapsed().as_millis() as u64;
    let t1 = Instant::now();
    let wait = Duration::from_millis(u64::from(timeout_ms) + 2000);
    let result = read_result(&mut s, wait, g).await?;
    let (r, ack) = cs.on_result(result)?;
    let _ = framing::write_frame(&mut s, &ack.to_bytes()).await;
    Ok(Ok(Answered {
        result: r,
        entry: cs.entry.clone().unwrap_or_default(),
        targets: cs.body.targets.clone(),
        timeout_ms,
        session_ms,
        query_ms: t1.elapsed().as_millis() as u64,
    }))
}

/// Reads the result packet. A second SessionOk can come on the stream before it when the
/// Session also went over it (one; an entry that keeps sending them gets its result refused
/// as malformed).
pub(super) async fn read_result(
    s: &mut TcpStream,
    wait: Duration,
    g: &GlobalOpts,
) -> anyhow::Result<Packet> {
    let result = read_packet(s, wait, g).await?;
    if matches!(result, Packet::SessionOk { .. }) {
        return read_packet(s, wait, g).await;
    }
    Ok(result)
}

/// `mon members`: prints the entry's view; the exit code says whether the entry answered its
/// one-node count.
fn print_members(g: &GlobalOpts, a: &Answered) -> u8 {
    let ms = a.session_ms + a.query_ms;
    super::output::print_members(&a.entry, &a.result.members, g.json, ms);
    let failing = a
        .result
        .partials
        .first()
        .map_or(1, |p| verdict::failing(&p.coverage(), &a.targets, false));
    exit::for_failing(failing)
}

/// The outcome of each operation and the exit code: whether every targeted node answered
/// and its operation succeeded ([`verdict`]). Nodes on the roster (known_nodes) that never
/// took part (down, cut off, or missed) count as missing.
pub(super) fn outcomes(
    command: &str,
    ops: &[Query],
    a: Answered,
    known: &KnownNodes,
    opts: &AnswerOpts,
) -> anyhow::Result<(Vec<Outcome>, u8)> {
    let roster = mon_proto::roster::Roster::from_known(known);
    let unreached = finish::unreached(&roster, &a.targets, &a.result);
    let roster_known = finish::roster_known(&roster, &a.result);
    let mut code = exit::OK;
    let mut out = Vec::new();
    for (q, p) in ops.iter().zip(a.result.partials) {
        let (answer, mut coverage) = finish::finish_op(q, p, &unreached)
            .map_err(|e| anyhow::anyhow!("the entry node returned a malformed result: {e}"))?;
        verdict::add_exec_failures(q, &answer, &opts.ok_exit, a.timeout_ms, &mut coverage);
        verdict::add_audit_failures(&answer, &mut coverage);
        code = code.max(exit::for_failing(verdict::failing(
            &coverage,
            &a.targets,
            roster_known,
        )));
        out.push(Outcome {
            command: command.to_string(),
            answer,
            coverage,
            relayed: a.result.relayed,
            entry: a.entry.clone(),
            session_ms: a.session_ms,
            query_ms: a.query_ms,
        });
    }
    Ok((out, code))
}

/// Prints one answer per operation ([`outcomes`]); returns the exit code.
pub(super) fn print_answers(
    g: &GlobalOpts,
    command: &str,
    ops: &[Query],
    a: Answered,
    known: &KnownNodes,
    opts: &AnswerOpts,
) -> anyhow::Result<u8> {
    let (outs, code) = outcomes(command, ops, a, known, opts)?;
    for (q, out) in ops.iter().zip(outs) {
        if g.json {
            outln!("{}", shown_json(&out.to_json().to_string()));
        } else {
            let unit = q.resource().map_or(Unit::Number, crate::resources::unit_of);
            let output = command_output(opts.raw, crate::out::stdout_is_terminal());
            let (answer, diagnostics) = out.render_human(opts.dot, unit, output);
            crate::out::out!("{answer}");
            errln!("{}", diagnostics.trim_end());
        }
    }
    Ok(code)
}

/// Sends the signed Session to the entry server and returns its stream and first answer.
///
/// The Session goes in a UDP datagram while the TCP connection opens, so the entry node
/// starts the overlay a round trip earlier; the client continues on the stream (its Go
/// proves the stream is the client's). The entry answers a datagram only when it accepts the
/// session; when no answer came shortly after the connection opened (datagram lost, session
/// refused, or a `from=` rule that needs the TCP-proven address), the Session goes over the
/// stream as well, where a refusal is explained.
pub(super) async fn open_session(
    g: &GlobalOpts,
    session: &[u8],
    timeout_ms: u32,
) -> anyhow::Result<(TcpStream, Packet)> {
    let t0 = Instant::now();
    let udp = send_datagram(g, session).await;
    let mut s = connect_entry(g).await?;
    let _ = s.set_nodelay(true);
    framing::write_preamble(&mut s, Opener::Client).await?;
    let rtt = t0.elapsed();
    let mut buf = vec![0u8; 2048];
    if let Some(u) = &udp {
        // The answer to the datagram is due about when the connection opened.
        let grace = rtt / 2 + Duration::from_millis(30);
        if let Ok(Some(p)) = tokio::time::timeout(grace, udp_answer(u, g, &mut buf)).await {
            return Ok((s, p));
        }
    }
    framing::write_frame(&mut s, session).await?;
    let wait = Duration::from_secs(5).max(Duration::from_millis(u64::from(timeout_ms)));
    let answer = match &udp {
        Some(u) => tokio::select! {
            p = read_packet(&mut s, wait, g) => p?,
            Some(p) = udp_answer(u, g, &mut buf) => p,
        },
        None => read_packet(&mut s, wait, g).await?,
    };
    Ok((s, answer))
}

/// Sends the Session to the entry server in a datagram when it fits one; returns the socket
/// the answer will come to (`None`: not sent).
async fn send_datagram(g: &GlobalOpts, session: &[u8]) -> Option<tokio::net::UdpSocket> {
    if session.len() > MAX_DATAGRAM {
        return None;
    }
    let local: std::net::SocketAddr = if g.server.addr.is_ipv4() {
        (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    match tokio::net::UdpSocket::bind(local).await {
        Ok(u) if u.send_to(session, g.server.addr).await.is_ok() => Some(u),
        _ => None,
    }
}

/// The entry server's answer to the Session datagram (other datagrams are ignored).
async fn udp_answer(u: &tokio::net::UdpSocket, g: &GlobalOpts, buf: &mut [u8]) -> Option<Packet> {
    loop {
        let (n, from) = u.recv_from(buf).await.ok()?;
        if from != g.server.addr {
            continue;
        }
        if let Ok(p @ Packet::SessionOk { .. }) = Packet::from_bytes(&buf[..n], MAX_DATAGRAM) {
            return Some(p);
        }
    }
}

/// Reads one packet from the entry server, with a deadline.
pub(super) async fn read_packet(
    s: &mut TcpStream,
    t: Duration,
    g: &GlobalOpts,
) -> anyhow::Result<Packet> {
    let f = tokio::time::timeout(t, framing::read_frame(s))
        .await
        .map_err(|_| {
            anyhow::anyhow!(
                "no answer from {} within {:.1} s",
                g.server,
                t.as_secs_f64()
            )
        })?
        .with_context(|| format!("reading from {}", g.server))?
        .with_context(|| format!("{} closed the connection", g.server))?;
    Ok(Packet::from_bytes(&f, MAX_STREAM_PACKET)?)
}

/// Prints why the entry node refused the session; the exit code: [`exit::RETRY_LATER`] for a
/// capacity or rate limit (the text says when to retry), else [`exit::DENIED`].
pub(super) fn report_denied(
    g: &GlobalOpts,
    node: &str,
    code: &str,
    text: &str,
    signer: &dyn mon_keys::sshsig::Signer,
) -> u8 {
    let (node, code, text) = (&*shown(node), &*shown(code), &*shown(text));
    if code == mon_proto::node::STORAGE_UNAVAILABLE {
        errln!("mon: refused by {node} ({}): {text} [{code}]", g.server);
        errln!(
            "mon: {node} cannot make its audit records durable and refuses every session until \
             its operator frees space in its state dir; retry later or use another entry (--server)"
        );
        return exit::RETRY_LATER;
    }
    if mon_proto::node::RETRY_LATER_CODES.contains(&code) {
        errln!("mon: refused by {node} ({}): {text} [{code}]", g.server);
        errln!("mon: a capacity or rate limit of that node, not the policy: retry later");
        return exit::RETRY_LATER;
    }
    errln!("mon: denied by {node} ({}): {text} [{code}]", g.server);
    errln!(
        "mon: your key {} ; ask the slice admin, or check with `mon policy explain`",
        mon_keys::sshsig::fingerprint(signer.public_key())
    );
    exit::DENIED
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_output_is_escaped_on_a_terminal_unless_raw() {
        assert_eq!(command_output(false, true), CommandOutput::Escaped);
        assert_eq!(command_output(true, true), CommandOutput::Raw);
        assert_eq!(command_output(false, false), CommandOutput::Raw);
        assert_eq!(command_output(true, false), CommandOutput::Raw);
    }
}
