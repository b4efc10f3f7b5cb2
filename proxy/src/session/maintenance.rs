//! `ANALYZE | CHECK | OPTIMIZE | REPAIR TABLE` through the gateway: each table
//! named is worked on by every set holding rows or a copy of it (a sharded or
//! broadcast table: every set of its database; a single table: its home set),
//! one statement per table. The answer is MariaDB's result set (`Table`, `Op`,
//! `Msg_type`, `Msg_text`), the tables in the order named; a row every set gave
//! alike (`status OK`) appears once, a row only some sets gave (an error, a
//! warning, a note) appears as each gave it, so a problem on one set shows.

use mysql_async::prelude::Queryable;

use super::{fail, Session};
use crate::command::maintenance::Maintenance;
use crate::error::ProxyError;
use crate::exec::txn::diag::{cells, Cells};
use crate::exec::Answered;
use crate::front::{Handler, Responder};
use topo::TableKind;

impl Session {
    /// Runs `m` (read from `sql`).
    pub(super) async fn maintenance(
        &mut self,
        sql: &str,
        m: &Maintenance,
        out: &mut Responder<'_>,
    ) -> Answered {
        let snap = self.snapshot();
        let mut cols = Vec::new();
        let mut rows: Vec<Cells> = Vec::new();
        for t in &m.tables {
            let Some(db) = t.db.clone().or_else(|| self.db.clone()) else {
                return fail(out, &ProxyError::NoDatabaseSelected).await;
            };
            let sets = match snap.db(&db) {
                None => match crate::placement::any_set_of(&snap, None) {
                    // MariaDB's own answer about a database it does not have.
                    Ok(s) => vec![s],
                    Err(e) => return fail(out, &e).await,
                },
                Some(rec) => match snap.table(&db, &t.name).map(|r| &r.kind) {
                    Some(TableKind::Sharded { .. } | TableKind::Broadcast) => rec.sets(),
                    _ => vec![rec.home_set.clone()],
                },
            };
            let text = m.for_table(sql, &db, &t.name);
            let wire = self.codec.wire(&text).into_owned();
            let mut seen: Vec<Cells> = Vec::new();
            for set in &sets {
                let r = async {
                    let mut conn = self.conns(&snap).pooled(set).await?;
                    let err = |e| ProxyError::from_backend(set, e);
                    let mut res = conn.query_iter(wire.as_slice()).await.map_err(err)?;
                    let c = res.columns().map(|c| c.to_vec()).unwrap_or_default();
                    let got: Vec<mysql_async::Row> = res.collect().await.map_err(err)?;
                    drop(res);
                    crate::exec::release(conn);
                    Ok::<_, ProxyError>((c, got))
                }
                .await;
                match r {
                    Ok((c, got)) => {
                        if cols.is_empty() {
                            cols = c;
                        }
                        for row in got.into_iter().map(cells) {
                            if !seen.contains(&row) {
                                seen.push(row);
                            }
                        }
                    }
                    Err(e) => return fail(out, &e).await,
                }
            }
            rows.extend(seen);
        }
        out.status = self.status();
        out.columns(&cols).await?;
        for r in &rows {
            out.text_row(r.iter().map(|c| c.as_deref())).await?;
        }
        out.end_rows(0).await?;
        Ok(true)
    }
}
