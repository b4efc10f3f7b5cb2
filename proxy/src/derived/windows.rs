//! Window functions over rows of several sets whose partitions are not the
//! shard key's (`RANK() OVER (ORDER BY s)`, `SUM(x) OVER (PARTITION BY g ...)`,
//! `LAG(id) OVER (ORDER BY id)`): the rows of the statement's one table that its
//! `WHERE` keeps are materialized like a derived table (each set filters its
//! own, the gateway merges them: [`super::run`]), and the statement runs on one
//! set over them, where MariaDB computes the windows, grouping, `HAVING`,
//! `DISTINCT`, `ORDER BY` and `LIMIT` itself. `SELECT i FROM t AS x WHERE c
//! GROUP BY g ...` is answered as `SELECT i FROM (SELECT * FROM t AS x WHERE c)
//! AS x GROUP BY g ...`; the column definitions are MariaDB's for the client's
//! statement, as for any materialized derived table.
//!
//! Only a `FROM` of one table: joins, CTEs, locking reads, `INTO` and columns
//! written `db.table.column` stay refused (1235) by the caller.

use sqlparser::ast::{Query, SetExpr, Statement, TableFactor};

use super::{Block, DerivedPlan};
use crate::sql::lexer::Token;

/// Words that end a `FROM t [AS x] [WHERE ...]` at the statement's top level.
const AFTER_WHERE: &[&str] = &[
    "GROUP",
    "HAVING",
    "WINDOW",
    "ORDER",
    "LIMIT",
    "OFFSET",
    "FETCH",
    "FOR",
    "LOCK",
    "INTO",
    "PROCEDURE",
    "UNION",
    "EXCEPT",
    "INTERSECT",
];

/// The plan materializing the rows `q` reads from its one table (`sets`: the
/// sets answering it, the first of which reads the column definitions), when
/// `q` is one `SELECT` over one table and its `FROM ... WHERE ...` can be
/// located in the text; `None` otherwise.
pub fn plan(sql: &str, tokens: &[Token], q: &Query, sets: &[String]) -> Option<DerivedPlan> {
    if q.with.is_some() || !q.locks.is_empty() || q.for_clause.is_some() {
        return None;
    }
    let SetExpr::Select(sel) = q.body.as_ref() else {
        return None;
    };
    if sel.into.is_some() || sel.from.len() != 1 || !sel.from[0].joins.is_empty() {
        return None;
    }
    let TableFactor::Table {
        name, alias, args, ..
    } = &sel.from[0].relation
    else {
        return None;
    };
    if args.is_some() || alias.as_ref().is_some_and(|a| !a.columns.is_empty()) {
        return None;
    }
    // `db.t.c` would not name the materialized rows' column.
    let three_parts = sqlparser::ast::visit_expressions(q, |e| match e {
        sqlparser::ast::Expr::CompoundIdentifier(p) if p.len() > 2 => {
            std::ops::ControlFlow::Break(())
        }
        _ => std::ops::ControlFlow::Continue(()),
    });
    if three_parts.is_break() {
        return None;
    }
    let alias = match alias {
        Some(a) => a.name.value.clone(),
        None => crate::route::analyze::split_name(name).1,
    };
    let (start, end) = from_and_where(sql, tokens)?;
    let block = format!("SELECT * FROM {}", &sql[start..end]);
    // The block's FROM and WHERE must be the statement's, read again.
    let Ok(Statement::Query(b)) = crate::sql::parse_one(&block) else {
        return None;
    };
    let SetExpr::Select(bsel) = b.body.as_ref() else {
        return None;
    };
    if bsel.from != sel.from || bsel.selection != sel.selection {
        return None;
    }
    Some(DerivedPlan {
        sql: sql.to_string(),
        blocks: vec![Block {
            start,
            end,
            sql: block,
            alias: Some(alias),
        }],
        probe_set: sets.first()?.clone(),
    })
}

