//! Running SQL on one backend connection and writing its answer to the client:
//! result sets streamed row by row (text and binary protocol), OK packets, and
//! handing connections back clean.

use std::io;

use crate::backend::Conn;
use mysql_async::prelude::Queryable;
use mysql_async::Value;

use crate::error::ProxyError;
use crate::front::{OkInfo, Responder};

/// Runs `sql` on `conn` and writes all its results to the client. The outer error
/// is the client's connection; the inner one a backend error not yet sent.
pub(crate) async fn stream_all(
    conn: &mut Conn,
    set: &str,
    sql: &[u8],
    out: &mut Responder<'_>,
) -> io::Result<Result<(), ProxyError>> {
    stream_after(conn, set, &[], sql, out)
        .await
        .map(|r| r.map_err(|(e, _)| e))
}

/// [`stream_all`] of `sql` (the bytes to send) in one query after the statements `before`
/// (their OKs are not written). A backend error says whether it came from one
/// of `before` (`true`: `sql` did not run).
pub(super) async fn stream_after(
    conn: &mut Conn,
    set: &str,
    before: &[String],
    sql: &[u8],
    out: &mut Responder<'_>,
) -> io::Result<Result<(), (ProxyError, bool)>> {
    let text;
    let full = if before.is_empty() {
        sql
    } else {
        text = [format!("{}; ", before.join("; ")).as_bytes(), sql].concat();
        &text[..]
    };
    let mut res = match conn.query_iter(full).await {
        Ok(r) => r,
        Err(e) => return Ok(Err((ProxyError::from_backend(set, e), !before.is_empty()))),
    };
    // The OKs of `before`: reading past OK number j reads statement j + 1's header.
    for j in 0..before.len() {
        // (`is_empty` is no guide here: it is true before a last result that is
        // an OK, which is still to be read.)
        if let Err(e) = res.next().await {
            return Ok(Err((
                ProxyError::from_backend(set, e),
                j + 1 < before.len(),
            )));
        }
    }
    let more_after = out.more_results();
    let backend = |e| Ok(Err((ProxyError::from_backend(set, e), false)));
    loop {
        let cols = res.columns().filter(|c| !c.is_empty());
        if let Some(cols) = cols {
            out.columns(&cols).await?;
            loop {
                match res.next().await {
                    Ok(Some(row)) => write_row(out, &row).await?,
                    Ok(None) => break,
                    Err(e) => return backend(e),
                }
            }
            out.set_more_results(!res.is_empty() || more_after);
            out.end_rows(res.warnings()).await?;
        } else {
            let ok = ok_of(&res);
            if let Err(e) = res.next().await {
                return backend(e);
            }
            out.set_more_results(!res.is_empty() || more_after);
            out.ok(&ok).await?;
        }
        if res.is_empty() {
            break;
        }
    }
    out.set_more_results(more_after);
    Ok(Ok(()))
}

/// Runs the prepared statement `sql` (the bytes to send) with `values`.
pub(super) async fn exec_prepared(
    backends: &crate::backend::Backends,
    conn: &mut Conn,
    set: &str,
    sql: &[u8],
    values: Vec<Value>,
    out: &mut Responder<'_>,
) -> io::Result<Result<(), ProxyError>> {
    let params = if values.is_empty() {
        mysql_async::Params::Empty
    } else {
        mysql_async::Params::Positional(values)
    };
    let stmt = match backends.prep(conn, sql).await {
        Ok(s) => s,
        Err(e) => return Ok(Err(ProxyError::from_backend(set, e))),
    };
    let mut res = match conn.exec_iter(&stmt, params).await {
        Ok(r) => r,
        Err(e) => return Ok(Err(ProxyError::from_backend(set, e))),
    };
    let more_after = out.more_results();
    match res.columns().filter(|c| !c.is_empty()) {
        Some(cols) => {
            out.columns(&cols).await?;
            loop {
                match res.next().await {
                    Ok(Some(row)) => {
                        let vals: Vec<Value> = (0..row.len())
                            .map(|i| row.as_ref(i).cloned().unwrap_or(Value::NULL))
                            .collect();
                        out.values_row(&vals).await?;
                    }
                    Ok(None) => break,
                    Err(e) => return Ok(Err(ProxyError::from_backend(set, e))),
                }
            }
            out.set_more_results(more_after);
            out.end_rows(res.warnings()).await?;
        }
        None => {
            let ok = ok_of(&res);
            if let Err(e) = res.drop_result().await {
                return Ok(Err(ProxyError::from_backend(set, e)));
            }
            out.ok(&ok).await?;
        }
    }
    Ok(Ok(()))
}

