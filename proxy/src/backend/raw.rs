//! A hand-written MariaDB client connection for the pipelined fast path
//! ([`super::mux`]): connect, authenticate with `mysql_native_password` (also
//! after an auth switch), select the database, run the session's init
//! statements; then reads of whole MySQL packets *as received* (headers
//! included), so answers can be forwarded to a client byte for byte.
//!
//! Capabilities are chosen so that answers have the layout the gateway's own
//! front speaks to clients: no `CLIENT_DEPRECATE_EOF` (result sets end with EOF
//! packets), no compression, no TLS.
//!
//! [`super::local::connect`] makes one: over TCP, then to an instance on this
//! host through the server's Unix socket when it is reachable and leads to the
//! same server (`[backend] prefer_socket`).

use std::io;

use mysql_common::constants::CapabilityFlags;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use super::PoolKey;

/// A payload of this length continues in the next packet.
pub const MAX_PAYLOAD: usize = 0xff_ffff;
/// Collation asked for at connect (what mysql_async asks for too); the session's
/// own character set comes from its init statements (`SET NAMES ...`).
const UTF8MB4_GENERAL_CI: u8 = 45;

/// One logical packet as read: its raw bytes (every physical packet with its
/// header) and the first payload byte and payload length of the first one.
pub struct Packet {
    pub first: Option<u8>,
    pub len: usize,
}

impl Packet {
    /// An EOF packet (0xfe, shorter than 9 bytes).
    pub fn is_eof(&self) -> bool {
        self.first == Some(0xfe) && self.len < 9
    }
    pub fn is_err(&self) -> bool {
        self.first == Some(0xff)
    }
    pub fn is_ok(&self) -> bool {
        self.first == Some(0x00)
    }
}

/// The reading half of a connection (TCP or Unix socket), buffered.
pub type Reader = BufReader<Box<dyn AsyncRead + Send + Unpin>>;
/// The writing half of a connection (TCP or Unix socket).
pub type Writer = Box<dyn AsyncWrite + Send + Unpin>;

pub struct RawConn {
    pub reader: Reader,
    pub writer: Writer,
    /// The server's connection (thread) id.
    pub thread_id: u32,
    /// Connected through the server's Unix socket (not TCP).
    pub unix: bool,
}

impl RawConn {
    fn new(r: Box<dyn AsyncRead + Send + Unpin>, w: Writer, unix: bool) -> Self {
        Self {
            reader: BufReader::with_capacity(32 * 1024, r),
            writer: w,
            thread_id: 0,
            unix,
        }
    }

    /// Ends the session (`COM_QUIT`; the server closes the connection).
    pub async fn quit(mut self) {
        let _ = self.writer.write_all(&[1, 0, 0, 0, 0x01]).await;
        let _ = self.writer.shutdown().await;
    }
}

fn bad(what: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.into())
}

/// Appends one logical packet, raw, to `buf`; returns what it is.
pub async fn read_packet(r: &mut Reader, buf: &mut Vec<u8>) -> io::Result<Packet> {
    let mut first = None;
    let mut total = 0;
    loop {
        let mut hdr = [0u8; 4];
        r.read_exact(&mut hdr).await?;
        let len = u32::from_le_bytes([hdr[0], hdr[1], hdr[2], 0]) as usize;
        buf.extend_from_slice(&hdr);
        let at = buf.len();
        buf.resize(at + len, 0);
        r.read_exact(&mut buf[at..]).await?;
        if total == 0 && first.is_none() {
            first = buf.get(at).copied();
        }
        total += len;
        if len < MAX_PAYLOAD {
            return Ok(Packet { first, len: total });
        }
    }
}

/// Appends a packet header for a payload of `len` bytes (< 16 MiB) with `seq`.
pub fn put_header(buf: &mut Vec<u8>, len: usize, seq: u8) {
    let l = (len as u32).to_le_bytes();
    buf.extend_from_slice(&[l[0], l[1], l[2], seq]);
}

/// The payload of a one-packet raw packet.
fn payload(raw: &[u8]) -> &[u8] {
    raw.get(4..).unwrap_or(&[])
}

/// An ERR payload as an io error (code and message).
fn server_error(p: &[u8]) -> io::Error {
    let code = p.get(1..3).map_or(0, |c| u16::from_le_bytes([c[0], c[1]]));
    let msg = if p.get(3) == Some(&b'#') {
        p.get(9..).unwrap_or(&[])
    } else {
        p.get(3..).unwrap_or(&[])
    };
    io::Error::other(format!(
        "server error {code}: {}",
        String::from_utf8_lossy(msg)
    ))
}

