//! An interactive session as a library (`mon shell` and the web console use it): one signed
//! session builds the overlay once and keeps its stream to the entry node open; each
//! [`Interactive::run`] sends one follow-up Command (signed by the session's `cmd_key`, `seq`
//! 1, 2, …) down the same overlay and returns its aggregated result. No terminal I/O here.
//!
//! ```text
//! let mut s = Interactive::open(&g, &*signer, &known, Some(NS_EXEC)).await?.map_err(..)?;
//! let a = s.run(vec![Query::Count], std::future::pending()).await?;
//! ```

use std::future::Future;
use std::time::{Duration, Instant};

use mon_keys::known_nodes::KnownNodes;
use mon_keys::sshsig::Signer;
use mon_proto::agg::Query;
use mon_proto::client::{ClientError, ClientSession};
use mon_proto::timing::{SessionKind, INTERACTIVE_JOIN_WINDOW_MS, INTERACTIVE_LIFETIME_S};
use mon_proto::wire::packet::SubtreeResult;
use tokio::net::TcpStream;

use super::session::{now_ms, open_session, read_result, session_request};
use super::GlobalOpts;
use crate::framing;

/// The entry node refused the session: (node, code, text).
pub type Refused = (String, String, String);

/// What one command returned.
#[derive(Debug)]
pub struct CommandAnswer {
    /// The aggregated result (one partial per operation).
    pub result: SubtreeResult,
    /// The command was cancelled: the entry answered with what it had then.
    pub cancelled: bool,
    /// From sending the command to its result, ms.
    pub query_ms: u64,
}

/// An open interactive session with its entry node.
pub struct Interactive {
    g: GlobalOpts,
    stream: TcpStream,
    cs: ClientSession,
    seq: u64,
    /// Time to set the session up (signing aside) and to run its first operation, ms.
    pub session_ms: u64,
    /// The first operation's result (a `count` of the nodes that joined).
    pub first: SubtreeResult,
}

impl std::fmt::Debug for Interactive {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Interactive")
            .field("entry", &self.cs.entry)
            .field("seq", &self.seq)
            .finish_non_exhaustive()
    }
}

impl Interactive {
    /// Signs an interactive session of `class` (an operation class such as
    /// `mon-exec@mon`; `None`: queries only) whose own operation is a `count`, builds the
    /// overlay through the entry node and waits for that count. `Ok(Err(..))`: the entry
    /// node refused it.
    pub async fn open(
        g: &GlobalOpts,
        signer: &dyn Signer,
        known: &KnownNodes,
        class: Option<&str>,
    ) -> anyhow::Result<Result<Interactive, Refused>> {
        let timing = super::session::session_timing(g, SessionKind::Query)?;
        let mut req =
            session_request(g, SessionKind::Query, vec![Query::Count], None, 0, &timing).await?;
        req.max_lifetime_s = INTERACTIVE_LIFETIME_S;
        // Nodes missed at set-up join at a later command while the window is open.
        req.join_window_ms = INTERACTIVE_JOIN_WINDOW_MS;
        let mut cs =
            ClientSession::new_interactive(&mut rand::rngs::OsRng, signer, req, class, now_ms())?;
        let t0 = Instant::now();
        let bytes = cs.session_packet().to_bytes();
        let (mut stream, answer) = open_session(g, &bytes, cs.body.timeout_ms).await?;
        let go = match cs.on_answer_dialled(answer, &g.server.typed, g.server.addr, known) {
            Ok(go) => go,
            Err(ClientError::Denied { node, code, text }) => return Ok(Err((node, code, text))),
            Err(e) => return Err(e.into()),
        };
        framing::write_frame(&mut stream, &go.to_bytes()).await?;
        let wait = Duration::from_millis(u64::from(cs.body.timeout_ms) + 2000);
        let p = read_result(&mut stream, wait, g).await?;
        let (first, ack) = cs.on_result(p)?;
        framing::write_frame(&mut stream, &ack.to_bytes()).await?;
        Ok(Ok(Interactive {
            g: g.clone(),
            stream,
            cs,
            seq: 0,
            session_ms: t0.elapsed().as_millis() as u64,
            first,
        }))
    }

    /// The entry node's name.
    pub fn entry(&self) -> &str {
        self.cs.entry.as_deref().unwrap_or_default()
    }

