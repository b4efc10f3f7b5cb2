//! Malformed packets from a client, sent over TCP to the gateway and to one
//! plain MariaDB alike: the gateway answers each as MariaDB does (the same error
//! code and SQLSTATE, the connection kept or closed the same way), and keeps
//! serving other clients throughout:
//! * unknown command bytes, a COM_STMT_EXECUTE too short, for a statement id that
//!   does not exist, with parameters cut short, with types never bound;
//! * a truncated handshake response, a packet cut short by the client closing;
//! * headers declaring 16 MiB that never arrive hold no 16 MiB each.

use std::time::Duration;

use mysql_async::prelude::Queryable;
use setwise_tests::cluster::{APP_PASSWORD, APP_USER};
use setwise_tests::Cluster;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const WAIT: Duration = Duration::from_secs(10);

/// A client speaking the protocol by hand.
struct Raw {
    s: TcpStream,
}

/// What a server answered to one command.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Answer {
    /// An ERR packet: code, SQLSTATE and message.
    Err(u16, String, String),
    /// Anything else, by its first byte (0x00 OK, 0xfe EOF, column count...).
    Packet(u8),
    /// The server closed the connection.
    Closed,
}

impl Raw {
    async fn connect(addr: &str) -> Raw {
        let s = tokio::time::timeout(WAIT, TcpStream::connect(addr))
            .await
            .expect("connect in time")
            .expect("connect");
        Raw { s }
    }

    async fn send(&mut self, seq: u8, payload: &[u8]) {
        let mut b = (payload.len() as u32).to_le_bytes()[..3].to_vec();
        b.push(seq);
        b.extend_from_slice(payload);
        self.raw(&b).await;
    }

    async fn raw(&mut self, bytes: &[u8]) {
        // A server that closed may make the write fail; the answer says so.
        let _ = self.s.write_all(bytes).await;
    }

    /// The next packet, or `None` when the server closed the connection.
    async fn packet(&mut self) -> Option<Vec<u8>> {
        let read = async {
            let mut h = [0u8; 4];
            self.s.read_exact(&mut h).await.ok()?;
            let len = u32::from_le_bytes([h[0], h[1], h[2], 0]) as usize;
            let mut p = vec![0u8; len];
            self.s.read_exact(&mut p).await.ok()?;
            Some(p)
        };
        tokio::time::timeout(WAIT, read)
            .await
            .expect("the server answers or closes in time")
    }

    /// The answer to a command: its first packet (the rest of a result set is
    /// read off so the next command starts clean).
    async fn answer(&mut self) -> Answer {
        let Some(p) = self.packet().await else {
            return Answer::Closed;
        };
        match p.first() {
            Some(0xff) => {
                let code = u16::from_le_bytes([p[1], p[2]]);
                let state = String::from_utf8_lossy(&p[4..9]).into_owned();
                // Statement ids are per server: "handler (3)" reads "handler (N)".
                let mut msg = String::from_utf8_lossy(&p[9..]).into_owned();
                if let (Some(a), Some(b)) = (msg.find("handler ("), msg.find(") given")) {
                    msg.replace_range(a + 9..b, "N");
                }
                Answer::Err(code, state, msg)
            }
            Some(&first) => {
                if first != 0x00 && first != 0xfe {
                    self.drain_result().await;
                }
                Answer::Packet(first)
            }
            None => Answer::Packet(0),
        }
    }

    /// The rest of a result set: column definitions, EOF, rows, EOF.
    async fn drain_result(&mut self) {
        let mut eofs = 0;
        while eofs < 2 {
            match self.packet().await {
                Some(p) if p.first() == Some(&0xfe) && p.len() < 9 => eofs += 1,
                Some(p) if p.first() == Some(&0xff) => return,
                Some(_) => {}
                None => return,
            }
        }
    }

    /// Greeting → handshake response (`mysql_native_password`) → OK.
    async fn login(addr: &str, user: &str, password: &str) -> Raw {
        let mut r = Raw::connect(addr).await;
        let salt = r.greeting_salt().await;
        let scramble = if password.is_empty() {
            Vec::new()
        } else {
            topo::password::native_scramble(password, &salt)
        };
        let resp = handshake_response(user, &scramble);
        r.send(1, &resp).await;
        let ok = r.packet().await.expect("an answer to the login");
        assert_eq!(ok.first(), Some(&0x00), "login refused: {ok:?}");
        r
    }

    /// Reads the server greeting; returns its 20-byte salt.
    async fn greeting_salt(&mut self) -> Vec<u8> {
        let g = self.packet().await.expect("a greeting");
        assert_eq!(g[0], 10, "protocol 10");
        let v_end = g.iter().skip(1).position(|&b| b == 0).unwrap() + 1;
        let at = v_end + 1 + 4;
        let mut salt = g[at..at + 8].to_vec();
        // filler, caps, charset, status, caps, auth length, 10 reserved.
        let rest = at + 8 + 1 + 2 + 1 + 2 + 2 + 1 + 10;
        salt.extend_from_slice(&g[rest..rest + 12]);
        salt
    }

