//! Pipelined connections for point reads ([`Mux`]): several sessions' statements
//! share one backend connection, written back to back without waiting for the
//! answers before them (the MySQL protocol answers commands in order). The
//! answers are forwarded raw, packet by packet, to whoever asked.
//!
//! Only reads that are safe to share a connection use it (`exec::fast` decides:
//! autocommit SELECTs routed by a shard-key value, no functions, variables or
//! locking). What it saves: a batch of statements costs one `send` and usually
//! one `recv` on the gateway, and MariaDB's thread reads the next command
//! without going to sleep — fewer syscalls and wake-ups per statement on both
//! sides than a connection per statement.
//!
//! Prepared statements are prepared once per connection: the first execute is
//! written as `COM_STMT_PREPARE` followed by `COM_STMT_EXECUTE` of statement id
//! 0xffffffff (MariaDB's "the statement just prepared"), in the same write; the
//! reader learns the real id from the prepare's answer.
//!
//! A connection that fails (closed, protocol surprise) fails every statement in
//! flight on it and is not used again. A reader whose asker does not take an
//! answer within [`STALL`] gives that answer up (the asker sees an incomplete
//! answer) so one stuck client cannot stop the others.

use std::collections::{HashMap, VecDeque};
use std::io;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;

use super::raw::{put_header, read_packet, RawConn};

/// Most answers one asker may leave untaken before the reader waits for it.
const CHUNKS: usize = 16;
/// Answer bytes gathered before they are handed on.
const CHUNK_BYTES: usize = 32 * 1024;
/// How long the reader waits for an asker to take an answer chunk.
const STALL: Duration = Duration::from_secs(5);
/// Most statements prepared on one connection (beyond, a point read of a new
/// shape uses a pooled connection). They count against the instance's
/// `max_prepared_stmt_count` with every other connection's, and pipelined
/// connections of up to 32 session states may be open at once (`super::pipelines`).
const MAX_STMTS: usize = 256;

/// A piece of an answer: raw packets; `end` on the last piece.
pub struct Chunk {
    pub bytes: Vec<u8>,
    pub end: Option<End>,
}

/// How an answer ended.
#[derive(Debug, Clone, Copy, Default)]
pub struct End {
    /// Warnings of the last result (its EOF).
    pub warnings: u16,
    /// The answer was an ERR packet.
    pub error: bool,
}

impl End {
    fn ok(warnings: u16) -> Option<Self> {
        Some(Self {
            warnings,
            error: false,
        })
    }

    fn error() -> Option<Self> {
        Some(Self {
            warnings: 0,
            error: true,
        })
    }
}

/// A statement to pipeline.
pub enum Command<'a> {
    /// COM_QUERY with this text (bytes in the client's character set).
    Query(&'a [u8]),
    /// COM_STMT_EXECUTE of `sql` with this parameter block (everything after the
    /// statement id: flags, iteration count, null bitmap, types, values).
    Execute { sql: &'a [u8], params: &'a [u8] },
}

/// What the reader does with the next answer.
enum Pending {
    /// A prepare the writer sent: learn the statement id, forward nothing.
    Prepare(Vec<u8>),
    /// Forward to this asker.
    Forward(mpsc::Sender<Chunk>),
}

struct State {
    pending: VecDeque<Pending>,
    /// Statement text → id on this connection.
    ids: HashMap<Vec<u8>, u32>,
    /// Text of the statement prepared last (the one id 0xffffffff names).
    last_prepared: Option<Vec<u8>>,
    /// Statements whose prepare was sent and not answered yet.
    preparing: std::collections::HashSet<Vec<u8>>,
}

pub struct Mux {
    writer: tokio::sync::Mutex<super::raw::Writer>,
    state: Mutex<State>,
    in_flight: AtomicUsize,
    dead: AtomicBool,
    /// Wakes the reader to end the connection ([`Mux::close`]).
    shutdown: tokio::sync::Notify,
    /// The server's connection id (for diagnostics).
    pub thread_id: u32,
}

impl Mux {
    /// Starts the reader of `conn` on the current runtime.
    pub fn start(conn: RawConn) -> Arc<Self> {
        let RawConn {
            reader,
            writer,
            thread_id,
            ..
        } = conn;
        let mux = Arc::new(Self {
            writer: tokio::sync::Mutex::new(writer),
            state: Mutex::new(State {
                pending: VecDeque::new(),
                ids: HashMap::new(),
                last_prepared: None,
                preparing: Default::default(),
            }),
            in_flight: AtomicUsize::new(0),
            dead: AtomicBool::new(false),
            shutdown: tokio::sync::Notify::new(),
            thread_id,
        });
        let m = mux.clone();
        tokio::spawn(async move {
            let r = tokio::select! {
                r = m.read_loop(reader) => r,
                _ = m.shutdown.notified() => Ok(()),
            };
            m.fail(r.err());
            // The reader half drops here; the writer half with the last handle.
        });
        mux
    }

