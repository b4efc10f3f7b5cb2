//! The planner: which sets run a statement and how their answers combine.
//!
//! Plans are data ([`Plan`]); executing them is `exec`'s job. What cannot be run
//! correctly across sets is refused here with `ER_NOT_SUPPORTED_YET` naming the
//! construct — never a wrong answer.

use sqlparser::ast::{Expr, GroupByExpr, SetExpr, Statement};
use topo::{ClusterSnapshot, KeyType, ShardMap, TableKind};

use super::analyze::{analyze, split_name, TableRef};
use super::key::{pinned_values, KeyColumn};
use super::write::{check_key_not_assigned, plan_insert, write_plan};
use crate::error::ProxyError;
use crate::sql::lexer::Token;

/// Where a statement runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// The client's text on each of these sets.
    Sets(Vec<String>),
    /// A different text per set (a split multi-row INSERT).
    PerSet(Vec<(String, String)>),
}

/// How the answers of several sets become one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Merge {
    /// One set: its answer as is.
    Single,
    /// Rows of every set, one after another (no order, no aggregation).
    Concat,
    /// DML on disjoint rows: affected rows and info counters summed.
    SumAffected,
    /// The same write on every copy of a broadcast table: report one set's answer.
    Replicated,
    /// Sorted / grouped / limited rows merged by the gateway.
    Merged(Box<crate::merge::MergeSpec>),
    /// A join or subqueries the gateway runs itself (tables not co-located).
    Join(Box<crate::join::JoinPlan>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub target: Target,
    pub merge: Merge,
}

impl Plan {
    /// How many sets the plan sends text to.
    pub fn set_count(&self) -> usize {
        match &self.target {
            Target::Sets(sets) => sets.len(),
            Target::PerSet(parts) => parts.len(),
        }
    }

    /// Whether the plan writes to more than one set.
    pub fn writes_several_sets(&self) -> bool {
        match (&self.target, &self.merge) {
            (Target::PerSet(parts), _) => parts.len() > 1,
            (Target::Sets(sets), Merge::SumAffected | Merge::Replicated) => sets.len() > 1,
            _ => false,
        }
    }
}

/// System schemas every set has; statements on them go to any one set.
pub fn is_system_schema(db: &str) -> bool {
    ["information_schema", "mysql", "performance_schema", "sys"]
        .iter()
        .any(|s| s.eq_ignore_ascii_case(db))
}

/// Where one referenced table lives.
pub(super) enum Placement<'s> {
    Anywhere,
    Home(String),
    Broadcast(Vec<String>),
    Sharded {
        db: String,
        map: &'s ShardMap,
        key: &'s str,
        key_type: KeyType,
        tref: TableRef,
    },
}

/// How a plan depends on the statement's literal values (for the plan cache).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Dep {
    /// Not at all.
    #[default]
    None,
    /// Through one shard-key value of a table of `db`.
    Key {
        db: String,
        key_type: KeyType,
        value: String,
    },
    /// Through several values.
    Many,
}

impl Dep {
    /// What the plan cache keys a plan by: `Some(None)` for a plan that does not
    /// depend on literals, `Some(Some((db, key_type, value)))` for one routed by
    /// one shard-key value; `None` for a plan that depends on several values
    /// (not cached).
    pub fn pinned(&self) -> Option<Option<(&str, KeyType, &str)>> {
        match self {
            Dep::None => Some(None),
            Dep::Key {
                db,
                key_type,
                value,
            } => Some(Some((db.as_str(), *key_type, value.as_str()))),
            Dep::Many => None,
        }
    }
}

/// Column names of a table, looked up by the session for the planner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownTable {
    pub db: String,
    pub table: String,
    pub columns: Vec<String>,
}

pub(super) struct Ctx<'a> {
    pub(super) snap: &'a ClusterSnapshot,
    pub(super) dep: std::cell::RefCell<Dep>,
    pub(super) db: Option<&'a str>,
    /// Column order of the INSERT target, when the caller looked it up.
    pub(super) known_columns: Option<&'a [String]>,
    /// Column lists of tables a cross-set join names (see `crate::join`).
    pub(super) known_tables: &'a [KnownTable],
}

