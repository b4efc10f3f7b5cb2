//! Applying a schema change, for `ddl` and `schema` alike: the same text on the
//! sets holding the object (answering like one server), the topo record
//! written after, routing re-read; the names MariaDB would refuse, caught
//! before any set changes; which sets hold a table; a shard key's type.

use sqlparser::ast::DataType;
use topo::{KeyType, TableKind};

use crate::error::ProxyError;
use crate::exec::{Answered, Exec};
use crate::front::Responder;
use crate::route::{Merge, Plan, Target};
use crate::schema_session::SchemaSession;

pub(crate) type DdlResult = Result<bool, ProxyError>;

pub(crate) fn topo_of(s: &SchemaSession<'_>) -> Result<topo::Topo, ProxyError> {
    s.shared
        .topo
        .get()
        .cloned()
        .ok_or_else(|| ProxyError::EtcdUnavailable("schema changes are recorded there".into()))
}

/// Re-reads routing after a topo change, so the session's next statement sees it.
pub(crate) async fn refresh(s: &SchemaSession<'_>, t: &topo::Topo) -> Result<(), ProxyError> {
    let snap = t
        .snapshot()
        .await
        .map_err(|e| ProxyError::from_topo("re-reading the routing", e))?;
    s.shared.routing.install(snap);
    Ok(())
}

pub(crate) fn topo_err(e: topo::TopoError) -> ProxyError {
    ProxyError::from_topo("recording the schema change", e)
}

/// Whether MariaDB refuses `name` for a database or table: empty, ending in a
/// space, or longer than 64 characters. Checked before any set changes (the
/// sets would refuse it too, but etcd must never be asked to record it).
fn wrong_name(name: &str) -> bool {
    name.is_empty() || name.ends_with(' ') || name.chars().count() > 64
}

pub(crate) fn check_db_name(name: &str) -> Result<(), ProxyError> {
    if wrong_name(name) {
        return Err(ProxyError::WrongDbName(name.into()));
    }
    Ok(())
}

pub(crate) fn check_table_name(name: &str) -> Result<(), ProxyError> {
    if wrong_name(name) {
        return Err(ProxyError::WrongTableName(name.into()));
    }
    Ok(())
}

/// Runs `sql` on `sets` (same text everywhere), answering like one server.
pub(crate) async fn on_sets(
    s: &SchemaSession<'_>,
    sets: Vec<String>,
    sql: &str,
    db: Option<&str>,
    out: &mut Responder<'_>,
) -> Answered {
    match apply(s, sets, sql, db, out).await {
        Ok(Some(ok)) => {
            out.ok(&ok).await?;
            Ok(true)
        }
        Ok(None) => Ok(false),
        Err(ProxyError::ClientIo(e)) => Err(e),
        Err(e) => {
            out.error(&e).await?;
            Ok(false)
        }
    }
}

/// Runs `sql` on `sets` and keeps its OK (the caller records the change in etcd
/// first, then answers). `Ok(None)`: a set refused it and the error was sent.
pub(crate) async fn apply(
    s: &SchemaSession<'_>,
    sets: Vec<String>,
    sql: &str,
    db: Option<&str>,
    out: &mut Responder<'_>,
) -> Result<Option<crate::front::OkInfo>, ProxyError> {
    let snap = s.shared.routing.get();
    let mut conns = s.conns(&snap);
    conns.db = db;
    let mut exec = Exec::new(conns, None);
    exec.held = Some(None);
    let plan = Plan {
        target: Target::Sets(sets),
        merge: Merge::Replicated,
    };
    if !crate::join::run::run_plan(&mut exec, &plan, sql, out).await? {
        return Ok(None);
    }
    Ok(Some(exec.held.flatten().unwrap_or_default()))
}

/// Fails early, before any set changes, when etcd cannot record the change.
pub(crate) async fn etcd_live(t: &topo::Topo) -> Result<(), ProxyError> {
    t.list_sets()
        .await
        .map(|_| ())
        .map_err(|e| ProxyError::from_topo("reaching etcd, where schema changes are recorded,", e))
}

/// How a shard-key column's values are normalised, from its declared type:
/// [`KeyType::Text`] for every string column, whose collation the caller resolves
/// into [`KeyType::Weighted`] (`schema::key_collation`).
pub(crate) fn key_type_of(dt: &DataType) -> Result<KeyType, String> {
    let t = dt.to_string().to_ascii_uppercase();
    let base = t.split(['(', ' ']).next().unwrap_or("");
    if base.ends_with("INT") || base == "INTEGER" {
        return Ok(KeyType::Integer);
    }
    // BINARY(n) stores 'a' as 'a\0\0': the written and the stored value would
    // hash apart.
    if base == "VARBINARY" || base.ends_with("BLOB") {
        return Ok(KeyType::Binary);
    }
    if matches!(
        base,
        "CHAR" | "VARCHAR" | "CHARACTER" | "NCHAR" | "NVARCHAR"
    ) || base.ends_with("TEXT")
    {
        return Ok(KeyType::Text);
    }
    Err(t)
}

/// Sets holding a table (all copies / shards / the home set).
pub(crate) fn table_sets(
    s: &SchemaSession<'_>,
    db: Option<&str>,
    table: &str,
) -> Result<(String, Vec<String>), ProxyError> {
    let db = db
        .or(s.db.as_deref())
        .ok_or(ProxyError::NoDatabaseSelected)?;
    let snap = s.shared.routing.get();
    let rec = snap
        .db(db)
        .ok_or_else(|| ProxyError::UnknownDatabase(db.into()))?;
    let sets = match snap.table(db, table).map(|t| &t.kind) {
        Some(TableKind::Sharded { .. }) | Some(TableKind::Broadcast) => rec.sets(),
        _ => vec![rec.home_set.clone()],
    };
    Ok((db.to_string(), sets))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_types() {
        let int = DataType::BigInt(None);
        assert_eq!(key_type_of(&int), Ok(KeyType::Integer));
        let vc = DataType::Varchar(None);
        assert_eq!(key_type_of(&vc), Ok(KeyType::Text));
        assert_eq!(key_type_of(&DataType::Varbinary(None)), Ok(KeyType::Binary));
        assert!(key_type_of(&DataType::Binary(Some(4))).is_err());
        assert!(key_type_of(&DataType::Date).is_err());
    }
}
