//! The first two phases of a move. [`plan`] (`requested` → `create`): the request
//! checked against the current records — a bad one fails with the reason, changing
//! nothing — and the move's sources, tables, broadcast tables and map version
//! recorded. [`create`] (`create` → `copy`): the database and the tables on the
//! target (the first source's `SHOW CREATE TABLE`), then the fence `moving/<id>`
//! (`copying`) in the same etcd transaction as the phase.

use anyhow::Result;
use mysql_async::prelude::Queryable;
use topo::{FenceState, MovePhase, MoveRecord, MoveTable, SourceProgress, TableKind};

use super::driver::{Driver, MoveError};
use super::sql::{self, q, qt};

/// Checks the request and fills in the move's plan.
pub async fn plan(d: &mut Driver) -> Result<()> {
    let snap = d.snapshot().await?;
    let invalid = |why: String| -> anyhow::Error { MoveError::Invalid(why).into() };
    let r = d.rec.clone();
    let db = snap
        .db(&r.db)
        .ok_or_else(|| invalid(format!("no database {}", r.db)))?;
    let set = snap
        .sets
        .get(&r.to)
        .ok_or_else(|| invalid(format!("no set {}", r.to)))?;
    if snap.primary_of(&r.to).is_none() {
        return Err(invalid(format!("set {} has no primary", r.to)));
    }
    if let Some(why) = &set.writes_blocked {
        return Err(invalid(format!("set {} refuses writes: {why}", r.to)));
    }
    let slots = db.shard_map.slots;
    if r.start >= r.end || r.end > slots {
        return Err(invalid(format!(
            "slots {}-{} are not a range of 0-{} ({} slots)",
            r.start,
            r.end as i64 - 1,
            slots - 1,
            slots
        )));
    }
    let others: Vec<MoveRecord> = d
        .topo()
        .list::<MoveRecord>(&d.topo().keys().moves())
        .await?
        .into_iter()
        .map(|v| v.value)
        .collect();
    if let Some(o) = others.iter().find(|o| {
        o.id != r.id
            && !o.phase.is_finished()
            && o.overlaps(&r.db, r.start, r.end)
            && (o.phase != MovePhase::Requested || (o.created_ms, &o.id) < (r.created_ms, &r.id))
    }) {
        return Err(invalid(format!(
            "slots {}-{} overlap move {} (slots {}-{}, {})",
            r.start,
            r.end - 1,
            o.id,
            o.start,
            o.end - 1,
            o.phase.word()
        )));
    }
    let mut tables = Vec::new();
    let mut broadcast = Vec::new();
    for t in snap.tables.values().filter(|t| t.db == r.db) {
        match &t.kind {
            TableKind::Sharded { key, key_type } => tables.push(MoveTable {
                name: t.name.clone(),
                key: key.clone(),
                key_type: *key_type,
            }),
            TableKind::Broadcast => broadcast.push(t.name.clone()),
            TableKind::Single => {}
        }
    }
    if tables.is_empty() {
        return Err(invalid(format!("database {} has no sharded table", r.db)));
    }
    let owners = topo::owners_of(&db.shard_map, r.start, r.end, &r.to);
    if owners.is_empty() {
        d.note(format!(
            "{} owns slots {}-{} already",
            r.to,
            r.start,
            r.end - 1
        ));
        d.rec.phase = MovePhase::Done;
        d.rec.finished_ms = Some(crate::now_ms());
        return d.save().await;
    }
    let mut c = sql::connect(&snap, &d.account, &owners[0].set).await?;
    // Views hold no rows: made on a new target, never copied (views.rs).
    let views = super::views::of_db(&mut c, &r.db).await?;
    tables.retain(|t| !views.contains(&t.name));
    broadcast.retain(|b| !views.contains(b));
    let views: Vec<String> = views
        .into_iter()
        .filter(|v| {
            snap.table(&r.db, v)
                .is_some_and(|t| !matches!(t.kind, TableKind::Single))
        })
        .collect();
    if tables.is_empty() {
        return Err(invalid(format!("database {} has no sharded table", r.db)));
    }
    // Every sharded table needs a primary key: the copy pages by it, the
    // catch-up and the cleanup delete by it.
    for t in &tables {
        sql::table_info(&mut c, &r.db, &t.name)
            .await
            .map_err(|e| invalid(format!("{e:#}")))?;
        // A BINARY(n) key is stored zero-padded: MariaDB's CRC32 of the stored value
        // (the copy, the catch-up, the verification, the orphan filter) and the
        // gateway's slot of the literal it was written with differ for a shorter
        // value, so its rows would land on a set the gateway does not look in.
        let kind: Option<String> = c
            .exec_first(
                "SELECT DATA_TYPE FROM information_schema.COLUMNS \
                 WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND COLUMN_NAME = ?",
                (&r.db, &t.name, &t.key),
            )
            .await?;
        if kind.is_some_and(|k| k.eq_ignore_ascii_case("binary")) {
            return Err(invalid(format!(
                "{}.{} is sharded by `{}`, a fixed-length BINARY column: its slots cannot be \
                 moved (use VARBINARY for a binary shard key)",
                r.db, t.name, t.key
            )));
        }
    }
    let base = 1_000_000 + topo::slot::slot_of_canonical(r.id.as_bytes(), 100_000) * 16;
    d.rec.sources = owners
        .into_iter()
        .enumerate()
        .map(|(i, o)| SourceProgress {
            set: o.set,
            ranges: o.ranges,
            server_id: base + i as u32,
            ..Default::default()
        })
        .collect();
    let new_to_db = !db.sets().contains(&r.to);
    d.rec.tables = tables;
    d.rec.broadcast = if new_to_db { broadcast } else { Vec::new() };
    d.rec.views = if new_to_db { views } else { Vec::new() };
    d.rec.map_version = db.shard_map.version;
    let from: Vec<String> = d.rec.sources.iter().map(|s| s.set.clone()).collect();
    d.note(format!(
        "planned: slots {}-{} of {} from {} to {} ({} tables, {} broadcast), map version {}",
        r.start,
        r.end - 1,
        r.db,
        from.join(", "),
        r.to,
        d.rec.tables.len(),
        d.rec.broadcast.len(),
        d.rec.map_version
    ));
    d.rec.phase = MovePhase::Create;
    d.save().await
}

