//! Select items and ORDER BY keys over the null-extended table of an outer join
//! across sets. The gateway reads that table's items on its set and gives a
//! null-extended row NULL for every one of them — right for a column and for an
//! expression that is NULL whenever its columns are (`UPPER(name)`, `a + 1`), wrong
//! for one that is not: MariaDB computes `name IS NULL` as 1, `COALESCE(name,
//! 'x')` as 'x', `IF(...)`, `CASE ...` from the NULL columns. Such an expression
//! is refused (1235); a constant item is read from the preserved table's side.

use std::ops::ControlFlow;

use sqlparser::ast::{BinaryOperator, Expr};

/// Functions whose value for NULL arguments is not NULL (MariaDB's).
const NOT_NULL_FOR_NULL: &[&str] = &[
    "COALESCE",
    "IFNULL",
    "NVL",
    "NVL2",
    "IF",
    "ISNULL",
    "CONCAT_WS",
    "JSON_ARRAY",
    "JSON_OBJECT",
    "JSON_QUOTE",
    "QUOTE",
    "FIELD",
    "INTERVAL",
    "CHARSET",
    "COLLATION",
    "COERCIBILITY",
    "MAKE_SET",
    "DECODE_ORACLE",
    "DEFAULT",
];

/// Whether `e` may be non-NULL when the columns it reads are NULL.
pub fn null_sensitive(e: &Expr) -> bool {
    sqlparser::ast::visit_expressions(e, |x| {
        let hit = match x {
            Expr::IsNull(_)
            | Expr::IsNotNull(_)
            | Expr::IsTrue(_)
            | Expr::IsNotTrue(_)
            | Expr::IsFalse(_)
            | Expr::IsNotFalse(_)
            | Expr::IsUnknown(_)
            | Expr::IsNotUnknown(_)
            | Expr::IsDistinctFrom(..)
            | Expr::IsNotDistinctFrom(..)
            | Expr::Case { .. }
            | Expr::Exists { .. }
            | Expr::Subquery(_)
            | Expr::InSubquery { .. } => true,
            Expr::BinaryOp {
                op: BinaryOperator::Spaceship,
                ..
            } => true,
            Expr::Function(f) => {
                let name = f.name.to_string().to_ascii_uppercase();
                NOT_NULL_FOR_NULL.contains(&name.trim_matches('`'))
            }
            _ => false,
        };
        if hit {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    })
    .is_break()
}

#[cfg(test)]
mod tests {
    use super::null_sensitive;
    use sqlparser::dialect::MySqlDialect;
    use sqlparser::parser::Parser;

    fn sensitive(e: &str) -> bool {
        let e = Parser::new(&MySqlDialect {})
            .try_with_sql(e)
            .unwrap()
            .parse_expr()
            .unwrap();
        null_sensitive(&e)
    }

    #[test]
    fn tells_null_preserving_expressions_apart() {
        assert!(sensitive("UPPER(a.name) IS NULL"));
        assert!(sensitive("COALESCE(a.name, 'zz')"));
        assert!(sensitive("CASE WHEN a.x > 1 THEN 1 ELSE 0 END"));
        assert!(sensitive("IF(a.x, 1, 2)"));
        assert!(sensitive("a.x <=> 1"));
        assert!(!sensitive("a.name"));
        assert!(!sensitive("UPPER(a.name)"));
        assert!(!sensitive("a.x + 1 > 3"));
    }
}