    /// Sends a command (sequence 0) and reads its answer.
    async fn command(&mut self, payload: &[u8]) -> Answer {
        self.send(0, payload).await;
        self.answer().await
    }

    /// COM_STMT_PREPARE of `sql`: the statement id; the parameter and column
    /// definitions are read off.
    async fn prepare(&mut self, sql: &str) -> u32 {
        let mut p = vec![0x16];
        p.extend_from_slice(sql.as_bytes());
        self.send(0, &p).await;
        let ok = self.packet().await.expect("a prepare answer");
        assert_eq!(ok[0], 0, "prepare of {sql:?} failed: {ok:?}");
        let id = u32::from_le_bytes(ok[1..5].try_into().unwrap());
        let cols = u16::from_le_bytes([ok[5], ok[6]]);
        let params = u16::from_le_bytes([ok[7], ok[8]]);
        for n in [params, cols] {
            if n > 0 {
                for _ in 0..=n {
                    self.packet().await.expect("a definition");
                }
            }
        }
        id
    }
}

/// A HandshakeResponse41 for `user` with `scramble`, utf8mb4, no database.
fn handshake_response(user: &str, scramble: &[u8]) -> Vec<u8> {
    // LONG_PASSWORD | PROTOCOL_41 | SECURE_CONNECTION | PLUGIN_AUTH | MULTI_RESULTS
    let caps: u32 = 0x1 | 0x200 | 0x8000 | 0x80000 | 0x20000;
    let mut b = caps.to_le_bytes().to_vec();
    b.extend_from_slice(&(16u32 << 20).to_le_bytes());
    b.push(45);
    b.extend_from_slice(&[0; 23]);
    b.extend_from_slice(user.as_bytes());
    b.push(0);
    b.push(scramble.len() as u8);
    b.extend_from_slice(scramble);
    b.extend_from_slice(b"mysql_native_password\0");
    b
}

/// COM_STMT_EXECUTE of `id` with the parameter block `params`.
fn execute(id: u32, params: &[u8]) -> Vec<u8> {
    let mut p = vec![0x17];
    p.extend_from_slice(&id.to_le_bytes());
    p.push(0);
    p.extend_from_slice(&1u32.to_le_bytes());
    p.extend_from_slice(params);
    p
}

