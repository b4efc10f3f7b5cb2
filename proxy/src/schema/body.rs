//! What the body of a view, routine or trigger touches: the tables it names
//! (found by the lexer, as sqlparser cannot parse compound statements) with
//! their placement, and whether it writes.

use topo::{ClusterSnapshot, TableKind};

use crate::sql::lexer::{Kind, Token};

/// The tables a body names, by kind (names with no topo record — a local
/// variable after `INTO`, a table of a system schema — are left out).
#[derive(Debug, Default)]
pub struct Touches {
    pub sharded: Vec<String>,
    pub broadcast: Vec<String>,
    /// Single tables: (name, home set).
    pub single: Vec<(String, String)>,
    /// INSERT / UPDATE / DELETE / REPLACE / TRUNCATE anywhere in it.
    pub writes: bool,
}

/// Reads `sig` (the body's significant tokens) against the routing snapshot.
pub fn touches(snap: &ClusterSnapshot, db: &str, sql: &str, sig: &[Token]) -> Touches {
    let mut t = Touches::default();
    for r in crate::command::lexed_tables(sql, sig) {
        let d = r.db.as_deref().unwrap_or(db);
        let Some(rec) = snap.table(d, &r.name) else {
            continue;
        };
        let name = format!("`{d}`.`{}`", r.name);
        match &rec.kind {
            TableKind::Sharded { .. } => t.sharded.push(name),
            TableKind::Broadcast => t.broadcast.push(name),
            TableKind::Single => {
                let home = snap.db(d).map(|x| x.home_set.clone()).unwrap_or_default();
                t.single.push((name, home));
            }
        }
    }
    t.writes = sig.iter().enumerate().any(|(i, tok)| {
        tok.kind == Kind::Word
            && ["INSERT", "UPDATE", "DELETE", "TRUNCATE", "REPLACE"]
                .iter()
                .any(|w| tok.is_word(sql, w))
            // REPLACE(...) and INSERT(...) are string functions too.
            && !sig.get(i + 1).is_some_and(|n| n.is_punct(sql, "("))
            // `ON UPDATE`/`ON DELETE` (a trigger's event is outside its body).
            && !i.checked_sub(1).is_some_and(|p| sig[p].is_word(sql, "ON"))
    });
    t
}
