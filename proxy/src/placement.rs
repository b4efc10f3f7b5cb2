//! Which set answers for what a statement names, when any set holding it will
//! do: a table's definition (`SHOW`, `DESCRIBE`, metadata, a prepared
//! statement's columns) and statements that touch no table. Used by `show`,
//! the session and the join runner; depends only on the routing snapshot.

use topo::TableKind;

use crate::error::ProxyError;
use crate::route::place::is_system_schema;

/// A set for statements that touch no table: the database's home set, else the
/// first set of the cluster.
pub fn any_set_of(snap: &topo::ClusterSnapshot, db: Option<&str>) -> Result<String, ProxyError> {
    if let Some(rec) = db.and_then(|d| snap.db(d)) {
        return Ok(rec.home_set.clone());
    }
    snap.sets
        .keys()
        .next()
        .cloned()
        .ok_or_else(|| ProxyError::NoRouting("no set is registered".into()))
}

/// The set that holds a table's definition (every kind has one on this set),
/// from a snapshot and the session's database.
pub fn set_holding(
    snap: &topo::ClusterSnapshot,
    session_db: Option<&str>,
    db: Option<&str>,
    table: &str,
) -> Result<String, ProxyError> {
    let db = db.or(session_db).ok_or(ProxyError::NoDatabaseSelected)?;
    if is_system_schema(db) {
        return any_set_of(snap, session_db);
    }
    let rec = snap
        .db(db)
        .ok_or_else(|| ProxyError::UnknownDatabase(db.into()))?;
    Ok(match snap.table(db, table).map(|t| &t.kind) {
        Some(TableKind::Sharded { .. }) => rec.shard_map.ranges[0].set.clone(),
        Some(TableKind::Broadcast) => rec.sets()[0].clone(),
        _ => rec.home_set.clone(),
    })
}
