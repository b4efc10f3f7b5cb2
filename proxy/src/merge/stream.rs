//! One set's rows as a stream: a task runs the statement on the set's connection
//! (as text, or prepared: [`spawn_prepared`]) and sends its column definitions,
//! then rows, through a bounded channel — the channel's bound is what keeps a
//! big scatter in bounded memory. Rows travel in batches of up to
//! [`BATCH_ROWS`] (one channel send and one wake-up of the merge per batch,
//! not per row); [`Rows::recv`] hands them out one by one.

use crate::backend::answer::Answer;
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
/// Rows per message: a batch is sent when it is full or the answer ended.
const BATCH_ROWS: usize = 32;

pub enum Msg {
    Columns(Arc<[Column]>),
    Row(Vec<Cell>),
    Done { warnings: u16 },
    Failed(ProxyError),
}

pub struct SetStream {
    pub set: String,
    pub rx: Rows,
    /// Gives the connection back when the statement is over.
    pub task: JoinHandle<Conn>,
}

/// The receiving end of a set's stream: messages one at a time, out of the
/// batches the producer sent.
pub struct Rows {
    rx: mpsc::Receiver<Vec<Msg>>,
    /// The batch being handed out, reversed (next message last).
    batch: Vec<Msg>,
}

impl Rows {
    /// The next message; `None` when the producer is gone.
    pub async fn recv(&mut self) -> Option<Msg> {
        if let Some(m) = self.batch.pop() {
            return Some(m);
        }
        let mut batch = self.rx.recv().await?;
        batch.reverse();
        let m = batch.pop();
        self.batch = batch;
        m
    }
}

/// The producing end: rows gathered into batches.
struct Batcher {
    tx: mpsc::Sender<Vec<Msg>>,
    rows: Vec<Msg>,
}

impl Batcher {
    /// Adds a row; sends the batch when full. `Err`: the receiver is gone.
    async fn row(&mut self, cells: Vec<Cell>) -> Result<(), ()> {
        self.rows.push(Msg::Row(cells));
        if self.rows.len() >= BATCH_ROWS {
            let full = std::mem::replace(&mut self.rows, Vec::with_capacity(BATCH_ROWS));
            self.tx.send(full).await.map_err(|_| ())?;
        }
        Ok(())
    }

    /// Sends the rows gathered and `last` (columns, the end, a failure).
    async fn send(&mut self, last: Msg) -> Result<(), ()> {
        let mut batch = std::mem::take(&mut self.rows);
        batch.push(last);
        self.tx.send(batch).await.map_err(|_| ())
    }
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
pub fn spawn(set: &str, conn: Conn, sql: Vec<u8>) -> SetStream {
    start(set, conn, sql, None, false)
}

/// [`spawn`] for a client reading binary rows: if the text answer rounded a
/// DOUBLE to its column's decimals ([`super::typed::rounded_doubles`]), the
/// statement runs again prepared, whose rows carry the whole values.
pub fn spawn_for_binary(set: &str, conn: Conn, sql: Vec<u8>) -> SetStream {
    start(set, conn, sql, None, true)
}

/// [`spawn`] as a prepared statement: `prepared` (its text with `?`, the bytes
/// to send) executed with `values` — when its columns come back as the text
/// protocol carries them ([`super::typed::exact`]); else (or if it cannot be
/// prepared) `sql`, the same statement as text. A read only (merged plans are
/// SELECTs): if the execute's columns turn out otherwise typed than the
/// prepare's, it runs again as text.
pub fn spawn_prepared(
    set: &str,
    conn: Conn,
    sql: Vec<u8>,
    prepared: Vec<u8>,
    values: Vec<Value>,
) -> SetStream {
    start(set, conn, sql, Some((prepared, values)), false)
}

fn start(
    set: &str,
    mut conn: Conn,
    sql: Vec<u8>,
    prepared: Option<(Vec<u8>, Vec<Value>)>,
    binary_client: bool,
) -> SetStream {
    let (tx, rx) = mpsc::channel(CHANNEL_ROWS.div_ceil(BATCH_ROWS));
    let mut tx = Batcher {
        tx,
        rows: Vec::new(),
    };
    let set_name = set.to_string();
    let task = tokio::spawn(async move {
        // The set's part is booked from its start to its last row.
        let started = std::time::Instant::now();
        let book = |failed: bool| crate::observe::backend(&set_name, started.elapsed(), failed);
        let fail = |e: mysql_async::Error| {
            book(crate::observe::is_backend_failure(&e));
            Msg::Failed(ProxyError::from_backend(&set_name, e))
        };
        let stmt = match prepared {
            Some((q, values)) => super::typed::prepare(&mut conn, q)
                .await
                .map(|s| (s, values)),
            None => None,
        };
        let run = match stmt {
            Some((stmt, values)) => conn
                .exec_iter(stmt, mysql_async::Params::Positional(values))
                .await
                .map(Answer::Binary),
            None => conn.query_iter(&sql[..]).await.map(Answer::Text),
        };
        let mut res = match run {
            Ok(r) => r,
            Err(e) => {
                let _ = tx.send(fail(e)).await;
                return conn;
            }
        };
        let mut cols = res.columns().unwrap_or_default();
        if matches!(res, Answer::Binary(_)) && !super::typed::exact(&cols) {
            // Typed otherwise than when prepared (by the values): as text.
            let again = match res.drop_result().await {
                Ok(()) => conn.query_iter(&sql[..]).await.map(Answer::Text),
                Err(e) => Err(e),
            };
            res = match again {
                Ok(r) => r,
                Err(e) => {
                    let _ = tx.send(fail(e)).await;
                    return conn;
                }
            };
            cols = res.columns().unwrap_or_default();
        }
        if binary_client && matches!(res, Answer::Text(_)) && super::typed::rounded_doubles(&cols) {
            // The text rounded a DOUBLE the client reads whole: prepared.
            let again = match res.drop_result().await {
                Ok(()) => match super::typed::prepare(&mut conn, sql.clone()).await {
                    Some(stmt) => conn
                        .exec_iter(stmt, mysql_async::Params::Empty)
                        .await
                        .map(Answer::Binary),
                    None => conn.query_iter(&sql[..]).await.map(Answer::Text),
                },
                Err(e) => Err(e),
            };
            res = match again {
                Ok(r) => r,
                Err(e) => {
                    let _ = tx.send(fail(e)).await;
                    return conn;
                }
            };
            cols = res.columns().unwrap_or_default();
        }
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
                        .map(super::typed::cell)
                        .collect();
                    if tx.row(cells).await.is_err() {
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
        rx: Rows {
            rx,
            batch: Vec::new(),
        },
        task,
    }
}
