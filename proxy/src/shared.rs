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
    /// Column order per table, for INSERTs without a column list; cleared by DDL.
    /// Shared by every core.
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

/// `(db, table)` → column names in definition order.
pub type ColumnCache = std::collections::HashMap<(String, String), Arc<Vec<String>>>;
