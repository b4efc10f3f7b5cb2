//! The planner: which sets run a statement and how their answers combine.
//!
//! Plans are data ([`Plan`]); executing them is `exec`'s job. What cannot be run
//! correctly across sets is refused here with `ER_NOT_SUPPORTED_YET` naming the
//! construct — never a wrong answer.

use sqlparser::ast::{GroupByExpr, SetExpr, Statement};
use topo::ClusterSnapshot;

use super::aggs::outer_aggregates;
use super::analyze::{analyze, split_name, TableRef};
use super::cross_set::CrossSet;
use super::write::{check_key_not_assigned, plan_insert, write_plan};
use crate::error::ProxyError;
use crate::sql::lexer::Token;

// What the planner is made of, under the paths `route::plan::*` other modules use.
pub use super::place::{is_system_schema, sets_holding, single_set_for_tables, KnownTable};
pub(super) use super::place::{sharded_refs, single, Ctx, Placement};
pub use super::planned::{Dep, Merge, Plan, Planned, Target};
pub(super) use super::target_sets::target_sets;

/// Plans one parsed statement. `sql` is its text, `tokens` its tokens; `cross`
/// the gateway's own planners, for what the sets cannot answer together
/// (`crate::join::CrossSetPlanner`).
pub fn plan_statement(
    snap: &ClusterSnapshot,
    db: Option<&str>,
    sql: &str,
    tokens: &[Token],
    stmt: &Statement,
    known_columns: Option<&[String]>,
    cross: &dyn CrossSet,
) -> Result<Planned, ProxyError> {
    plan_statement_with(snap, db, sql, tokens, stmt, known_columns, &[], cross)
}

/// [`plan_statement`] with the column lists of tables looked up for a
/// cross-set join (asked for with `ProxyError::NeedColumns`).
#[allow(clippy::too_many_arguments)]
pub fn plan_statement_with(
    snap: &ClusterSnapshot,
    db: Option<&str>,
    sql: &str,
    tokens: &[Token],
    stmt: &Statement,
    known_columns: Option<&[String]>,
    known_tables: &[KnownTable],
    cross: &dyn CrossSet,
) -> Result<Planned, ProxyError> {
    let ctx = Ctx {
        snap,
        dep: Default::default(),
        db,
        known_columns,
        known_tables,
        cross,
    };
    let plan = plan_inner(&ctx, sql, tokens, stmt)?;
    Ok(Planned {
        plan,
        dep: ctx.dep.into_inner(),
    })
}

