//! MySQL packet framing over a client's stream (TCP, or TLS after an SSLRequest:
//! [`super::tls::ClientStream`]): a 3-byte length, a sequence id, the payload;
//! payloads of 16 MiB - 1 or more continue in the next packet.
//!
//! Reads are buffered, so several commands pipelined in one TCP write are read one
//! after another; writes are buffered until [`PacketIo::flush`] (or until the buffer
//! passes a threshold, so a large result streams in bounded memory).
//!
//! An idle connection holds no buffer: both are released whenever the client has
//! nothing more to read for us and we wait for it (between commands), and
//! allocated again when it sends. Thousands of idle clients then cost the
//! gateway little more than their sessions (bench/idle_conns.sh). (A TLS
//! connection keeps its read buffer: rustls holds its own buffers anyway.)

use std::io;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::tls::{Acceptor, ClientStream, TlsInfo};

const MAX_PAYLOAD: usize = 0xff_ffff;
/// Flush the write buffer once it holds this much.
const FLUSH_AT: usize = 64 * 1024;
/// Read buffer size (allocated only while the client is sending).
const READ_BUF: usize = 16 * 1024;
/// Largest command we accept from a client (max_allowed_packet).
pub const MAX_COMMAND: usize = 64 * 1024 * 1024;
/// Packets up to this size are read into a buffer sized by their header at once.
const EAGER_READ: usize = 64 * 1024;
/// The write buffer's first allocation after it was released.
const OUT_START: usize = 4 * 1024;

/// A client packet whose sequence id is not the next of the exchange (MariaDB
/// answers ER_NET_PACKETS_OUT_OF_ORDER and closes the connection).
#[derive(Debug)]
pub struct OutOfOrder;

impl std::fmt::Display for OutOfOrder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Got packets out of order")
    }
}

impl std::error::Error for OutOfOrder {}

/// Whether `e` is [`OutOfOrder`].
pub fn out_of_order(e: &io::Error) -> bool {
    e.get_ref().is_some_and(|i| i.is::<OutOfOrder>())
}

pub struct PacketIo {
    stream: ClientStream,
    /// Bytes read and not consumed yet: `rbuf[rpos..]`.
    rbuf: Vec<u8>,
    rpos: usize,
    out: Vec<u8>,
    seq: u8,
    /// Packets written so far (a writer can tell whether an answer began).
    written: u64,
}

impl PacketIo {
    pub fn new(stream: TcpStream) -> Self {
        let _ = stream.set_nodelay(true);
        Self {
            stream: ClientStream::Plain(stream),
            rbuf: Vec::new(),
            rpos: 0,
            out: Vec::new(),
            seq: 0,
            written: 0,
        }
    }

    /// Packets to memory, no client ([`ClientStream::Memory`]); see
    /// [`PacketIo::take_memory`].
    pub fn memory() -> Self {
        Self {
            stream: ClientStream::Memory(Vec::new()),
            rbuf: Vec::new(),
            rpos: 0,
            out: Vec::new(),
            seq: 0,
            written: 0,
        }
    }

    /// What was written to a [`PacketIo::memory`] (flushed first): packets with
    /// their headers.
    pub async fn take_memory(&mut self) -> io::Result<Vec<u8>> {
        self.flush().await?;
        match &mut self.stream {
            ClientStream::Memory(v) => Ok(std::mem::take(v)),
            _ => Err(io::Error::other("not a memory stream")),
        }
    }

