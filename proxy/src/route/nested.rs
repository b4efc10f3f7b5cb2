//! Whether a read whose one sharded table has rows on several sets can run set by set
//! (each set answers over its own rows; the gateway concatenates or merges by the outer
//! query's clauses). That is exact only when every row the outer query sees comes from
//! one set's rows of that table, and no nested query block computes over rows of
//! several sets:
//!
//! - `SELECT * FROM (SELECT g, COUNT(*) c FROM t GROUP BY g) x` run set by set gives each
//!   set's counts; so would `DISTINCT`, `LIMIT`, `HAVING` and windows in a derived table.
//! - `SELECT (SELECT COUNT(*) FROM t)` or `SELECT k FROM b WHERE k IN (SELECT g FROM t)`
//!   (`b` broadcast): the outer rows are not the sharded table's, so every set answers
//!   them, each with its own part of the subquery.
//!
//! A derived table (or CTE) grouped by the shard key is exact: each group's rows live on
//! one set. A derived table or CTE of the outer `FROM` that is not ([`inexact`]) is
//! materialized by the gateway ([`materialized`], `crate::derived`); everything else
//! (scalar and `IN` subqueries under rows that are not the table's own) is refused
//! (1235) rather than answered wrongly. Statements with several sharded references are
//! decided by `colocate` / `join` instead (their derived blocks materialized first).

use sqlparser::ast::{
    Expr, GroupByExpr, ObjectName, Query, Select, SetExpr, TableFactor, TableWithJoins, Visit,
};

use super::analyze::{analyze_node, split_name, TableRef};
use crate::error::ProxyError;

/// The one sharded table reference of a statement and its shard-key column.
pub struct Sharded<'a> {
    pub tref: &'a TableRef,
    pub key: &'a str,
}

impl Sharded<'_> {
    fn is(&self, name: &ObjectName) -> bool {
        let (db, t) = split_name(name);
        t == self.tref.name && db == self.tref.db
    }

    /// Whether `node` reads the sharded table anywhere inside.
    fn inside<T: Visit>(&self, node: &T) -> bool {
        analyze_node(node)
            .tables
            .iter()
            .any(|t| t.name == self.tref.name && t.db == self.tref.db)
    }

    /// A bare or qualified column naming the shard key of this table.
    fn is_key(&self, e: &Expr) -> bool {
        match e {
            Expr::Identifier(i) => i.value.eq_ignore_ascii_case(self.key),
            Expr::CompoundIdentifier(parts) => match parts.as_slice() {
                [.., q, c] => {
                    c.value.eq_ignore_ascii_case(self.key)
                        && (q.value == self.tref.name
                            || self.tref.alias.as_deref() == Some(q.value.as_str()))
                }
                _ => false,
            },
            Expr::Nested(e) => self.is_key(e),
            _ => false,
        }
    }
}

fn refused(what: &str) -> ProxyError {
    ProxyError::NotSupported(format!(
        "{what} over a sharded table with rows on several sets (each set would answer over its own rows only)"
    ))
}

/// Checks that the query `q` (the outer one) can run set by set.
pub fn check(q: &Query, sharded: &Sharded<'_>) -> Result<(), ProxyError> {
    let SetExpr::Select(sel) = q.body.as_ref() else {
        return Ok(()); // unions are planned branch by branch
    };
    if from_chain(&sel.from, q, sharded)? {
        Ok(())
    } else {
        Err(refused("a subquery reading"))
    }
}

/// A derived table or CTE of the outer query that computes over rows of several
/// sets (what [`check`] refuses): the gateway materializes its rows
/// (`crate::derived`).
pub enum Inexact<'q> {
    /// A derived table's subquery.
    Derived(&'q Query),
    /// A CTE of the outer query, by its position in the `WITH` list.
    Cte(usize),
}

/// The derived tables and CTEs reached from the outer `FROM` (through joins and
/// nested joins) that read the sharded table and are not exact set by set;
/// empty when none (the refusal is about something else: a scalar or `IN`
/// subquery, a union at the top).
pub fn inexact<'q>(q: &'q Query, sharded: &Sharded<'_>) -> Vec<Inexact<'q>> {
    let mut out = Vec::new();
    if let SetExpr::Select(sel) = q.body.as_ref() {
        for twj in &sel.from {
            let factors =
                std::iter::once(&twj.relation).chain(twj.joins.iter().map(|j| &j.relation));
            for tf in factors {
                inexact_factor(tf, q, sharded, &mut out);
            }
        }
    }
    out
}

