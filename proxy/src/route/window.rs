//! Window functions (`RANK() OVER (...)`, `SUM(x) OVER (...)`, `ROW_NUMBER()`,
//! `LAG`, ...) over the rows of several sets. Each set computes them over its
//! own rows only; that is MariaDB's answer exactly when every partition lives
//! on one set: every `OVER (PARTITION BY ...)` of the statement names the shard
//! key of a sharded table of its `FROM` (not null-extended by an outer join),
//! so rows of one partition share a shard-key value and a set ([`per_set`]).
//! Such a read runs on every set, its rows concatenated or merged by the
//! outer `ORDER BY` / `LIMIT` as any scatter's. Any other window over several
//! sets would give other numbers than MariaDB run per set (two rank-1 rows,
//! running sums that restart): over one table, its rows are materialized and
//! MariaDB computes the windows on one set (`crate::derived::windows`); over
//! a join it is refused with 1235. Over one set (a shard-key point read, a
//! single or broadcast table) it runs there as it is.

use std::ops::ControlFlow;

use sqlparser::ast::{
    Expr, JoinOperator, Query, Select, SelectItem, SetExpr, TableFactor, Visit, Visitor, WindowType,
};

use super::analyze::split_name;
use crate::error::ProxyError;

/// Whether `q` (its subqueries included) calls a window function.
pub fn has_window(q: &Query) -> bool {
    sqlparser::ast::visit_expressions(q, |e| match e {
        Expr::Function(f) if f.over.is_some() => ControlFlow::Break(()),
        _ => ControlFlow::Continue(()),
    })
    .is_break()
}

/// Whether a window function appears in one block's select list.
pub fn has_window_in(sel: &sqlparser::ast::Select) -> bool {
    sqlparser::ast::visit_expressions(&sel.projection, |e| match e {
        Expr::Function(f) if f.over.is_some() => ControlFlow::Break(()),
        _ => ControlFlow::Continue(()),
    })
    .is_break()
}

/// The refusal of a window function over rows of several sets.
pub fn refused() -> ProxyError {
    ProxyError::NotSupported(
        "window functions over rows of several sets unless every OVER (PARTITION BY ...) \
         names the shard key of a sharded table or the FROM is one table (each set would \
         compute them over its own rows)"
            .into(),
    )
}

/// A table of the statement's `FROM`: its database (if written), name, alias,
/// and whether an outer join null-extends it.
struct FromTable {
    db: Option<String>,
    name: String,
    alias: Option<String>,
    nullable: bool,
}

/// Whether every window function of `q` can run on each set as it is:
/// `q` is one plain `SELECT` (no GROUP BY, aggregates, DISTINCT, HAVING or
/// named windows), its window functions are in its own select list or ORDER
/// BY (none in a subquery or derived table), and each one's PARTITION BY
/// names the shard key of one of its `FROM` tables that no outer join
/// null-extends. `shard_key(db, table)` gives a table's shard key column when
/// it is sharded. `aggregates`: the select list or HAVING aggregates.
pub fn per_set(
    q: &Query,
    aggregates: bool,
    shard_key: impl Fn(Option<&str>, &str) -> Option<String>,
) -> bool {
    let SetExpr::Select(sel) = q.body.as_ref() else {
        return false;
    };
    let plain = !aggregates
        && sel.distinct.is_none()
        && sel.having.is_none()
        && sel.named_window.is_empty()
        && matches!(&sel.group_by, sqlparser::ast::GroupByExpr::Expressions(e, _) if e.is_empty());
    if !plain {
        return false;
    }
    let tables = from_tables(sel);
    let aliases: Vec<String> = sel
        .projection
        .iter()
        .filter_map(|p| match p {
            SelectItem::ExprWithAlias { alias, .. } => Some(alias.value.to_ascii_lowercase()),
            _ => None,
        })
        .collect();
    let mut check = Windows {
        depth: 0,
        ok: true,
        key_of: |e: &Expr| partition_key(e, &tables, &aliases, &shard_key),
    };
    let _ = q.visit(&mut check);
    check.ok
}

/// Checks every window function met: at the top query level, with a
/// partition key `key_of` accepts.
struct Windows<F> {
    depth: usize,
    ok: bool,
    key_of: F,
}

