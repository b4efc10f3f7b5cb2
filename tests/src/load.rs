//! A writer that commits numbered rows through the gateway and remembers every
//! acknowledged commit, for failover tests: what was acknowledged must survive (RPO),
//! and the first acknowledgement after an incident gives the recovery time (RTO).
//!
//! Each row is one autocommit `INSERT INTO <table> (id, v) VALUES (<id>, <n>)` with a
//! new id (an id whose statement failed or timed out is never reused: its outcome is
//! unknown). Statements are bounded by [`Writer::STATEMENT_TIMEOUT`]; after an error
//! the connection is dropped and a new one is made.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail};
use mysql_async::prelude::*;
use mysql_async::{Conn, Opts};

use crate::mariadb::MariaDb;

/// One acknowledged commit.
#[derive(Debug, Clone, Copy)]
pub struct Ack {
    pub id: i64,
    /// When the statement was sent and when it was acknowledged.
    pub sent: Instant,
    pub acked: Instant,
}

/// What a writer did.
#[derive(Debug, Default, Clone)]
pub struct WriteLog {
    pub acks: Vec<Ack>,
    /// Statements that failed or timed out: (id, when it was sent, error).
    pub failures: Vec<(i64, Instant, String)>,
}

impl WriteLog {
    pub fn acked_ids(&self) -> Vec<i64> {
        self.acks.iter().map(|a| a.id).collect()
    }
    /// The first commit sent at or after `t`.
    pub fn first_ack_sent_after(&self, t: Instant) -> Option<Ack> {
        self.acks.iter().find(|a| a.sent >= t).copied()
    }
    /// Commits sent at or after `t`.
    pub fn acks_sent_after(&self, t: Instant) -> usize {
        self.acks.iter().filter(|a| a.sent >= t).count()
    }
    /// The distinct error texts of the failures (at most `n`).
    pub fn error_summary(&self, n: usize) -> Vec<String> {
        let mut seen: Vec<String> = Vec::new();
        for (_, _, e) in &self.failures {
            if !seen.contains(e) {
                seen.push(e.clone());
            }
        }
        seen.truncate(n);
        seen
    }
}

