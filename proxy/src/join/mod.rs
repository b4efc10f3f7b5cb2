//! Cross-set joins and subqueries: statements whose tables are not co-located,
//! run by the gateway as a few routed single-table queries whose rows it
//! combines (Vitess's vtgate join / hash join / semi-join primitives are the
//! model).
//!
//! - [`plan`] splits a two-table join into per-side queries ([`tables`]
//!   resolves column references; [`two_sided`] is the plan's data), [`cost`]
//!   picks the operator; [`source`]
//!   locates AST nodes in the client's text.
//! - [`subquery`] plans `IN` / `NOT IN` / `EXISTS` / `NOT EXISTS` over another
//!   table's rows: their values are read first and substituted; [`correlation`]
//!   is the correlated subquery block it and [`correlated`] read.
//! - [`fetch`] runs one routed query and collects its rows under the
//!   [`Budget`]; [`key`] compares join keys as MariaDB does and writes them as
//!   literals.
//! - [`lookup`] and [`hash`] are the two join operators; [`output`] projects,
//!   sorts, applies OFFSET/LIMIT and writes the joined rows; [`run`] drives a
//!   [`JoinPlan`].
//! - [`json_key`]: a `JSON_EXTRACT(...)` join key compared unquoted, as
//!   MariaDB compares it.
//! - [`collated`]: a subquery's string values written back in its column's
//!   collation, as an implicit column; [`key_collation`]: string join keys of
//!   two collations compared in the one MariaDB aggregates (or its 1267).
//! - [`group`] plans GROUP BY / aggregates / DISTINCT / HAVING over the joined
//!   rows; [`grouping`] folds them with the merge's aggregator.

pub mod capture;
pub mod collated;
pub mod correlated;
pub mod correlation;
pub mod cost;
pub mod cross_set;
pub mod fetch;
pub mod group;
pub mod grouping;
pub mod hash;
pub mod json_key;
pub mod key;
pub mod key_collation;
pub mod lookup;
pub mod nulled;
pub mod output;
pub mod plan;
pub mod plan_exprs;
pub mod quantified;
pub mod run;
pub mod selected;
pub mod source;
pub mod subquery;
pub mod tables;
pub mod two_sided;
pub mod union_reads;

use std::sync::OnceLock;

use crate::error::ProxyError;

pub use crate::config::JoinConfig;
pub use cross_set::CrossSetPlanner;

static CONFIG: OnceLock<JoinConfig> = OnceLock::new();

/// Sets the join settings once at start (later calls are ignored).
pub fn configure(cfg: JoinConfig) {
    let _ = CONFIG.set(cfg);
}

pub fn config() -> JoinConfig {
    CONFIG.get().cloned().unwrap_or_default()
}

/// What the gateway runs for a statement it cannot push down whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JoinPlan {
    /// Two tables joined by the gateway.
    Join(Box<plan::TwoSided>),
    /// Subqueries read first, their values substituted, the rest routed.
    Subqueries(Box<subquery::SubqueryPlan>),
    /// Derived tables over rows of several sets materialized first
    /// ([`crate::derived`]).
    Materialized(Box<crate::derived::DerivedPlan>),
}

impl JoinPlan {
    /// The single-table queries the gateway sends for this plan, whole (a
    /// lookup join's inner side without its batches' `IN (...)`; the statement
    /// a subquery's values are written into is not one of them): what
    /// `EXPLAIN` asks the sets about.
    pub fn side_queries(&self) -> Vec<String> {
        match self {
            JoinPlan::Join(j) => j.sides.iter().map(|s| s.sql(None)).collect(),
            JoinPlan::Subqueries(s) => s.subs.iter().map(|x| x.values_sql.clone()).collect(),
            JoinPlan::Materialized(m) => m.side_queries(),
        }
    }

    /// The plan as text lines (each step: operator, sets, SQL, join keys), for
    /// the gateway's plan statement.
    pub fn describe(&self) -> Vec<String> {
        match self {
            JoinPlan::Join(j) => j.describe(),
            JoinPlan::Subqueries(s) => s.describe(),
            JoinPlan::Materialized(m) => m.describe(),
        }
    }
}

/// Bytes of rows held for one statement, against the configured limit.
#[derive(Debug)]
pub struct Budget {
    pub used: usize,
    pub limit: usize,
    /// The operation named in the error.
    pub what: String,
}

impl Budget {
    pub fn new(what: impl Into<String>) -> Self {
        Self {
            used: 0,
            limit: config().memory_limit,
            what: what.into(),
        }
    }

    /// Counts a held row; fails beyond the limit.
    pub fn hold(&mut self, row: &[Option<Vec<u8>>]) -> Result<(), ProxyError> {
        self.used += row_bytes(row);
        if self.used > self.limit {
            return Err(ProxyError::JoinMemory {
                what: self.what.clone(),
                limit: self.limit,
            });
        }
        Ok(())
    }

    pub fn release(&mut self, row: &[Option<Vec<u8>>]) {
        self.used = self.used.saturating_sub(row_bytes(row));
    }
}

/// What a row costs in memory (its bytes plus a cell's overhead).
pub fn row_bytes(row: &[Option<Vec<u8>>]) -> usize {
    row.iter()
        .map(|c| c.as_ref().map_or(0, Vec::len) + 24)
        .sum::<usize>()
        + 24
}

