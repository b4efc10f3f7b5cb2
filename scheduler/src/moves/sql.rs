//! What every phase of a move needs of MariaDB: connections to a set's current
//! primary with the move's session settings, quoting, a table's columns and primary
//! key, keyset pagination over the primary key, and the copy cursor as JSON.

use anyhow::{anyhow, bail, Context, Result};
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts, Value};
use topo::{ClusterSnapshot, MoveTable, SlotSpan};

use crate::config::MysqlConfig;

/// Session settings of every connection of a move: UTC (TIMESTAMP values copied as
/// they are), no auto-increment of an explicit 0, no strict mode (zero dates copy),
/// no foreign-key checks (tables are created and filled in any order).
const SESSION: &str = "SET time_zone = '+00:00', \
     sql_mode = 'NO_AUTO_VALUE_ON_ZERO,NO_ENGINE_SUBSTITUTION', \
     foreign_key_checks = 0";

/// Bound of one chunk's statement (a select or a write of `chunk_rows` rows): a
/// server that hangs (stopped, or a write waiting for a semi-sync acknowledgement
/// that never comes) fails the step instead of stalling the move; the step is tried
/// again, on the set's primary of that moment.
pub const CHUNK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// `f` bounded by [`CHUNK_TIMEOUT`].
pub async fn bounded<T>(what: &str, f: impl std::future::Future<Output = Result<T>>) -> Result<T> {
    tokio::time::timeout(CHUNK_TIMEOUT, f)
        .await
        .map_err(|_| anyhow!("{what}: no answer within {CHUNK_TIMEOUT:?}"))?
}

