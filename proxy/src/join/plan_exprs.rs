//! Questions the two-table planner ([`super::plan`]) asks of an
//! expression: whether it is a constant, a bare column, a comparison no NULL
//! passes, a lone `COUNT(*)` select list, and which table an ORDER BY key
//! reads.

use sqlparser::ast::{BinaryOperator, Expr, Select, SelectItem};

use super::tables::{sides_of, Table};
use super::unsupported;
use crate::error::ProxyError;

/// Whether `e` reads no column, variable or subquery and calls no function.
pub(super) fn is_constant(e: &Expr) -> bool {
    sqlparser::ast::visit_expressions(e, |x| match x {
        Expr::Identifier(_)
        | Expr::CompoundIdentifier(_)
        | Expr::Function(_)
        | Expr::Subquery(_)
        | Expr::Exists { .. }
        | Expr::InSubquery { .. } => std::ops::ControlFlow::Break(()),
        _ => std::ops::ControlFlow::Continue(()),
    })
    .is_continue()
}

pub(super) fn strip(e: &Expr) -> &Expr {
    match e {
        Expr::Nested(x) => strip(x),
        e => e,
    }
}

/// The select list is one `COUNT(*)` (with or without an alias).
pub(super) fn count_star(sel: &Select) -> bool {
    use sqlparser::ast::{FunctionArg, FunctionArgExpr, FunctionArguments};
    let [SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. }] =
        sel.projection.as_slice()
    else {
        return false;
    };
    let Expr::Function(f) = e else { return false };
    f.name.to_string().eq_ignore_ascii_case("COUNT")
        && f.over.is_none()
        && f.filter.is_none()
        && matches!(&f.args, FunctionArguments::List(l)
            if l.duplicate_treatment.is_none()
                && matches!(l.args.as_slice(), [FunctionArg::Unnamed(FunctionArgExpr::Wildcard)]))
}

/// A comparison of a column with constants: never true for a NULL column.
pub(super) fn null_rejecting(e: &Expr) -> bool {
    use BinaryOperator::*;
    let lit = |e: &Expr| matches!(strip(e), Expr::Value(v) if !matches!(v.value, sqlparser::ast::Value::Null));
    match strip(e) {
        Expr::BinaryOp {
            left,
            op: Eq | NotEq | Lt | LtEq | Gt | GtEq,
            right,
        } => is_column(left) && lit(right) || lit(left) && is_column(right),
        Expr::Between {
            expr,
            negated: false,
            low,
            high,
        } => is_column(expr) && lit(low) && lit(high),
        Expr::InList {
            expr,
            list,
            negated: false,
        } => is_column(expr) && !list.is_empty() && list.iter().all(lit),
        _ => false,
    }
}

pub(super) fn is_column(e: &Expr) -> bool {
    matches!(strip(e), Expr::Identifier(_) | Expr::CompoundIdentifier(_))
}

/// The expression an ORDER BY key stands for, and its table.
pub(super) fn order_expr<'e>(
    e: &'e Expr,
    sel: &'e Select,
    shape: &crate::sql::select::Shape,
    items: &[Option<(&'e Expr, usize)>],
    t: &[Table; 2],
) -> Result<(&'e Expr, usize), ProxyError> {
    let _ = sel;
    // A position.
    if let Expr::Value(v) = e {
        if let sqlparser::ast::Value::Number(n, _) = &v.value {
            let i: usize = n.parse().unwrap_or(0);
            return match i
                .checked_sub(1)
                .and_then(|i| items.get(i))
                .copied()
                .flatten()
            {
                Some(x) => Ok(x),
                None => Err(unsupported(
                    "ORDER BY this position over a join across sets",
                )),
            };
        }
    }
    // A select item's alias.
    if let Expr::Identifier(id) = e {
        if let Some(i) = shape.items.iter().position(|it| {
            it.alias
                .as_deref()
                .is_some_and(|a| a.eq_ignore_ascii_case(&id.value))
        }) {
            return items
                .get(i)
                .copied()
                .flatten()
                .ok_or_else(|| unsupported("ORDER BY this alias over a join across sets"));
        }
    }
    match sides_of(e, t)? {
        1 | 0 => Ok((e, 0)),
        2 => Ok((e, 1)),
        _ => Err(unsupported(
            "ORDER BY an expression mixing both tables of a join across sets",
        )),
    }
}
