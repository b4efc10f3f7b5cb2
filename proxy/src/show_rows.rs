//! One set's small answer read whole ([`fetch`]) and rows written to the client
//! as a text result ([`write_rows`]): what `SHOW` statements answer with (used by
//! `crate::show` and `crate::table_status`).

use mysql_async::prelude::Queryable;
use mysql_async::Value;

use crate::error::ProxyError;
use crate::exec::{Answered, Exec};
use crate::front::Responder;

pub(crate) type Fetched = (
    std::sync::Arc<[mysql_async::Column]>,
    Vec<Vec<Option<Vec<u8>>>>,
);

/// Runs `sql` on `set` and returns its columns and rows (small results only).
pub(crate) async fn fetch(
    exec: &mut Exec<'_>,
    set: &str,
    sql: &str,
) -> Result<Fetched, ProxyError> {
    let mut conn = exec.take(set).await?;
    let r = fetch_on(&mut conn, set, &exec.conns.codec.wire(sql)).await;
    exec.give_back(set, conn, r.as_ref().err());
    r
}

/// Runs `sql` (as sent) on `conn` of `set` and returns its columns and rows.
pub(crate) async fn fetch_on(
    conn: &mut crate::backend::Conn,
    set: &str,
    sql: &[u8],
) -> Result<Fetched, ProxyError> {
    let mut res = conn
        .query_iter(sql)
        .await
        .map_err(|e| ProxyError::from_backend(set, e))?;
    let cols = res.columns().unwrap_or_default();
    let mut rows = Vec::new();
    while let Some(r) = res
        .next()
        .await
        .map_err(|e| ProxyError::from_backend(set, e))?
    {
        rows.push(
            (0..r.len())
                .map(|i| match r.as_ref(i) {
                    Some(Value::Bytes(b)) => Some(b.clone()),
                    _ => None,
                })
                .collect(),
        );
    }
    Ok((cols, rows))
}

pub(crate) async fn write_rows(
    out: &mut Responder<'_>,
    cols: &[mysql_async::Column],
    rows: &[Vec<Option<Vec<u8>>>],
) -> Answered {
    out.columns(cols).await?;
    for r in rows {
        out.text_row(r.iter().map(|v| v.as_deref())).await?;
    }
    out.end_rows(0).await?;
    Ok(true)
}
