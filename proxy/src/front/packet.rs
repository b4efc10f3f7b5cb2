//! MySQL packet framing over a TCP stream: a 3-byte length, a sequence id, the
//! payload; payloads of 16 MiB - 1 or more continue in the next packet.
//!
//! Reads are buffered, so several commands pipelined in one TCP write are read one
//! after another; writes are buffered until [`PacketIo::flush`] (or until the buffer
//! passes a threshold, so a large result streams in bounded memory).

use std::io;

use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;

const MAX_PAYLOAD: usize = 0xff_ffff;
/// Flush the write buffer once it holds this much.
const FLUSH_AT: usize = 64 * 1024;
/// Largest command we accept from a client (max_allowed_packet).
pub const MAX_COMMAND: usize = 64 * 1024 * 1024;
/// Packets up to this size are read into a buffer sized by their header at once.
const EAGER_READ: usize = 64 * 1024;

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
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
    out: Vec<u8>,
    seq: u8,
    /// Packets written so far (a writer can tell whether an answer began).
    written: u64,
}

impl PacketIo {
    pub fn new(stream: TcpStream) -> Self {
        let _ = stream.set_nodelay(true);
        let (r, w) = stream.into_split();
        Self {
            reader: BufReader::with_capacity(16 * 1024, r),
            writer: w,
            out: Vec::with_capacity(16 * 1024),
            seq: 0,
            written: 0,
        }
    }

    /// Reads one logical packet; `Ok(None)` on a clean end of stream between packets.
    /// Its sequence id must be the next of the exchange ([`OutOfOrder`] otherwise);
    /// the next packet written continues the sequence.
    pub async fn read(&mut self) -> io::Result<Option<Vec<u8>>> {
        let mut payload = Vec::new();
        loop {
            let mut hdr = [0u8; 4];
            match self.reader.read_exact(&mut hdr).await {
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
            if payload.len() + len > MAX_COMMAND {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "packet larger than max_allowed_packet",
                ));
            }
            let at = payload.len();
            if len <= EAGER_READ {
                payload.resize(at + len, 0);
                self.reader.read_exact(&mut payload[at..]).await?;
            } else {
                // Memory grows with the bytes that arrive, not with the length a
                // header declares (a client declaring 16 MiB and sending nothing).
                let got = (&mut self.reader)
                    .take(len as u64)
                    .read_to_end(&mut payload)
                    .await?;
                if got < len {
                    return Err(io::ErrorKind::UnexpectedEof.into());
                }
            }
            if len < MAX_PAYLOAD {
                return Ok(Some(payload));
            }
        }
    }

    /// Starts a new command exchange: the client's next packet has sequence 0.
    pub fn reset_seq(&mut self) {
        self.seq = 0;
    }

    /// Queues one logical packet (split as the protocol requires).
    pub async fn write(&mut self, payload: &[u8]) -> io::Result<()> {
        self.written += 1;
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
        self.out.extend_from_slice(bytes);
        if self.out.len() >= FLUSH_AT {
            self.flush().await?;
        }
        Ok(())
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
            self.writer.write_all(&self.out).await?;
            self.out.clear();
        }
        Ok(())
    }

    pub fn peer_addr(&self) -> io::Result<std::net::SocketAddr> {
        self.writer.peer_addr()
    }
}
