//! What a schema change (`ddl`, `ddl_task`, `schema`) sees of the session that
//! runs it: the state sessions share, the session's database (which `DROP
//! DATABASE` may clear; the session takes it back after) and how it opens
//! backend connections. Not the session itself: the schema layer does not
//! depend on `session`, which dispatches to it.

use std::sync::Arc;

use crate::exec::Conns;
use crate::front::charset::Codec;
use crate::routing::Changes;
use crate::shared::Shared;

pub struct SchemaSession<'a> {
    pub shared: &'a Arc<Shared>,
    /// The session's current database.
    pub db: Option<String>,
    changes: &'a Changes,
    found_rows: bool,
    /// Session-state statements run on each new backend connection.
    init: Arc<Vec<String>>,
    codec: Codec,
}

impl<'a> SchemaSession<'a> {
    pub fn new(
        shared: &'a Arc<Shared>,
        db: Option<String>,
        changes: &'a Changes,
        found_rows: bool,
        init: Arc<Vec<String>>,
        codec: Codec,
    ) -> Self {
        Self {
            shared,
            db,
            changes,
            found_rows,
            init,
            codec,
        }
    }

    /// Pooled connections as the session needs them (database, flags, state).
    pub fn conns<'b>(&'b self, snap: &'b topo::ClusterSnapshot) -> Conns<'b> {
        Conns {
            backends: &self.shared.backends,
            routing: &self.shared.routing,
            changes: self.changes,
            snap,
            db: self.db.as_deref(),
            found_rows: self.found_rows,
            init: self.init.clone(),
            codec: self.codec,
        }
    }
}
