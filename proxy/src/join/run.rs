//! Drives a [`JoinPlan`] and answers the client: a join through its operator
//! and the [`Emitter`]; subqueries read first, then the rewritten statement
//! planned and run like any other (its plan may be a join again).
//!
//! [`run_plan`] runs any plan: the executor (`crate::exec`) runs the plans of
//! sets' answers and does not know joins; this is the one place that sees both.

use std::collections::HashSet;

use super::fetch::fetch_as;
use super::output::Emitter;
use super::plan::{Strategy, TwoSided};
use super::subquery::{replacement, Form, SubqueryPlan};
use super::{Budget, JoinPlan};
use crate::error::ProxyError;
use crate::exec::{Answered, Exec};
use crate::front::Responder;
use crate::route::plan::KnownTable;

/// Runs `plan` (planned from `sql`): a join plan here, every other by the executor.
pub async fn run_plan(
    exec: &mut Exec<'_>,
    plan: &crate::route::Plan,
    sql: &str,
    out: &mut Responder<'_>,
) -> Answered {
    match &plan.merge {
        crate::route::Merge::Join(j) => {
            let Some(j) = JoinPlan::of(&**j) else {
                let e = ProxyError::Internal("a cross-set plan that is not a join plan".into());
                return crate::front::responder::fail(out, &e).await;
            };
            let r = Box::pin(run(exec, j, out)).await;
            // Its sides' connections (noted as they started) are done.
            exec.clear_running();
            r
        }
        _ => exec.run(plan, sql, out).await,
    }
}

pub async fn run(exec: &mut Exec<'_>, plan: &JoinPlan, out: &mut Responder<'_>) -> Answered {
    let r = match plan {
        JoinPlan::Join(j) => join(exec, j, out).await,
        JoinPlan::Subqueries(s) => return subqueries(exec, s, out).await,
        JoinPlan::Materialized(m) => return Box::pin(crate::derived::run::run(exec, m, out)).await,
    };
    match r {
        Ok(()) => Ok(true),
        Err(ProxyError::ClientIo(e)) => Err(e),
        Err(e) => {
            out.error(&e).await?;
            Ok(false)
        }
    }
}

async fn join(
    exec: &mut Exec<'_>,
    j: &TwoSided,
    out: &mut Responder<'_>,
) -> Result<(), ProxyError> {
    let what = format!(
        "the join of {} and {} on {}",
        j.sides[0].name, j.sides[1].name, j.keys_text
    );
    let mut budget = Budget::new(what);
    // String keys of two collations: compared in MariaDB's, or its 1267.
    let aligned = super::key_collation::align(exec, j, &mut budget).await?;
    let j = aligned.as_ref().unwrap_or(j);
    let mut em = Emitter::new(j);
    if let Some(item) = &j.count {
        // COUNT(*)'s column definition as MariaDB gives it (name as written).
        let from = &j.sides[0].from;
        let routed = format!("SELECT 1 FROM {from} WHERE 0");
        let sql = format!("SELECT {item} FROM {from} WHERE 0");
        let f = fetch_as(exec, &routed, &sql, &mut budget).await?;
        em.count_col = f.cols.first().cloned();
    }
    if let Some(gp) = &j.group {
        em.group_cols = Some(super::grouping::columns(exec, gp, &mut budget).await?);
    }
    if let Some((set, explain)) = &j.sort_plan {
        em.temp_table = super::output::sorts_through_temporary(exec, set, explain).await;
    }
    let warnings = match j.strategy {
        Strategy::Lookup { outer } => {
            match super::lookup::run(exec, j, outer, &mut em, &mut budget, out).await? {
                Some(w) => w,
                None => super::hash::run(exec, j, &mut em, &mut budget, out).await?,
            }
        }
        Strategy::Hash => super::hash::run(exec, j, &mut em, &mut budget, out).await?,
    };
    em.finish(warnings, out).await
}

