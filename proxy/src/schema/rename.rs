//! `RENAME TABLE a TO b [, c TO d ...]` and `ALTER TABLE a ... RENAME [TO|AS] b`:
//! run on every set holding each table, and the table's topo record (sharded with
//! its key, broadcast, single) follows it to its new name — into another database
//! only when the table's rows would stay where they are (same shard map, same
//! set list, or the same home set).

use std::collections::BTreeMap;

use topo::{
    Batch, ClusterSnapshot, DdlCheck, DdlObject, SchemaChange, TableChange, TableKind, TableRecord,
};

use crate::ddl_apply::{apply, check_table_name, etcd_live, refresh, topo_err, topo_of, DdlResult};
use crate::ddl_task::Spec;
use crate::error::ProxyError;
use crate::front::Responder;
use crate::schema_session::SchemaSession;
use crate::sql::lexer::{qualified_name_at, Token};

/// A table's name: (database, table).
type Name = (String, String);

/// One `old TO new` of the statement, with the names as the client wrote them.
struct Pair {
    old: Name,
    new: Name,
    old_text: String,
    new_text: String,
}

/// `RENAME TABLE[S] [IF EXISTS] a [WAIT n | NOWAIT] TO b [, ...]`.
pub(crate) async fn rename_table(
    s: &mut SchemaSession<'_>,
    sql: &str,
    sig: &[Token],
    out: &mut Responder<'_>,
) -> DdlResult {
    let (if_ex, pairs) = rename_pairs(s, sql, sig)?;
    let snap = s.shared.routing.get();
    let moved = follow(&snap, &pairs)?;
    let t = topo_of(s)?;
    etcd_live(&t).await?;
    let steps = moved
        .per_set
        .iter()
        .map(|(set, idx)| {
            let text = rename_text(if_ex, idx.iter().map(|&k| &pairs[k]), false);
            (set.clone(), text)
        })
        .collect();
    let spec = Spec {
        steps,
        db: s.db.clone(),
        objects: Vec::new(),
        check: DdlCheck::Renamed {
            pairs: pairs
                .iter()
                .map(|p| (p.old.clone(), p.new.clone()))
                .collect(),
        },
        change: changes(&moved.records),
    };
    let spec = pairs.iter().fold(spec, |sp, p| {
        sp.object(DdlObject::table(&p.old.0, &p.old.1))
            .object(DdlObject::table(&p.new.0, &p.new.1))
    });
    if let Some(answered) = crate::ddl_task::run(s, sql, spec, out).await? {
        return Ok(answered);
    }
    // Each set renames the tables it holds, in the statement's order.
    let mut done: Vec<(String, Vec<usize>)> = Vec::new();
    let mut last_ok = None;
    let session_db = s.db.clone();
    for (set, idx) in &moved.per_set {
        let text = rename_text(if_ex, idx.iter().map(|&k| &pairs[k]), false);
        match apply(s, vec![set.clone()], &text, session_db.as_deref(), out).await? {
            Some(ok) => last_ok = Some(ok),
            None => {
                // The error was sent; the sets done so far go back.
                undo(s, &pairs, &done, session_db.as_deref()).await;
                return Ok(false);
            }
        }
        done.push((set.clone(), idx.clone()));
    }
    record(s, &t, &moved.records).await?;
    out.ok(&last_ok.unwrap_or_default()).await?;
    Ok(true)
}

/// The `old TO new` pairs of `RENAME TABLE[S] [IF EXISTS] ...`, names resolved
/// against the session's database, and whether IF EXISTS was given.
fn rename_pairs(
    s: &SchemaSession<'_>,
    sql: &str,
    sig: &[Token],
) -> Result<(bool, Vec<Pair>), ProxyError> {
    let (if_ex, mut i) = crate::command::if_exists(sql, sig, 2);
    let mut pairs = Vec::new();
    loop {
        let (old, old_text, used) = name_at(s, sql, sig, i)?;
        i += used;
        // WAIT n / NOWAIT apply per set; they do not change what is renamed.
        if sig.get(i).is_some_and(|t| t.is_word(sql, "NOWAIT")) {
            i += 1;
        } else if sig.get(i).is_some_and(|t| t.is_word(sql, "WAIT")) {
            i += 2;
        }
        if !sig.get(i).is_some_and(|t| t.is_word(sql, "TO")) {
            return Err(ProxyError::Syntax("RENAME TABLE needs `old TO new`".into()));
        }
        let (new, new_text, used) = name_at(s, sql, sig, i + 1)?;
        i += 1 + used;
        pairs.push(Pair {
            old,
            new,
            old_text,
            new_text,
        });
        if !sig.get(i).is_some_and(|t| t.is_punct(sql, ",")) {
            break;
        }
        i += 1;
    }
    if i < sig.len() {
        return Err(ProxyError::Syntax(
            "unexpected text after RENAME TABLE".into(),
        ));
    }
    Ok((if_ex, pairs))
}

