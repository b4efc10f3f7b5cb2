//! `ANALYZE | CHECK | OPTIMIZE | REPAIR TABLE` through the gateway: each table
//! named is worked on by every set holding rows or a copy of it (a sharded or
//! broadcast table: every set of its database; a single table: its home set),
//! one statement per table. The answer is MariaDB's result set (`Table`, `Op`,
//! `Msg_type`, `Msg_text`), the tables in the order named; a row every set gave
//! alike (`status OK`) appears once, a row only some sets gave (an error, a
//! warning, a note) appears as each gave it, so a problem on one set shows.
//!
//! `CHECKSUM TABLE`: MariaDB's checksum of a table is the sum, modulo 2^32, of
//! its rows' checksums (`handler::calculate_checksum`), so a sharded table's is
//! the sum of its sets' (NULL if any set's is); a broadcast table's is one
//! copy's. Refused (1235) for a sharded table while slots of its database move
//! (orphan rows would count twice); in a transaction, which it does not
//! commit, refused for every table (`Session::dispatch`).

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
            let sharded = matches!(
                snap.table(&db, &t.name).map(|r| &r.kind),
                Some(TableKind::Sharded { .. })
            );
            let sets = if m.checksum && !sharded {
                sets.into_iter().take(1).collect()
            } else {
                sets
            };
            if m.checksum && sharded && snap.moving.values().any(|f| f.db == db) {
                return fail(
                    out,
                    &ProxyError::NotSupported(
                        "CHECKSUM TABLE of a sharded table while slots of its database move".into(),
                    ),
                )
                .await;
            }
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
                            // (Every set's checksum counts, equal or not.)
                            if !seen.contains(&row) || (m.checksum && sharded) {
                                seen.push(row);
                            }
                        }
                    }
                    Err(e) => return fail(out, &e).await,
                }
            }
            if m.checksum && sharded {
                seen = vec![sum_checksums(seen)];
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

/// One row `(Table, Checksum)` from each set's: the checksums added modulo
/// 2^32 (MariaDB's `ha_checksum` is 32 bits), NULL if any set's is.
fn sum_checksums(rows: Vec<Cells>) -> Cells {
    let mut sum: Option<u64> = Some(0);
    let mut table = None;
    for r in &rows {
        table = table.or_else(|| r.first().cloned());
        let v = r
            .get(1)
            .cloned()
            .flatten()
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|s| s.parse::<u64>().ok());
        sum = match (sum, v) {
            (Some(a), Some(b)) => Some((a + b) % (1 << 32)),
            _ => None,
        };
    }
    vec![table.flatten(), sum.map(|s| s.to_string().into_bytes())]
}

#[cfg(test)]
mod tests {
    use super::sum_checksums;

    #[test]
    fn checksums_add_modulo_two_to_the_32() {
        let row = |v: Option<&str>| vec![Some(b"d.t".to_vec()), v.map(|v| v.as_bytes().to_vec())];
        let got = sum_checksums(vec![row(Some("4000000000")), row(Some("500000000"))]);
        assert_eq!(got, row(Some("205032704")));
        assert_eq!(sum_checksums(vec![row(Some("1")), row(None)]), row(None));
    }
}
