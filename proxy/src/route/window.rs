//! Window functions (`RANK() OVER (...)`, `SUM(x) OVER (...)`, `ROW_NUMBER()`,
//! `LAG`, ...) over the rows of several sets: each set would number, rank or sum
//! over its own rows only, and merging those answers gives other numbers than
//! MariaDB computes over all rows (two rank-1 rows, running sums that restart).
//! Such a read is refused with 1235; over one set (a shard-key point read, a
//! single or broadcast table) it runs there as it is.

use std::ops::ControlFlow;

use sqlparser::ast::{Expr, Query};

use crate::error::ProxyError;

/// Whether `q` (its subqueries included) calls a window function.
pub fn has_window(q: &Query) -> bool {
    sqlparser::ast::visit_expressions(q, |e| match e {
        Expr::Function(f) if f.over.is_some() => ControlFlow::Break(()),
        _ => ControlFlow::Continue(()),
    })
    .is_break()
}

/// The refusal of a window function over rows of several sets.
pub fn refused() -> ProxyError {
    ProxyError::NotSupported(
        "window functions over rows of several sets (each set would compute them over its own rows)"
            .into(),
    )
}

#[cfg(test)]
mod tests {
    use super::has_window;
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
}
