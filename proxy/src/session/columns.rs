//! Table definitions read from a set holding the table: its columns (name,
//! `DATA_TYPE`, `EXTRA`) from information_schema, cached for every session
//! until the next DDL ([`crate::shared::ColumnCache`]) — for the planner (an
//! INSERT without a column list, join columns), AUTO_INCREMENT (`ids.rs`),
//! INSERT ... SELECT's target types (`insert_select.rs`) and the move gate —
//! and the set a prepared statement's metadata comes from.

use std::sync::Arc;

use mysql_async::prelude::Queryable;

use super::Session;
use crate::error::ProxyError;
use crate::shared::TableColumns;
use crate::show;
use crate::sql::parse_one;

impl Session {
    /// Column names of `db.table` in definition order (cached until the next
    /// DDL); 1146 for a table no set has.
    pub(super) async fn table_columns(
        &self,
        snap: &topo::ClusterSnapshot,
        db: &str,
        table: &str,
    ) -> Result<Arc<Vec<String>>, ProxyError> {
        match self.column_info(snap, db, table).await? {
            Some(c) => Ok(c.names.clone()),
            None => Err(ProxyError::Backend {
                code: 1146,
                state: "42S02".into(),
                message: format!("Table '{db}.{table}' doesn't exist"),
            }),
        }
    }

    /// The columns of `db.table` as information_schema shows them on a set
    /// holding it (cached until the next DDL); `None` when it has none (no such
    /// table).
    pub(super) async fn column_info(
        &self,
        snap: &topo::ClusterSnapshot,
        db: &str,
        table: &str,
    ) -> Result<Option<Arc<TableColumns>>, ProxyError> {
        let key = (db.to_string(), table.to_string());
        if let Some(c) = self.shared.columns.lock().expect("columns").get(&key) {
            return Ok(Some(c.clone()));
        }
        let set = show::set_holding(snap, self.db.as_deref(), Some(db), table)?;
        let mut conn = self.conns(snap).pooled(&set).await?;
        let rows: Vec<(String, String, String)> = conn
            .exec(
                "SELECT COLUMN_NAME, DATA_TYPE, EXTRA FROM information_schema.COLUMNS \
                 WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION",
                (db, table),
            )
            .await
            .map_err(|e| ProxyError::from_backend(&set, e))?;
        crate::exec::release(conn);
        if rows.is_empty() {
            return Ok(None);
        }
        let cols = Arc::new(TableColumns::from_rows(rows));
        self.shared
            .columns
            .lock()
            .expect("columns")
            .insert(key, cols.clone());
        Ok(Some(cols))
    }

    /// The set to ask for a prepared statement's metadata: one holding the first
    /// table it names (every set has the same definitions), else any.
    pub(super) fn metadata_set(
        &self,
        snap: &topo::ClusterSnapshot,
        sql: &str,
    ) -> Result<String, ProxyError> {
        if let Ok(stmt) = parse_one(sql) {
            let a = crate::route::analyze::analyze(&stmt);
            // A join across sets: a set holding all its tables, if any.
            if a.tables.len() > 1 {
                if let Some(set) = crate::join::set_holding_all(snap, self.db.as_deref(), &a.tables)
                {
                    return Ok(set);
                }
            }
            if let Some(t) = a.tables.first() {
                if let Ok(set) =
                    show::set_holding(snap, self.db.as_deref(), t.db.as_deref(), &t.name)
                {
                    return Ok(set);
                }
            }
        }
        show::any_set_of(snap, self.db.as_deref())
    }
}
