//! One set's rows as a stream: a task runs the statement on the set's connection
//! and sends its column definitions, then rows, through a bounded channel — the
//! channel's bound is what keeps a big scatter in bounded memory.

use std::sync::Arc;

use crate::backend::Conn;
use mysql_async::prelude::Queryable;
use mysql_async::Value;
use mysql_common::packets::Column;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::value::Cell;
use crate::error::ProxyError;

/// Rows buffered per set before the producer waits.
const CHANNEL_ROWS: usize = 256;

pub enum Msg {
    Columns(Arc<[Column]>),
    Row(Vec<Cell>),
    Done { warnings: u16 },
    Failed(ProxyError),
}

pub struct SetStream {
    pub set: String,
    pub rx: mpsc::Receiver<Msg>,
    /// Gives the connection back when the statement is over.
    pub task: JoinHandle<Conn>,
}

/// The column definitions of `sql` (the bytes to send) run on `conn` (rows are
/// read and dropped).
pub async fn columns_of(
    conn: &mut Conn,
    set: &str,
    sql: &[u8],
) -> Result<Arc<[Column]>, ProxyError> {
    let fail = |e| ProxyError::from_backend(set, e);
    let mut res = conn.query_iter(sql).await.map_err(fail)?;
    let cols = res.columns().unwrap_or_default();
    while res.next().await.map_err(fail)?.is_some() {}
    drop(res);
    Ok(cols)
}

/// Starts `sql` (the bytes to send) on `conn` (a connection to `set`).
pub fn spawn(set: &str, mut conn: Conn, sql: Vec<u8>) -> SetStream {
    let (tx, rx) = mpsc::channel(CHANNEL_ROWS);
    let set_name = set.to_string();
    let task = tokio::spawn(async move {
        // The set's part is booked from its start to its last row.
        let started = std::time::Instant::now();
        let book = |failed: bool| crate::observe::backend(&set_name, started.elapsed(), failed);
        let fail = |e: mysql_async::Error| {
            book(crate::observe::is_backend_failure(&e));
            Msg::Failed(ProxyError::from_backend(&set_name, e))
        };
        let mut res = match conn.query_iter(sql).await {
            Ok(r) => r,
            Err(e) => {
                let _ = tx.send(fail(e)).await;
                return conn;
            }
        };
        let cols = res.columns().unwrap_or_default();
        if tx.send(Msg::Columns(cols)).await.is_err() {
            drop(res);
            book(false);
            return conn;
        }
        loop {
            match res.next().await {
                Ok(Some(row)) => {
                    // The row's own buffers move into the cells (no copy).
                    let cells = row
                        .unwrap_raw()
                        .into_iter()
                        .map(|v| match v {
                            Some(Value::Bytes(b)) => Some(b),
                            _ => None,
                        })
                        .collect();
                    if tx.send(Msg::Row(cells)).await.is_err() {
                        book(false);
                        break;
                    }
                }
                Ok(None) => {
                    book(false);
                    let _ = tx
                        .send(Msg::Done {
                            warnings: res.warnings(),
                        })
                        .await;
                    break;
                }
                Err(e) => {
                    let _ = tx.send(fail(e)).await;
                    break;
                }
            }
        }
        drop(res);
        conn
    });
    SetStream {
        set: set.to_string(),
        rx,
        task,
    }
}