impl<'a> Ctx<'a> {
    /// A context for placing tables only: no INSERT columns, no join tables.
    pub(super) fn bare(snap: &'a ClusterSnapshot, db: Option<&'a str>) -> Self {
        Ctx {
            snap,
            dep: Default::default(),
            db,
            known_columns: None,
            known_tables: &[],
        }
    }

    pub(super) fn place(&self, t: &TableRef) -> Result<Placement<'a>, ProxyError> {
        // `FROM DUAL` names no table.
        if t.db.is_none() && t.name.eq_ignore_ascii_case("dual") {
            return Ok(Placement::Anywhere);
        }
        let db = match t.db.as_deref().or(self.db) {
            Some(d) => d,
            None => return Err(ProxyError::NoDatabaseSelected),
        };
        if is_system_schema(db) {
            return Ok(Placement::Anywhere);
        }
        let rec = self
            .snap
            .db(db)
            .ok_or_else(|| ProxyError::UnknownDatabase(db.to_string()))?;
        Ok(match self.snap.table(db, &t.name).map(|r| &r.kind) {
            Some(TableKind::Sharded { key, key_type }) => Placement::Sharded {
                db: db.to_string(),
                map: &rec.shard_map,
                key,
                key_type: *key_type,
                tref: t.clone(),
            },
            Some(TableKind::Broadcast) => Placement::Broadcast(rec.sets()),
            Some(TableKind::Single) | None => Placement::Home(rec.home_set.clone()),
        })
    }

    /// Records that routing used shard-key `values` of a table of `db`.
    fn note(&self, db: &str, key_type: KeyType, values: &[String]) {
        let mut d = self.dep.borrow_mut();
        *d = match (&*d, values) {
            (Dep::None, [v]) => Dep::Key {
                db: db.to_string(),
                key_type,
                value: v.clone(),
            },
            _ => Dep::Many,
        };
    }

    /// A set for statements that touch no table: the session database's home set,
    /// else the first set of the cluster.
    fn any_set(&self) -> Result<String, ProxyError> {
        if let Some(rec) = self.db.and_then(|d| self.snap.db(d)) {
            return Ok(rec.home_set.clone());
        }
        self.snap
            .sets
            .keys()
            .next()
            .cloned()
            .ok_or_else(|| ProxyError::NoRouting("no set is registered".into()))
    }
}

/// Sets owning the slots of `values` (in map order, deduplicated).
pub(super) fn sets_for_values(map: &ShardMap, key_type: KeyType, values: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for v in values {
        // A value that is not a clean key of this type ('abc', '1e0' for an integer
        // key) is compared by MariaDB after conversion: it may match anywhere.
        let Some(slot) = topo::slot::slot_of_compared(v.as_bytes(), key_type, map.slots) else {
            return all_sets(map);
        };
        if let Some(s) = map.set_of_slot(slot) {
            if !out.iter().any(|o| o == s) {
                out.push(s.to_string());
            }
        }
    }
    out
}