/// The `(old, new)` names a successful `RENAME TABLE` or `ALTER TABLE ...
/// RENAME` (`alter`) moved.
pub(crate) fn renamed(
    s: &SchemaSession<'_>,
    sql: &str,
    sig: &[Token],
    alter: bool,
) -> Vec<(Name, Name)> {
    if alter {
        return alter_rename_target(s, sql, sig)
            .ok()
            .flatten()
            .into_iter()
            .collect();
    }
    rename_pairs(s, sql, sig)
        .map(|(_, pairs)| pairs.into_iter().map(|p| (p.old, p.new)).collect())
        .unwrap_or_default()
}

/// `ALTER TABLE` (`TABLE` at `sig[at]`): on every set holding the table; a
/// `RENAME [TO|AS] b` clause moves its record, a renamed shard-key column
/// renames its key there (`keycol`).
pub(crate) async fn alter_table(
    s: &mut SchemaSession<'_>,
    sql: &str,
    sig: &[Token],
    at: usize,
    out: &mut Responder<'_>,
) -> DdlResult {
    let (_, i) = crate::command::if_exists(sql, sig, at + 1);
    let ((db, table), _, used) = name_at(s, sql, sig, i)?;
    let snap = s.shared.routing.get();
    let now = snap.table(&db, &table).map(|t| t.kind.clone());
    // A text key redefined must keep its collation, named by the weights loaded.
    if let Some(TableKind::Sharded {
        key_type: topo::KeyType::Weighted { collation, .. },
        ..
    }) = &now
    {
        if let Some(set) = snap.db(&db).map(|r| r.home_set.clone()) {
            crate::exec::weights::ensure(&s.conns(&snap), *collation, &set).await?;
        }
    }
    let key = super::keycol::after_alter(sql, sig, i + used, &table, now.as_ref())?;
    if let Some((old, new)) = alter_rename_target(s, sql, sig)? {
        return alter_rename(s, sql, old, new, key, out).await;
    }
    let sets = crate::ddl_apply::table_sets(s, Some(&db), &table)?.1;
    let session_db = s.db.clone();
    let mut change = SchemaChange::default();
    if let Some(kind) = &key {
        change.tables.push(TableChange {
            db: db.clone(),
            name: table.clone(),
            kind: Some(kind.clone()),
        });
    }
    let spec = Spec::same(sets.clone(), sql, session_db.clone())
        .object(DdlObject::table(&db, &table))
        .change(change);
    if let Some(answered) = crate::ddl_task::run(s, sql, spec, out).await? {
        return Ok(answered);
    }
    let Some(kind) = key else {
        return Ok(crate::ddl_apply::on_sets(s, sets, sql, session_db.as_deref(), out).await?);
    };
    let t = topo_of(s)?;
    etcd_live(&t).await?;
    let Some(ok) = apply(s, sets, sql, session_db.as_deref(), out).await? else {
        return Ok(false);
    };
    let mut records = BTreeMap::new();
    records.insert((db, table), (now, Some(kind)));
    record(s, &t, &records).await?;
    out.ok(&ok).await?;
    Ok(true)
}