async fn subqueries(exec: &mut Exec<'_>, p: &SubqueryPlan, out: &mut Responder<'_>) -> Answered {
    let text = match substituted(exec, p).await {
        Ok(t) => t,
        Err(ProxyError::ClientIo(e)) => return Err(e),
        Err(e) => {
            out.error(&e).await?;
            return Ok(false);
        }
    };
    let plan = match plan_text(exec, &text)
        .await
        .and_then(|plan| match &p.columns {
            Some(c) => super::selected::with_columns(plan, &text, c),
            None => Ok(plan),
        }) {
        Ok(p) => p,
        Err(e) => {
            out.error(&e).await?;
            return Ok(false);
        }
    };
    if matches!(&plan.merge, crate::route::Merge::Join(j) if matches!(JoinPlan::of(&**j), Some(JoinPlan::Subqueries(_))))
    {
        // Never again: the subqueries it could read are gone.
        let e = super::unsupported("subqueries across sets nested this way");
        out.error(&e).await?;
        return Ok(false);
    }
    Box::pin(run_plan(exec, &plan, &text, out)).await
}

/// The statement with every subquery's values written in.
async fn substituted(exec: &mut Exec<'_>, p: &SubqueryPlan) -> Result<String, ProxyError> {
    if p.subs.iter().any(|s| s.form == Form::Rows) {
        return super::union_reads::read(exec, p).await;
    }
    let mut budget = Budget::new("the values of a subquery");
    let mut reps = Vec::with_capacity(p.subs.len());
    for s in &p.subs {
        if matches!(s.form, Form::Correlated { .. }) {
            reps.push(super::correlated::read(exec, s, &mut budget).await?);
            continue;
        }
        // EXISTS needs one row of any set.
        let sent = match s.form {
            Form::Exists { .. } => format!("{} LIMIT 1", s.values_sql),
            _ => s.values_sql.clone(),
        };
        let fetched = match super::fetch::route_or_merge(exec, &s.values_sql)? {
            Some(sets) => super::fetch::fetch_on(exec, sets, &sent, &mut budget).await,
            // Aggregates, GROUP BY, DISTINCT... across sets: the executor merges.
            None => super::capture::fetch_merged(exec, &s.values_sql, &mut budget).await,
        };
        let f = match fetched {
            Ok(f) => f,
            Err(ProxyError::Backend { code: 1054, .. }) => {
                return Err(super::unsupported(
                    "a correlated subquery across sets (other than EXISTS on one equality)",
                ))
            }
            Err(e) => return Err(e),
        };
        if f.cols.len() != 1 {
            return Err(ProxyError::Backend {
                code: 1241,
                state: "21000".into(),
                message: "Operand should contain 1 column(s)".into(),
            });
        }
        if s.form == Form::Scalar && f.rows.len() > 1 {
            return Err(ProxyError::Backend {
                code: 1242,
                state: "21000".into(),
                message: "Subquery returns more than 1 row".into(),
            });
        }
        let col = &f.cols[0];
        if col.column_type() == mysql_common::constants::ColumnType::MYSQL_TYPE_FLOAT
            && !matches!(s.form, Form::Exists { .. })
        {
            // Its text has 6 digits: compared with the column, it would miss.
            return Err(super::unsupported(
                "a subquery across sets giving FLOAT values (use CAST(col AS DOUBLE))",
            ));
        }
        // Strings keep the subquery column's collation (`super::collated`).
        let text = !matches!(s.form, Form::Exists { .. }) && super::collated::is_text(col);
        let collated = match (text, f.sets.first()) {
            (false, _) => None,
            (true, Some(set)) => {
                let set = set.clone();
                Some(super::collated::read(exec, &set, &s.values_sql, &mut budget).await?)
            }
            (true, None) => {
                return Err(super::unsupported(
                    "a subquery across sets giving strings whose collation could not be read",
                ))
            }
        };
        let mut seen: HashSet<Option<Vec<u8>>> = HashSet::new();
        let mut raw: Vec<Option<Vec<u8>>> = Vec::new();
        for r in f.rows {
            let v = r.into_iter().next().flatten();
            if !matches!(s.form, Form::Exists { .. }) && seen.contains(&v) {
                continue;
            }
            seen.insert(v.clone());
            raw.push(v);
        }
        if let Some(c) = &collated {
            // A JSON_TABLE column of the subquery column's collation: MariaDB
            // aggregates the two collations itself (1267 included).
            let kept: Vec<Option<&[u8]>> = raw
                .iter()
                .map(|v| v.as_deref())
                .filter(|v| v.is_some() || !matches!(s.form, Form::Semi { .. }))
                .collect();
            if let Some(jt) = super::collated::json_table(col, &kept, c) {
                reps.push(match &s.form {
                    Form::Semi {
                        negated: false,
                        outer,
                    } => format!("({outer} IS NOT NULL AND {outer} IN {jt})"),
                    Form::Semi {
                        negated: true,
                        outer,
                    } => format!("({outer} IS NULL OR {outer} NOT IN {jt})"),
                    Form::Scalar => format!(" {jt} "),
                    _ => jt,
                });
                continue;
            }
        }
        let collated = collated.filter(super::collated::Collated::wins);
        let values: Vec<Option<String>> = raw
            .iter()
            .map(|v| {
                v.as_deref().map(|b| match &collated {
                    Some(c) => super::collated::literal(col, b, c),
                    None => super::key::literal(col, b),
                })
            })
            .collect();
        reps.push(replacement(&s.form, &values));
    }
    Ok(p.substitute(&reps))
}

