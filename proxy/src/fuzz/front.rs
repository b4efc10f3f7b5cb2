//! The front's fuzz targets: arbitrary bytes from a client over a real loopback
//! socket, read by [`PacketIo`] (framing) or served by [`crate::front::serve`]
//! (handshake, authentication, every command) with a stand-in [`Handler`] that
//! answers without any set.

use std::io;
use std::time::Duration;

use mysql_common::constants::{ColumnType, StatusFlags};
use mysql_common::packets::Column;
use mysql_common::value::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::error::ProxyError;
use crate::front::charset::Codec;
use crate::front::packet::PacketIo;
use crate::front::{account, stmts, Credentials, Handler, OkInfo, Prepared, Responder};

/// How long one input may keep the server side busy before it counts as a hang.
const HANG: Duration = Duration::from_secs(4);

thread_local! {
    static RT: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
}

/// A connected loopback pair: (client, server).
async fn pair() -> (TcpStream, TcpStream) {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = l.local_addr().expect("addr");
    let (c, s) = tokio::join!(TcpStream::connect(addr), l.accept());
    (c.expect("connect"), s.expect("accept").0)
}

/// Sends `bytes` as the client, then closes its side; reads (and drops)
/// everything the server answers until it closes, while `server` runs.
async fn drive(
    bytes: Vec<u8>,
    server: impl std::future::Future<Output = ()>,
    client: TcpStream,
) -> bool {
    let (mut r, mut w) = client.into_split();
    let writer = async move {
        let _ = w.write_all(&bytes).await;
        let _ = w.shutdown().await;
    };
    let reader = async move {
        let mut sink = [0u8; 16 * 1024];
        while let Ok(n) = r.read(&mut sink).await {
            if n == 0 {
                break;
            }
        }
    };
    tokio::time::timeout(HANG, async {
        tokio::join!(writer, reader, server);
    })
    .await
    .is_ok()
}

/// Packet framing: `data` is the raw byte stream of a client, each packet a
/// command (sequence id 0, continuations 1, 2, ...); every packet
/// [`PacketIo::read`] makes of it is written back by [`PacketIo::write`] and must
/// read back equal on the other side.
pub fn packet(data: &[u8]) {
    let data = data.to_vec();
    RT.with(|rt| {
        rt.block_on(async move {
            let (client, server) = pair().await;
            let (echo_a, echo_b) = pair().await;
            let served = async move {
                let mut io = PacketIo::new(server);
                let mut back = PacketIo::new(echo_a);
                let mut check = PacketIo::new(echo_b);
                // Bounded: each packet read consumes at least its 4-byte header.
                // Every packet starts an exchange (a command).
                io.reset_seq();
                while let Ok(Some(p)) = io.read().await {
                    io.reset_seq();
                    back.reset_seq();
                    check.reset_seq();
                    back.write(&p).await.expect("write");
                    back.flush().await.expect("flush");
                    let again = check.read().await.expect("read back").expect("a packet");
                    assert_eq!(again, p, "a packet written and read back differs");
                }
            };
            assert!(drive(data, served, client).await, "packet framing hung");
        })
    });
}

/// A client's whole conversation: `data` is a list of records, each
/// `[kind][len u16 LE][bytes]`. Kind (low 2 bits) 0: a packet with a correct
/// header; 1: a packet with the sequence id in the record's first byte; 2 and 3:
/// raw bytes on the wire (bad lengths, headers cut short). A record longer than
/// the input takes what is left.
pub fn session(data: &[u8]) {
    let bytes = frame(data);
    RT.with(|rt| {
        rt.block_on(async move {
            let (client, server) = pair().await;
            let served = async move {
                let _ =
                    crate::front::serve(server, StandIn::default(), 7, "10.11.0-fuzz", None).await;
            };
            assert!(drive(bytes, served, client).await, "the front hung");
        })
    });
}

/// The byte stream [`session`] sends for `data`.
pub fn frame(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 64);
    let mut seq = 1u8;
    while let Some((&kind, rest)) = data.split_first() {
        let (len, rest) = match rest {
            [a, b, rest @ ..] => (u16::from_le_bytes([*a, *b]) as usize, rest),
            _ => (rest.len(), &[][..]),
        };
        let (body, rest) = rest.split_at(len.min(rest.len()));
        data = rest;
        match kind & 3 {
            0 | 1 => {
                let (s, body) = match (kind & 3, body.split_first()) {
                    (1, Some((&s, b))) => (s, b),
                    _ => (seq, body),
                };
                out.extend_from_slice(&(body.len() as u32).to_le_bytes()[..3]);
                out.push(s);
                out.extend_from_slice(body);
                // After the handshake response, every packet starts a command.
                seq = 0;
            }
            _ => out.extend_from_slice(body),
        }
    }
    out
}