/// `ALTER TABLE a <clauses>` where one clause is `RENAME [TO|AS] b`: the text on
/// every set holding `a`, then the record moves. `Ok(None)`: no table rename.
fn alter_rename_target(
    s: &SchemaSession<'_>,
    sql: &str,
    sig: &[Token],
) -> Result<Option<(Name, Name)>, ProxyError> {
    let next = |k: usize| sig.get(k).map(|t| t.text(sql).to_ascii_uppercase());
    // The RENAME of the table, not of a column or an index.
    let Some(r) = (0..sig.len()).find(|&k| {
        sig[k].is_word(sql, "RENAME")
            && !matches!(next(k + 1).as_deref(), Some("COLUMN" | "INDEX" | "KEY"))
    }) else {
        return Ok(None);
    };
    let at = if matches!(next(r + 1).as_deref(), Some("TO" | "AS")) {
        r + 2
    } else {
        r + 1
    };
    let table_at = sig
        .iter()
        .position(|t| t.is_word(sql, "TABLE"))
        .unwrap_or(1);
    let (_, i) = crate::command::if_exists(sql, sig, table_at + 1);
    let (old, _, _) = name_at(s, sql, sig, i)?;
    let (new, _, _) = name_at(s, sql, sig, at)?;
    Ok(Some((old, new)))
}

/// `key`: the table's kind under its new name when the ALTER renames its key.
async fn alter_rename(
    s: &mut SchemaSession<'_>,
    sql: &str,
    old: Name,
    new: Name,
    key: Option<TableKind>,
    out: &mut Responder<'_>,
) -> DdlResult {
    let snap = s.shared.routing.get();
    let pair = Pair {
        old,
        new,
        old_text: String::new(),
        new_text: String::new(),
    };
    let mut moved = follow(&snap, std::slice::from_ref(&pair))?;
    if let (Some(k), Some(r)) = (key, moved.records.get_mut(&pair.new)) {
        r.1 = Some(k);
    }
    let sets: Vec<String> = moved.per_set.keys().cloned().collect();
    let t = topo_of(s)?;
    etcd_live(&t).await?;
    let session_db = s.db.clone();
    let spec = Spec::same(sets.clone(), sql, session_db.clone())
        .object(DdlObject::table(&pair.old.0, &pair.old.1))
        .object(DdlObject::table(&pair.new.0, &pair.new.1))
        .check(DdlCheck::Renamed {
            pairs: vec![(pair.old.clone(), pair.new.clone())],
        })
        .change(changes(&moved.records));
    if let Some(answered) = crate::ddl_task::run(s, sql, spec, out).await? {
        return Ok(answered);
    }
    let Some(ok) = apply(s, sets, sql, session_db.as_deref(), out).await? else {
        return Ok(false);
    };
    record(s, &t, &moved.records).await?;
    out.ok(&ok).await?;
    Ok(true)
}

/// `[db.]name` at `sig[i..]`: the name (database defaulted), its text, tokens used.
fn name_at(
    s: &SchemaSession<'_>,
    sql: &str,
    sig: &[Token],
    i: usize,
) -> Result<(Name, String, usize), ProxyError> {
    let (db, name, used) = qualified_name_at(sql, sig, i)
        .ok_or_else(|| ProxyError::Syntax("RENAME needs table names".into()))?;
    check_table_name(&name)?;
    let db = db
        .or_else(|| s.db.clone())
        .ok_or(ProxyError::NoDatabaseSelected)?;
    let text = sql[sig[i].start..sig[i + used - 1].end].to_string();
    Ok(((db, name), text, used))
}

/// What a rename does: which pairs each set runs, and every touched name's
/// record before and after.
struct Moved {
    per_set: BTreeMap<String, Vec<usize>>,
    /// name → (record before, record after).
    records: BTreeMap<Name, (Option<TableKind>, Option<TableKind>)>,
}