fn inexact_factor<'q>(
    tf: &'q TableFactor,
    scope: &'q Query,
    sharded: &Sharded<'_>,
    out: &mut Vec<Inexact<'q>>,
) {
    match tf {
        TableFactor::Table { name, .. } if !sharded.is(name) => {
            let (None, n) = split_name(name) else {
                return;
            };
            let Some(with) = &scope.with else { return };
            let Some(at) = with.cte_tables.iter().position(|c| c.alias.name.value == n) else {
                return;
            };
            let c = &with.cte_tables[at];
            let seen = out.iter().any(|b| matches!(b, Inexact::Cte(i) if *i == at));
            if !seen && sharded.inside(&*c.query) && derived(&c.query, sharded).is_err() {
                out.push(Inexact::Cte(at));
            }
        }
        TableFactor::Derived { subquery, .. }
            if sharded.inside(&**subquery) && derived(subquery, sharded).is_err() =>
        {
            out.push(Inexact::Derived(subquery));
        }
        TableFactor::NestedJoin {
            table_with_joins, ..
        } => {
            let twj = &**table_with_joins;
            let factors =
                std::iter::once(&twj.relation).chain(twj.joins.iter().map(|j| &j.relation));
            for tf in factors {
                inexact_factor(tf, scope, sharded, out);
            }
        }
        _ => {}
    }
}

/// The plan materializing the derived tables and CTEs of `q` that compute over
/// rows of several sets of its sharded tables (`crate::derived`, through
/// [`super::CrossSet`]); `None` when
/// there is none (or one cannot be located in the text).
pub(super) fn materialized(
    ctx: &super::place::Ctx<'_>,
    sql: &str,
    tokens: &[crate::sql::lexer::Token],
    q: &Query,
    tables: &[TableRef],
) -> Option<super::Plan> {
    let refs = super::place::sharded_refs(ctx, tables);
    let sharded: Vec<Sharded<'_>> = refs
        .iter()
        .map(|&(tref, key)| Sharded { tref, key })
        .collect();
    let (tref, _) = refs.first()?;
    let sets = match ctx.place(tref).ok()? {
        super::place::Placement::Sharded { map, .. } => super::place::all_sets(map),
        _ => return None,
    };
    let m = ctx.cross.materialized(sql, tokens, q, &sharded, &sets)?;
    *ctx.dep.borrow_mut() = super::planned::Dep::Many;
    Some(super::Plan {
        target: super::Target::Sets(sets),
        merge: super::Merge::Join(m),
    })
}

/// Whether the sharded table is reached from `from` through table references and
/// exact derived tables (each checked on the way); `scope` holds the CTEs in reach.
fn from_chain(
    from: &[TableWithJoins],
    scope: &Query,
    sharded: &Sharded<'_>,
) -> Result<bool, ProxyError> {
    let mut found = false;
    for twj in from {
        let factors = std::iter::once(&twj.relation).chain(twj.joins.iter().map(|j| &j.relation));
        for tf in factors {
            found |= factor(tf, scope, sharded)?;
        }
    }
    Ok(found)
}

fn factor(tf: &TableFactor, scope: &Query, sharded: &Sharded<'_>) -> Result<bool, ProxyError> {
    match tf {
        TableFactor::Table { name, .. } if sharded.is(name) => Ok(true),
        TableFactor::Table { name, .. } => {
            // A CTE of the query in reach is a derived table.
            let (None, n) = split_name(name) else {
                return Ok(false);
            };
            let cte = scope
                .with
                .as_ref()
                .and_then(|w| w.cte_tables.iter().find(|c| c.alias.name.value == n));
            match cte {
                Some(c) if sharded.inside(&*c.query) => derived(&c.query, sharded),
                _ => Ok(false),
            }
        }
        TableFactor::Derived { subquery, .. } if sharded.inside(&**subquery) => {
            derived(subquery, sharded)
        }
        TableFactor::NestedJoin {
            table_with_joins, ..
        } => from_chain(std::slice::from_ref(&**table_with_joins), scope, sharded),
        other if sharded.inside(other) => Err(refused("this table expression")),
        _ => Ok(false),
    }
}