fn plan_inner(
    ctx: &Ctx<'_>,
    sql: &str,
    tokens: &[Token],
    stmt: &Statement,
) -> Result<Plan, ProxyError> {
    match stmt {
        Statement::Query(q) if matches!(q.body.as_ref(), SetExpr::SetOperation { .. }) => {
            match super::union::plan_union(ctx, sql, tokens, q) {
                // Branches the sets cannot answer together: each read first.
                Err(ProxyError::NotSupported(why)) => {
                    match ctx.cross.union_reads(ctx.snap, ctx.db, sql, tokens, q) {
                        Some(p) => {
                            *ctx.dep.borrow_mut() = Dep::Many;
                            Ok(Plan {
                                target: Target::Sets(ctx.snap.sets.keys().cloned().collect()),
                                merge: Merge::Join(p),
                            })
                        }
                        None => Err(ProxyError::NotSupported(why)),
                    }
                }
                r => r.map(|p| zero_limit(ctx, p)),
            }
        }
        Statement::Query(q) => {
            let a = analyze(stmt);
            let selection = match q.body.as_ref() {
                SetExpr::Select(s) => s.selection.as_ref(),
                _ => None,
            };
            let (sets, _) = match target_sets(ctx, &a.tables, selection, false, Some(stmt)) {
                // Tables not co-located: the gateway joins them itself.
                Err(ProxyError::NotSupported(why)) => {
                    *ctx.dep.borrow_mut() = Dep::Many;
                    if let Some(p) = super::nested::materialized(ctx, sql, tokens, q, &a.tables) {
                        return Ok(p);
                    }
                    if super::window::has_window(q) {
                        return Err(super::window::refused());
                    }
                    return ctx.cross.take_over(
                        ctx.snap,
                        ctx.db,
                        ctx.known_tables,
                        sql,
                        tokens,
                        q,
                        why,
                    );
                }
                r => r?,
            };
            if sets.len() <= 1 {
                return single(sets, ctx);
            }
            if let [(tref, key)] = sharded_refs(ctx, &a.tables).as_slice() {
                let sharded = super::nested::Sharded { tref, key };
                if let Err(refused) = super::nested::check(q, &sharded) {
                    // Derived tables computing over several sets: materialized.
                    if let Some(p) = super::nested::materialized(ctx, sql, tokens, q, &a.tables) {
                        return Ok(p);
                    }
                    // A subquery computing over rows of several sets: read
                    // first by the gateway, when it is one of the outer block's.
                    *ctx.dep.borrow_mut() = Dep::Many;
                    return ctx
                        .cross
                        .subqueries_first(ctx.snap, ctx.db, sql, tokens, q)
                        .ok_or(refused);
                }
            }
            if super::window::has_window(q) && !windows_per_set(ctx, q) {
                // Over the table's rows materialized, on one set.
                return windows_materialized(ctx, sql, tokens, q, &sets)
                    .ok_or_else(super::window::refused);
            }
            // Several sets: a plain row scan concatenates; anything else is merged.
            let SetExpr::Select(sel) = q.body.as_ref() else {
                return Err(ProxyError::NotSupported("UNION across sets".into()));
            };
            if plain_scan(q, sel) {
                return Ok(Plan {
                    target: Target::Sets(sets),
                    merge: Merge::Concat,
                });
            }
            let spec = super::scatter::plan(sql, tokens, sel, outer_aggregates(sel))?;
            Ok(zero_limit(
                ctx,
                Plan {
                    target: Target::Sets(sets),
                    merge: Merge::Merged(Box::new(spec)),
                },
            ))
        }
        Statement::Update(u) => {
            let a = analyze(stmt);
            check_key_not_assigned(
                ctx,
                &a.tables,
                u.assignments.iter().map(|x| x.target.to_string()),
            )?;
            write_plan(ctx, &a.tables, u.selection.as_ref(), stmt)
        }
        Statement::Delete(d) => {
            let mut a = analyze(stmt);
            if d.using.is_some() {
                // `DELETE FROM t1 USING t1, t2`: FROM names targets among the
                // USING list's references (visited first), not references of
                // their own, which would make `t1.k = t2.k` ambiguous.
                drop_named_targets(&mut a.tables, from_factors(&d.from));
            }
            // Tables in FROM/USING are visited as table factors; add DELETE's target list.
            for n in &d.tables {
                let (db, name) = split_name(n);
                if !a
                    .tables
                    .iter()
                    .any(|t| t.name == name || t.alias.as_deref() == Some(&name))
                {
                    a.tables.push(TableRef {
                        db,
                        name,
                        alias: None,
                        pos: usize::MAX,
                    });
                }
            }
            write_plan(ctx, &a.tables, d.selection.as_ref(), stmt)
        }
        Statement::Insert(ins) => plan_insert(ctx, sql, tokens, stmt, ins),
        Statement::Call(f) => super::call::plan_call(ctx, f),
        _ => Err(ProxyError::NotSupported(format!(
            "this statement through the gateway: {}",
            first_words(sql)
        ))),
    }
}

/// How many table references a DELETE's FROM list names.
fn from_factors(from: &sqlparser::ast::FromTable) -> usize {
    use sqlparser::ast::FromTable;
    let (FromTable::WithFromKeyword(v) | FromTable::WithoutKeyword(v)) = from;
    v.iter().map(|t| 1 + t.joins.len()).sum()
}