    /// Reads one logical packet; `Ok(None)` on a clean end of stream between packets.
    /// Its sequence id must be the next of the exchange ([`OutOfOrder`] otherwise);
    /// the next packet written continues the sequence.
    pub async fn read(&mut self) -> io::Result<Option<Vec<u8>>> {
        let mut payload = Vec::new();
        loop {
            let mut hdr = [0u8; 4];
            match self.read_exact(&mut hdr).await {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof && payload.is_empty() => {
                    return Ok(None)
                }
                Err(e) => return Err(e),
            }
            let len = u32::from_le_bytes([hdr[0], hdr[1], hdr[2], 0]) as usize;
            if hdr[3] != self.seq {
                return Err(io::Error::new(io::ErrorKind::InvalidData, OutOfOrder));
            }
            self.seq = hdr[3].wrapping_add(1);
            if payload.len() + len > crate::admission::admission().config().max_allowed_packet {
                // As MariaDB: 1153 in the client's sequence, then the connection closes.
                let e = crate::error::ProxyError::PacketTooLarge;
                self.write_with(|b| {
                    super::wire::err_packet(b, e.code(), e.sqlstate(), &e.to_string())
                })
                .await?;
                self.flush().await?;
                return Err(io::Error::new(io::ErrorKind::InvalidData, e.to_string()));
            }
            let at = payload.len();
            if len <= EAGER_READ {
                payload.resize(at + len, 0);
                self.read_exact(&mut payload[at..]).await?;
            } else {
                // Memory grows with the bytes that arrive, not with the length a
                // header declares (a client declaring 16 MiB and sending nothing).
                let mut left = len;
                while left > 0 {
                    let n = left.min(EAGER_READ);
                    let from = payload.len();
                    payload.resize(from + n, 0);
                    self.read_exact(&mut payload[from..]).await?;
                    left -= n;
                }
            }
            if len < MAX_PAYLOAD {
                return Ok(Some(payload));
            }
        }
    }

