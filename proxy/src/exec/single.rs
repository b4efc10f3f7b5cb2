//! A statement on one set: every result passes through as MariaDB sent it
//! (text or prepared), the transaction branch's start carried in the same
//! round trip; a read on a replica that breaks before answering runs again on
//! the primary. Afterwards: the GTID, `FOUND_ROWS()` and user variables read
//! back when asked.

use std::borrow::Cow;

use mysql_async::prelude::Queryable;
use mysql_async::Value;

use super::wire::{exec_prepared, stream_after};
use super::{discard, fail, uservars, Exec, Work};
use crate::error::ProxyError;
use crate::front::responder::Answered;
use crate::front::Responder;

impl Exec<'_> {
    /// One set: every result of the statement passes through as MariaDB sent it.
    pub async fn single(&mut self, set: &str, sql: &str, out: &mut Responder<'_>) -> Answered {
        let sql = match self.for_set(set, sql) {
            Ok(s) => s,
            Err(e) => return fail(out, &e).await,
        };
        let sql = self.conns.codec.wire(&sql);
        self.one(set, Work::Text(sql), out).await
    }

    /// One set, as a prepared statement executed there with typed `values` (binary
    /// protocol end to end).
    pub async fn single_prepared(
        &mut self,
        set: &str,
        sql: &str,
        values: Vec<Value>,
        out: &mut Responder<'_>,
    ) -> Answered {
        let sql = match self.for_set(set, sql) {
            Ok(s) => s,
            Err(e) => return fail(out, &e).await,
        };
        let sql = self.conns.codec.wire(&sql);
        self.one(set, Work::Prepared(sql, values), out).await
    }

    /// `sql` as it must be sent to `set`: filtered of the rows of slots the set
    /// holds without owning them while slots move ([`crate::orphans`]). A point
    /// read routed by its shard key ([`fast`]) never sees such rows.
    pub(crate) fn for_set<'s>(&self, set: &str, sql: &'s str) -> Result<Cow<'s, str>, ProxyError> {
        if self.fast {
            return Ok(Cow::Borrowed(sql));
        }
        crate::orphans::text_for(self.conns.snap, self.conns.db, set, sql)
    }

    pub(super) async fn one(
        &mut self,
        set: &str,
        work: Work<'_>,
        out: &mut Responder<'_>,
    ) -> Answered {
        if self.fast
            && self.txn.is_none()
            && !self.write
            && !out.more_results()
            && self.last_id.is_none()
        {
            if let Some(answered) = self.fast(set, &work, out).await {
                return answered;
            }
        }
        // In a transaction, a text statement carries its branch's start (one round
        // trip instead of two).
        let text = matches!(work, Work::Text(_));
        let (mut conn, epoch, start) = match self.take_branch(set, text).await {
            Ok(c) => c,
            Err(e) => return fail(out, &e).await,
        };
        // A read on a replica that breaks before it answered anything runs again
        // on the primary.
        let again = self
            .on_replica
            .contains_key(set)
            .then(|| (work.clone(), out.packets_written()));
        if let Some(v) = self.last_id {
            let given = conn
                .query_drop(format!("DO LAST_INSERT_ID({v})"))
                .await
                .map_err(|e| ProxyError::from_backend(set, e));
            if let Err(e) = given {
                self.give_back(set, conn, Some(&e));
                return fail(out, &e).await;
            }
        }
        self.running_on(Some(&conn));
        let mut start_failed = false;
        let run = async {
            match work {
                Work::Text(sql) => match stream_after(&mut conn, set, &start, &sql, out).await? {
                    Ok(()) => Ok(Ok(())),
                    Err((e, in_start)) => {
                        start_failed = in_start;
                        Ok(Err(e))
                    }
                },
                Work::Prepared(sql, values) => {
                    exec_prepared(self.conns.backends, &mut conn, set, &sql, values, out).await
                }
            }
        };
        let r = match self.guarded_on(set, epoch, run).await {
            Ok(r) => r,
            Err(e) => Ok(Err(e)),
        };
        self.running_on(None);
        if let Some(node) = self.on_replica.remove(set) {
            let lost = matches!(
                &r,
                Ok(Err(
                    ProxyError::BackendLost { .. } | ProxyError::SetUnavailable { .. }
                ))
            );
            if lost {
                self.replica_lost(&node.id);
                if let Some((work, _)) = again.filter(|(_, m)| *m == out.packets_written()) {
                    discard(conn);
                    crate::split::take::fallback("replica_lost");
                    return Box::pin(self.one(set, work, out)).await;
                }
            }
        }
        if start_failed {
            // The branch never started: the set is not part of the transaction.
            if let Some(t) = self.txn.as_deref_mut() {
                t.forget(set);
            }
            discard(conn);
            return match r? {
                Ok(()) => Ok(true),
                Err(e) => fail(out, &e).await,
            };
        }
        if self.txn.is_none() && matches!(r, Ok(Ok(()))) {
            // Read to the end, autocommit: lent again as it is.
            conn.mark_clean();
        }
        // Before the reads below (last GTID, FOUND_ROWS(), user variables),
        // which leave the connection's warning count at theirs.
        self.keep_diagnostics(set, &conn, r.as_ref().ok().and_then(|r| r.as_ref().err()));
        if self.track_gtid && self.write && self.txn.is_none() && matches!(r, Ok(Ok(()))) {
            if let Ok(Some(Some(g))) = conn
                .query_first::<Option<String>, _>("SELECT @@last_gtid")
                .await
            {
                self.gtids.push((set.to_string(), g));
            }
        }
        if matches!(r, Ok(Ok(()))) {
            self.add_found(set, &mut conn).await;
        }
        if self.last_id.is_some() && matches!(r, Ok(Ok(()))) {
            // Best effort, as the user variables below.
            if let Ok(Some(v)) = conn.query_first::<u64, _>("SELECT LAST_INSERT_ID()").await {
                self.last_id_read = Some(v);
            }
        }
        let refused = matches!(r, Ok(Err(ProxyError::Backend { .. })));
        if self.stateful && self.txn.is_none() && (conn.get_warnings() > 0 || refused) {
            // (`SELECT ... INTO @v` of no row: 1329; of several: 1172.) The
            // connection is closed after the statement, its conditions kept as rows.
            let kept = crate::exec::txn::diag::Kept::default();
            crate::exec::txn::diag::stash(&mut conn, &kept).await;
            let rows = kept.lock().map(|mut k| std::mem::take(&mut k.rows));
            self.diag_rows.extend(rows.unwrap_or_default());
        }
        if !self.capture.is_empty() && (matches!(r, Ok(Ok(()))) || refused) {
            // Best effort: a failed read leaves the variables as they were. (A
            // statement MariaDB refused may have assigned some: `SELECT ... INTO
            // @v` of several rows assigns the first, then fails with 1172.)
            if let Ok(v) = uservars::read_back(&mut conn, set, &self.capture).await {
                self.captured = v;
            }
        }
        let err = r.as_ref().ok().and_then(|r| r.as_ref().err());
        self.give_back(set, conn, err);
        match r? {
            Ok(()) => Ok(true),
            Err(e) => fail(out, &e).await,
        }
    }
}