    /// Ends the connection (its instance is no longer a primary): statements in
    /// flight fail, which sends them down the ordinary path.
    pub fn close(&self) {
        self.dead.store(true, Ordering::Release);
        self.shutdown.notify_one();
    }

    pub fn is_dead(&self) -> bool {
        self.dead.load(Ordering::Acquire)
    }

    /// Statements sent and not yet fully answered.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// Marks the connection dead and fails every statement in flight (their
    /// askers see the channel close without an end).
    fn fail(&self, why: Option<io::Error>) {
        if !self.dead.swap(true, Ordering::AcqRel) {
            if let Some(e) = why {
                tracing::debug!(thread = self.thread_id, "pipelined connection ended: {e}");
            }
        }
        let pending = std::mem::take(&mut self.state.lock().expect("mux state").pending);
        drop(pending);
    }

    /// Sends `cmd`; the answer arrives on the returned channel. `None` when the
    /// connection is dead or cannot take the statement (too many prepared).
    pub async fn send(&self, cmd: Command<'_>) -> Option<mpsc::Receiver<Chunk>> {
        if self.is_dead() {
            return None;
        }
        let (tx, rx) = mpsc::channel(CHUNKS);
        let mut out = Vec::with_capacity(64);
        // The writer lock orders the bytes on the wire and the pending queue alike.
        let mut w = self.writer.lock().await;
        {
            let mut st = self.state.lock().expect("mux state");
            match cmd {
                Command::Query(sql) => {
                    let n = sql.len() + 1;
                    if n >= super::raw::MAX_PAYLOAD {
                        return None;
                    }
                    put_header(&mut out, n, 0);
                    out.push(0x03);
                    out.extend_from_slice(sql);
                }
                Command::Execute { sql, params } => {
                    let n = 5 + params.len();
                    if n >= super::raw::MAX_PAYLOAD {
                        return None;
                    }
                    let id = match st.ids.get(sql) {
                        Some(&id) => id,
                        None if st.last_prepared.as_deref() == Some(sql) => 0xffff_ffff,
                        // Being prepared, but another statement was prepared since:
                        // its id is not known yet (preparing it again would leak one).
                        None if st.preparing.contains(sql) => return None,
                        None => {
                            if st.ids.len() + st.preparing.len() >= MAX_STMTS
                                || sql.len() + 1 >= super::raw::MAX_PAYLOAD
                            {
                                return None;
                            }
                            put_header(&mut out, sql.len() + 1, 0);
                            out.push(0x16);
                            out.extend_from_slice(sql);
                            st.pending.push_back(Pending::Prepare(sql.to_vec()));
                            st.preparing.insert(sql.to_vec());
                            st.last_prepared = Some(sql.to_vec());
                            0xffff_ffff
                        }
                    };
                    put_header(&mut out, n, 0);
                    out.push(0x17);
                    out.extend_from_slice(&id.to_le_bytes());
                    out.extend_from_slice(params);
                }
            }
            st.pending.push_back(Pending::Forward(tx));
            self.in_flight.fetch_add(1, Ordering::Relaxed);
        }
        if let Err(e) = w.write_all(&out).await {
            drop(w);
            self.fail(Some(e));
        }
        Some(rx)
    }

    fn next_pending(&self) -> Option<Pending> {
        self.state.lock().expect("mux state").pending.pop_front()
    }

    async fn read_loop(&self, mut r: super::raw::Reader) -> io::Result<()> {
        let mut buf = Vec::with_capacity(CHUNK_BYTES);
        loop {
            buf.clear();
            let first = read_packet(&mut r, &mut buf).await?;
            let Some(p) = self.next_pending() else {
                return Err(io::Error::other("an answer nobody asked for"));
            };
            match p {
                Pending::Prepare(sql) => {
                    self.learn_prepared(&mut r, &mut buf, first, sql).await?;
                }
                Pending::Forward(tx) => {
                    let r2 = self.forward(&mut r, &mut buf, first, tx).await;
                    self.in_flight.fetch_sub(1, Ordering::Relaxed);
                    r2?;
                }
            }
        }
    }

    /// Reads a COM_STMT_PREPARE answer and records the statement's id.
    async fn learn_prepared(
        &self,
        r: &mut super::raw::Reader,
        buf: &mut Vec<u8>,
        first: super::raw::Packet,
        sql: Vec<u8>,
    ) -> io::Result<()> {
        if first.is_err() {
            // The execute that follows fails the same way and tells its asker.
            let mut st = self.state.lock().expect("mux state");
            st.preparing.remove(&sql);
            if st.last_prepared.as_deref() == Some(&sql[..]) {
                st.last_prepared = None;
            }
            return Ok(());
        }
        let p = &buf[4..];
        if !first.is_ok() || p.len() < 12 {
            return Err(io::Error::other("unexpected answer to a prepare"));
        }
        let id = u32::from_le_bytes([p[1], p[2], p[3], p[4]]);
        let cols = u16::from_le_bytes([p[5], p[6]]) as usize;
        let params = u16::from_le_bytes([p[7], p[8]]) as usize;
        for n in [params, cols] {
            if n > 0 {
                for _ in 0..=n {
                    buf.clear();
                    read_packet(r, buf).await?;
                }
            }
        }
        let mut st = self.state.lock().expect("mux state");
        st.preparing.remove(&sql);
        st.ids.insert(sql, id);
        Ok(())
    }

