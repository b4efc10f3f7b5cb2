//! What a successful DDL does to the AUTO_INCREMENT counters the gateway keeps
//! in etcd, as MariaDB's own counter behaves: TRUNCATE, DROP TABLE and CREATE
//! TABLE start a table's counter again (at its `AUTO_INCREMENT = n` table
//! option when one is given), `ALTER TABLE ... AUTO_INCREMENT = n` sets it,
//! DROP DATABASE drops the database's, RENAME moves a counter with its table.
//! Ids this gateway held before are void at once ([`super::Resets`]); other
//! gateways void theirs when their routing watch sees the key deleted.

use tracing::warn;

use super::Segments;
use crate::sql::lexer::{Kind, Token};

/// A table's name: (database, table).
pub type Name = (String, String);

/// One change to the counters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CounterChange {
    /// Start `name`'s counter again: at `next`, or above the table's rows.
    Reset { name: Name, next: Option<u64> },
    /// Drop every counter of the database.
    Database(String),
    /// The counter follows its table to a new name.
    Move { from: Name, to: Name },
}

/// The value of a table option `AUTO_INCREMENT [=] n` in `sig[from..]`, outside
/// parentheses (a column's `AUTO_INCREMENT` attribute is inside them, or is
/// not followed by a number).
pub fn table_option(sql: &str, sig: &[Token], from: usize) -> Option<u64> {
    let mut depth = 0i32;
    for (i, t) in sig.iter().enumerate().skip(from) {
        if t.is_punct(sql, "(") {
            depth += 1;
        } else if t.is_punct(sql, ")") {
            depth -= 1;
        } else if depth == 0 && t.is_word(sql, "AUTO_INCREMENT") {
            let mut j = i + 1;
            if sig.get(j).is_some_and(|t| t.is_punct(sql, "=")) {
                j += 1;
            }
            if let Some(n) = sig.get(j).filter(|t| t.kind == Kind::Number) {
                return n.text(sql).parse().ok();
            }
        } else if depth == 0 && (t.is_word(sql, "SELECT") || t.is_word(sql, "AS")) {
            return None;
        }
    }
    None
}

/// Writes `changes` to etcd in order and voids this gateway's held ids of
/// each table touched. A failure is logged: the DDL itself has succeeded, and
/// ids then go on from the old counter (never a duplicate).
pub async fn apply(topo: &topo::Topo, segments: &Segments, changes: &[CounterChange]) {
    for c in changes {
        let r = match c {
            CounterChange::Reset { name, next } => topo
                .reset_ids(&name.0, &name.1, *next)
                .await
                .map(|rev| segments.void(&name.0, Some(&name.1), rev)),
            CounterChange::Database(db) => topo
                .reset_db_ids(db)
                .await
                .map(|rev| segments.void(db, None, rev)),
            CounterChange::Move { from, to } => {
                match topo.move_ids((&from.0, &from.1), (&to.0, &to.1)).await {
                    Ok(rev) => {
                        let (from, to) = ((&*from.0, &*from.1), (&*to.0, &*to.1));
                        segments.rename(from, to, rev).await;
                        Ok(())
                    }
                    Err(e) => Err(e),
                }
            }
        };
        if let Err(e) = r {
            warn!(change = ?c, "AUTO_INCREMENT counter not changed in etcd: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::table_option;
    use crate::sql::lexer::{significant, tokenize};

    fn opt(sql: &str) -> Option<u64> {
        let sig = significant(&tokenize(sql).unwrap());
        table_option(sql, &sig, 0)
    }

    #[test]
    fn the_table_option_not_the_column_attribute() {
        assert_eq!(opt("ALTER TABLE t AUTO_INCREMENT = 100"), Some(100));
        assert_eq!(
            opt("ALTER TABLE t AUTO_INCREMENT 7, ENGINE=InnoDB"),
            Some(7)
        );
        assert_eq!(
            opt("CREATE TABLE t (id INT AUTO_INCREMENT PRIMARY KEY) AUTO_INCREMENT=50"),
            Some(50)
        );
        assert_eq!(
            opt("CREATE TABLE t (id INT AUTO_INCREMENT PRIMARY KEY)"),
            None
        );
        assert_eq!(opt("ALTER TABLE t MODIFY id INT AUTO_INCREMENT"), None);
        assert_eq!(opt("ALTER TABLE t ADD c INT"), None);
        assert_eq!(
            opt("ALTER TABLE t MODIFY id INT AUTO_INCREMENT, AUTO_INCREMENT=5"),
            Some(5)
        );
    }
}
