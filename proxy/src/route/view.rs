//! Where a view can live and how the gateway must see it, from its SELECT:
//! over single tables of one home set → single on that set; over broadcast
//! tables only → broadcast; over one sharded table (or co-located ones, and
//! broadcast tables) that only projects and filters, keeping the shard key
//! under some name → sharded by that name, so reads of it scatter and merge like
//! a table's. Anything else would give wrong rows on some set: refused.

use std::ops::ControlFlow;

use sqlparser::ast::{Expr, Query, SelectItem, SetExpr, Statement};
use topo::{ClusterSnapshot, KeyType, TableKind};

use super::analyze::analyze;
use super::plan::{plain_scan, target_sets, Ctx, Placement};
use crate::error::ProxyError;

fn refuse(what: &str) -> ProxyError {
    ProxyError::NotSupported(format!("a view {what}"))
}

/// The kind to record for view `view_db`.`…` defined by `q`, with its column
/// list `cols` (empty when none).
pub fn place_view(
    snap: &ClusterSnapshot,
    db: Option<&str>,
    view_db: &str,
    cols: &[String],
    q: &Query,
) -> Result<TableKind, ProxyError> {
    let ctx = Ctx::bare(snap, db);
    let vrec = snap
        .db(view_db)
        .ok_or_else(|| ProxyError::UnknownDatabase(view_db.to_string()))?;
    let stmt = Statement::Query(Box::new(q.clone()));
    let a = analyze(&stmt);
    let mut homes: Vec<String> = Vec::new();
    let mut broadcast: Vec<Vec<String>> = Vec::new();
    // (key, key type, table name, alias)
    let mut sharded: Vec<(String, KeyType, String, Option<String>)> = Vec::new();
    for t in &a.tables {
        match ctx.place(t)? {
            Placement::Anywhere => {}
            Placement::Home(h) => homes.push(h),
            Placement::Broadcast(s) => broadcast.push(s),
            Placement::Sharded {
                db: table_db,
                map,
                key,
                key_type,
                tref,
            } => {
                // Its rows follow the other database's shard map, which slot moves
                // change without the view's database knowing.
                if table_db != view_db {
                    return Err(refuse(
                        "over sharded tables (or sharded views) of another database (their rows \
                         follow that database's shard map and its slot moves)",
                    ));
                }
                if *map != vrec.shard_map {
                    return Err(refuse(
                        "over sharded tables of a database with another shard map than the view's",
                    ));
                }
                sharded.push((key.to_string(), key_type, tref.name, tref.alias));
            }
        }
    }
    let mut vsets = vrec.sets();
    vsets.sort();
    let covers = |b: &Vec<String>| vsets.iter().all(|s| b.contains(s));
    if sharded.is_empty() {
        if let Some(h) = homes.first() {
            if homes.iter().any(|x| x != h) {
                return Err(refuse("over single tables that live on different sets"));
            }
            if *h != vrec.home_set {
                return Err(refuse(
                    "over single tables of another set than its database's home set",
                ));
            }
            return Ok(TableKind::Single);
        }
        if !broadcast.iter().all(covers) {
            return Err(refuse("over broadcast tables of a database on other sets"));
        }
        return Ok(TableKind::Broadcast);
    }
    if !homes.is_empty() {
        return Err(refuse(
            "joining sharded tables with single tables (the single rows live on one set)",
        ));
    }
    if !broadcast.iter().all(covers) {
        return Err(refuse("over broadcast tables of a database on other sets"));
    }
    let SetExpr::Select(sel) = q.body.as_ref() else {
        return Err(refuse("over sharded rows with UNION, INTERSECT or EXCEPT"));
    };
    let plain = plain_scan(q, sel);
    let windowed = sqlparser::ast::visit_expressions(q, |e| match e {
        Expr::Function(f) if f.over.is_some() => ControlFlow::Break(()),
        _ => ControlFlow::Continue(()),
    })
    .is_break();
    if !plain || windowed {
        return Err(refuse(
            "over sharded rows with aggregates, GROUP BY, DISTINCT, ORDER BY, LIMIT or window functions (each set would compute them over its own rows)",
        ));
    }
    // Several sharded tables: only co-located (tied by their shard keys).
    target_sets(&ctx, &a.tables, None, false, Some(&stmt))?;
    let named = |qual: &str, tname: &str, alias: &Option<String>| {
        qual.eq_ignore_ascii_case(tname)
            || alias
                .as_deref()
                .is_some_and(|a| a.eq_ignore_ascii_case(qual))
    };
    let mut wildcard_before = false;
    for (i, item) in sel.projection.iter().enumerate() {
        for (key, key_type, tname, alias) in &sharded {
            let is_key = |e: &Expr| match e {
                Expr::Identifier(id) => sharded.len() == 1 && id.value.eq_ignore_ascii_case(key),
                Expr::CompoundIdentifier(parts) if parts.len() >= 2 => {
                    let n = parts.len();
                    parts[n - 1].value.eq_ignore_ascii_case(key)
                        && named(&parts[n - 2].value, tname, alias)
                }
                _ => false,
            };
            let name = match item {
                SelectItem::UnnamedExpr(e) if is_key(e) => Some(key.clone()),
                SelectItem::ExprWithAlias { expr, alias } if is_key(expr) => {
                    Some(alias.value.clone())
                }
                SelectItem::Wildcard(_) => Some(key.clone()),
                SelectItem::QualifiedWildcard(k, _)
                    if named(
                        k.to_string()
                            .rsplit('.')
                            .next()
                            .unwrap_or("")
                            .trim_matches('`'),
                        tname,
                        alias,
                    ) =>
                {
                    Some(key.clone())
                }
                _ => None,
            };
            let Some(name) = name else { continue };
            let name = if cols.is_empty() {
                name
            } else if wildcard_before
                || matches!(
                    item,
                    SelectItem::Wildcard(_) | SelectItem::QualifiedWildcard(..)
                )
            {
                return Err(refuse(
                    "over sharded rows with both a column list and `*` (name the shard key column)",
                ));
            } else {
                cols.get(i).cloned().unwrap_or(name)
            };
            return Ok(TableKind::Sharded {
                key: name,
                key_type: *key_type,
            });
        }
        wildcard_before |= matches!(
            item,
            SelectItem::Wildcard(_) | SelectItem::QualifiedWildcard(..)
        );
    }
    Err(refuse(
        "over sharded rows that does not show the shard key column (the gateway could not tell which set holds a row)",
    ))
}