/// A background writer; see the module docs.
pub struct Writer {
    log: Arc<Mutex<WriteLog>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Writer {
    /// Bound of one statement (and of one connect).
    pub const STATEMENT_TIMEOUT: Duration = Duration::from_secs(5);
    /// Pause between two commits (keeps the load light on a shared machine).
    pub const PACE: Duration = Duration::from_millis(10);

    /// Starts writing to `table` (columns `id BIGINT`, `v INT`) through `opts`, with ids
    /// taken in order from `ids` (e.g. only keys of one set).
    pub fn start(opts: Opts, table: &str, ids: impl Iterator<Item = i64> + Send + 'static) -> Self {
        let log = Arc::new(Mutex::new(WriteLog::default()));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let table = table.to_string();
        let (l, s) = (log.clone(), stop.clone());
        let task = tokio::spawn(async move { run(opts, table, ids, l, s).await });
        Self {
            log,
            stop,
            task: Some(task),
        }
    }

    /// A copy of the log so far.
    pub fn log(&self) -> WriteLog {
        self.log.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn acked(&self) -> usize {
        self.log
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .acks
            .len()
    }

    /// Waits (bounded) until `n` commits were acknowledged in all.
    pub async fn wait_acked(&self, n: usize, timeout: Duration) -> anyhow::Result<()> {
        crate::wait_until(&format!("{n} acknowledged writes"), timeout, || async {
            Ok(self.acked() >= n)
        })
        .await
        .map_err(|e| anyhow!("{e:#}; writer errors: {:?}", self.log().error_summary(5)))
    }

    /// Waits (bounded) for the first commit sent at or after `t`; returns the time from
    /// `t` to its acknowledgement.
    pub async fn wait_ack_after(&self, t: Instant, timeout: Duration) -> anyhow::Result<Duration> {
        let start = Instant::now();
        loop {
            if let Some(a) = self.log().first_ack_sent_after(t) {
                return Ok(a.acked.duration_since(t));
            }
            if start.elapsed() > timeout {
                bail!(
                    "no write acknowledged within {timeout:?}; errors: {:?}",
                    self.log().error_summary(5)
                );
            }
            tokio::time::sleep(crate::POLL).await;
        }
    }

    /// Waits (bounded) until `n` commits sent at or after `t` were acknowledged.
    pub async fn wait_acks_after(
        &self,
        t: Instant,
        n: usize,
        timeout: Duration,
    ) -> anyhow::Result<()> {
        crate::wait_until(
            &format!("{n} writes acknowledged after the incident"),
            timeout,
            || async { Ok(self.log().acks_sent_after(t) >= n) },
        )
        .await
        .map_err(|e| anyhow!("{e:#}; writer errors: {:?}", self.log().error_summary(5)))
    }

    /// Stops writing (the statement in flight finishes or times out) and returns the log.
    pub async fn stop(mut self) -> WriteLog {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        if let Some(t) = self.task.take() {
            let _ = tokio::time::timeout(Self::STATEMENT_TIMEOUT * 3, t).await;
        }
        self.log()
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}

async fn run(
    opts: Opts,
    table: String,
    mut ids: impl Iterator<Item = i64>,
    log: Arc<Mutex<WriteLog>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
) {
    let mut conn: Option<Conn> = None;
    let mut n: i64 = 0;
    while !stop.load(std::sync::atomic::Ordering::SeqCst) {
        let Some(id) = ids.next() else { break };
        n += 1;
        let sent = Instant::now();
        let r: anyhow::Result<()> = async {
            if conn.is_none() {
                let c = tokio::time::timeout(Writer::STATEMENT_TIMEOUT, Conn::new(opts.clone()))
                    .await
                    .map_err(|_| anyhow!("connect timed out"))??;
                conn = Some(c);
            }
            let c = conn.as_mut().expect("connected");
            tokio::time::timeout(
                Writer::STATEMENT_TIMEOUT,
                c.query_drop(format!("INSERT INTO {table} (id, v) VALUES ({id}, {n})")),
            )
            .await
            .map_err(|_| anyhow!("INSERT timed out"))??;
            Ok(())
        }
        .await;
        let acked = Instant::now();
        if r.is_err() {
            conn = None;
        }
        {
            let mut l = log.lock().unwrap_or_else(|e| e.into_inner());
            match r {
                Ok(()) => l.acks.push(Ack { id, sent, acked }),
                Err(e) => l.failures.push((id, sent, short_error(&e))),
            }
        }
        tokio::time::sleep(Writer::PACE).await;
    }
    if let Some(c) = conn {
        let _ = tokio::time::timeout(Duration::from_secs(2), c.disconnect()).await;
    }
}

/// The error text without the parts that differ per statement (ids, numbers stay).
fn short_error(e: &anyhow::Error) -> String {
    let s = format!("{e:#}");
    s.chars().take(200).collect()
}

/// The ids in `table` on `node` (queried directly, as root).
pub async fn ids_on(node: &MariaDb, table: &str) -> anyhow::Result<BTreeSet<i64>> {
    let rows = node.query(&format!("SELECT id FROM {table}")).await?;
    rows.into_iter()
        .map(|r| {
            r.into_iter()
                .next()
                .flatten()
                .ok_or_else(|| anyhow!("NULL id"))?
                .parse::<i64>()
                .map_err(|e| anyhow!("bad id: {e}"))
        })
        .collect()
}

/// Which of `ids` are not in `table` on `node`.
pub async fn missing_on(node: &MariaDb, table: &str, ids: &[i64]) -> anyhow::Result<Vec<i64>> {
    let have = ids_on(node, table).await?;
    Ok(ids.iter().copied().filter(|i| !have.contains(i)).collect())
}

/// Waits (bounded) until every id of `ids` is in `table` on `node` (replication
/// catching up); fails with the ids still missing.
pub async fn wait_all_on(
    node: &MariaDb,
    table: &str,
    ids: &[i64],
    timeout: Duration,
) -> anyhow::Result<()> {
    let start = Instant::now();
    loop {
        let missing = missing_on(node, table, ids).await;
        match &missing {
            Ok(m) if m.is_empty() => return Ok(()),
            _ if start.elapsed() > timeout => {
                let m = missing?;
                bail!(
                    "{} of {} ids missing on {} after {timeout:?}: first {:?}",
                    m.len(),
                    ids.len(),
                    node.name(),
                    &m[..m.len().min(20)]
                )
            }
            _ => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

/// A sorted text dump of `SELECT * FROM table` on `node`, for comparing two nodes.
pub async fn table_dump(node: &MariaDb, table: &str) -> anyhow::Result<Vec<Vec<Option<String>>>> {
    node.query(&format!("SELECT * FROM {table} ORDER BY 1"))
        .await
}

/// The `Master_Port` and running threads of `SHOW SLAVE STATUS` on `node`
/// (None: not a replica).
pub async fn replicates_from(node: &MariaDb) -> anyhow::Result<Option<(u16, bool, bool)>> {
    let mut c = node.conn().await?;
    let st: Option<mysql_async::Row> = c.query_first("SHOW SLAVE STATUS").await?;
    c.disconnect().await?;
    Ok(st.map(|st| {
        let port: Option<u16> = st.get("Master_Port");
        let io: Option<String> = st.get("Slave_IO_Running");
        let sql: Option<String> = st.get("Slave_SQL_Running");
        (
            port.unwrap_or(0),
            io.as_deref() == Some("Yes"),
            sql.as_deref() == Some("Yes"),
        )
    }))
}

/// Waits (bounded) until `node` replicates from port `primary_port` with both threads
/// running.
pub async fn wait_replicating_from(
    node: &MariaDb,
    primary_port: u16,
    timeout: Duration,
) -> anyhow::Result<()> {
    crate::wait_until(
        &format!("{} to replicate from port {primary_port}", node.name()),
        timeout,
        || async { Ok(replicates_from(node).await? == Some((primary_port, true, true))) },
    )
    .await
}

/// The integer keys 1, 2, ... of sharded table `db.table` that land on `set`, in
/// order (e.g. for a [`Writer`] that writes one set only).
pub async fn ids_of_set(
    c: &crate::Cluster,
    db: &str,
    table: &str,
    set: &str,
) -> anyhow::Result<impl Iterator<Item = i64> + Send + 'static> {
    let map = c.shard_map(db).await;
    let key_type = match c.topo().get_table(db, table).await? {
        Some(t) => match t.kind {
            topo::TableKind::Sharded { key_type, .. } => key_type,
            other => anyhow::bail!("{db}.{table} is not sharded: {other:?}"),
        },
        None => topo::KeyType::default(),
    };
    let set = set.to_string();
    Ok((1..i64::MAX).filter(move |i| {
        topo::slot::slot_of(i.to_string().as_bytes(), key_type, map.slots)
            .and_then(|slot| map.set_of_slot(slot))
            == Some(set.as_str())
    }))
}
