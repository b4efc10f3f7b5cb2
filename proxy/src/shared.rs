//! What the sessions of one core share: backend pools and the plan cache (per
//! core); routing, etcd, the connection registry, the column cache, ids and
//! slot moves (global). Below `session` and the statement handlers, which all
//! take it from here.

use std::sync::Arc;

use crate::backend::Backends;
use crate::config::ProxyConfig;
use crate::route::cache;
use crate::routing::Routing;

/// What the sessions of one core share (backend pools and the plan cache are per
/// core; routing, etcd, the connection registry and the column cache are global).
pub struct Shared {
    pub cfg: ProxyConfig,
    pub routing: Routing,
    pub backends: Backends,
    pub topo: Arc<tokio::sync::OnceCell<topo::Topo>>,
    /// Each table's columns (order, types), for INSERTs without a column list,
    /// AUTO_INCREMENT and INSERT ... SELECT; cleared by DDL. Shared by every core.
    pub columns: Arc<std::sync::Mutex<ColumnCache>>,
    /// Plans by statement fingerprint.
    pub plans: cache::PlanCache,
    /// When the gateway started (COM_STATISTICS uptime).
    pub started: std::time::Instant,
    /// Client connections (SHOW PROCESSLIST, KILL), of every core.
    pub registry: Arc<crate::registry::Registry>,
    /// This gateway's id in XA transaction ids (random per process).
    pub gateway_id: String,
    pub txn_seq: Arc<std::sync::atomic::AtomicU64>,
    /// AUTO_INCREMENT ids this gateway assigns (every core).
    pub ids: Arc<crate::ids::Ids>,
    /// Slot moves: registration, writes in flight, the hold (`crate::moving`).
    pub moves: Arc<crate::moving::Moves>,
    /// TLS offered to clients (`[tls]`); `None` when not configured.
    pub tls: Option<crate::front::tls::Acceptor>,
}

impl AsRef<Backends> for Shared {
    fn as_ref(&self) -> &Backends {
        &self.backends
    }
}

/// `(db, table)` → its columns.
pub type ColumnCache = std::collections::HashMap<(String, String), Arc<TableColumns>>;

/// A table's columns in definition order, as a set's information_schema shows
/// them.
#[derive(Debug, Default, PartialEq)]
pub struct TableColumns {
    /// `COLUMN_NAME`s.
    pub names: Arc<Vec<String>>,
    /// `DATA_TYPE` of each (`int`, `varchar`, ...).
    pub types: Vec<String>,
    /// `EXTRA` of each (`auto_increment`, ...).
    pub extras: Vec<String>,
}

impl TableColumns {
    /// From `(COLUMN_NAME, DATA_TYPE, EXTRA)` rows in definition order.
    pub fn from_rows(rows: Vec<(String, String, String)>) -> Self {
        let mut c = Self::default();
        let mut names = Vec::with_capacity(rows.len());
        for (name, data_type, extra) in rows {
            names.push(name);
            c.types.push(data_type);
            c.extras.push(extra);
        }
        c.names = Arc::new(names);
        c
    }

    /// The `DATA_TYPE` of column `name` (names compare case-insensitively).
    pub fn type_of(&self, name: &str) -> Option<&str> {
        let i = self
            .names
            .iter()
            .position(|n| n.eq_ignore_ascii_case(name))?;
        Some(&self.types[i])
    }

    /// The AUTO_INCREMENT column, if any.
    pub fn auto_increment(&self) -> Option<&str> {
        let i = self
            .extras
            .iter()
            .position(|e| e.to_ascii_lowercase().contains("auto_increment"))?;
        Some(&self.names[i])
    }
}

#[cfg(test)]
mod tests {
    use super::TableColumns;

    #[test]
    fn table_columns_by_name() {
        let row = |n: &str, t: &str, e: &str| (n.to_string(), t.to_string(), e.to_string());
        let c = TableColumns::from_rows(vec![
            row("id", "bigint", "auto_increment"),
            row("Name", "varchar", ""),
            row("at", "datetime", "on update current_timestamp()"),
        ]);
        assert_eq!(c.names.as_slice(), ["id", "Name", "at"]);
        assert_eq!(c.type_of("name"), Some("varchar"));
        assert_eq!(c.type_of("AT"), Some("datetime"));
        assert_eq!(c.type_of("nope"), None);
        assert_eq!(c.auto_increment(), Some("id"));
        let plain = TableColumns::from_rows(vec![row("a", "int", "")]);
        assert_eq!(plain.auto_increment(), None);
        assert_eq!(TableColumns::from_rows(Vec::new()), TableColumns::default());
    }
}
