//! The diagnostics area: `SHOW WARNINGS` / `SHOW ERRORS` / `GET DIAGNOSTICS`
//! read where the session's last statement ran. A statement that left
//! warnings on several sets (a join or scatter across sets) is read on each:
//! the lists concatenated (at most `max_error_count`, 64, as MariaDB shows),
//! the counts (`@@warning_count`, `SHOW COUNT(*) WARNINGS`) summed. So is a
//! write over several sets (run as one XA transaction): its branches holding
//! diagnostics are kept past its commit (`exec::txn::diag`), as are those of a
//! transaction's last statement past COMMIT and ROLLBACK, as on one server.

use mysql_async::prelude::Queryable;

use super::{fail, Session};
use crate::error::ProxyError;
use crate::exec::txn::diag::{cells, Cells};
use crate::exec::Answered;
use crate::front::{Handler, Responder};
use crate::show;

impl Session {
    /// `SHOW WARNINGS` and friends: read where the last statement left them
    /// (the kept connections, or the branches of the open transaction that hold
    /// them, `Txn::diag`); with none, any set answers (an empty diagnostics
    /// area, as after a clean statement).
    pub(super) async fn diagnostics(&mut self, sql: &str, out: &mut Responder<'_>) -> Answered {
        if !self.diag.is_empty() {
            let wire = self.codec.wire(sql).into_owned();
            return read_on(&mut self.diag, &self.diag_rows, sql, &wire, out).await;
        }
        // In a transaction: its branches holding them, taken out for the read.
        let held = self.txn.as_mut().map(|t| {
            let sets: Vec<String> = t.diag.iter().cloned().collect();
            let conns: Vec<(String, crate::backend::Conn)> = sets
                .into_iter()
                .filter_map(|s| Some((s.clone(), t.conns.remove(&s)?)))
                .collect();
            conns
        });
        if let Some(mut conns) = held.filter(|c| !c.is_empty()) {
            out.status = self.status();
            let wire = self.codec.wire(sql).into_owned();
            let r = read_on(&mut conns, &[], sql, &wire, out).await;
            if let Some(t) = self.txn.as_mut() {
                t.conns.extend(conns);
            }
            return r;
        }
        let snap = self.snapshot();
        // No kept connection: the last statement left no diagnostics on one (or
        // only `diag_rows`). A pooled connection may still hold another
        // session's, so clear them first (only a statement that uses a table
        // resets MariaDB's diagnostics area).
        let r = async {
            let set = show::any_set_of(&snap, self.db.as_deref())?;
            let mut conn = self.conns(&snap).pooled(&set).await?;
            conn.query_drop(crate::exec::CLEAR_DIAGNOSTICS)
                .await
                .map_err(|e| ProxyError::from_backend(&set, e))?;
            Ok::<_, ProxyError>((set, conn))
        }
        .await;
        match r {
            Ok((set, conn)) => {
                let wire = self.codec.wire(sql).into_owned();
                let mut conns = [(set, conn)];
                let r = read_on(&mut conns, &self.diag_rows, sql, &wire, out).await;
                let [(_, conn)] = conns;
                crate::exec::release(conn);
                r
            }
            Err(e) => fail(out, &e).await,
        }
    }
}

