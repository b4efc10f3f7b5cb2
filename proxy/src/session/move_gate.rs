//! Where a session meets slot moves' holds (`crate::moving`): before a
//! statement is planned, a transaction a hold ended is rolled back (1213), and a
//! write passes the gate — waiting while a hold covers it, so that it is
//! planned against the routing found after the wait.

use super::Session;
use crate::command::{Command, SqlOp, Statement};
use crate::error::ProxyError;
use crate::moving::gate::{self, Write};
use crate::moving::WriteGuard;

impl Session {
    /// `Ok(Some(guard))`: an autocommit write, in flight until the guard drops
    /// (keep it for the statement's whole run).
    pub(super) async fn move_gate(
        &mut self,
        stmt: &Statement<'_>,
    ) -> Result<Option<WriteGuard>, ProxyError> {
        let (sql, tokens, first) = (stmt.sql, &stmt.tokens[..], stmt.verb.as_str());
        let aborted = self
            .txn
            .as_ref()
            .and_then(|t| t.moving.as_ref())
            .and_then(|m| m.aborted());
        if let Some(move_id) = aborted {
            // ROLLBACK rolls back; an application's XA transaction ends with its
            // own statements (XA PREPARE / COMMIT refuse it, XA ROLLBACK ends it).
            if (first == "ROLLBACK" && stmt.word(1) != "TO") || first == "XA" {
                return Ok(None);
            }
            if self.app_xa.is_none() {
                let _ = self.end_txn("ROLLBACK").await;
            }
            return Err(ProxyError::MoveAborted(move_id));
        }
        if !gate::gated(first) {
            return Ok(None);
        }
        // EXECUTE of a statement the gateway holds runs its text through here.
        if let Command::SqlPrepared(p) = &stmt.command {
            if p.op == SqlOp::Execute && self.held.holds(&p.name.to_ascii_lowercase()) {
                return Ok(None);
            }
        }
        if !self.autocommit {
            self.open_txn();
        }
        // An INSERT without a column list: its key's position comes from the
        // column cache (filled here while a move is under way).
        let snap = self.shared.routing.get();
        if !snap.moving.is_empty() && matches!(first, "INSERT" | "REPLACE") {
            if let Some(t) = stmt.tables().first() {
                if let Some(db) = t.db.clone().or_else(|| self.db.clone()) {
                    let _ = self.table_columns(&snap, &db, &t.name).await;
                }
            }
        }
        let columns = |db: &str, table: &str| {
            let key = (db.to_string(), table.to_string());
            let cache = self.shared.columns.lock().ok()?;
            cache.get(&key).map(|c| c.names.as_ref().clone())
        };
        let shared = self.shared.clone();
        let w = Write {
            db: self.db.as_deref(),
            sql,
            tokens,
            columns: &columns,
            txn: self.txn.as_mut().map(|t| &mut t.moving),
        };
        let r = gate::admit(&shared.moves, &shared.routing, w).await;
        if matches!(r, Err(ProxyError::MoveAborted(_))) && self.app_xa.is_none() {
            let _ = self.end_txn("ROLLBACK").await;
        }
        r
    }
}