pub(crate) fn unsupported(what: impl Into<String>) -> ProxyError {
    ProxyError::NotSupported(what.into())
}

/// Where the router refuses a SELECT (`why`) because its tables are not
/// co-located: the gateway's own plan, when it has one — subqueries read
/// first, or a two-table join — else the router's refusal.
pub fn take_over(
    snap: &topo::ClusterSnapshot,
    db: Option<&str>,
    known: &[crate::route::plan::KnownTable],
    sql: &str,
    tokens: &[crate::sql::lexer::Token],
    q: &sqlparser::ast::Query,
    why: String,
) -> Result<crate::route::Plan, ProxyError> {
    use crate::route::{Merge, Plan, Target};
    let sqlparser::ast::SetExpr::Select(sel) = q.body.as_ref() else {
        return Err(ProxyError::NotSupported(why));
    };
    let all_sets: Vec<String> = snap.sets.keys().cloned().collect();
    let wrap = |p: JoinPlan| Plan {
        target: Target::Sets(all_sets.clone()),
        merge: Merge::Join(Box::new(p)),
    };
    if let Some(p) = subqueries_first(snap, db, sql, tokens, q) {
        return Ok(p);
    }
    let tables = sel.from.len() + sel.from.iter().map(|f| f.joins.len()).sum::<usize>();
    if tables == 2 {
        let j = plan::plan_join(snap, db, known, sql, tokens, q, sel)?;
        return Ok(wrap(JoinPlan::Join(Box::new(j))));
    }
    if tables > 2 {
        return Err(unsupported(format!(
            "a join of more than two tables across sets ({why})"
        )));
    }
    Err(ProxyError::NotSupported(why))
}

/// The plan reading the subqueries of `q`'s outer block first (their values
/// written into the statement, which is then routed again), when it has
/// subqueries the gateway can read so.
pub fn subqueries_first(
    snap: &topo::ClusterSnapshot,
    db: Option<&str>,
    sql: &str,
    tokens: &[crate::sql::lexer::Token],
    q: &sqlparser::ast::Query,
) -> Option<crate::route::Plan> {
    use crate::route::{Merge, Plan, Target};
    let sqlparser::ast::SetExpr::Select(sel) = q.body.as_ref() else {
        return None;
    };
    let mut s = subquery::plan(sql, tokens, sel)?;
    if let Some(c) = &mut s.columns {
        let tables = crate::route::analyze::analyze_node(q).tables;
        c.sets = sets_holding_all(snap, db, &tables);
    }
    Some(Plan {
        target: Target::Sets(snap.sets.keys().cloned().collect()),
        merge: Merge::Join(Box::new(JoinPlan::Subqueries(Box::new(s)))),
    })
}

/// A set holding every one of `tables` (to prepare a statement over them for
/// its metadata), when there is one.
pub fn set_holding_all(
    snap: &topo::ClusterSnapshot,
    session_db: Option<&str>,
    tables: &[crate::route::analyze::TableRef],
) -> Option<String> {
    holding(snap, session_db, tables)?.into_iter().next()
}

/// The sets holding every one of `tables` (all of them for no table).
pub fn sets_holding_all(
    snap: &topo::ClusterSnapshot,
    session_db: Option<&str>,
    tables: &[crate::route::analyze::TableRef],
) -> Vec<String> {
    if tables.is_empty() {
        return snap.sets.keys().cloned().collect();
    }
    holding(snap, session_db, tables).unwrap_or_default()
}

fn holding(
    snap: &topo::ClusterSnapshot,
    session_db: Option<&str>,
    tables: &[crate::route::analyze::TableRef],
) -> Option<Vec<String>> {
    let mut common: Option<Vec<String>> = None;
    for t in tables {
        let db = t.db.as_deref().or(session_db)?;
        if crate::route::plan::is_system_schema(db) {
            continue;
        }
        let rec = snap.db(db)?;
        let sets = match snap.table(db, &t.name).map(|r| &r.kind) {
            Some(topo::TableKind::Sharded { .. } | topo::TableKind::Broadcast) => rec.sets(),
            _ => vec![rec.home_set.clone()],
        };
        common = Some(match common {
            None => sets,
            Some(c) => c.into_iter().filter(|s| sets.contains(s)).collect(),
        });
    }
    common
}

/// Whether `sql` reads tables that no one set holds together (a join the
/// gateway runs itself).
pub fn spans_sets(snap: &topo::ClusterSnapshot, session_db: Option<&str>, sql: &str) -> bool {
    let Ok(stmt) = crate::sql::parse_one(sql) else {
        return false;
    };
    let a = crate::route::analyze::analyze(&stmt);
    a.tables.len() > 1 && set_holding_all(snap, session_db, &a.tables).is_none()
}

/// Prepared-statement metadata for a statement no set can prepare: its
/// parameters as MariaDB describes untyped ones, no column definitions (each
/// execute's result carries them).
pub fn prepared_without_columns(params: usize) -> crate::front::Prepared {
    use mysql_common::constants::{ColumnFlags, ColumnType};
    let param = mysql_common::packets::Column::new(ColumnType::MYSQL_TYPE_VAR_STRING)
        .with_name(b"?")
        .with_character_set(63)
        .with_flags(ColumnFlags::BINARY_FLAG);
    crate::front::Prepared {
        columns: Vec::new(),
        params: vec![param; params],
        warnings: 0,
    }
}
