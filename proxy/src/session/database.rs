//! The session's current database: `USE`, COM_INIT_DB and the check of a
//! database name against routing (the agents' system database is hidden).

use super::{Session, HIDDEN_DB};
use crate::error::ProxyError;
use crate::route::plan::is_system_schema;

impl Session {
    /// Refuses a database routing does not know (1049).
    pub(super) fn check_db(&self, db: &str) -> Result<(), ProxyError> {
        let snap = self.shared.routing.get();
        if db != HIDDEN_DB && (is_system_schema(db) || snap.db(db).is_some()) {
            Ok(())
        } else {
            Err(ProxyError::UnknownDatabase(db.to_string()))
        }
    }

    /// Makes `db` the session's database, and its connections' (an open
    /// transaction's, the pinned ones).
    pub(super) async fn use_db(&mut self, db: &str) -> Result<(), ProxyError> {
        self.check_db(db)?;
        if let Some(t) = self.txn.as_mut() {
            // Pinned connections follow the session's database.
            let q = format!("USE `{}`", db.replace('`', "``"));
            t.on_all_stateful(&q).await?;
        }
        if !self.pins.is_empty() {
            self.pins
                .apply(&format!("USE `{}`", db.replace('`', "``")))
                .await?;
        }
        self.db = Some(db.to_string());
        Ok(())
    }
}