    /// Forwards one whole answer (every result of it) to `tx`.
    async fn forward(
        &self,
        r: &mut super::raw::Reader,
        buf: &mut Vec<u8>,
        mut pk: super::raw::Packet,
        tx: mpsc::Sender<Chunk>,
    ) -> io::Result<()> {
        let mut tx = Some(tx);
        loop {
            // One result: OK / ERR, or column count, definitions, EOF, rows, EOF|ERR.
            let eof_len;
            if pk.is_ok() || pk.is_err() {
                if pk.is_err() {
                    return self.hand(&mut tx, buf, End::error()).await;
                }
                let (more, warnings) = ok_status(&buf[buf.len() - pk.len..]);
                if !more {
                    return self.hand(&mut tx, buf, End::ok(warnings)).await;
                }
                pk = self.next(r, buf, &mut tx).await?;
                continue;
            }
            if pk.first == Some(0xfb) {
                return Err(io::Error::other(
                    "LOCAL INFILE request on a pipelined connection",
                ));
            }
            // Column definitions and their EOF.
            loop {
                let p = self.next(r, buf, &mut tx).await?;
                if p.is_eof() {
                    break;
                }
                if p.is_err() {
                    return Err(io::Error::other("error inside column definitions"));
                }
            }
            // Rows until EOF or ERR.
            loop {
                let p = self.next(r, buf, &mut tx).await?;
                if p.is_err() {
                    return self.hand(&mut tx, buf, End::error()).await;
                }
                if p.is_eof() {
                    eof_len = p.len;
                    break;
                }
            }
            let eof = &buf[buf.len() - eof_len..];
            if eof.len() < 5 {
                return Err(io::Error::other("short EOF packet"));
            }
            let warnings = u16::from_le_bytes([eof[1], eof[2]]);
            let status = u16::from_le_bytes([eof[3], eof[4]]);
            if status & 0x0008 == 0 {
                return self.hand(&mut tx, buf, End::ok(warnings)).await;
            }
            pk = self.next(r, buf, &mut tx).await?;
        }
    }

    /// Reads the next packet of an answer into `buf`, handing `buf` on first
    /// when it has grown large.
    async fn next(
        &self,
        r: &mut super::raw::Reader,
        buf: &mut Vec<u8>,
        tx: &mut Option<mpsc::Sender<Chunk>>,
    ) -> io::Result<super::raw::Packet> {
        if buf.len() >= CHUNK_BYTES {
            self.hand(tx, buf, None).await?;
        }
        read_packet(r, buf).await
    }

    /// Hands what `buf` holds to the asker (if it still waits) and empties it.
    async fn hand(
        &self,
        tx: &mut Option<mpsc::Sender<Chunk>>,
        buf: &mut Vec<u8>,
        end: Option<End>,
    ) -> io::Result<()> {
        // A small answer is copied (the buffer keeps its capacity for the next);
        // a large chunk is handed over as it is.
        let bytes = if buf.len() >= CHUNK_BYTES {
            std::mem::take(buf)
        } else {
            let b = buf.clone();
            buf.clear();
            b
        };
        if let Some(t) = tx.as_ref() {
            let give_up = match t.try_send(Chunk { bytes, end }) {
                Ok(()) => false,
                Err(mpsc::error::TrySendError::Full(c)) => {
                    !matches!(tokio::time::timeout(STALL, t.send(c)).await, Ok(Ok(())))
                }
                Err(mpsc::error::TrySendError::Closed(_)) => true,
            };
            if give_up {
                *tx = None;
            }
        }
        Ok(())
    }
}

/// `(more results follow, warnings)` of an OK packet's payload (protocol 41).
fn ok_status(p: &[u8]) -> (bool, u16) {
    let mut i = 1;
    for _ in 0..2 {
        i += match p.get(i) {
            Some(0xfc) => 3,
            Some(0xfd) => 4,
            Some(0xfe) => 9,
            _ => 1,
        };
    }
    let status = p
        .get(i..i + 2)
        .map_or(0, |b| u16::from_le_bytes([b[0], b[1]]));
    let warnings = p
        .get(i + 2..i + 4)
        .map_or(0, |b| u16::from_le_bytes([b[0], b[1]]));
    (status & 0x0008 != 0, warnings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ok_status_reads_flags_and_warnings() {
        // OK, affected 1, insert id 0xfc 0x00 0x01 (256), status MORE_RESULTS|AUTOCOMMIT, 3 warnings.
        let p = [0x00, 1, 0xfc, 0x00, 0x01, 0x0a, 0x00, 3, 0];
        assert_eq!(ok_status(&p), (true, 3));
        let p = [0x00, 0, 0, 0x02, 0x00, 0, 0];
        assert_eq!(ok_status(&p), (false, 0));
    }
}
