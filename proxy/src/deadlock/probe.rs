//! Reading lock waits and transactions from one set's primary
//! (`information_schema.INNODB_LOCK_WAITS` joined with `INNODB_TRX`, MariaDB
//! 10.11), for the backend threads the detector asks about. One connection of
//! the gateway's own per instance, kept while the detector has rounds to run.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use mysql_async::prelude::Queryable;

use crate::backend::Backends;

/// A MariaDB instance: host and port.
pub type Host = (String, u16);

/// How long reading one instance may take (connecting included).
const WITHIN: Duration = Duration::from_secs(2);

/// What the detector asks one instance about.
#[derive(Debug, Default, Clone)]
pub struct Ask {
    /// Threads of this gateway's sessions running a statement there: whom
    /// do they wait for?
    pub waiting: BTreeSet<u32>,
    /// Every thread of those sessions there: how much did each change?
    pub ours: BTreeSet<u32>,
}

/// What one instance answered.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Seen {
    /// `(requesting thread, blocking thread)` of each lock wait of a thread
    /// in [`Ask::waiting`].
    pub waits: Vec<(u32, u32)>,
    /// `(thread, rows modified, started)` of each transaction of a thread in
    /// [`Ask::ours`] (`started`: Unix seconds).
    pub trx: Vec<(u32, u64, i64)>,
}

/// The lock waits of `waiting` threads, with the thread holding each lock.
pub fn waits_sql(waiting: &BTreeSet<u32>) -> String {
    format!(
        "SELECT r.trx_mysql_thread_id, b.trx_mysql_thread_id \
         FROM information_schema.INNODB_LOCK_WAITS w \
         JOIN information_schema.INNODB_TRX r ON r.trx_id = w.requesting_trx_id \
         JOIN information_schema.INNODB_TRX b ON b.trx_id = w.blocking_trx_id \
         WHERE r.trx_mysql_thread_id IN ({})",
        list(waiting)
    )
}

/// The transactions of `ours` threads: rows changed and start.
pub fn trx_sql(ours: &BTreeSet<u32>) -> String {
    format!(
        "SELECT trx_mysql_thread_id, trx_rows_modified, \
         CAST(UNIX_TIMESTAMP(trx_started) AS SIGNED) \
         FROM information_schema.INNODB_TRX WHERE trx_mysql_thread_id IN ({})",
        list(ours)
    )
}

fn list(ids: &BTreeSet<u32>) -> String {
    let v: Vec<String> = ids.iter().map(u32::to_string).collect();
    v.join(",")
}

/// The detector's connections, one per instance, kept between rounds.
#[derive(Default)]
pub struct Probes {
    conns: HashMap<Host, mysql_async::Conn>,
}

impl Probes {
    /// Asks each instance of `asks` at once; `trx`: the transactions too. An
    /// instance that does not answer in time is left out (its waits unseen:
    /// no cycle through it is found this round).
    pub async fn read(
        &mut self,
        backends: &Backends,
        asks: &[(Host, Ask)],
        trx: bool,
    ) -> Vec<(Host, Seen)> {
        let mut taken: Vec<(Host, Option<mysql_async::Conn>)> = asks
            .iter()
            .map(|(h, _)| (h.clone(), self.conns.remove(h)))
            .collect();
        let done = futures::future::join_all(taken.iter_mut().zip(asks).map(
            |((host, conn), (_, ask))| async move {
                let r = tokio::time::timeout(WITHIN, one(backends, host, conn, ask, trx)).await;
                match r {
                    Ok(Ok(seen)) => Some(seen),
                    Ok(Err(e)) => {
                        tracing::debug!(host = %host.0, port = host.1, error = %e, "reading lock waits");
                        *conn = None;
                        None
                    }
                    Err(_) => {
                        *conn = None;
                        None
                    }
                }
            },
        ))
        .await;
        let mut out = Vec::with_capacity(done.len());
        for ((host, conn), seen) in taken.into_iter().zip(done) {
            if let Some(c) = conn {
                self.conns.insert(host.clone(), c);
            }
            if let Some(s) = seen {
                out.push((host, s));
            }
        }
        out
    }

    /// Closes the connections (no statement waits any more).
    pub fn close(&mut self) {
        for (_, c) in self.conns.drain() {
            tokio::spawn(async move {
                let _ = c.disconnect().await;
            });
        }
    }
}

async fn one(
    backends: &Backends,
    host: &Host,
    conn: &mut Option<mysql_async::Conn>,
    ask: &Ask,
    trx: bool,
) -> Result<Seen, mysql_async::Error> {
    if conn.is_none() {
        *conn = Some(backends.admin_conn(&host.0, host.1).await?);
    }
    let Some(c) = conn.as_mut() else {
        return Ok(Seen::default());
    };
    let mut seen = Seen::default();
    if !ask.waiting.is_empty() {
        let rows: Vec<(u64, u64)> = c.query(waits_sql(&ask.waiting)).await?;
        seen.waits = rows
            .into_iter()
            .filter_map(|(r, b)| Some((u32::try_from(r).ok()?, u32::try_from(b).ok()?)))
            .collect();
    }
    if trx && !ask.ours.is_empty() {
        let rows: Vec<(u64, u64, Option<i64>)> = c.query(trx_sql(&ask.ours)).await?;
        seen.trx = rows
            .into_iter()
            .filter_map(|(t, n, s)| Some((u32::try_from(t).ok()?, n, s.unwrap_or(0))))
            .collect();
    }
    Ok(seen)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_name_the_threads_asked_about() {
        let w = BTreeSet::from([12, 7]);
        let q = waits_sql(&w);
        assert!(q.ends_with("WHERE r.trx_mysql_thread_id IN (7,12)"), "{q}");
        assert!(q.contains("INNODB_LOCK_WAITS w"));
        let q = trx_sql(&BTreeSet::from([3]));
        assert!(q.ends_with("WHERE trx_mysql_thread_id IN (3)"), "{q}");
    }
}