impl<F: Fn(&Expr) -> bool> Visitor for Windows<F> {
    type Break = ();
    fn pre_visit_query(&mut self, _q: &Query) -> ControlFlow<()> {
        self.depth += 1;
        ControlFlow::Continue(())
    }
    fn post_visit_query(&mut self, _q: &Query) -> ControlFlow<()> {
        self.depth -= 1;
        ControlFlow::Continue(())
    }
    fn pre_visit_expr(&mut self, e: &Expr) -> ControlFlow<()> {
        let Expr::Function(f) = e else {
            return ControlFlow::Continue(());
        };
        let fits = match &f.over {
            None => return ControlFlow::Continue(()),
            Some(WindowType::NamedWindow(_)) => false,
            Some(WindowType::WindowSpec(spec)) => {
                self.depth == 1
                    && spec.window_name.is_none()
                    && spec.partition_by.iter().any(|p| (self.key_of)(p))
            }
        };
        if fits {
            ControlFlow::Continue(())
        } else {
            self.ok = false;
            ControlFlow::Break(())
        }
    }
}

/// The tables of `sel`'s FROM (derived tables and functions are not tables:
/// they never match a partition key).
fn from_tables(sel: &Select) -> Vec<FromTable> {
    let mut out = Vec::new();
    for twj in &sel.from {
        let first = out.len();
        push_table(&twj.relation, &mut out);
        for j in &twj.joins {
            let before = out.len();
            push_table(&j.relation, &mut out);
            let (left, right) = match &j.join_operator {
                JoinOperator::Left(_) | JoinOperator::LeftOuter(_) => (false, true),
                JoinOperator::Right(_) | JoinOperator::RightOuter(_) => (true, false),
                JoinOperator::Join(_)
                | JoinOperator::Inner(_)
                | JoinOperator::CrossJoin(_)
                | JoinOperator::StraightJoin(_) => (false, false),
                _ => (true, true),
            };
            for t in &mut out[first..before] {
                t.nullable |= left;
            }
            for t in &mut out[before..] {
                t.nullable |= right;
            }
        }
    }
    out
}

fn push_table(f: &TableFactor, out: &mut Vec<FromTable>) {
    match f {
        TableFactor::Table { name, alias, .. } => {
            let (db, name) = split_name(name);
            out.push(FromTable {
                db,
                name,
                alias: alias.as_ref().map(|a| a.name.value.clone()),
                nullable: false,
            });
        }
        TableFactor::NestedJoin {
            table_with_joins, ..
        } => {
            // Tables inside parentheses: counted, but an outer join in there
            // may null-extend any of them.
            let mut inner = Vec::new();
            push_table(&table_with_joins.relation, &mut inner);
            for j in &table_with_joins.joins {
                push_table(&j.relation, &mut inner);
            }
            let outer = !table_with_joins.joins.iter().all(|j| {
                matches!(
                    j.join_operator,
                    JoinOperator::Join(_)
                        | JoinOperator::Inner(_)
                        | JoinOperator::CrossJoin(_)
                        | JoinOperator::StraightJoin(_)
                )
            });
            for mut t in inner {
                t.nullable |= outer;
                out.push(t);
            }
        }
        _ => {}
    }
}