    /// Fills `dst` from the buffer and the socket.
    async fn read_exact(&mut self, dst: &mut [u8]) -> io::Result<()> {
        let mut filled = 0;
        while filled < dst.len() {
            let have = self.rbuf.len() - self.rpos;
            if have > 0 {
                let n = have.min(dst.len() - filled);
                dst[filled..filled + n].copy_from_slice(&self.rbuf[self.rpos..self.rpos + n]);
                self.rpos += n;
                filled += n;
                continue;
            }
            // A large remainder goes straight into `dst`.
            if dst.len() - filled >= READ_BUF {
                let n = match &mut self.stream {
                    ClientStream::Plain(tcp) => match tcp.try_read(&mut dst[filled..]) {
                        Ok(n) => n,
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                            tcp.readable().await?;
                            continue;
                        }
                        Err(e) => return Err(e),
                    },
                    other => other.read(&mut dst[filled..]).await?,
                };
                if n == 0 {
                    return Err(io::ErrorKind::UnexpectedEof.into());
                }
                filled += n;
                continue;
            }
            if self.fill().await? == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
        }
        Ok(())
    }

    /// Reads what the socket has into the (drained) buffer; `Ok(0)` at end of
    /// stream. While nothing is there to read, the buffers are released.
    async fn fill(&mut self) -> io::Result<usize> {
        self.rbuf.clear();
        self.rpos = 0;
        loop {
            if self.rbuf.capacity() == 0 {
                self.rbuf.reserve_exact(READ_BUF);
            }
            let tcp = match &mut self.stream {
                ClientStream::Plain(tcp) => tcp,
                other => {
                    if self.out.is_empty() {
                        self.out = Vec::new();
                    }
                    return other.read_buf(&mut self.rbuf).await;
                }
            };
            match tcp.try_read_buf(&mut self.rbuf) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.rbuf = Vec::new();
                    if self.out.is_empty() {
                        self.out = Vec::new();
                    }
                    tcp.readable().await?;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Waits until the client sent something (or closed), reading nothing: it
    /// can be given up at any point. `false`: it cannot be waited for this way
    /// (TLS, whose records may hold bytes already read) — read instead.
    pub async fn wait_readable(&mut self) -> io::Result<bool> {
        if self.rpos < self.rbuf.len() {
            return Ok(true);
        }
        match &self.stream {
            ClientStream::Plain(tcp) => {
                tcp.peek(&mut [0u8; 1]).await?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// Starts a new command exchange: the client's next packet has sequence 0.
    pub fn reset_seq(&mut self) {
        self.seq = 0;
    }

    /// Queues one logical packet (split as the protocol requires).
    pub async fn write(&mut self, payload: &[u8]) -> io::Result<()> {
        self.written += 1;
        self.start_out();
        let mut chunks = payload.chunks(MAX_PAYLOAD).peekable();
        let mut last_len = 0;
        while let Some(chunk) = chunks.next() {
            self.push_header(chunk.len());
            self.out.extend_from_slice(chunk);
            last_len = chunk.len();
            if chunks.peek().is_none() && last_len == MAX_PAYLOAD {
                self.push_header(0);
            }
        }
        if payload.is_empty() {
            self.push_header(0);
        }
        let _ = last_len;
        if self.out.len() >= FLUSH_AT {
            self.flush().await?;
        }
        Ok(())
    }

    /// Queues a packet built by `f` in the write buffer (no intermediate copy).
    pub async fn write_with(&mut self, f: impl FnOnce(&mut Vec<u8>)) -> io::Result<()> {
        self.written += 1;
        self.start_out();
        let at = self.out.len();
        self.out.extend_from_slice(&[0, 0, 0, 0]);
        f(&mut self.out);
        let len = self.out.len() - at - 4;
        if len >= MAX_PAYLOAD {
            let payload = self.out.split_off(at + 4);
            self.out.truncate(at);
            return self.write(&payload).await;
        }
        self.out[at..at + 3].copy_from_slice(&(len as u32).to_le_bytes()[..3]);
        self.out[at + 3] = self.seq;
        self.seq = self.seq.wrapping_add(1);
        if self.out.len() >= FLUSH_AT {
            self.flush().await?;
        }
        Ok(())
    }

    /// Queues packets exactly as given (headers included): a backend's answer
    /// forwarded as is. Its sequence ids are the backend's, which start at 1 after
    /// a command as the client's do.
    pub async fn write_raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.written += 1;
        self.start_out();
        self.out.extend_from_slice(bytes);
        if self.out.len() >= FLUSH_AT {
            self.flush().await?;
        }
        Ok(())
    }

    /// The write buffer's first allocation (after an idle spell released it).
    fn start_out(&mut self) {
        if self.out.capacity() == 0 {
            self.out.reserve(OUT_START);
        }
    }

    fn push_header(&mut self, len: usize) {
        let l = (len as u32).to_le_bytes();
        self.out.extend_from_slice(&[l[0], l[1], l[2], self.seq]);
        self.seq = self.seq.wrapping_add(1);
    }

    /// How many times something was written (packets, or raw runs of them).
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Sends everything queued.
    pub async fn flush(&mut self) -> io::Result<()> {
        if !self.out.is_empty() {
            // A client that does not read its answer: closed after
            // net_write_timeout, as MariaDB does (its session then releases
            // the backend connections it holds).
            let limit = crate::admission::admission().config().net_write_timeout();
            let (stream, out) = (&mut self.stream, &self.out);
            let write = async {
                stream.write_all(out).await?;
                // TLS may keep records the socket would not take yet (no-op on TCP).
                stream.flush().await
            };
            tokio::time::timeout(limit, write)
                .await
                .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "net_write_timeout"))??;
            self.out.clear();
        }
        Ok(())
    }

    pub fn peer_addr(&self) -> io::Result<std::net::SocketAddr> {
        self.stream.peer_addr()
    }

    /// Switches a plain connection to TLS (after the client's SSLRequest); bytes
    /// already read past it are the start of the TLS handshake.
    pub async fn start_tls(&mut self, acceptor: &Acceptor) -> io::Result<()> {
        let early = self.rbuf[self.rpos..].to_vec();
        self.rbuf = Vec::new();
        self.rpos = 0;
        let ClientStream::Plain(tcp) = std::mem::replace(&mut self.stream, ClientStream::Gone)
        else {
            return Err(io::Error::other("TLS already started"));
        };
        self.stream = acceptor.accept(tcp, early).await?;
        Ok(())
    }

    /// What the client negotiated, if it speaks TLS.
    pub fn tls_info(&self) -> Option<TlsInfo> {
        self.stream.tls_info()
    }
}