/// Creates the database and the tables on the target, then writes the fence.
pub async fn create(d: &mut Driver) -> Result<()> {
    let snap = d.snapshot().await?;
    let db = d.rec.db.clone();
    let mut src = sql::connect(&snap, &d.account, &d.rec.sources[0].set).await?;
    let mut tgt = sql::connect(&snap, &d.account, &d.rec.to).await?;
    let cs: Option<(String, String)> = src
        .exec_first(
            "SELECT DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME \
             FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?",
            (&db,),
        )
        .await?;
    let (charset, collation) =
        cs.ok_or_else(|| anyhow::anyhow!("database {db} is missing on {}", d.rec.sources[0].set))?;
    d.check_leading()?;
    tgt.query_drop(format!(
        "CREATE DATABASE IF NOT EXISTS {} CHARACTER SET {charset} COLLATE {collation}",
        q(&db)
    ))
    .await?;
    tgt.query_drop(format!("USE {}", q(&db))).await?;
    let spans = d.rec.fence(FenceState::Copying).spans();
    let slots = snap.db(&db).map(|r| r.shard_map.slots).unwrap_or(1);
    for t in d.rec.tables.clone() {
        if sql::table_exists(&mut tgt, &db, &t.name).await? {
            // Left by an earlier move: rows of the moving slots there belong to
            // nobody (the target does not own them); start clean.
            let n = super::cleanup::delete_slots(
                d,
                &d.rec.to.clone(),
                &mut tgt,
                &t,
                slots,
                &spans,
                false,
            )
            .await?;
            if n > 0 {
                d.note(format!(
                    "{n} stale rows of {} deleted on {}",
                    t.name, d.rec.to
                ));
            }
            continue;
        }
        copy_ddl(d, &mut src, &mut tgt, &t.name).await?;
    }
    for b in d.rec.broadcast.clone() {
        // Not kept up to date on a set outside the database: copied afresh.
        d.check_leading()?;
        tgt.query_drop(format!("DROP TABLE IF EXISTS {}", qt(&db, &b)))
            .await?;
        copy_ddl(d, &mut src, &mut tgt, &b).await?;
    }
    let views = d.rec.views.clone();
    super::views::create(d, &mut src, &mut tgt, &views).await?;
    d.note(format!(
        "{} tables and {} views created on {}",
        d.rec.tables.len() + d.rec.broadcast.len(),
        views.len(),
        d.rec.to
    ));
    d.rec.phase = MovePhase::Copy;
    let fence = d.rec.fence(FenceState::Copying);
    let key = d.topo().keys().fence(&d.rec.id);
    if !d.commit(|b| b.put(&key, &fence)).await? {
        anyhow::bail!("the fence could not be written");
    }
    Ok(())
}

/// `SHOW CREATE TABLE` on the source, run on the target (already `USE`d).
async fn copy_ddl(
    d: &Driver,
    src: &mut mysql_async::Conn,
    tgt: &mut mysql_async::Conn,
    table: &str,
) -> Result<()> {
    let row: Option<(String, String)> = src
        .query_first(format!("SHOW CREATE TABLE {}", qt(&d.rec.db, table)))
        .await?;
    let (_, ddl) = row.ok_or_else(|| anyhow::anyhow!("no table {table} on the source"))?;
    d.check_leading()?;
    tgt.query_drop(ddl).await?;
    Ok(())
}