/// A TCP connection to `key`'s instance (not logged in yet).
pub(super) async fn connect_tcp(key: &PoolKey) -> io::Result<RawConn> {
    let stream = TcpStream::connect((key.host.as_str(), key.port)).await?;
    stream.set_nodelay(true)?;
    let (r, w) = stream.into_split();
    Ok(RawConn::new(Box::new(r), Box::new(w), false))
}

/// Reads the server's greeting on a fresh connection and logs in as `user`
/// into `key`'s database (its client flags).
pub(super) async fn authenticate(
    c: &mut RawConn,
    key: &PoolKey,
    user: &str,
    password: &str,
) -> io::Result<()> {
    let mut buf = Vec::new();
    read_packet(&mut c.reader, &mut buf).await?;
    let hs = payload(&buf).to_vec();
    let (thread_id, salt) = parse_handshake(&hs)?;
    c.thread_id = thread_id;

    let mut caps = CapabilityFlags::CLIENT_PROTOCOL_41
        | CapabilityFlags::CLIENT_SECURE_CONNECTION
        | CapabilityFlags::CLIENT_LONG_PASSWORD
        | CapabilityFlags::CLIENT_LONG_FLAG
        | CapabilityFlags::CLIENT_TRANSACTIONS
        | CapabilityFlags::CLIENT_MULTI_RESULTS
        | CapabilityFlags::CLIENT_PS_MULTI_RESULTS
        | CapabilityFlags::CLIENT_PLUGIN_AUTH;
    if key.db.is_some() {
        caps |= CapabilityFlags::CLIENT_CONNECT_WITH_DB;
    }
    if key.found_rows {
        caps |= CapabilityFlags::CLIENT_FOUND_ROWS;
    }
    let auth = mysql_common::scramble::scramble_native(&salt, password.as_bytes())
        .map(|a| a.to_vec())
        .unwrap_or_default();
    let mut p = Vec::with_capacity(128);
    p.extend_from_slice(&caps.bits().to_le_bytes());
    p.extend_from_slice(&(16u32 * 1024 * 1024).to_le_bytes());
    p.push(UTF8MB4_GENERAL_CI);
    p.extend_from_slice(&[0u8; 23]);
    p.extend_from_slice(user.as_bytes());
    p.push(0);
    p.push(auth.len() as u8);
    p.extend_from_slice(&auth);
    if let Some(db) = &key.db {
        p.extend_from_slice(db.as_bytes());
        p.push(0);
    }
    p.extend_from_slice(b"mysql_native_password\0");
    let mut out = Vec::with_capacity(p.len() + 4);
    put_header(&mut out, p.len(), 1);
    out.extend_from_slice(&p);
    c.writer.write_all(&out).await?;

    let mut seq = 2u8;
    loop {
        buf.clear();
        let pk = read_packet(&mut c.reader, &mut buf).await?;
        let p = payload(&buf);
        match pk.first {
            Some(0x00) => break,
            Some(0xff) => return Err(server_error(p)),
            Some(0xfe) => {
                // Auth switch: plugin name, NUL, new salt (NUL-terminated).
                let rest = &p[1..];
                let nul = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
                if &rest[..nul] != b"mysql_native_password" {
                    return Err(bad(format!(
                        "the server asks for auth plugin {}",
                        String::from_utf8_lossy(&rest[..nul])
                    )));
                }
                let salt: Vec<u8> = rest
                    .get(nul + 1..)
                    .unwrap_or(&[])
                    .iter()
                    .copied()
                    .take_while(|&b| b != 0)
                    .collect();
                let auth = mysql_common::scramble::scramble_native(&salt, password.as_bytes())
                    .map(|a| a.to_vec())
                    .unwrap_or_default();
                let mut out = Vec::new();
                put_header(&mut out, auth.len(), seq);
                out.extend_from_slice(&auth);
                c.writer.write_all(&out).await?;
            }
            _ => return Err(bad("unexpected packet during authentication")),
        }
        seq = seq.wrapping_add(2);
    }
    Ok(())
}

/// A connection to the Unix socket at `path` (not logged in yet).
pub(super) async fn connect_unix(path: &std::path::Path) -> io::Result<RawConn> {
    let stream = tokio::net::UnixStream::connect(path).await?;
    let (r, w) = stream.into_split();
    Ok(RawConn::new(Box::new(r), Box::new(w), true))
}