pub(super) fn all_sets(map: &ShardMap) -> Vec<String> {
    map.sets()
}

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
    let mut sharded_count = 0;
    for p in &placements {
        if let Placement::Sharded {
            db,
            map,
            key,
            key_type,
            tref,
        } = p
        {
            sharded_count += 1;
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
    let _ = sharded_count;
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

/// A plan and how it depends on the statement's literals.
#[derive(Debug, Clone)]
pub struct Planned {
    pub plan: Plan,
    pub dep: Dep,
}

/// Plans one parsed statement. `sql` is its text, `tokens` its tokens.
pub fn plan_statement(
    snap: &ClusterSnapshot,
    db: Option<&str>,
    sql: &str,
    tokens: &[Token],
    stmt: &Statement,
    known_columns: Option<&[String]>,
) -> Result<Planned, ProxyError> {
    plan_statement_with(snap, db, sql, tokens, stmt, known_columns, &[])
}

/// [`plan_statement`] with the column lists of tables looked up for a
/// cross-set join (asked for with `ProxyError::NeedColumns`).
pub fn plan_statement_with(
    snap: &ClusterSnapshot,
    db: Option<&str>,
    sql: &str,
    tokens: &[Token],
    stmt: &Statement,
    known_columns: Option<&[String]>,
    known_tables: &[KnownTable],
) -> Result<Planned, ProxyError> {
    let ctx = Ctx {
        snap,
        dep: Default::default(),
        db,
        known_columns,
        known_tables,
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
                    match crate::join::union_reads::plan(ctx.snap, ctx.db, sql, tokens, q) {
                        Some(p) => {
                            *ctx.dep.borrow_mut() = Dep::Many;
                            Ok(Plan {
                                target: Target::Sets(ctx.snap.sets.keys().cloned().collect()),
                                merge: Merge::Join(Box::new(crate::join::JoinPlan::Subqueries(
                                    Box::new(p),
                                ))),
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
                    return crate::join::take_over(
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
                    return crate::join::subqueries_first(ctx.snap, ctx.db, sql, tokens, q)
                        .ok_or(refused);
                }
            }
            if super::window::has_window(q) && !windows_per_set(ctx, q) {
                return Err(super::window::refused());
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

/// The sharded table references among `tables`, with their shard-key columns.
pub(super) fn sharded_refs<'t>(
    ctx: &Ctx<'t>,
    tables: &'t [TableRef],
) -> Vec<(&'t TableRef, &'t str)> {
    tables
        .iter()
        .filter_map(|t| match ctx.place(t) {
            Ok(Placement::Sharded { key, .. }) => Some((t, key)),
            _ => None,
        })
        .collect()
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

pub(super) fn single(sets: Vec<String>, ctx: &Ctx<'_>) -> Result<Plan, ProxyError> {
    let sets = if sets.is_empty() {
        vec![ctx.any_set()?]
    } else {
        sets
    };
    Ok(Plan {
        target: Target::Sets(sets),
        merge: Merge::Single,
    })
}

/// The sets holding table `t` (its database `t.db`, else `db`): every set of a
/// sharded or broadcast table, the home set of any other; `None` for a table of
/// a system schema (or `DUAL`), which lives on every server.
pub fn sets_holding(
    snap: &ClusterSnapshot,
    db: Option<&str>,
    t: &TableRef,
) -> Result<Option<Vec<String>>, ProxyError> {
    let ctx = Ctx::bare(snap, db);
    Ok(match ctx.place(t)? {
        Placement::Anywhere => None,
        Placement::Home(h) => Some(vec![h]),
        Placement::Broadcast(sets) => Some(sets),
        Placement::Sharded { map, .. } => Some(all_sets(map)),
    })
}

/// The one set holding every table of an unparsable statement (found by the
/// lexer), when there is one: single tables on one home set, broadcast tables,
/// or only a database that lives on one set. `None`: the data spans sets.
pub fn single_set_for_tables(
    snap: &ClusterSnapshot,
    db: Option<&str>,
    tables: &[TableRef],
) -> Result<Option<String>, ProxyError> {
    let ctx = Ctx::bare(snap, db);
    let mut set: Option<String> = None;
    let mut agree = |s: &str| match &set {
        None => {
            set = Some(s.to_string());
            true
        }
        Some(x) => x == s,
    };
    for t in tables {
        let ok = match ctx.place(t)? {
            Placement::Anywhere => true,
            Placement::Home(h) => agree(&h),
            Placement::Broadcast(sets) => sets.len() == 1 && agree(&sets[0]),
            Placement::Sharded { map, .. } => {
                let sets = all_sets(map);
                sets.len() == 1 && agree(&sets[0])
            }
        };
        if !ok {
            return Ok(None);
        }
    }
    match set {
        Some(s) => Ok(Some(s)),
        None => ctx.any_set().map(Some),
    }
}

/// Whether the outer select list or HAVING uses an aggregate (subqueries' own
/// aggregates run inside each set and do not count).
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

pub(crate) fn outer_aggregates(sel: &sqlparser::ast::Select) -> bool {
    use sqlparser::ast::SelectItem;
    sel.projection.iter().any(|p| match p {
        SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => {
            super::aggs::contains_aggregate(e)
        }
        _ => false,
    }) || sel
        .having
        .as_ref()
        .is_some_and(super::aggs::contains_aggregate)
}

fn first_words(sql: &str) -> String {
    sql.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
}