/// Follows the pairs in order (a swap through a third name works): the sets each
/// runs on and where each record ends up; refuses a move its rows cannot follow.
fn follow(snap: &ClusterSnapshot, pairs: &[Pair]) -> Result<Moved, ProxyError> {
    let mut records: BTreeMap<Name, (Option<TableKind>, Option<TableKind>)> = BTreeMap::new();
    let seed = |n: &Name, records: &mut BTreeMap<Name, _>| {
        records.entry(n.clone()).or_insert_with(|| {
            let k = snap.table(&n.0, &n.1).map(|t| t.kind.clone());
            (k.clone(), k)
        });
    };
    let mut per_set: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (k, p) in pairs.iter().enumerate() {
        seed(&p.old, &mut records);
        seed(&p.new, &mut records);
        let from = snap
            .db(&p.old.0)
            .ok_or_else(|| ProxyError::UnknownDatabase(p.old.0.clone()))?;
        let to = snap
            .db(&p.new.0)
            .ok_or_else(|| ProxyError::UnknownDatabase(p.new.0.clone()))?;
        let kind = records[&p.old].1.clone();
        let sets = match &kind {
            Some(TableKind::Sharded { .. }) | Some(TableKind::Broadcast) => from.sets(),
            _ => vec![from.home_set.clone()],
        };
        if p.old.0 != p.new.0 {
            let stays = match &kind {
                Some(TableKind::Sharded { .. }) => from.shard_map == to.shard_map,
                Some(TableKind::Broadcast) => {
                    let (mut a, mut b) = (from.sets(), to.sets());
                    a.sort();
                    b.sort();
                    a == b
                }
                _ => from.home_set == to.home_set,
            };
            if !stays {
                let what = match &kind {
                    Some(TableKind::Sharded { .. }) => {
                        "a sharded table to a database with another shard map"
                    }
                    Some(TableKind::Broadcast) => "a broadcast table to a database on other sets",
                    _ => "a single table to a database with another home set",
                };
                return Err(ProxyError::NotSupported(format!(
                    "renaming {what} (`{}`.`{}` to `{}`.`{}`: its rows would have to move)",
                    p.old.0, p.old.1, p.new.0, p.new.1
                )));
            }
        }
        for set in sets {
            per_set.entry(set).or_default().push(k);
        }
        let rec = records.get_mut(&p.old).expect("seeded");
        rec.1 = None;
        records.get_mut(&p.new).expect("seeded").1 = kind;
    }
    Ok(Moved { per_set, records })
}

fn rename_text<'p>(if_ex: bool, pairs: impl Iterator<Item = &'p Pair>, back: bool) -> String {
    let list: Vec<String> = pairs
        .map(|p| {
            if back {
                format!("{} TO {}", p.new_text, p.old_text)
            } else {
                format!("{} TO {}", p.old_text, p.new_text)
            }
        })
        .collect();
    format!(
        "RENAME TABLE {}{}",
        if if_ex { "IF EXISTS " } else { "" },
        list.join(", ")
    )
}

/// Renames back on the sets that already renamed (best effort: the client has
/// its error already).
async fn undo(
    s: &SchemaSession<'_>,
    pairs: &[Pair],
    done: &[(String, Vec<usize>)],
    db: Option<&str>,
) {
    use mysql_async::prelude::Queryable;
    let snap = s.shared.routing.get();
    let mut conns = s.conns(&snap);
    conns.db = db;
    for (set, idx) in done {
        let text = rename_text(false, idx.iter().rev().map(|&k| &pairs[k]), true);
        if let Ok(mut c) = conns.pooled(set).await {
            let _ = c.query_drop(&conns.codec.wire(&text)[..]).await;
        }
    }
}

/// The records that changed, as a DDL task's schema change.
fn changes(records: &BTreeMap<Name, (Option<TableKind>, Option<TableKind>)>) -> SchemaChange {
    let tables = records
        .iter()
        .filter(|(_, (before, after))| before != after)
        .map(|((db, name), (_, after))| TableChange {
            db: db.clone(),
            name: name.clone(),
            kind: after.clone(),
        })
        .collect();
    SchemaChange {
        tables,
        ..Default::default()
    }
}

/// Writes the records that changed, in one etcd transaction, and re-reads routing.
async fn record(
    s: &SchemaSession<'_>,
    t: &topo::Topo,
    records: &BTreeMap<Name, (Option<TableKind>, Option<TableKind>)>,
) -> Result<(), ProxyError> {
    let mut batch = Batch::new();
    let mut any = false;
    for ((db, name), (before, after)) in records {
        if before == after {
            continue;
        }
        any = true;
        let key = t.keys().table(db, name);
        batch = match after {
            Some(kind) => batch
                .put(
                    &key,
                    &TableRecord {
                        db: db.clone(),
                        name: name.clone(),
                        kind: kind.clone(),
                    },
                )
                .map_err(topo_err)?,
            None => batch.delete(&key),
        };
    }
    if any {
        t.commit(batch).await.map_err(topo_err)?;
        refresh(s, t).await?;
    }
    Ok(())
}