/// Whether partition expression `e` is the shard-key column of a table of
/// `tables` no outer join null-extends. An unqualified name must not also be
/// a select-list alias (which it could mean instead).
fn partition_key(
    e: &Expr,
    tables: &[FromTable],
    aliases: &[String],
    shard_key: &impl Fn(Option<&str>, &str) -> Option<String>,
) -> bool {
    let is_key = |t: &FromTable, col: &str| {
        !t.nullable
            && shard_key(t.db.as_deref(), &t.name).is_some_and(|k| k.eq_ignore_ascii_case(col))
    };
    match e {
        Expr::Nested(inner) => partition_key(inner, tables, aliases, shard_key),
        Expr::Identifier(col) => {
            !aliases.contains(&col.value.to_ascii_lowercase())
                && tables.iter().any(|t| is_key(t, &col.value))
        }
        Expr::CompoundIdentifier(parts) => {
            let names: Vec<&str> = parts.iter().map(|p| p.value.as_str()).collect();
            let (db, table, col) = match names.as_slice() {
                [t, c] => (None, *t, *c),
                [d, t, c] => (Some(*d), *t, *c),
                _ => return false,
            };
            tables.iter().any(|t| {
                let named = match (&t.alias, db) {
                    (Some(a), None) => a.eq_ignore_ascii_case(table),
                    (Some(_), Some(_)) => false,
                    (None, None) => t.name == table,
                    (None, Some(d)) => t.name == table && t.db.as_deref() == Some(d),
                };
                named && is_key(t, col)
            })
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::{has_window, per_set};
    use sqlparser::ast::Statement;
    use sqlparser::dialect::MySqlDialect;
    use sqlparser::parser::Parser;

    fn windowed(sql: &str) -> bool {
        match Parser::parse_sql(&MySqlDialect {}, sql).unwrap().remove(0) {
            Statement::Query(q) => has_window(&q),
            _ => panic!("not a query"),
        }
    }

    #[test]
    fn finds_over_clauses_anywhere() {
        assert!(windowed(
            "SELECT id, RANK() OVER (ORDER BY s DESC) AS r FROM t"
        ));
        assert!(windowed(
            "SELECT id FROM t WHERE id IN (SELECT ROW_NUMBER() OVER () FROM u)"
        ));
        assert!(windowed("SELECT SUM(s) OVER (PARTITION BY k) FROM t"));
        assert!(!windowed("SELECT COUNT(*), SUM(s) FROM t GROUP BY k"));
    }

    /// `per_set` with `t` and `o` sharded by `user_id`, `b` broadcast.
    fn partitioned(sql: &str) -> bool {
        let Statement::Query(q) = Parser::parse_sql(&MySqlDialect {}, sql).unwrap().remove(0)
        else {
            panic!("not a query")
        };
        let aggregates = match q.body.as_ref() {
            sqlparser::ast::SetExpr::Select(s) => crate::route::aggs::outer_aggregates(s),
            _ => false,
        };
        per_set(&q, aggregates, |_, t| {
            matches!(t, "t" | "o").then(|| "user_id".to_string())
        })
    }

    #[test]
    fn partitions_by_the_shard_key_run_per_set() {
        for sql in [
            "SELECT id, ROW_NUMBER() OVER (PARTITION BY user_id ORDER BY created) FROM t",
            "SELECT id, RANK() OVER (PARTITION BY t.user_id, k ORDER BY s DESC) AS r FROM t ORDER BY r LIMIT 5",
            "SELECT x.id, SUM(x.s) OVER (PARTITION BY `x`.`USER_ID`) FROM t AS x WHERE x.s > 1",
            "SELECT t.id, LAG(o.n) OVER (PARTITION BY o.user_id ORDER BY o.n) FROM t JOIN o ON o.user_id = t.user_id",
            "SELECT t.id, COUNT(*) OVER (PARTITION BY t.user_id) FROM t LEFT JOIN o ON o.user_id = t.user_id",
            "SELECT id FROM t ORDER BY ROW_NUMBER() OVER (PARTITION BY user_id ORDER BY id), id",
        ] {
            assert!(partitioned(sql), "{sql}");
        }
        for sql in [
            "SELECT id, ROW_NUMBER() OVER (ORDER BY created) FROM t",
            "SELECT id, ROW_NUMBER() OVER () FROM t",
            "SELECT id, RANK() OVER (PARTITION BY k) FROM t",
            "SELECT id, RANK() OVER (PARTITION BY user_id + 0) FROM t",
            "SELECT id, RANK() OVER (PARTITION BY user_id), RANK() OVER (ORDER BY id) FROM t",
            "SELECT id, RANK() OVER w FROM t WINDOW w AS (PARTITION BY user_id)",
            "SELECT id, k AS user_id, RANK() OVER (PARTITION BY user_id) FROM t",
            "SELECT b.id, RANK() OVER (PARTITION BY b.user_id) FROM t JOIN b ON b.id = t.id",
            "SELECT t.id, COUNT(*) OVER (PARTITION BY o.user_id) FROM t LEFT JOIN o ON o.user_id = t.user_id",
            "SELECT t.id, COUNT(*) OVER (PARTITION BY t.user_id) FROM t RIGHT JOIN o ON o.user_id = t.user_id",
            "SELECT user_id, SUM(s), RANK() OVER (PARTITION BY user_id) FROM t GROUP BY user_id",
            "SELECT DISTINCT RANK() OVER (PARTITION BY user_id ORDER BY s) FROM t",
            "SELECT id FROM (SELECT id, ROW_NUMBER() OVER (PARTITION BY user_id) AS n FROM t) d",
            "SELECT id FROM t WHERE id IN (SELECT ROW_NUMBER() OVER (PARTITION BY user_id) FROM o)",
        ] {
            assert!(!partitioned(sql), "{sql}");
        }
    }
}
