//! Stream framing shared by the server and the client.
//!
//! A stream starts with a preamble: the 4 bytes `MON1`, then one kind byte — `0` for a
//! client, `1` for a node followed by its listen address (u8 length + UTF-8 `ip:port`) so
//! the receiver can route replies. Then frames: u32 big-endian length, then one CBOR packet.

use std::net::SocketAddr;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use mon_proto::push::msg::MAX_PUSH_MSG;
use mon_proto::wire::packet::MAX_STREAM_PACKET;
use mon_proto::wire::session::MAX_SIGNED_SESSION_LEN;

/// Largest frame a stream may carry before it has carried an authenticated one: a Session (the
/// signed session and its hop fields) or one sealed push message (a node's push stream, opened
/// again after a break, may start with a block), nothing more.
pub const PRE_AUTH_FRAME: usize = if MAX_SIGNED_SESSION_LEN > MAX_PUSH_MSG {
    MAX_SIGNED_SESSION_LEN
} else {
    MAX_PUSH_MSG
} + 4096;

/// A frame's buffer starts at most this large and grows with the bytes that arrive.
const FIRST_READ: usize = 64 * 1024;

/// Stream magic.
pub const MAGIC: &[u8; 4] = b"MON1";

/// Who opened a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opener {
    /// A client.
    Client,
    /// A node, with its listen address.
    Node(SocketAddr),
    /// A client asking for the node's name and slices (answered with one CBOR [`Info`]
    /// frame, then the stream closes).
    Info,
}

/// What a node tells anyone who asks: not secret, used by the client to pick the default
/// slice and to name the entry node in messages.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Info {
    /// Node name.
    pub name: String,
    /// Slices with a valid policy.
    pub slices: Vec<String>,
}

/// Writes the preamble.
pub async fn write_preamble<W: AsyncWrite + Unpin>(w: &mut W, who: Opener) -> std::io::Result<()> {
    let mut b = MAGIC.to_vec();
    match who {
        Opener::Client => b.push(0),
        Opener::Info => b.push(2),
        Opener::Node(addr) => {
            let s = addr.to_string();
            b.push(1);
            b.push(u8::try_from(s.len()).unwrap_or(0));
            b.extend_from_slice(s.as_bytes());
        }
    }
    w.write_all(&b).await
}

/// Reads and checks the preamble.
pub async fn read_preamble<R: AsyncRead + Unpin>(r: &mut R) -> std::io::Result<Opener> {
    let mut head = [0u8; 5];
    r.read_exact(&mut head).await?;
    if &head[..4] != MAGIC {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "not a MON stream",
        ));
    }
    match head[4] {
        0 => Ok(Opener::Client),
        1 => {
            let mut len = [0u8; 1];
            r.read_exact(&mut len).await?;
            let mut s = vec![0u8; usize::from(len[0])];
            r.read_exact(&mut s).await?;
            let addr = std::str::from_utf8(&s)
                .ok()
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| {
                    std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        "bad node address in preamble",
                    )
                })?;
            Ok(Opener::Node(addr))
        }
        2 => Ok(Opener::Info),
        _ => Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "unknown stream kind",
        )),
    }
}

/// Writes one frame.
pub async fn write_frame<W: AsyncWrite + Unpin>(w: &mut W, bytes: &[u8]) -> std::io::Result<()> {
    let len = u32::try_from(bytes.len())
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidInput, "frame too large"))?;
    w.write_all(&len.to_be_bytes()).await?;
    w.write_all(bytes).await
}

/// Reads one frame; `Ok(None)` at a clean end of stream.
pub async fn read_frame<R: AsyncRead + Unpin>(r: &mut R) -> std::io::Result<Option<Vec<u8>>> {
    match read_frame_len(r).await? {
        Some(len) => read_frame_body(r, len, MAX_STREAM_PACKET).await.map(Some),
        None => Ok(None),
    }
}

/// Reads a frame's length; `Ok(None)` at a clean end of stream.
pub async fn read_frame_len<R: AsyncRead + Unpin>(r: &mut R) -> std::io::Result<Option<usize>> {
    let mut len = [0u8; 4];
    match r.read_exact(&mut len).await {
        Ok(_) => Ok(Some(u32::from_be_bytes(len) as usize)),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(None),
        Err(e) => Err(e),
    }
}

/// Reads a frame of `len` bytes (refused above `max`) into a buffer that grows with the bytes
/// actually received, so a declared length costs no memory by itself.
pub async fn read_frame_body<R: AsyncRead + Unpin>(
    r: &mut R,
    len: usize,
    max: usize,
) -> std::io::Result<Vec<u8>> {
    if len > max {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("frame of {len} bytes exceeds the limit of {max}"),
        ));
    }
    let mut buf = Vec::with_capacity(len.min(FIRST_READ));
    (&mut *r).take(len as u64).read_to_end(&mut buf).await?;
    if buf.len() != len {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    Ok(buf)
}

/// A TCP connection to `to` from this server's listen address `me` (any port), so that
/// peers see (and count, and audit) the address the server is known by.
pub async fn connect_from(
    to: SocketAddr,
    me: SocketAddr,
) -> std::io::Result<tokio::net::TcpStream> {
    let sock = match to {
        SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
        SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
    };
    if !me.ip().is_unspecified() && me.is_ipv4() == to.is_ipv4() {
        sock.bind(SocketAddr::new(me.ip(), 0))?;
    }
    sock.connect(to).await
}