/// Drops the first `n` references when each names another reference (by its
/// name or alias): they are a multi-table DELETE's targets.
fn drop_named_targets(tables: &mut Vec<TableRef>, n: usize) {
    let (targets, rest): (Vec<TableRef>, Vec<TableRef>) =
        std::mem::take(tables).into_iter().partition(|t| t.pos < n);
    let named = |t: &TableRef| {
        rest.iter().any(|r| match &r.alias {
            Some(a) => a.eq_ignore_ascii_case(&t.name),
            None => r.name.eq_ignore_ascii_case(&t.name),
        })
    };
    let keep: Vec<TableRef> = targets.into_iter().filter(|t| !named(t)).collect();
    *tables = keep;
    tables.extend(rest);
}

/// A merged read whose `LIMIT` count is 0 answers no rows: one set gives all of
/// MariaDB's answer, its column definitions included (MariaDB's zero-limit
/// shortcut gives them other flags and lengths than the full query's), so the
/// client's text runs there. Depends on the literal: never cached.
/// Not with SQL_CALC_FOUND_ROWS, which counts the rows of every set.
fn zero_limit(ctx: &Ctx<'_>, plan: Plan) -> Plan {
    match (&plan.target, &plan.merge) {
        (Target::Sets(sets), Merge::Merged(spec))
            if spec.limit == Some(0) && !sets.is_empty() && !calc_found_rows(&spec.sql) =>
        {
            *ctx.dep.borrow_mut() = Dep::Many;
            Plan {
                target: Target::Sets(vec![sets[0].clone()]),
                merge: Merge::Single,
            }
        }
        _ => plan,
    }
}

/// Whether `sql` says `SQL_CALC_FOUND_ROWS` (as a keyword).
pub fn calc_found_rows(sql: &str) -> bool {
    crate::sql::lexer::tokenize(sql).is_ok_and(|toks| {
        toks.iter().any(|t| {
            t.kind == crate::sql::lexer::Kind::Word && t.is_word(sql, "SQL_CALC_FOUND_ROWS")
        })
    })
}

/// A plain row scan: no ORDER BY, LIMIT, DISTINCT, grouping or aggregate —
/// each set's rows, as they come, are the answer's.
pub(crate) fn plain_scan(q: &sqlparser::ast::Query, sel: &sqlparser::ast::Select) -> bool {
    q.order_by.is_none()
        && q.limit_clause.is_none()
        && q.fetch.is_none()
        && sel.distinct.is_none()
        && matches!(&sel.group_by, GroupByExpr::Expressions(e, _) if e.is_empty())
        && sel.having.is_none()
        && !outer_aggregates(sel)
}

/// Whether `q`'s window functions each partition by a shard key, so each set
/// computes them over whole partitions ([`super::window::per_set`]).
fn windows_per_set(ctx: &Ctx<'_>, q: &sqlparser::ast::Query) -> bool {
    let aggregates = matches!(q.body.as_ref(), SetExpr::Select(s) if outer_aggregates(s));
    super::window::per_set(q, aggregates, |db, name| {
        let t = TableRef {
            db: db.map(str::to_string),
            name: name.to_string(),
            alias: None,
            pos: usize::MAX,
        };
        match ctx.place(&t) {
            Ok(Placement::Sharded { key, .. }) => Some(key.to_string()),
            _ => None,
        }
    })
}

/// A window query over several sets whose windows are not per set, answered
/// over the rows its one table gives its `WHERE`, materialized
/// ([`crate::derived::windows`]); `None` for other shapes (refused).
fn windows_materialized(
    ctx: &Ctx<'_>,
    sql: &str,
    tokens: &[Token],
    q: &sqlparser::ast::Query,
    sets: &[String],
) -> Option<Plan> {
    if calc_found_rows(sql) {
        return None;
    }
    let m = crate::derived::windows::plan(sql, tokens, q, sets)?;
    *ctx.dep.borrow_mut() = Dep::Many;
    Some(Plan {
        target: Target::Sets(sets.to_vec()),
        merge: Merge::Join(Box::new(crate::join::JoinPlan::Materialized(Box::new(m)))),
    })
}

fn first_words(sql: &str) -> String {
    sql.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
}
