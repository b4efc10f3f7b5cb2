//! Planning writes: `UPDATE`/`DELETE` (one set by the shard key, else every set,
//! never a change of a row's shard key) and `INSERT`/`REPLACE` (rows split by the
//! set their key value belongs to; a row without a key value is refused).

use std::collections::BTreeMap;

use sqlparser::ast::{Expr, SetExpr, Statement, TableObject};
use topo::slot::WriteSlotError;
use topo::{KeyType, ShardMap};

use super::analyze::{analyze, split_name, TableRef};
use super::insert::locate_rows;
use super::key::literal_text;
use super::place::{single, Ctx, Placement};
use super::planned::{Dep, Merge, Plan, Target};
use super::target_sets::target_sets;
use crate::error::ProxyError;
use crate::sql::lexer::Token;

pub(super) fn write_plan(
    ctx: &Ctx<'_>,
    tables: &[TableRef],
    selection: Option<&Expr>,
    stmt: &Statement,
) -> Result<Plan, ProxyError> {
    // Every copy of a broadcast table written must see the same rows.
    super::broadcast_write::check(ctx, stmt, tables)?;
    // Several sharded tables are accepted only co-located (checked by target_sets).
    let (sets, broadcast_only) = target_sets(ctx, tables, selection, true, Some(stmt))?;
    if sets.len() <= 1 {
        return single(sets, ctx);
    }
    let limited = match stmt {
        Statement::Update(u) => u.limit.is_some(),
        Statement::Delete(d) => d.limit.is_some(),
        _ => false,
    };
    if limited && !broadcast_only {
        // Each set would apply the LIMIT to its own rows: the session chooses
        // the rows first (`session::limited`).
        return Err(ProxyError::WriteLimitAcrossSets);
    }
    Ok(Plan {
        target: Target::Sets(sets),
        merge: if broadcast_only {
            Merge::Replicated
        } else {
            Merge::SumAffected
        },
    })
}

pub(super) fn check_key_not_assigned(
    ctx: &Ctx<'_>,
    tables: &[TableRef],
    targets: impl Iterator<Item = String>,
) -> Result<(), ProxyError> {
    let targets: Vec<String> = targets.collect();
    for t in tables {
        if let Ok(Placement::Sharded { key, .. }) = ctx.place(t) {
            let hit = targets.iter().any(|a| {
                let col = a.rsplit('.').next().unwrap_or(a).trim_matches('`');
                col.eq_ignore_ascii_case(key)
            });
            if hit {
                return Err(ProxyError::NotSupported(format!(
                    "changing the shard key `{key}` of table `{}` (delete the row and insert it again)",
                    t.name
                )));
            }
        }
    }
    Ok(())
}