/// Byte range of the text after the statement's top-level `FROM` up to the
/// clause after its `WHERE` (or the statement's end).
fn from_and_where(sql: &str, tokens: &[Token]) -> Option<(usize, usize)> {
    let sig: Vec<&Token> = tokens.iter().filter(|t| !t.is_trivia()).collect();
    let mut depth = 0i64;
    let mut from = None;
    let mut last = None;
    for (i, t) in sig.iter().enumerate() {
        if t.is_punct(sql, "(") {
            depth += 1;
        } else if t.is_punct(sql, ")") {
            depth -= 1;
        }
        let top = depth == 0;
        match from {
            None if top && t.is_word(sql, "FROM") => from = Some(i),
            Some(_) if top && t.is_punct(sql, ";") => break,
            Some(_) if top && AFTER_WHERE.iter().any(|w| t.is_word(sql, w)) => break,
            Some(_) => last = Some(i),
            None => {}
        }
    }
    let first = sig.get(from? + 1)?;
    Some((first.start, sig[last?].end))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn located(sql: &str) -> Option<(String, String)> {
        let tokens = crate::sql::lexer::tokenize(sql).unwrap();
        let Statement::Query(q) = crate::sql::parse_one(sql).unwrap() else {
            panic!()
        };
        let p = plan(sql, &tokens, &q, &["s1".to_string()])?;
        let b = &p.blocks[0];
        Some((
            b.sql.clone(),
            format!(
                "{}[{}]{}",
                &sql[..b.start],
                b.alias.as_deref()?,
                &sql[b.end..]
            ),
        ))
    }

    #[test]
    fn from_and_where_become_the_block() {
        let (block, outer) =
            located("SELECT id, LAG(id) OVER (ORDER BY id) FROM a WHERE id < 5").unwrap();
        assert_eq!(block, "SELECT * FROM a WHERE id < 5");
        assert_eq!(outer, "SELECT id, LAG(id) OVER (ORDER BY id) FROM [a]");
        let (block, outer) = located(
            "SELECT g, RANK() OVER (ORDER BY SUM(s)) FROM db.t AS x WHERE (s > 1) AND EXTRACT(YEAR FROM d) = 2 GROUP BY g ORDER BY 2 LIMIT 3;",
        )
        .unwrap();
        assert_eq!(
            block,
            "SELECT * FROM db.t AS x WHERE (s > 1) AND EXTRACT(YEAR FROM d) = 2"
        );
        assert_eq!(
            outer,
            "SELECT g, RANK() OVER (ORDER BY SUM(s)) FROM [x] GROUP BY g ORDER BY 2 LIMIT 3;"
        );
        let (block, outer) =
            located("SELECT id, RANK() OVER w FROM t WINDOW w AS (ORDER BY s)").unwrap();
        assert_eq!(block, "SELECT * FROM t");
        assert_eq!(
            outer,
            "SELECT id, RANK() OVER w FROM [t] WINDOW w AS (ORDER BY s)"
        );
    }

    #[test]
    fn a_row_limit_stays_outside() {
        // MariaDB's FETCH FIRST cuts the rows after the windows are computed.
        let (block, outer) = located(
            "SELECT id, RANK() OVER (ORDER BY id) FROM t WHERE id > 0 FETCH FIRST 3 ROWS ONLY",
        )
        .unwrap();
        assert_eq!(block, "SELECT * FROM t WHERE id > 0");
        assert_eq!(
            outer,
            "SELECT id, RANK() OVER (ORDER BY id) FROM [t] FETCH FIRST 3 ROWS ONLY"
        );
    }

    #[test]
    fn other_shapes_are_not_planned() {
        for sql in [
            "SELECT t.id, RANK() OVER (ORDER BY o.n) FROM t JOIN o ON o.id = t.id",
            "SELECT id, RANK() OVER (ORDER BY id) FROM t, o",
            "WITH c AS (SELECT 1) SELECT id, RANK() OVER (ORDER BY id) FROM t",
            "SELECT id, RANK() OVER (ORDER BY id) FROM t FOR UPDATE",
            "SELECT n, RANK() OVER (ORDER BY n) FROM (SELECT id n FROM t) d",
            "SELECT db.t.id, RANK() OVER (ORDER BY id) FROM db.t",
        ] {
            assert!(located(sql).is_none(), "{sql}");
        }
    }
}