/// Streams the rows of `sql` (one result set); writes the column definitions first
/// when `with_columns`. Returns the warning count.
pub(super) async fn stream_rows(
    conn: &mut Conn,
    set: &str,
    sql: &[u8],
    with_columns: bool,
    out: &mut Responder<'_>,
) -> io::Result<Result<u16, ProxyError>> {
    let mut res = match conn.query_iter(sql).await {
        Ok(r) => r,
        Err(e) => return Ok(Err(ProxyError::from_backend(set, e))),
    };
    if with_columns {
        let cols = res.columns().unwrap_or_default();
        out.columns(&cols).await?;
    }
    loop {
        match res.next().await {
            Ok(Some(row)) => write_row(out, &row).await?,
            Ok(None) => break,
            Err(e) => return Ok(Err(ProxyError::from_backend(set, e))),
        }
    }
    Ok(Ok(res.warnings()))
}

pub(super) async fn write_one(
    conn: &mut Conn,
    set: &str,
    sql: &[u8],
) -> Result<OkInfo, ProxyError> {
    let res = conn
        .query_iter(sql)
        .await
        .map_err(|e| ProxyError::from_backend(set, e))?;
    let ok = ok_of(&res);
    res.drop_result()
        .await
        .map_err(|e| ProxyError::from_backend(set, e))?;
    Ok(ok)
}

/// [`write_one`] with `first` (a statement that gives an OK: `SAVEPOINT ...`)
/// run just before it in the same round trip; the OK is `sql`'s.
pub(super) async fn write_after(
    conn: &mut Conn,
    set: &str,
    first: &str,
    sql: &[u8],
) -> Result<OkInfo, ProxyError> {
    let mut text = Vec::with_capacity(first.len() + 2 + sql.len());
    text.extend_from_slice(first.as_bytes());
    text.extend_from_slice(b"; ");
    text.extend_from_slice(sql);
    let mut res = conn
        .query_iter(text)
        .await
        .map_err(|e| ProxyError::from_backend(set, e))?;
    // Past `first`'s OK to the statement's own answer (its error surfaces here).
    res.next()
        .await
        .map_err(|e| ProxyError::from_backend(set, e))?;
    let ok = ok_of(&res);
    res.drop_result()
        .await
        .map_err(|e| ProxyError::from_backend(set, e))?;
    Ok(ok)
}

/// A statement that uses a table, so MariaDB starts a new diagnostics area.
pub const CLEAR_DIAGNOSTICS: &str = "SELECT 1 FROM information_schema.CHARACTER_SETS LIMIT 0";

/// Returns a connection to its pool; one that still carries warnings or an error
/// is cleared first (in the background), so the next session never sees them.
pub fn release(mut conn: Conn) {
    if conn.get_warnings() == 0 {
        return;
    }
    tokio::spawn(async move {
        use mysql_async::prelude::Queryable;
        let _ = conn.query_drop(CLEAR_DIAGNOSTICS).await;
    });
}

/// The OK a statement's result reports (affected rows, insert id, warnings, info).
fn ok_of<P: mysql_async::prelude::Protocol>(res: &mysql_async::QueryResult<'_, '_, P>) -> OkInfo {
    OkInfo {
        affected_rows: res.affected_rows(),
        last_insert_id: res.last_insert_id().unwrap_or(0),
        warnings: res.warnings(),
        info: res.info().into_owned(),
    }
}

pub(super) async fn write_row(out: &mut Responder<'_>, row: &mysql_async::Row) -> io::Result<()> {
    let n = row.len();
    out.text_row((0..n).map(|i| match row.as_ref(i) {
        Some(Value::Bytes(b)) => Some(b.as_slice()),
        Some(Value::NULL) | None => None,
        // The text protocol only yields bytes and NULL.
        Some(_) => None,
    }))
    .await
}