pub(super) fn plan_insert(
    ctx: &Ctx<'_>,
    sql: &str,
    tokens: &[Token],
    stmt: &Statement,
    ins: &sqlparser::ast::Insert,
) -> Result<Plan, ProxyError> {
    let TableObject::TableName(name) = &ins.table else {
        return Err(ProxyError::NotSupported(
            "INSERT INTO a table function".into(),
        ));
    };
    let (tdb, tname) = split_name(name);
    let target = TableRef {
        db: tdb,
        name: tname.clone(),
        alias: None,
        pos: usize::MAX,
    };
    let mut tables = vec![target.clone()];
    tables.extend(analyze(stmt).tables);
    let placement = ctx.place(&target)?;
    let Placement::Sharded {
        map, key, key_type, ..
    } = placement
    else {
        // (Not literal-dependent: fine to cache.)
        // Single or broadcast target: its sets, and every table read must agree.
        let source_query = ins
            .source
            .as_ref()
            .is_some_and(|s| !matches!(s.body.as_ref(), SetExpr::Values(_)));
        if matches!(placement, Placement::Broadcast(_))
            && !super::broadcast_write::reads_only_copies(ctx, &tables)?
        {
            // Each copy would read its own set's rows: the gateway reads the
            // SELECT once and writes its rows to every copy.
            if source_query {
                return Err(ProxyError::InsertSelect);
            }
            return Err(super::broadcast_write::refused(&tname));
        }
        let (sets, _) = match target_sets(ctx, &tables, None, true, None) {
            // The SELECT reads rows its target's set does not hold.
            Err(ProxyError::NotSupported(_)) if source_query => {
                return Err(ProxyError::InsertSelect)
            }
            r => r?,
        };
        let merge = if sets.len() > 1 {
            Merge::Replicated
        } else {
            Merge::Single
        };
        return Ok(Plan {
            target: Target::Sets(sets),
            merge,
        });
    };
    // Rows go where their key values say: never reuse this plan for other values.
    *ctx.dep.borrow_mut() = Dep::Many;
    if let Some(sqlparser::ast::OnInsert::DuplicateKeyUpdate(assignments)) = &ins.on {
        check_key_not_assigned(
            ctx,
            std::slice::from_ref(&target),
            assignments.iter().map(|a| a.target.to_string()),
        )?;
    }
    // INSERT ... SET col = value
    if !ins.assignments.is_empty() {
        let v = ins
            .assignments
            .iter()
            .find(|a| {
                a.target
                    .to_string()
                    .trim_matches('`')
                    .eq_ignore_ascii_case(key)
            })
            .map(|a| &a.value);
        let sets = key_sets(map, key_type, key, &tname, v)?;
        return Ok(Plan {
            target: Target::Sets(sets),
            merge: Merge::Single,
        });
    }
    let Some(src) = &ins.source else {
        return Err(missing_key(key, &tname));
    };
    let SetExpr::Values(values) = src.body.as_ref() else {
        // The session reads the SELECT and writes its rows as VALUES.
        return Err(ProxyError::InsertSelect);
    };
    if tables.len() > 1 {
        return Err(ProxyError::NotSupported(format!(
            "subqueries in an INSERT into sharded table `{tname}`"
        )));
    }
    let cols: Vec<String> = ins
        .columns
        .iter()
        .map(|c| c.to_string().trim_matches('`').to_string())
        .collect();
    let cols = if cols.is_empty() {
        match ctx.known_columns {
            Some(c) => c.to_vec(),
            None => {
                let db = target
                    .db
                    .clone()
                    .or(ctx.db.map(str::to_string))
                    .unwrap_or_default();
                return Err(ProxyError::NeedColumns { db, table: tname });
            }
        }
    } else {
        cols
    };
    let Some(ki) = cols.iter().position(|c| c.eq_ignore_ascii_case(key)) else {
        return Err(missing_key(key, &tname));
    };
    let mut by_set: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, row) in values.rows.iter().enumerate() {
        let sets = key_sets(map, key_type, key, &tname, row.get(ki))?;
        by_set.entry(sets[0].clone()).or_default().push(i);
    }
    if by_set.len() == 1 {
        let set = by_set.into_keys().next().expect("one");
        return Ok(Plan {
            target: Target::Sets(vec![set]),
            merge: Merge::Single,
        });
    }
    let rows = locate_rows(sql, tokens)
        .filter(|r| r.rows.len() == values.rows.len())
        .ok_or_else(|| {
            ProxyError::NotSupported("this form of multi-row INSERT across sets".into())
        })?;
    let parts = by_set
        .into_iter()
        .map(|(set, idx)| (set, rows.with_rows(sql, &idx)))
        .collect();
    Ok(Plan {
        target: Target::PerSet(parts),
        merge: Merge::SumAffected,
    })
}

fn missing_key(key: &str, table: &str) -> ProxyError {
    ProxyError::NotSupported(format!(
        "INSERT into sharded table `{table}` without a value for its shard key `{key}`"
    ))
}

/// `0`, `42`, `-7`: an integer literal MariaDB stores in a string column as written.
fn plain_integer(s: &str) -> bool {
    let digits = s.strip_prefix('-').unwrap_or(s);
    s == "0"
        || (!digits.is_empty()
            && !digits.starts_with('0')
            && digits.bytes().all(|b| b.is_ascii_digit()))
}

/// The one set a written key value belongs to.
fn key_sets(
    map: &ShardMap,
    key_type: KeyType,
    key: &str,
    table: &str,
    v: Option<&Expr>,
) -> Result<Vec<String>, ProxyError> {
    let v = v.ok_or_else(|| missing_key(key, table))?;
    let text = literal_text(v).ok_or_else(|| {
        ProxyError::NotSupported(format!(
            "a shard key value for `{table}`.`{key}` that is not a literal ({v})"
        ))
    })?;
    // A number written into a string key is stored as MariaDB prints it: an
    // integer as its digits; others (`1e3`, `0x61`, `007`) are not followed here.
    if key_type.is_text() && !super::key::is_string_literal(v) && !plain_integer(&text) {
        return Err(ProxyError::NotSupported(format!(
            "the number {v} as the value of string shard key `{table}`.`{key}` (quote it)"
        )));
    }
    // A written key lands where MariaDB's conversion puts it ('12x' → 12, a
    // character the column cannot hold → '?'); strict mode refuses it there with
    // MariaDB's own error.
    let slot = topo::slot::slot_of_written(&text, key_type, map.slots).map_err(|e| match e {
        WriteSlotError::NotLoaded(collation) => ProxyError::NeedWeights {
            collation,
            set: map.sets().into_iter().next().unwrap_or_default(),
        },
        WriteSlotError::CaseHashed => ProxyError::NotSupported(format!(
            "a key value beyond printable ASCII for `{table}`.`{key}`, a text shard key \
             hashed by case only (the table was created before collation-aware hashing; \
             recreate it to write such values)"
        )),
        WriteSlotError::NotAKey => ProxyError::NotSupported(format!(
            "a value of shard key `{table}`.`{key}` that is not a key of its type"
        )),
    })?;
    Ok(map
        .set_of_slot(slot)
        .map(str::to_string)
        .into_iter()
        .collect())
}