/// Runs a text query expected to return at most one row; returns its values
/// (`None` for SQL NULL), or `None` when it returned no row.
pub(super) async fn query_row(
    c: &mut RawConn,
    sql: &str,
) -> io::Result<Option<Vec<Option<Vec<u8>>>>> {
    send_query(c, sql).await?;
    let mut buf = Vec::new();
    let pk = read_packet(&mut c.reader, &mut buf).await?;
    if pk.is_err() {
        return Err(server_error(payload(&buf)));
    }
    if pk.is_ok() {
        return Ok(None);
    }
    // Column definitions up to their EOF, then rows up to the closing EOF.
    loop {
        buf.clear();
        if read_packet(&mut c.reader, &mut buf).await?.is_eof() {
            break;
        }
    }
    let mut row = None;
    loop {
        buf.clear();
        let pk = read_packet(&mut c.reader, &mut buf).await?;
        if pk.is_eof() {
            return Ok(row);
        }
        if pk.is_err() {
            return Err(server_error(payload(&buf)));
        }
        if row.is_none() {
            row = Some(text_row(payload(&buf))?);
        }
    }
}

/// The values of a text-protocol row (length-encoded strings, 0xfb for NULL).
fn text_row(mut p: &[u8]) -> io::Result<Vec<Option<Vec<u8>>>> {
    let mut vals = Vec::new();
    while let Some(&b) = p.first() {
        if b == 0xfb {
            vals.push(None);
            p = &p[1..];
            continue;
        }
        let (len, n) = match b {
            0..=0xfa => (b as usize, 1),
            0xfc => (
                p.get(1..3)
                    .map_or(0, |x| u16::from_le_bytes([x[0], x[1]]) as usize),
                3,
            ),
            0xfd => (
                p.get(1..4)
                    .map_or(0, |x| u32::from_le_bytes([x[0], x[1], x[2], 0]) as usize),
                4,
            ),
            _ => return Err(bad("text row: unexpected length prefix")),
        };
        let v = p.get(n..n + len).ok_or_else(|| bad("text row too short"))?;
        vals.push(Some(v.to_vec()));
        p = &p[n + len..];
    }
    Ok(vals)
}

/// Writes `sql` as a COM_QUERY.
async fn send_query(c: &mut RawConn, sql: &str) -> io::Result<()> {
    let mut out = Vec::with_capacity(sql.len() + 5);
    put_header(&mut out, sql.len() + 1, 0);
    out.push(0x03);
    out.extend_from_slice(sql.as_bytes());
    c.writer.write_all(&out).await
}

/// Runs a statement expecting OK (session set-up).
pub(super) async fn query_ok(c: &mut RawConn, sql: &str) -> io::Result<()> {
    send_query(c, sql).await?;
    let mut buf = Vec::new();
    let pk = read_packet(&mut c.reader, &mut buf).await?;
    if pk.is_ok() {
        Ok(())
    } else if pk.is_err() {
        Err(server_error(payload(&buf)))
    } else {
        Err(bad(format!("'{sql}' returned rows")))
    }
}

/// Connection id and the 20-byte salt of an initial handshake (protocol 10).
fn parse_handshake(p: &[u8]) -> io::Result<(u32, Vec<u8>)> {
    if p.first() == Some(&0xff) {
        return Err(server_error(p));
    }
    if p.first() != Some(&10) {
        return Err(bad("not a protocol 10 handshake"));
    }
    let nul = p[1..]
        .iter()
        .position(|&b| b == 0)
        .ok_or_else(|| bad("handshake: no server version end"))?;
    let mut i = 1 + nul + 1;
    let id = p
        .get(i..i + 4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .ok_or_else(|| bad("handshake too short"))?;
    i += 4;
    let mut salt = p
        .get(i..i + 8)
        .ok_or_else(|| bad("handshake too short"))?
        .to_vec();
    // filler(1) caps_low(2) charset(1) status(2) caps_high(2) auth_len(1) reserved(10)
    i += 8 + 1 + 2 + 1 + 2 + 2;
    let auth_len = *p.get(i).unwrap_or(&21) as usize;
    i += 1 + 10;
    let n = auth_len.saturating_sub(8).max(13) - 1;
    salt.extend_from_slice(p.get(i..i + n).ok_or_else(|| bad("handshake too short"))?);
    Ok((id, salt))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handshake_salt_and_id() {
        let mut p = vec![10];
        p.extend_from_slice(b"10.11.19-MariaDB\0");
        p.extend_from_slice(&7u32.to_le_bytes());
        p.extend_from_slice(b"abcdefgh");
        p.push(0);
        p.extend_from_slice(&[0xff, 0xf7, 45, 2, 0, 0xff, 0x81, 21]);
        p.extend_from_slice(&[0; 10]);
        p.extend_from_slice(b"ijklmnopqrst\0");
        p.extend_from_slice(b"mysql_native_password\0");
        let (id, salt) = parse_handshake(&p).unwrap();
        assert_eq!(id, 7);
        assert_eq!(salt, b"abcdefghijklmnopqrst");
    }
}
