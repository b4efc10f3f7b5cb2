//! Per-table statistics of the local MariaDB ([`NodeStats`], published every
//! `stats_interval_ms` under `stats/<set>/<node>` with the health report's lease):
//! rows and data + index bytes from `information_schema.TABLES`, rows read and
//! changed from `information_schema.TABLE_STATISTICS` (MariaDB's `userstat`, turned on
//! by the agent when off). System schemas and `setwise_sys` are left out.

use std::collections::HashMap;

use mysql_async::prelude::Queryable;
use topo::{NodeStats, TableStats};
use tracing::info;

use crate::db::{self, SqlResult};
use crate::db::{describe, ProbeTarget};

/// Schemas left out of the statistics.
pub fn skipped(db: &str) -> bool {
    db::is_system_schema(db) || db.eq_ignore_ascii_case("setwise_sys")
}

const TABLES_SQL: &str = "SELECT TABLE_SCHEMA, TABLE_NAME, COALESCE(TABLE_ROWS, 0), \
     COALESCE(DATA_LENGTH, 0) + COALESCE(INDEX_LENGTH, 0) \
     FROM information_schema.TABLES WHERE TABLE_TYPE = 'BASE TABLE' \
     AND TABLE_SCHEMA NOT IN ('mysql', 'information_schema', 'performance_schema', 'sys', 'setwise_sys')";
const USAGE_SQL: &str = "SELECT TABLE_SCHEMA, TABLE_NAME, ROWS_READ, ROWS_CHANGED \
     FROM information_schema.TABLE_STATISTICS";

/// Reads the statistics of every user table (one short connection).
pub async fn collect(target: &ProbeTarget, set: &str, at_ms: u64) -> SqlResult<NodeStats> {
    let mut conn = db::connect(target).await?;
    let r = read(&mut conn, target, set, at_ms).await;
    let _ = tokio::time::timeout(std::time::Duration::from_millis(200), conn.disconnect()).await;
    r
}

async fn read(
    conn: &mut mysql_async::Conn,
    target: &ProbeTarget,
    set: &str,
    at_ms: u64,
) -> SqlResult<NodeStats> {
    if db::global(conn, "userstat").await? == "0" {
        db::exec(conn, "SET GLOBAL userstat = 1").await?;
        info!("turned on userstat (per-table rows read/changed)");
    }
    let tables: Vec<(String, String, u64, u64)> = conn
        .query(TABLES_SQL)
        .await
        .map_err(|e| format!("information_schema.TABLES: {}", describe(&e)))?;
    let usage: Vec<(String, String, u64, u64)> = conn
        .query(USAGE_SQL)
        .await
        .map_err(|e| format!("information_schema.TABLE_STATISTICS: {}", describe(&e)))?;
    Ok(NodeStats {
        node: target.node.clone(),
        set: set.to_string(),
        at_ms,
        tables: merge(tables, usage),
    })
}

/// Joins table sizes with their usage counters (by schema and name), sorted.
pub fn merge(
    tables: Vec<(String, String, u64, u64)>,
    usage: Vec<(String, String, u64, u64)>,
) -> Vec<TableStats> {
    let usage: HashMap<(String, String), (u64, u64)> = usage
        .into_iter()
        .map(|(d, t, r, c)| ((d, t), (r, c)))
        .collect();
    let mut out: Vec<TableStats> = tables
        .into_iter()
        .filter(|(d, ..)| !skipped(d))
        .map(|(db, table, rows, bytes)| {
            let (rows_read, rows_changed) = usage
                .get(&(db.clone(), table.clone()))
                .copied()
                .unwrap_or_default();
            TableStats {
                db,
                table,
                rows,
                bytes,
                rows_read,
                rows_changed,
            }
        })
        .collect();
    out.sort_by(|a, b| (&a.db, &a.table).cmp(&(&b.db, &b.table)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(d: &str, n: &str, a: u64, b: u64) -> (String, String, u64, u64) {
        (d.into(), n.into(), a, b)
    }

    #[test]
    fn sizes_join_usage() {
        let v = merge(
            vec![
                t("shop", "t", 10, 16384),
                t("app", "u", 0, 32768),
                t("setwise_sys", "heartbeat", 1, 1),
                t("mysql", "user", 1, 1),
            ],
            vec![t("shop", "t", 100, 7), t("other", "x", 1, 1)],
        );
        assert_eq!(v.len(), 2);
        assert_eq!((v[0].db.as_str(), v[0].table.as_str()), ("app", "u"));
        assert_eq!((v[0].rows_read, v[0].rows_changed), (0, 0));
        assert_eq!(
            v[1],
            TableStats {
                db: "shop".into(),
                table: "t".into(),
                rows: 10,
                bytes: 16384,
                rows_read: 100,
                rows_changed: 7
            }
        );
    }
}