/// A handler that answers like a small server: accepts every user but `deny`,
/// answers a query with one row, a prepared statement's execute with its values
/// as a binary row.
#[derive(Default)]
struct StandIn {
    codec: Codec,
    user: Option<String>,
}

impl Handler for StandIn {
    async fn authenticate(&mut self, cred: &Credentials) -> Result<(), ProxyError> {
        if cred.user == "deny" {
            return Err(ProxyError::AccessDenied {
                user: cred.user.clone(),
                host: cred.peer.ip().to_string(),
                using_password: !cred.scramble.is_empty(),
            });
        }
        self.codec = Codec::for_collation(cred.collation);
        self.user = Some(cred.user.clone());
        Ok(())
    }

    async fn query(&mut self, sql: &str, out: &mut Responder<'_>) -> io::Result<()> {
        if sql.len().is_multiple_of(3) {
            return out.ok(&OkInfo::default()).await;
        }
        if sql.len() % 3 == 1 {
            return out.error(&ProxyError::Syntax(sql.to_string())).await;
        }
        let col = Column::new(ColumnType::MYSQL_TYPE_VAR_STRING).with_name(b"sql");
        out.columns(std::slice::from_ref(&col)).await?;
        out.text_row([Some(sql.as_bytes())]).await?;
        out.end_rows(0).await
    }

    async fn prepare(&mut self, sql: &str, placeholders: usize) -> Result<Prepared, ProxyError> {
        let col = Column::new(ColumnType::MYSQL_TYPE_VAR_STRING).with_name(b"c");
        Ok(Prepared {
            columns: if sql.len().is_multiple_of(2) {
                vec![col]
            } else {
                vec![]
            },
            params: vec![Column::new(ColumnType::MYSQL_TYPE_LONGLONG); placeholders / 2],
            warnings: 0,
        })
    }

    async fn execute(&mut self, bound: stmts::Bound, out: &mut Responder<'_>) -> io::Result<()> {
        if bound.values.is_empty() {
            return out.ok(&OkInfo::default()).await;
        }
        let cols: Vec<Column> = bound.values.iter().map(column_for).collect();
        out.columns(&cols).await?;
        out.values_row(&bound.values).await?;
        out.end_rows(0).await
    }

    fn account(&self) -> Option<std::sync::Arc<account::Account>> {
        None
    }

    fn codec(&self) -> Codec {
        self.codec
    }

    fn backslash_escapes(&self) -> bool {
        true
    }

    async fn change_user(&mut self, cred: &Credentials) -> Result<(), ProxyError> {
        self.authenticate(cred).await
    }

    fn statistics(&self) -> String {
        "Uptime: 1".into()
    }

    fn found_rows(&self) -> bool {
        false
    }

    async fn field_list(&mut self, table: &str) -> Result<Vec<Column>, ProxyError> {
        Ok(vec![
            Column::new(ColumnType::MYSQL_TYPE_LONG).with_name(table.as_bytes())
        ])
    }

    async fn init_db(&mut self, db: &str) -> Result<(), ProxyError> {
        match db {
            "" => Err(ProxyError::NoDatabaseSelected),
            _ => Ok(()),
        }
    }

    async fn reset(&mut self) -> Result<(), ProxyError> {
        Ok(())
    }

    fn status(&self) -> StatusFlags {
        StatusFlags::SERVER_STATUS_AUTOCOMMIT
    }

    async fn close(&mut self) {}
}

/// The column type a backend would describe a value with.
fn column_for(v: &Value) -> Column {
    let t = match v {
        Value::NULL | Value::Bytes(_) => ColumnType::MYSQL_TYPE_VAR_STRING,
        Value::Int(_) | Value::UInt(_) => ColumnType::MYSQL_TYPE_LONGLONG,
        Value::Float(_) => ColumnType::MYSQL_TYPE_FLOAT,
        Value::Double(_) => ColumnType::MYSQL_TYPE_DOUBLE,
        Value::Date(..) => ColumnType::MYSQL_TYPE_DATETIME,
        Value::Time(..) => ColumnType::MYSQL_TYPE_TIME,
    };
    Column::new(t)
}