    /// The target patterns the session was signed with.
    pub fn targets(&self) -> &[String] {
        &self.cs.body.targets
    }

    /// The per-command timeout, ms.
    pub fn timeout_ms(&self) -> u32 {
        self.cs.body.timeout_ms
    }

    /// Runs `ops` as the next follow-up Command and waits for its result. When `cancel`
    /// completes first, a Cancel goes to the entry node, which answers at once with what it
    /// has (the result is marked `cancelled`), and then a Command with no operations (the
    /// next `seq`), which stops the command's runs on every node; the session stays for the
    /// next command.
    pub async fn run(
        &mut self,
        ops: Vec<Query>,
        cancel: impl Future<Output = ()>,
    ) -> anyhow::Result<CommandAnswer> {
        self.seq += 1;
        let seq = self.seq;
        let n = ops.len();
        let p = self.cs.command_packet(seq, now_ms(), &ops)?;
        let t0 = Instant::now();
        framing::write_frame(&mut self.stream, &p.to_bytes()).await?;
        let wait = Duration::from_millis(u64::from(self.cs.body.timeout_ms) + 2000);
        let mut cancelled = false;
        let cancel_frame = self.cs.cancel_packet()?.to_bytes();
        let stop_frame = self.cs.command_packet(seq + 1, now_ms(), &[])?.to_bytes();
        tokio::pin!(cancel);
        let (result, ack) = loop {
            let packet = {
                // Reading and cancelling on the two halves: the read is never cut mid-frame.
                let (mut rd, mut wr) = self.stream.split();
                let read = read_from(&mut rd, wait, &self.g);
                tokio::pin!(read);
                loop {
                    tokio::select! {
                        p = &mut read => break p?,
                        () = &mut cancel, if !cancelled => {
                            cancelled = true;
                            // The Cancel (the entry answers now), then the stop.
                            framing::write_frame(&mut wr, &cancel_frame).await?;
                            framing::write_frame(&mut wr, &stop_frame).await?;
                        }
                    }
                }
            };
            // A result of an earlier command (the empty one of an earlier stop) is skipped.
            match self.cs.on_command_result_skipping(packet, seq, n)? {
                Ok(answer) => break answer,
                Err(ack) => framing::write_frame(&mut self.stream, &ack.to_bytes()).await?,
            }
        };
        if cancelled {
            // The stop took the next seq.
            self.seq += 1;
        }
        let _ = framing::write_frame(&mut self.stream, &ack.to_bytes()).await;
        Ok(CommandAnswer {
            result,
            cancelled,
            query_ms: t0.elapsed().as_millis() as u64,
        })
    }

    /// Keeps the stream to the entry node open while the user thinks: call it every
    /// [`KEEPALIVE`] between commands (the entry closes a stream silent for a minute; the
    /// session itself ends after [`mon_proto::timing::SESSION_IDLE_MS`] without a command).
    pub async fn keepalive(&mut self) -> anyhow::Result<()> {
        let p = self.cs.keepalive_packet()?;
        framing::write_frame(&mut self.stream, &p.to_bytes()).await?;
        Ok(())
    }
}

/// One packet from the entry node within `t`.
async fn read_from<R: tokio::io::AsyncRead + Unpin>(
    r: &mut R,
    t: Duration,
    g: &GlobalOpts,
) -> anyhow::Result<mon_proto::wire::packet::Packet> {
    use anyhow::Context as _;
    let f = tokio::time::timeout(t, framing::read_frame(r))
        .await
        .map_err(|_| {
            anyhow::anyhow!(
                "no answer from {} within {:.1} s",
                g.server,
                t.as_secs_f64()
            )
        })?
        .with_context(|| format!("reading from {}", g.server))?
        .with_context(|| format!("{} closed the connection (the session ended?)", g.server))?;
    Ok(mon_proto::wire::packet::Packet::from_bytes(
        &f,
        mon_proto::wire::packet::MAX_STREAM_PACKET,
    )?)
}

/// How often [`Interactive::keepalive`] is due: a third of the time a server keeps a silent
/// stream open.
pub const KEEPALIVE: Duration = Duration::from_secs(crate::server::STREAM_IDLE_S / 3);