/// Plans a statement the gateway wrote, looking up the column lists a join
/// needs (a few at most).
pub async fn plan_text(exec: &mut Exec<'_>, sql: &str) -> Result<crate::route::Plan, ProxyError> {
    let tokens = crate::sql::lexer::tokenize(sql)
        .map_err(|e| ProxyError::Internal(format!("join: rewritten statement: {}", e.what)))?;
    // Subquery values of a JSON_TABLE: its column types unread (`collated`).
    let parsed = super::collated::parsed_text(sql);
    let stmt = crate::sql::parse_one(parsed.as_deref().unwrap_or(sql))
        .map_err(|e| ProxyError::Internal(format!("join: rewritten statement: {e}")))?;
    let mut known: Vec<KnownTable> = Vec::new();
    for _ in 0..8 {
        match crate::route::plan::plan_statement_with(
            exec.conns.snap,
            exec.conns.db,
            sql,
            &tokens,
            &stmt,
            None,
            &known,
            &super::CrossSetPlanner,
        ) {
            Err(ProxyError::NeedColumns { db, table }) => {
                let columns = table_columns(exec, &db, &table).await?;
                known.push(KnownTable { db, table, columns });
            }
            Err(ProxyError::NeedWeights { collation, set }) => {
                crate::exec::weights::ensure(&exec.conns, collation, &set).await?;
            }
            r => return r.map(|p| p.plan),
        }
    }
    Err(ProxyError::Internal(
        "join: too many tables to look up".into(),
    ))
}

/// Column names of `db.table`, asked of a set holding it.
pub async fn table_columns(
    exec: &mut Exec<'_>,
    db: &str,
    table: &str,
) -> Result<Vec<String>, ProxyError> {
    let set = crate::placement::set_holding(exec.conns.snap, exec.conns.db, Some(db), table)?;
    let q = format!(
        "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = _utf8mb4 X'{}' \
         AND TABLE_NAME = _utf8mb4 X'{}' ORDER BY ORDINAL_POSITION",
        hex(db),
        hex(table)
    );
    let st = super::fetch::start(exec, std::slice::from_ref(&set), &q).await?;
    let mut budget = Budget::new("a table's column list");
    let (_, rows, _) = super::fetch::finish(exec, st, &mut budget).await?;
    Ok(rows
        .into_iter()
        .filter_map(|r| r.into_iter().next().flatten())
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .collect())
}

fn hex(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02X}")).collect()
}