/// Both servers under test: (label, address, user, password).
fn servers(c: &Cluster) -> [(&'static str, String, &'static str, &'static str); 2] {
    let set = c.set_names()[0].clone();
    [
        ("mariadb", c.primary_addr(&set), "root", ""),
        ("gateway", c.proxy_addr(), APP_USER, APP_PASSWORD),
    ]
}

/// Runs `case` on a fresh logged-in connection of each server; then a COM_PING
/// on the same connection shows whether it was kept. A difference is printed
/// and counted.
async fn compare<F, Fut>(c: &Cluster, what: &str, case: F)
where
    F: Fn(Raw) -> Fut,
    Fut: std::future::Future<Output = (Vec<Answer>, Raw)>,
{
    let mut seen = Vec::new();
    for (label, addr, user, pass) in servers(c) {
        let raw = Raw::login(&addr, user, pass).await;
        let (mut answers, mut raw) = case(raw).await;
        if answers.last() != Some(&Answer::Closed) {
            answers.push(raw.command(&[0x0e]).await);
        }
        seen.push((label, answers));
    }
    if seen[1].1 != seen[0].1 {
        eprintln!(
            "MISMATCH {what}: the gateway answered {:?}, MariaDB {:?}",
            seen[1].1, seen[0].1
        );
        MISMATCHES.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// Cases where the gateway and MariaDB differed (each printed).
static MISMATCHES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

#[tokio::test]
async fn malformed_commands_are_answered_as_mariadb_does() {
    let c = Cluster::two_sets_with_gateway().await;

    compare(&c, "unknown command bytes", |mut r| async move {
        let mut a = Vec::new();
        for cmd in [0x42u8, 0xff, 0x20, 0x00] {
            a.push(r.command(&[cmd, 1, 2, 3]).await);
        }
        (a, r)
    })
    .await;

    compare(
        &c,
        "COM_STMT_EXECUTE of an unknown statement",
        |mut r| async move {
            let a = vec![r.command(&execute(4711, &[])).await];
            (a, r)
        },
    )
    .await;

    compare(
        &c,
        "COM_STMT_EXECUTE shorter than its header",
        |mut r| async move {
            let a = vec![r.command(&[0x17, 1, 0]).await];
            (a, r)
        },
    )
    .await;

    compare(
        &c,
        "COM_STMT_EXECUTE with parameters cut short",
        |mut r| async move {
            let id = r.prepare("SELECT ?, ?").await;
            // Two LONGLONG parameters announced, one value sent.
            let mut params = vec![0, 1, 8, 0, 8, 0];
            params.extend_from_slice(&5i64.to_le_bytes());
            let a = vec![r.command(&execute(id, &params)).await];
            (a, r)
        },
    )
    .await;

    compare(
        &c,
        "COM_STMT_EXECUTE with types never bound",
        |mut r| async move {
            let id = r.prepare("SELECT ?").await;
            let a = vec![r.command(&execute(id, &[0, 0])).await];
            (a, r)
        },
    )
    .await;

    compare(
        &c,
        "COM_STMT_RESET of an unknown statement, and cut short",
        |mut r| async move {
            let mut a = vec![r.command(&[0x1a, 9, 9, 0, 0]).await];
            a.push(r.command(&[0x1a, 9]).await);
            (a, r)
        },
    )
    .await;

    compare(
        &c,
        "COM_STMT_SEND_LONG_DATA of an unknown statement",
        |mut r| async move {
            // No answer by protocol: the COM_PING after it is answered.
            r.send(0, &[0x18, 7, 7, 0, 0, 0, 0, b'x']).await;
            (Vec::new(), r)
        },
    )
    .await;

    compare(&c, "a command with sequence id 5", |mut r| async move {
        r.send(5, &[0x03, b'S', b'E', b'L', b'E', b'C', b'T', b' ', b'1'])
            .await;
        let a = vec![r.answer().await];
        (a, r)
    })
    .await;

    compare(
        &c,
        "COM_STMT_EXECUTE after COM_STMT_CLOSE",
        |mut r| async move {
            let id = r.prepare("SELECT ?").await;
            let mut close = vec![0x19];
            close.extend_from_slice(&id.to_le_bytes());
            r.send(0, &close).await;
            let a = vec![
                r.command(&execute(id, &[0, 1, 8, 0, 1, 0, 0, 0, 0, 0, 0, 0]))
                    .await,
            ];
            (a, r)
        },
    )
    .await;

    assert_eq!(
        MISMATCHES.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "the gateway answered differently from MariaDB (see MISMATCH above)"
    );
    // The gateway kept serving everyone else.
    let mut conn = c.proxy_conn().await.unwrap();
    let one: Option<i64> = conn.query_first("SELECT 1").await.unwrap();
    assert_eq!(one, Some(1));
}

#[tokio::test]
async fn a_broken_handshake_or_packet_closes_only_its_connection() {
    let c = Cluster::two_sets_with_gateway().await;
    let mut seen = Vec::new();
    for (label, addr, _, _) in servers(&c) {
        // A handshake response cut short inside its fixed part.
        let mut r = Raw::connect(&addr).await;
        r.greeting_salt().await;
        r.send(1, &[0x85, 0xa6, 0x03, 0x00, 0, 0]).await;
        let short = r.answer().await;
        let after = r.answer().await;
        seen.push((label, short, after));

        // A packet declaring 20 bytes, 5 sent, then the client's side closed:
        // a clean close, no answer.
        let mut r = Raw::connect(&addr).await;
        r.greeting_salt().await;
        r.raw(&[20, 0, 0, 1, 1, 2, 3, 4, 5]).await;
        r.s.shutdown().await.unwrap();
        assert_eq!(r.answer().await, Answer::Closed, "{label}: a cut packet");
    }
    assert_eq!(
        seen[1].1, seen[0].1,
        "a truncated handshake: gateway vs MariaDB"
    );
    assert_eq!(seen[1].2, Answer::Closed);
    assert_eq!(seen[0].2, Answer::Closed);

    let mut conn = c.proxy_conn().await.unwrap();
    let one: Option<i64> = conn.query_first("SELECT 1").await.unwrap();
    assert_eq!(one, Some(1));
}

/// The gateway's resident memory (kB).
fn rss_kb(c: &mut Cluster) -> u64 {
    let pid = c
        .proxy_process()
        .and_then(|p| p.pid())
        .expect("the gateway runs");
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

#[tokio::test]
async fn declared_lengths_that_never_arrive_hold_no_memory() {
    let mut c = Cluster::two_sets_with_gateway().await;
    let addr = c.proxy_addr();
    let before = rss_kb(&mut c);
    // 40 clients log in, then each declares a 16 MiB - 1 command and sends 100 bytes.
    let mut held = Vec::new();
    for _ in 0..40 {
        let mut r = Raw::login(&addr, APP_USER, APP_PASSWORD).await;
        let mut p = vec![0xff, 0xff, 0xff, 0x00, 0x03];
        p.extend_from_slice(&[b' '; 99]);
        r.raw(&p).await;
        held.push(r);
    }
    // Every one of them is being read (a client logging in after them is answered).
    let mut conn = c.proxy_conn().await.unwrap();
    let one: Option<i64> = conn.query_first("SELECT 1").await.unwrap();
    assert_eq!(one, Some(1));
    let grown_mb = rss_kb(&mut c).saturating_sub(before) / 1024;
    assert!(
        grown_mb < 100,
        "40 declared 16 MiB packets grew the gateway by {grown_mb} MB"
    );
    drop(held);
}
