//! Schema changes during a move: the mover copies a fixed list of tables with
//! the definitions it read at the start, and streams row events by column
//! position, so `CREATE` / `ALTER` / `DROP` / `TRUNCATE` / `RENAME` / index
//! statements on a database with a fence wait for its fences to go (at most
//! `[moves] ddl_wait_ms`), then fail with 1205 naming the move.

use std::time::{Duration, Instant};

use tracing::info;

use super::Moves;
use crate::error::ProxyError;
use crate::routing::Routing;
use crate::sql::lexer::{ident_text, Kind, Token};

/// The databases a schema statement may change: for `... DATABASE|SCHEMA name`
/// the one named; else the session's and every `db.` in front of a name.
pub fn databases(session_db: Option<&str>, sql: &str, sig: &[Token]) -> Vec<String> {
    let is_name = |t: &Token| matches!(t.kind, Kind::Word | Kind::QuotedIdent);
    if let Some(i) = sig
        .iter()
        .take(2)
        .position(|t| t.is_word(sql, "DATABASE") || t.is_word(sql, "SCHEMA"))
    {
        let skip = sig[i + 1..]
            .iter()
            .take_while(|w| ["IF", "NOT", "EXISTS"].iter().any(|k| w.is_word(sql, k)))
            .count();
        return sig
            .get(i + 1 + skip)
            .filter(|n| is_name(n))
            .map(|n| ident_text(sql, n))
            .or_else(|| session_db.map(str::to_string))
            .into_iter()
            .collect();
    }
    let mut out: Vec<String> = session_db.map(str::to_string).into_iter().collect();
    for (i, t) in sig.iter().enumerate() {
        if is_name(t) && sig.get(i + 1).is_some_and(|p| p.is_punct(sql, ".")) {
            let name = ident_text(sql, t);
            if !out.contains(&name) {
                out.push(name);
            }
        }
    }
    out
}

/// Waits until no fence of `dbs` is left, at most `[moves] ddl_wait_ms`.
pub async fn wait(moves: &Moves, routing: &Routing, dbs: &[String]) -> Result<(), ProxyError> {
    let wait = Duration::from_millis(moves.cfg.ddl_wait_ms);
    let started = Instant::now();
    let mut changes = routing.subscribe();
    let mut logged = false;
    loop {
        let snap = changes.borrow_and_update().clone();
        let Some(f) = snap.moving.values().find(|f| dbs.contains(&f.db)) else {
            return Ok(());
        };
        if !logged {
            info!(move_id = %f.id, db = %f.db, "schema change waits for a slot move");
            logged = true;
        }
        let left = wait.saturating_sub(started.elapsed());
        if !matches!(
            tokio::time::timeout(left, changes.changed()).await,
            Ok(Ok(()))
        ) {
            return Err(ProxyError::MoveWait(format!(
                "slot move {} of database `{}` is under way: schema changes of the database wait for it to finish; waited {} ms ([moves] ddl_wait_ms); `setwise shard moves` shows it",
                f.id,
                f.db,
                wait.as_millis()
            )));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::lexer::{significant, tokenize};

    fn dbs(session: Option<&str>, sql: &str) -> Vec<String> {
        let t = tokenize(sql).unwrap();
        databases(session, sql, &significant(&t))
    }

    #[test]
    fn databases_of_schema_statements() {
        assert_eq!(dbs(Some("a"), "ALTER TABLE t ADD c INT"), ["a"]);
        assert_eq!(dbs(Some("a"), "ALTER TABLE `b`.t ADD c INT"), ["a", "b"]);
        assert_eq!(dbs(None, "RENAME TABLE b.t TO c.u"), ["b", "c"]);
        assert_eq!(dbs(Some("a"), "CREATE DATABASE IF NOT EXISTS n"), ["n"]);
        assert_eq!(dbs(Some("a"), "DROP SCHEMA IF EXISTS `x`"), ["x"]);
        assert!(dbs(None, "CREATE TABLE t (id INT)").is_empty());
    }
}
