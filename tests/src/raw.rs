//! A bare MySQL client on a raw socket: the handshake with
//! `mysql_native_password`, then packets written and read as they are — for what
//! drivers hide: the exact bytes of an error, a client bound to a chosen source
//! address, thousands of idle connections held cheaply, a client that sends a
//! query and never reads its answer.

use std::io;
use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// A server error: code, SQLSTATE (empty when the packet has none), message.
pub type ServerError = (u16, String, String);

/// An authenticated raw connection.
pub struct RawConn {
    pub stream: TcpStream,
}

/// Parses an ERR packet's payload.
pub fn parse_err(p: &[u8]) -> Option<ServerError> {
    if p.first() != Some(&0xff) || p.len() < 3 {
        return None;
    }
    let code = u16::from_le_bytes([p[1], p[2]]);
    let (state, msg) = if p.get(3) == Some(&b'#') && p.len() >= 9 {
        (String::from_utf8_lossy(&p[4..9]).into_owned(), &p[9..])
    } else {
        (String::new(), &p[3..])
    };
    Some((code, state, String::from_utf8_lossy(msg).into_owned()))
}

/// Reads one packet: (sequence id, payload).
pub async fn read_packet(s: &mut TcpStream) -> io::Result<(u8, Vec<u8>)> {
    let mut hdr = [0u8; 4];
    s.read_exact(&mut hdr).await?;
    let len = u32::from_le_bytes([hdr[0], hdr[1], hdr[2], 0]) as usize;
    let mut p = vec![0u8; len];
    s.read_exact(&mut p).await?;
    Ok((hdr[3], p))
}

/// Writes `payload` as packets starting at sequence `seq` (split at 16 MiB - 1).
pub async fn write_packet(s: &mut TcpStream, mut seq: u8, payload: &[u8]) -> io::Result<()> {
    const MAX: usize = 0xff_ffff;
    let mut out = Vec::with_capacity(payload.len() + 8);
    let mut rest = payload;
    loop {
        let n = rest.len().min(MAX);
        out.extend_from_slice(&(n as u32).to_le_bytes()[..3]);
        out.push(seq);
        seq = seq.wrapping_add(1);
        out.extend_from_slice(&rest[..n]);
        rest = &rest[n..];
        if n < MAX {
            break;
        }
    }
    s.write_all(&out).await
}

/// A TCP connection to `addr` from `source` (any port).
pub async fn tcp(addr: SocketAddr, source: Option<&str>) -> io::Result<TcpStream> {
    let sock = TcpSocket::new_v4()?;
    if let Some(src) = source {
        sock.bind(format!("{src}:0").parse().expect("an IPv4 address"))?;
    }
    sock.connect(addr).await
}

impl RawConn {
    /// Connects and authenticates; `Ok(Err(e))` when the server refused with `e`.
    pub async fn connect(
        addr: SocketAddr,
        source: Option<&str>,
        user: &str,
        password: &str,
    ) -> io::Result<Result<RawConn, ServerError>> {
        Self::connect_with(addr, source, user, password, 0).await
    }

