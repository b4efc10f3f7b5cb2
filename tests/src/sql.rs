//! Small query helpers for assertions: every value as text, `None` for NULL.

use mysql_async::prelude::*;
use mysql_async::{Row, Value};

/// A value as MariaDB's text protocol would show it; `None` for NULL.
pub fn text(v: &Value) -> Option<String> {
    match v {
        Value::NULL => None,
        Value::Bytes(b) => Some(String::from_utf8_lossy(b).into_owned()),
        Value::Int(i) => Some(i.to_string()),
        Value::UInt(u) => Some(u.to_string()),
        Value::Float(f) => Some(f.to_string()),
        Value::Double(d) => Some(d.to_string()),
        other => Some(other.as_sql(true).trim_matches('\'').to_string()),
    }
}

/// Runs a query; each row as text values.
pub async fn rows<Q: Queryable>(
    conn: &mut Q,
    sql: &str,
) -> anyhow::Result<Vec<Vec<Option<String>>>> {
    let rows: Vec<Row> = conn.query(sql).await?;
    Ok(rows
        .iter()
        .map(|r| (0..r.len()).map(|i| r.as_ref(i).and_then(text)).collect())
        .collect())
}

/// First column of the first row (`None` if no row or NULL).
pub async fn scalar<Q: Queryable>(conn: &mut Q, sql: &str) -> anyhow::Result<Option<String>> {
    Ok(rows(conn, sql)
        .await?
        .into_iter()
        .next()
        .and_then(|r| r.into_iter().next().flatten()))
}

/// Convenience: rows built from string literals, for `assert_eq!` against [`rows`].
pub fn expect(rows: &[&[&str]]) -> Vec<Vec<Option<String>>> {
    rows.iter()
        .map(|r| r.iter().map(|v| Some(v.to_string())).collect())
        .collect()
}

/// The server error code and SQLSTATE of a mysql_async error, if it is a server error.
pub fn server_error(e: &mysql_async::Error) -> Option<(u16, String)> {
    match e {
        mysql_async::Error::Server(s) => Some((s.code, s.state.clone())),
        _ => None,
    }
}
