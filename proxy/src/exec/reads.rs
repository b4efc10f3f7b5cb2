//! Reads across several sets: rows concatenated set after set, or merged by
//! the gateway (sort, group, limit: `crate::merge`), text or a client's
//! prepared statement; the per-set streams' connections given back after.

use std::borrow::Cow;

use mysql_async::prelude::Queryable;
use mysql_async::Value;

use super::wire::stream_rows;
use super::{conns, fail, Exec};
use crate::error::ProxyError;
use crate::front::responder::Answered;
use crate::front::Responder;
use crate::merge::{stream, MergeSpec};

impl Exec<'_> {
    /// Several sets, rows concatenated; column definitions from the first set.
    pub(super) async fn concat(
        &mut self,
        sets: &[String],
        sql: &str,
        out: &mut Responder<'_>,
    ) -> Answered {
        if self.at_once(sets) {
            return self.concat_at_once(sets, sql, out).await;
        }
        let parts: Vec<(String, String)> =
            sets.iter().map(|s| (s.clone(), sql.to_string())).collect();
        self.concat_parts(&parts, out).await
    }

    /// Each `(set, text)` run in turn, the rows of one after another; column
    /// definitions from the first.
    pub async fn concat_parts(
        &mut self,
        parts: &[(String, String)],
        out: &mut Responder<'_>,
    ) -> Answered {
        let mut warnings = 0u16;
        let mut started = false;
        for (set, sql) in parts {
            let sql = match self.for_set(set, sql) {
                Ok(s) => s,
                Err(e) => return fail(out, &e).await,
            };
            let sql = self.conns.codec.wire(&sql);
            let (mut conn, epoch) = match self.take_at(set).await {
                Ok(c) => c,
                Err(e) => return fail(out, &e).await,
            };
            self.running_on(Some(&conn));
            let r = match self
                .guarded_on(set, epoch, stream_rows(&mut conn, set, &sql, !started, out))
                .await
            {
                Ok(r) => r,
                Err(e) => Ok(Err(e)),
            };
            self.running_on(None);
            if self.txn.is_none() && matches!(r, Ok(Ok(_))) {
                // Read to the end, autocommit: lent again as it is.
                conn.mark_clean();
            }
            if matches!(r, Ok(Ok(_))) {
                self.add_found(set, &mut conn).await;
            }
            self.give_back(set, conn, r.as_ref().ok().and_then(|r| r.as_ref().err()));
            match r? {
                Ok(w) => warnings = warnings.saturating_add(w),
                Err(e) => return fail(out, &e).await,
            }
            started = true;
        }
        out.end_rows(warnings).await?;
        Ok(true)
    }

    /// Several sets, their rows merged by the gateway (sort, group, limit).
    pub(super) async fn merged(
        &mut self,
        sets: &[String],
        spec: &MergeSpec,
        out: &mut Responder<'_>,
    ) -> Answered {
        self.merged_with(sets, spec, None, out).await
    }

    /// [`merged`](Self::merged) of a client's prepared statement: `prepared` (the
    /// per-set text with `?`, `crate::route::prepared_merge`) executed with
    /// `values` on each set whose text needs no change (`for_set`), where its
    /// rows come typed as text rows would (`merge::typed`); else as text.
    pub(crate) async fn merged_prepared(
        &mut self,
        sets: &[String],
        spec: &MergeSpec,
        prepared: &str,
        values: Vec<Value>,
        out: &mut Responder<'_>,
    ) -> Answered {
        self.merged_with(sets, spec, Some((prepared, values)), out)
            .await
    }

    pub(super) async fn merged_with(
        &mut self,
        sets: &[String],
        spec: &MergeSpec,
        prepared: Option<(&str, Vec<Value>)>,
        out: &mut Responder<'_>,
    ) -> Answered {
        let shown = match &spec.columns_sql {
            Some(q) => match self.columns_of(&sets[0], q).await {
                Ok(c) => Some(c),
                Err(e) => return fail(out, &e).await,
            },
            None => None,
        };
        let texts: Vec<Cow<'_, str>> = match sets
            .iter()
            .map(|set| self.for_set(set, &spec.sql))
            .collect()
        {
            Ok(t) => t,
            Err(e) => return fail(out, &e).await,
        };
        let mut streams = Vec::with_capacity(sets.len());
        let mut on = Vec::with_capacity(sets.len());
        for (set, text) in sets.iter().zip(&texts) {
            match self.take_at(set).await {
                Ok((c, epoch)) => {
                    on.push((set.as_str(), epoch));
                    self.also_running_on(&c);
                    let sql = self.conns.codec.wire(text).into_owned();
                    streams.push(match &prepared {
                        Some((q, values)) if matches!(text, Cow::Borrowed(_)) => {
                            let q = self.conns.codec.wire(q).into_owned();
                            stream::spawn_prepared(set, c, sql, q, values.clone())
                        }
                        _ if out.is_binary() => stream::spawn_for_binary(set, c, sql),
                        _ => stream::spawn(set, c, sql),
                    })
                }
                Err(e) => {
                    self.clear_running();
                    self.recover(streams).await;
                    return fail(out, &e).await;
                }
            }
        }
        // Sets read on replicas are checked on those replicas, the others on
        // their primaries.
        let (on_replicas, on): (Vec<_>, Vec<_>) = on
            .into_iter()
            .partition(|(s, _)| self.on_replica.contains_key(*s));
        let replicas: Vec<(&str, &topo::NodeRecord)> = on_replicas
            .iter()
            .filter_map(|(s, _)| Some((*s, self.on_replica.get(*s)?)))
            .collect();
        let run = crate::merge::run::run(spec, &mut streams, shown, out);
        let r = if replicas.is_empty() {
            self.conns.guarded_sets(&on, self.write, run).await
        } else {
            // Boxed: statements that read no replica keep their futures as small
            // as they were.
            let guarded = self.conns.guarded_sets(&on, self.write, run);
            Box::pin(crate::split::take::guard_all(
                self.conns.backends,
                &replicas,
                guarded,
            ))
            .await
            .inspect_err(conns::given_up)
            .and_then(|r| r)
        };
        self.clear_running();
        let r = match r {
            Ok(r) => r,
            Err(e) => {
                // The stream tasks stay behind on the stuck set; their connections
                // are not reused.
                for s in streams {
                    s.task.abort();
                }
                if let Some(t) = self.txn.as_deref_mut() {
                    t.broken = Some(e.to_string());
                }
                if let ProxyError::SetUnavailable { set, .. } = &e {
                    if let Some(node) = self.on_replica.remove(set) {
                        self.replica_lost(&node.id);
                    }
                }
                return fail(out, &e).await;
            }
        };
        if matches!(r, Ok(true)) {
            self.recover_found(streams).await;
        } else if matches!(r, Ok(false)) && self.txn.is_none() && out.error_code != 0 {
            self.recover_error(streams, out.error_code).await;
        } else {
            self.recover(streams).await;
        }
        r
    }

    /// [`recover`](Self::recover) after a merge answered with a set's error:
    /// that set's conditions (the first whose area holds an error of `code`)
    /// are kept as rows for `SHOW WARNINGS`, as one server's area would be.
    async fn recover_error(&mut self, streams: Vec<stream::SetStream>, code: u16) {
        let mut kept = false;
        for s in streams {
            drop(s.rx);
            let Ok(mut conn) = s.task.await else { continue };
            if !kept {
                let rows = conn
                    .query::<mysql_async::Row, _>("SHOW WARNINGS")
                    .await
                    .unwrap_or_default();
                let rows: Vec<_> = rows.into_iter().map(super::txn::diag::cells).collect();
                let holds = rows.iter().any(|r| {
                    r.first().cloned().flatten().as_deref() == Some(b"Error".as_slice())
                        && r.get(1).cloned().flatten() == Some(code.to_string().into_bytes())
                });
                if holds {
                    self.diag_rows = rows;
                    kept = true;
                }
            }
            self.give_back(&s.set, conn, None);
        }
    }

    /// The column definitions of `sql` on `set` (for [`MergeSpec::columns_sql`]).
    async fn columns_of(
        &mut self,
        set: &str,
        sql: &str,
    ) -> Result<std::sync::Arc<[mysql_common::packets::Column]>, ProxyError> {
        let (mut conn, epoch) = self.take_at(set).await?;
        let r = self
            .guarded_on(
                set,
                epoch,
                stream::columns_of(&mut conn, set, &self.conns.codec.wire(sql)),
            )
            .await
            .and_then(|r| r);
        self.give_back(set, conn, r.as_ref().err());
        r
    }

    /// Waits for the per-set tasks and returns their connections.
    pub(super) async fn recover(&mut self, streams: Vec<stream::SetStream>) {
        for s in streams {
            drop(s.rx);
            if let Ok(conn) = s.task.await {
                self.give_back(&s.set, conn, None);
            }
        }
    }
}