    /// [`connect`](Self::connect) with more capability flags (e.g. 0x400,
    /// CLIENT_INTERACTIVE).
    pub async fn connect_with(
        addr: SocketAddr,
        source: Option<&str>,
        user: &str,
        password: &str,
        extra_caps: u32,
    ) -> io::Result<Result<RawConn, ServerError>> {
        let mut s = tcp(addr, source).await?;
        let (_, greet) = read_packet(&mut s).await?;
        if let Some(e) = parse_err(&greet) {
            return Ok(Err(e));
        }
        let salt = greeting_salt(&greet)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "bad greeting"))?;
        // LONG_PASSWORD | PROTOCOL_41 | TRANSACTIONS | SECURE_CONNECTION |
        // MULTI_RESULTS | PLUGIN_AUTH
        let caps: u32 = 0x1 | 0x200 | 0x2000 | 0x8000 | 0x20000 | 0x80000 | extra_caps;
        let mut r = Vec::new();
        r.extend_from_slice(&caps.to_le_bytes());
        r.extend_from_slice(&(16u32 << 20).to_le_bytes());
        r.push(45);
        r.extend_from_slice(&[0u8; 23]);
        r.extend_from_slice(user.as_bytes());
        r.push(0);
        let auth = if password.is_empty() {
            Vec::new()
        } else {
            topo::password::native_scramble(password, &salt)
        };
        r.push(auth.len() as u8);
        r.extend_from_slice(&auth);
        r.extend_from_slice(b"mysql_native_password\0");
        write_packet(&mut s, 1, &r).await?;
        let (_, answer) = read_packet(&mut s).await?;
        if let Some(e) = parse_err(&answer) {
            return Ok(Err(e));
        }
        if answer.first() != Some(&0) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("unexpected answer to the handshake: {answer:?}"),
            ));
        }
        Ok(Ok(RawConn { stream: s }))
    }

    /// Sends COM_QUERY `sql` (sequence 0); the answer is left unread.
    pub async fn send_query(&mut self, sql: &[u8]) -> io::Result<()> {
        let mut p = Vec::with_capacity(sql.len() + 1);
        p.push(3);
        p.extend_from_slice(sql);
        write_packet(&mut self.stream, 0, &p).await
    }

    /// Runs `sql` and reads its whole text result: the rows (NULL = `None`), or
    /// the server's error (an OK packet gives no rows).
    pub async fn query(
        &mut self,
        sql: &str,
    ) -> io::Result<Result<Vec<Vec<Option<String>>>, ServerError>> {
        self.send_query(sql.as_bytes()).await?;
        let (_, first) = self.read().await?;
        if let Some(e) = parse_err(&first) {
            return Ok(Err(e));
        }
        if first.first() == Some(&0) {
            return Ok(Ok(Vec::new()));
        }
        let is_eof = |p: &[u8]| p.first() == Some(&0xfe) && p.len() < 9;
        // Column definitions up to EOF, then rows up to EOF.
        loop {
            let (_, p) = self.read().await?;
            if is_eof(&p) {
                break;
            }
        }
        let mut rows = Vec::new();
        loop {
            let (_, p) = self.read().await?;
            if let Some(e) = parse_err(&p) {
                return Ok(Err(e));
            }
            if is_eof(&p) {
                return Ok(Ok(rows));
            }
            let mut row = Vec::new();
            let mut at = 0;
            while at < p.len() {
                if p[at] == 0xfb {
                    row.push(None);
                    at += 1;
                    continue;
                }
                let (len, skip) = match p[at] {
                    0xfc => (u16::from_le_bytes([p[at + 1], p[at + 2]]) as usize, 3),
                    0xfd => (
                        u32::from_le_bytes([p[at + 1], p[at + 2], p[at + 3], 0]) as usize,
                        4,
                    ),
                    0xfe => (
                        u64::from_le_bytes(p[at + 1..at + 9].try_into().unwrap()) as usize,
                        9,
                    ),
                    n => (n as usize, 1),
                };
                at += skip;
                row.push(Some(String::from_utf8_lossy(&p[at..at + len]).into_owned()));
                at += len;
            }
            rows.push(row);
        }
    }

    /// Reads one packet of the answer.
    pub async fn read(&mut self) -> io::Result<(u8, Vec<u8>)> {
        read_packet(&mut self.stream).await
    }
}

/// The 20-byte salt of a protocol-10 greeting.
fn greeting_salt(g: &[u8]) -> Option<Vec<u8>> {
    let ver_end = 1 + g.get(1..)?.iter().position(|&b| b == 0)?;
    let mut at = ver_end + 1 + 4;
    let mut salt = g.get(at..at + 8)?.to_vec();
    at += 8 + 1 + 2 + 1 + 2 + 2 + 1 + 10;
    salt.extend_from_slice(g.get(at..at + 12)?);
    Some(salt)
}