/// `` `name` `` with backticks doubled.
pub fn q(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// `` `db`.`table` ``.
pub fn qt(db: &str, table: &str) -> String {
    format!("{}.{}", q(db), q(table))
}

/// The connection options of `set`'s current primary in `snap`.
pub fn primary_opts(snap: &ClusterSnapshot, account: &MysqlConfig, set: &str) -> Result<Opts> {
    let p = snap
        .primary_of(set)
        .ok_or_else(|| anyhow!("set {set} has no primary"))?;
    Ok(account.opts(&p.host, p.port))
}

/// A connection to `set`'s current primary with the move's session settings.
pub async fn connect(snap: &ClusterSnapshot, account: &MysqlConfig, set: &str) -> Result<Conn> {
    let opts = primary_opts(snap, account, set)?;
    let mut c = Conn::new(opts)
        .await
        .with_context(|| format!("connect to the primary of {set}"))?;
    c.query_drop(SESSION).await?;
    Ok(c)
}

/// A table's columns as a move copies them.
#[derive(Debug, Clone)]
pub struct TableInfo {
    /// Every stored, non-generated column, in table order.
    pub cols: Vec<String>,
    /// The primary key's columns, in key order.
    pub pk: Vec<String>,
    /// Positions of the primary key's columns in `cols`.
    pub pk_at: Vec<usize>,
}

/// `db.table`'s primary key columns, in key order (empty: none).
pub async fn primary_key(c: &mut Conn, db: &str, table: &str) -> Result<Vec<String>> {
    Ok(c.exec(
        "SELECT COLUMN_NAME FROM information_schema.STATISTICS \
             WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND INDEX_NAME = 'PRIMARY' \
             ORDER BY SEQ_IN_INDEX",
        (db, table),
    )
    .await?)
}

/// Reads `db.table`'s columns and primary key; fails when the table has no primary
/// key or a key column is generated.
pub async fn table_info(c: &mut Conn, db: &str, table: &str) -> Result<TableInfo> {
    let cols: Vec<(String, String)> = c
        .exec(
            "SELECT COLUMN_NAME, EXTRA FROM information_schema.COLUMNS \
             WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION",
            (db, table),
        )
        .await?;
    if cols.is_empty() {
        bail!("table {db}.{table} does not exist");
    }
    let cols: Vec<String> = cols
        .into_iter()
        .filter(|(_, extra)| !extra.to_ascii_uppercase().contains("GENERATED"))
        .map(|(n, _)| n)
        .collect();
    let pk = primary_key(c, db, table).await?;
    if pk.is_empty() {
        bail!("table {db}.{table} has no primary key (a move copies and deletes by it)");
    }
    let pk_at = pk
        .iter()
        .map(|k| {
            cols.iter()
                .position(|c| c == k)
                .ok_or_else(|| anyhow!("primary key column {k} of {db}.{table} is generated"))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(TableInfo { cols, pk, pk_at })
}

/// Whether `db.table` exists on the server of `c`.
pub async fn table_exists(c: &mut Conn, db: &str, table: &str) -> Result<bool> {
    let n: Option<u64> = c
        .exec_first(
            "SELECT COUNT(*) FROM information_schema.TABLES \
             WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?",
            (db, table),
        )
        .await?;
    Ok(n.unwrap_or(0) > 0)
}

/// The condition on `t`'s shard key for the rows of `spans`.
pub fn inside(t: &MoveTable, slots: u32, spans: &[SlotSpan]) -> String {
    topo::slot::inside_spans_sql(&q(&t.key), t.key_type, slots, spans)
}

/// `ORDER BY` list of the primary key.
pub fn pk_order(pk: &[String]) -> String {
    pk.iter().map(|k| q(k)).collect::<Vec<_>>().join(", ")
}

/// Keyset pagination: the condition "primary key after the cursor" (expanded, so the
/// optimizer uses the key's range) and its parameters for the cursor `last`.
pub fn after(pk: &[String], last: &[Value]) -> (String, Vec<Value>) {
    let mut ors = Vec::new();
    let mut params = Vec::new();
    for k in 0..pk.len() {
        let mut ands: Vec<String> = pk[..k].iter().map(|c| format!("{} = ?", q(c))).collect();
        ands.push(format!("{} > ?", q(&pk[k])));
        params.extend(last[..=k].iter().cloned());
        ors.push(format!("({})", ands.join(" AND ")));
    }
    (format!("({})", ors.join(" OR ")), params)
}

/// A primary-key value as JSON (the copy cursor in the move record).
pub fn to_json(v: &Value) -> serde_json::Value {
    use serde_json::json;
    match v {
        Value::NULL => serde_json::Value::Null,
        Value::Int(i) => json!(i),
        Value::UInt(u) => json!(u),
        Value::Float(f) => json!({ "f": *f as f64 }),
        Value::Double(f) => json!({ "f": f }),
        Value::Bytes(b) => json!({ "hex": hex(b) }),
        Value::Date(..) | Value::Time(..) => json!({ "s": v.as_sql(true).trim_matches('\'') }),
    }
}

/// The inverse of [`to_json`] (dates and times come back as text MariaDB converts).
pub fn from_json(j: &serde_json::Value) -> Result<Value> {
    Ok(match j {
        serde_json::Value::Null => Value::NULL,
        serde_json::Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => Value::Int(i),
            (_, Some(u)) => Value::UInt(u),
            _ => bail!("bad cursor number {n}"),
        },
        serde_json::Value::Object(o) => {
            if let Some(f) = o.get("f").and_then(|f| f.as_f64()) {
                Value::Double(f)
            } else if let Some(h) = o.get("hex").and_then(|h| h.as_str()) {
                Value::Bytes(unhex(h)?)
            } else if let Some(s) = o.get("s").and_then(|s| s.as_str()) {
                Value::Bytes(s.as_bytes().to_vec())
            } else {
                bail!("bad cursor value {j}")
            }
        }
        other => bail!("bad cursor value {other}"),
    })
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &str) -> Result<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        bail!("odd hex length");
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).map_err(|e| anyhow!("bad hex: {e}")))
        .collect()
}

/// The approximate size of a value on the wire (to keep statements under
/// `max_allowed_packet`).
pub fn size_of(v: &Value) -> usize {
    match v {
        Value::Bytes(b) => b.len() + 9,
        _ => 12,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips() {
        for v in [
            Value::Int(-5),
            Value::UInt(u64::MAX),
            Value::Bytes(b"a\x00\xffz".to_vec()),
            Value::Double(1.5),
        ] {
            assert_eq!(from_json(&to_json(&v)).unwrap(), v);
        }
        let d = Value::Date(2024, 2, 29, 13, 4, 5, 120);
        assert_eq!(
            from_json(&to_json(&d)).unwrap(),
            Value::Bytes(b"2024-02-29 13:04:05.000120".to_vec())
        );
    }

    #[test]
    fn keyset_condition() {
        let pk = vec!["a".to_string(), "b`".to_string()];
        let (sql, p) = after(&pk, &[Value::Int(1), Value::Int(2)]);
        assert_eq!(sql, "((`a` > ?) OR (`a` = ? AND `b``` > ?))");
        assert_eq!(p, vec![Value::Int(1), Value::Int(1), Value::Int(2)]);
    }
}
