//! An SQL-level prepared statement pinned to one set (`sql_prepare.rs`) whose
//! tables a slot move has since put on another set, or on several: before its
//! `EXECUTE` runs, the gateway takes the statement over (`held.rs`), so this and
//! every later `EXECUTE` splices its `USING` values into the text and runs it
//! against the current shard map, as MariaDB re-prepares a statement whose
//! tables changed. User variables given as values are the session's own (the
//! gateway carries them to every connection: `SET @a = ...`, and those a
//! statement assigned, read back). A text the gateway cannot hold (a `?` in its
//! select list) keeps 1615 when its tables are now on one other set (a new
//! `PREPARE` follows them there), else 1235.

use super::Session;
use crate::command::{SqlOp, SqlPrepared};
use crate::error::ProxyError;

impl Session {
    /// Before `EXECUTE name`: when `name` is pinned to a set that no longer holds
    /// all of its tables, hands it over to the held statements.
    pub(super) fn follow_moved_statement(&mut self, stmt: &SqlPrepared) -> Result<(), ProxyError> {
        if stmt.op != SqlOp::Execute {
            return Ok(());
        }
        let name = stmt.name.to_ascii_lowercase();
        let Some(p) = self.sql_stmts.get(&name) else {
            return Ok(());
        };
        let snap = self.shared.routing.get();
        let now = crate::route::plan::single_set_for_tables(&snap, p.db.as_deref(), &p.tables);
        let one_other = match &now {
            Ok(Some(s)) if *s == p.set => return Ok(()),
            Ok(Some(_)) => true,
            Ok(None) => false,
            // Placement unknown now (a table gone...): sql_prepared answers 1615.
            Err(_) => return Ok(()),
        };
        if p.db != self.db {
            // Unqualified names would mean other tables now.
            return Err(ProxyError::NeedReprepare);
        }
        let text = p.text.clone();
        match self.held.adopt(name.clone(), text) {
            Ok(()) => {
                self.sql_stmts.remove(&name);
                Ok(())
            }
            Err(_) if one_other => Err(ProxyError::NeedReprepare),
            Err(e) => Err(e),
        }
    }
}
