//! The sets a statement on several tables runs on: each table's placement
//! combined (sharded tables pinned by their shard-key values, co-located ones run
//! set by set, single tables on their home set, broadcast copies), or refused when
//! no one set can answer for them.

use sqlparser::ast::{Expr, Statement};
use topo::ShardMap;

use super::analyze::TableRef;
use super::key::{pinned_values, KeyColumn};
use super::place::{all_sets, sets_for_values, Ctx, Placement};
use super::planned::Dep;
use crate::error::ProxyError;

/// The sets a statement reading or writing `tables` must run on.
/// `write` means broadcast copies must all be changed.
pub(super) fn target_sets(
    ctx: &Ctx<'_>,
    tables: &[TableRef],
    selection: Option<&Expr>,
    write: bool,
    stmt: Option<&Statement>,
) -> Result<(Vec<String>, bool /* any broadcast-only */), ProxyError> {
    let placements: Vec<Placement> = tables
        .iter()
        .map(|t| ctx.place(t))
        .collect::<Result<_, _>>()?;
    let single_table = tables.len() == 1;
    // Several sharded references tied by shard-key equality run set by set.
    let sharded: Vec<(usize, &TableRef, &str, &ShardMap)> = placements
        .iter()
        .filter_map(|p| match p {
            Placement::Sharded { tref, key, map, .. } => Some((tref.pos, tref, *key, *map)),
            _ => None,
        })
        .collect();
    let colocated = sharded.len() > 1
        && sharded.iter().all(|(_, _, _, m)| *m == sharded[0].3)
        && stmt.is_some_and(|st| {
            let refs: Vec<super::colocate::ShardedRef> = sharded
                .iter()
                .map(|(pos, t, k, _)| super::colocate::ShardedRef {
                    tref: t,
                    key: k,
                    pos: *pos,
                })
                .collect();
            super::colocate::colocated(st, &refs)
        });
    let mut sharded_target: Option<Vec<String>> = None;
    for p in &placements {
        if let Placement::Sharded {
            db,
            map,
            key,
            key_type,
            tref,
        } = p
        {
            let mut qualifiers = vec![tref.name.as_str()];
            if let Some(a) = &tref.alias {
                qualifiers.push(a.as_str());
            }
            let col = KeyColumn {
                key,
                qualifiers,
                unqualified: single_table,
                text: key_type.is_text(),
            };
            let sets = match pinned_values(selection, &col) {
                Some(vals) => {
                    if single_table {
                        ctx.note(db, *key_type, &vals);
                    } else {
                        // Other tables constrain the set too: plan every time.
                        *ctx.dep.borrow_mut() = Dep::Many;
                    }
                    sets_for_values(map, *key_type, &vals)
                }
                None => all_sets(map),
            };
            sharded_target = Some(match sharded_target {
                None => sets,
                Some(prev) if prev == sets && sets.len() == 1 => prev,
                Some(prev) if colocated => {
                    // Co-located: rows that join live together; pins narrow the sets.
                    let both: Vec<String> = prev.iter().filter(|s| sets.contains(s)).cloned().collect();
                    if both.is_empty() {
                        prev.into_iter().take(1).collect()
                    } else {
                        both
                    }
                }
                Some(_) => {
                    return Err(ProxyError::NotSupported(
                        "a statement joining sharded tables that are not tied by shard-key equality (co-located), with rows on several sets"
                            .into(),
                    ))
                }
            });
        }
    }
    let mut homes: Vec<&String> = Vec::new();
    let mut broadcasts: Vec<&Vec<String>> = Vec::new();
    for p in &placements {
        match p {
            Placement::Home(s) => homes.push(s),
            Placement::Broadcast(sets) => broadcasts.push(sets),
            _ => {}
        }
    }
    if let Some(first) = homes.first() {
        if homes.iter().any(|h| h != first) {
            return Err(ProxyError::NotSupported(
                "a statement on single tables that live on different sets".into(),
            ));
        }
    }
    let target: Vec<String> = match (sharded_target, homes.first()) {
        (Some(t), None) => t,
        (Some(t), Some(h)) => {
            if t.len() == 1 && &t[0] == *h || t.is_empty() {
                vec![(*h).clone()]
            } else {
                return Err(ProxyError::NotSupported(
                    "a statement joining a single table with sharded rows on other sets".into(),
                ));
            }
        }
        (None, Some(h)) => vec![(*h).clone()],
        (None, None) => match broadcasts.first() {
            Some(sets) if write => (*sets).clone(),
            Some(sets) => vec![sets[0].clone()],
            None => vec![ctx.any_set()?],
        },
    };
    for b in &broadcasts {
        if target.iter().any(|s| !b.contains(s)) {
            return Err(ProxyError::NotSupported(
                "a statement using a broadcast table of a database on other sets".into(),
            ));
        }
    }
    let broadcast_only = placements
        .iter()
        .all(|p| matches!(p, Placement::Broadcast(_)))
        && !placements.is_empty();
    Ok((target, broadcast_only))
}