/// A derived table reading the sharded table: exact, and its rows the table's own.
fn derived(q: &Query, sharded: &Sharded<'_>) -> Result<bool, ProxyError> {
    let SetExpr::Select(sel) = q.body.as_ref() else {
        return Err(refused("a UNION in a derived table"));
    };
    if q.limit_clause.is_some() || q.fetch.is_some() {
        return Err(refused("LIMIT in a derived table"));
    }
    exact(sel, sharded)?;
    if from_chain(&sel.from, q, sharded)? {
        Ok(true)
    } else {
        Err(refused("a subquery reading"))
    }
}

/// A derived block's own clauses computing over several rows.
fn exact(sel: &Select, sharded: &Sharded<'_>) -> Result<(), ProxyError> {
    if sel.distinct.is_some() {
        return Err(refused("DISTINCT in a derived table"));
    }
    if super::window::has_window_in(sel) {
        return Err(refused("a window function in a derived table"));
    }
    let by_key = match &sel.group_by {
        GroupByExpr::Expressions(exprs, modifiers) => {
            if !exprs.is_empty() && !modifiers.is_empty() {
                return Err(refused("GROUP BY ... WITH ROLLUP in a derived table"));
            }
            if exprs.is_empty() {
                None
            } else {
                Some(exprs.iter().any(|e| sharded.is_key(e)))
            }
        }
        GroupByExpr::All(_) => Some(false),
    };
    let aggregates = sel.having.is_some()
        || sel
            .projection
            .iter()
            .any(|item| analyze_node(item).aggregates);
    match by_key {
        Some(true) => Ok(()),
        Some(false) => Err(refused("GROUP BY without the shard key in a derived table")),
        None if aggregates => Err(refused("an aggregate in a derived table")),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlparser::ast::Statement;
    use sqlparser::dialect::MySqlDialect;
    use sqlparser::parser::Parser;

    fn verdict(sql: &str) -> bool {
        let stmt = Parser::parse_sql(&MySqlDialect {}, sql).unwrap().remove(0);
        let Statement::Query(q) = stmt else { panic!() };
        let tref = TableRef {
            db: None,
            name: "t".into(),
            alias: None,
            pos: 0,
        };
        check(
            &q,
            &Sharded {
                tref: &tref,
                key: "id",
            },
        )
        .is_ok()
    }

    #[test]
    fn rows_of_one_set_each_pass() {
        for sql in [
            "SELECT g, COUNT(*) FROM t GROUP BY g",
            "SELECT * FROM t JOIN b ON b.k = t.g WHERE t.id > 3",
            "SELECT * FROM (SELECT id, g FROM t WHERE id < 10) x ORDER BY id",
            "SELECT * FROM (SELECT id, COUNT(*) c FROM t GROUP BY id) x ORDER BY c LIMIT 3",
            "SELECT * FROM (SELECT t.id, MAX(g) m FROM t GROUP BY t.id HAVING m > 1) x",
            "SELECT * FROM ((SELECT id FROM t) x JOIN b ON b.k = x.id)",
            "WITH x AS (SELECT id, g FROM t) SELECT * FROM x WHERE g = 1",
            "SELECT t.id, (SELECT MAX(k) FROM b) FROM t",
            "SELECT * FROM t WHERE g IN (SELECT k FROM b GROUP BY k)",
        ] {
            assert!(verdict(sql), "{sql}");
        }
    }

    #[test]
    fn computations_over_several_sets_are_refused() {
        for sql in [
            "SELECT * FROM (SELECT g, COUNT(*) c FROM t GROUP BY g) x ORDER BY c",
            "SELECT COUNT(*) FROM (SELECT id FROM t ORDER BY id LIMIT 5) x",
            "SELECT * FROM (SELECT DISTINCT g FROM t) x",
            "SELECT * FROM (SELECT MAX(id) m FROM t) x",
            "SELECT * FROM (SELECT id, ROW_NUMBER() OVER (ORDER BY id) r FROM t) x",
            "SELECT * FROM (SELECT g, id FROM t GROUP BY g, id WITH ROLLUP) x",
            "SELECT (SELECT COUNT(*) FROM t) AS total",
            "SELECT k FROM b WHERE k IN (SELECT g FROM t)",
            "SELECT * FROM (SELECT g FROM t UNION ALL SELECT k FROM b) x",
            "WITH x AS (SELECT g, COUNT(*) c FROM t GROUP BY g) SELECT * FROM x",
            "SELECT * FROM (SELECT g, b.k FROM t JOIN b GROUP BY b.id) x",
        ] {
            assert!(!verdict(sql), "{sql}");
        }
    }
}