/// Answers diagnostics read `sql` (`wire`: as sent) from `conns`, the
/// connections holding the last statement's diagnostics, and `extra`, its
/// conditions kept as rows: one connection alone answers as it is; otherwise
/// `SHOW`/`SELECT` reads are answered combined ([`combined`]), anything else
/// (`GET DIAGNOSTICS`) by the first connection.
async fn read_on(
    conns: &mut [(String, crate::backend::Conn)],
    extra: &[Cells],
    sql: &str,
    wire: &[u8],
    out: &mut Responder<'_>,
) -> Answered {
    let first = sql.split_whitespace().next().unwrap_or_default();
    let read = ["SHOW", "SELECT"]
        .iter()
        .any(|w| first.eq_ignore_ascii_case(w));
    let alone = extra.is_empty();
    if let (false, _, [(set, conn), ..]) | (_, true, [(set, conn)]) = (read, alone, &mut *conns) {
        return match crate::exec::stream_all(conn, set, wire, out).await? {
            Ok(()) => Ok(true),
            Err(e) => fail(out, &e).await,
        };
    }
    let list = sql.split_whitespace().nth(1).is_some_and(|w| {
        ["WARNINGS", "ERRORS"]
            .iter()
            .any(|x| w.eq_ignore_ascii_case(x))
    });
    match combined(conns, extra, wire, list).await {
        Ok((cols, rows)) => {
            out.columns(&cols).await?;
            for r in &rows {
                out.text_row(r.iter().map(|c| c.as_deref())).await?;
            }
            out.end_rows(0).await?;
            Ok(true)
        }
        Err(e) => fail(out, &e).await,
    }
}

/// Most conditions MariaDB keeps for `SHOW WARNINGS` (`max_error_count`).
const MAX_ERROR_COUNT: usize = 64;

/// `sql` (a diagnostics read) on each of `conns`, with the conditions kept as
/// rows in `extra`: a list's rows concatenated (`SHOW ERRORS`: only `extra`'s
/// errors), or (counts) each cell summed, `extra` counted into the
/// `warning_count` and `error_count` columns.
async fn combined(
    conns: &mut [(String, crate::backend::Conn)],
    extra: &[Cells],
    sql: &[u8],
    list: bool,
) -> Result<(Vec<mysql_common::packets::Column>, Vec<Cells>), ProxyError> {
    let mut cols = Vec::new();
    let mut rows: Vec<Cells> = Vec::new();
    for (k, (set, conn)) in conns.iter_mut().enumerate() {
        let err = |e| ProxyError::from_backend(set, e);
        let mut res = conn.query_iter(sql).await.map_err(err)?;
        if k == 0 {
            cols = res.columns().map(|c| c.to_vec()).unwrap_or_default();
        }
        let got: Vec<mysql_async::Row> = res.collect().await.map_err(err)?;
        res.drop_result().await.map_err(err)?;
        let got: Vec<Cells> = got.into_iter().map(cells).collect();
        if list || k == 0 {
            rows.extend(got);
            continue;
        }
        // Counts: summed cell by cell.
        for (a, b) in rows.iter_mut().zip(got) {
            for (x, y) in a.iter_mut().zip(b) {
                if let (Some(p), Some(q)) = (count(x), count(&y)) {
                    *x = Some((p + q).to_string().into_bytes());
                }
            }
        }
    }
    let is_error = |r: &&Cells| r.first().is_some_and(|l| l.as_deref() == Some(b"Error"));
    let errors_only = std::str::from_utf8(sql)
        .ok()
        .and_then(|s| s.split_whitespace().nth(1))
        .is_some_and(|w| w.eq_ignore_ascii_case("ERRORS"));
    if list {
        rows.extend(
            extra
                .iter()
                .filter(|r| !errors_only || is_error(r))
                .cloned(),
        );
    } else if !extra.is_empty() {
        let errors = extra.iter().filter(is_error).count() as u64;
        for row in rows.iter_mut() {
            for (cell, col) in row.iter_mut().zip(&cols) {
                let name = col.name_str().to_ascii_lowercase();
                let add = if name.ends_with("warning_count") || name.contains("count(*) warnings") {
                    extra.len() as u64
                } else if name.ends_with("error_count") || name.contains("count(*) errors") {
                    errors
                } else {
                    continue;
                };
                if let Some(n) = count(cell) {
                    *cell = Some((n + add).to_string().into_bytes());
                }
            }
        }
    }
    rows.truncate(if list { MAX_ERROR_COUNT } else { rows.len() });
    Ok((cols, rows))
}

/// A count cell's value.
fn count(c: &Option<Vec<u8>>) -> Option<u64> {
    c.as_deref()
        .and_then(|b| std::str::from_utf8(b).ok())
        .and_then(|s| s.parse::<u64>().ok())
}
