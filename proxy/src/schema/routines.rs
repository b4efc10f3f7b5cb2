//! Stored functions, procedures and triggers across sets:
//! * a function is created on every set of its database, so a query on any set
//!   (a scatter) can call it — refused when its body reads sharded tables (each
//!   set would see only its own rows) or writes tables;
//! * a procedure lives on its database's home set, where `CALL` runs it
//!   (`route::call`) — refused when its body touches sharded tables, writes
//!   broadcast ones, or reads single tables of another set;
//! * a trigger goes where its table is: the home set for a single table; every
//!   set for a broadcast table (its body may touch only broadcast tables) or a
//!   sharded one (its body may only read broadcast tables besides NEW/OLD).
//!
//! `DROP` / `ALTER` run on the sets that hold the object.

use mysql_async::prelude::Queryable;
use topo::TableKind;

use super::body::{touches, Touches};
use super::Header;
use crate::ddl_apply::{on_sets, DdlResult};
use crate::error::ProxyError;
use crate::front::Responder;
use crate::schema_session::SchemaSession;
use crate::sql::lexer::{qualified_name_at, Token};

fn refuse(what: String) -> ProxyError {
    ProxyError::NotSupported(what)
}

pub(crate) async fn create(
    s: &mut SchemaSession<'_>,
    sql: &str,
    sig: &[Token],
    h: &Header,
    out: &mut Responder<'_>,
) -> DdlResult {
    let db = h.database(s.db.as_ref())?;
    let snap = s.shared.routing.get();
    let rec = snap
        .db(&db)
        .ok_or_else(|| ProxyError::UnknownDatabase(db.clone()))?;
    let body = &sig[h.after.min(sig.len())..];
    let sets = match h.kind {
        "FUNCTION" => {
            let t = touches(&snap, &db, sql, body);
            if let Some(x) = t.sharded.first() {
                return Err(refuse(format!(
                    "a stored function reading sharded table {x} (it runs on every set, each holding part of the rows)"
                )));
            }
            if t.writes {
                return Err(refuse(
                    "a stored function that writes tables (it runs on every set)".into(),
                ));
            }
            rec.sets()
        }
        "PROCEDURE" => {
            let t = touches(&snap, &db, sql, body);
            home_only(&t, &rec.home_set, "a stored procedure")?;
            vec![rec.home_set.clone()]
        }
        _ => {
            // TRIGGER name {BEFORE|AFTER} event ON table FOR EACH ROW [FOLLOWS|PRECEDES x] body
            let on = (h.after..sig.len())
                .find(|&i| sig[i].is_word(sql, "ON"))
                .ok_or_else(|| ProxyError::Syntax("CREATE TRIGGER needs ON <table>".into()))?;
            let (tdb, table, _) = qualified_name_at(sql, sig, on + 1)
                .ok_or_else(|| ProxyError::Syntax("CREATE TRIGGER needs ON <table>".into()))?;
            let tdb = tdb.unwrap_or_else(|| db.clone());
            let trec = snap
                .db(&tdb)
                .ok_or_else(|| ProxyError::UnknownDatabase(tdb.clone()))?;
            let mut start = (on..sig.len())
                .find(|&i| sig[i].is_word(sql, "ROW"))
                .map_or(sig.len(), |i| i + 1);
            if sig
                .get(start)
                .is_some_and(|t| t.is_word(sql, "FOLLOWS") || t.is_word(sql, "PRECEDES"))
            {
                start += 2;
            }
            let t = touches(&snap, &tdb, sql, &sig[start.min(sig.len())..]);
            match snap.table(&tdb, &table).map(|r| &r.kind) {
                Some(TableKind::Sharded { .. }) => {
                    let other = t
                        .sharded
                        .first()
                        .or(t.single.first().map(|x| &x.0))
                        .or(t.broadcast.first().filter(|_| t.writes));
                    if let Some(x) = other {
                        return Err(refuse(format!(
                            "a trigger on sharded table `{table}` whose body touches {x} (it fires on the set of each row; only NEW/OLD and reads of broadcast tables are right there)"
                        )));
                    }
                    if t.writes {
                        return Err(refuse(format!(
                            "a trigger on sharded table `{table}` that writes tables"
                        )));
                    }
                    trec.sets()
                }
                Some(TableKind::Broadcast) => {
                    if let Some(x) = t.sharded.first().or(t.single.first().map(|x| &x.0)) {
                        return Err(refuse(format!(
                            "a trigger on broadcast table `{table}` whose body touches {x} (it fires on every copy)"
                        )));
                    }
                    trec.sets()
                }
                _ => {
                    home_only(&t, &trec.home_set, "a trigger on a single table")?;
                    vec![trec.home_set.clone()]
                }
            }
        }
    };
    let session_db = s.db.clone();
    Ok(on_sets(s, sets, sql, session_db.as_deref(), out).await?)
}

/// What runs on the home set alone may read single tables there and broadcast
/// tables, and write single tables there.
fn home_only(t: &Touches, home: &str, what: &str) -> Result<(), ProxyError> {
    if let Some(x) = t.sharded.first() {
        return Err(refuse(format!(
            "{what} touching sharded table {x} (it runs on the home set, which holds only part of the rows)"
        )));
    }
    if let Some((x, _)) = t.single.iter().find(|(_, h)| h != home) {
        return Err(refuse(format!(
            "{what} touching single table {x}, which lives on another set"
        )));
    }
    if t.writes && !t.broadcast.is_empty() {
        return Err(refuse(format!(
            "{what} writing while it names broadcast table {} (only the home set's copy would change)",
            t.broadcast[0]
        )));
    }
    Ok(())
}

/// `DROP` / `ALTER` of a function, procedure or trigger: on the sets holding it
/// (none: the home set answers, with MariaDB's error or IF EXISTS note).
pub(crate) async fn where_it_is(
    s: &mut SchemaSession<'_>,
    sql: &str,
    h: &Header,
    out: &mut Responder<'_>,
) -> DdlResult {
    let db = h.database(s.db.as_ref())?;
    let snap = s.shared.routing.get();
    let rec = snap
        .db(&db)
        .ok_or_else(|| ProxyError::UnknownDatabase(db.clone()))?;
    let (query, kind) = match h.kind {
        "TRIGGER" => (
            "SELECT COUNT(*) FROM information_schema.TRIGGERS \
             WHERE TRIGGER_SCHEMA = ? AND TRIGGER_NAME = ? AND ? <> ''",
            "",
        ),
        k => (
            "SELECT COUNT(*) FROM information_schema.ROUTINES \
             WHERE ROUTINE_SCHEMA = ? AND ROUTINE_NAME = ? AND ROUTINE_TYPE = ?",
            k,
        ),
    };
    let kind = if kind.is_empty() { "x" } else { kind };
    let mut sets = Vec::new();
    {
        let conns = s.conns(&snap);
        for set in rec.sets() {
            let mut c = conns.pooled(&set).await?;
            let n: Option<u64> = c
                .exec_first(query, (&db, &h.name, kind))
                .await
                .map_err(|e| ProxyError::from_backend(&set, e))?;
            if n.unwrap_or(0) > 0 {
                sets.push(set);
            }
        }
    }
    if sets.is_empty() {
        sets.push(rec.home_set.clone());
    }
    let session_db = s.db.clone();
    Ok(on_sets(s, sets, sql, session_db.as_deref(), out).await?)
}
