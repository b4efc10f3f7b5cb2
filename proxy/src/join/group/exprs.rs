//! Recognising, in the client's expressions, the aggregate calls the gateway
//! folds and the select-list items an ORDER BY / HAVING names.

use sqlparser::ast::{Expr, FunctionArg, FunctionArgExpr, FunctionArguments};

use super::Fun;
use crate::error::ProxyError;
use crate::join::unsupported;

pub(super) fn norm(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_whitespace() && *c != '`')
        .flat_map(char::to_lowercase)
        .collect()
}

pub(super) fn strip(e: &Expr) -> &Expr {
    match e {
        Expr::Nested(x) => strip(x),
        e => e,
    }
}

/// An aggregate call this module folds: its function and argument.
pub(super) fn aggregate(e: &Expr) -> Result<Option<(Fun, Option<&Expr>)>, ProxyError> {
    let Expr::Function(f) = strip(e) else {
        return Ok(None);
    };
    let fun = match f.name.to_string().to_ascii_uppercase().as_str() {
        "COUNT" => Fun::Count,
        "SUM" => Fun::Sum,
        "MIN" => Fun::Min,
        "MAX" => Fun::Max,
        "AVG" => Fun::Avg,
        _ => {
            return if contains_aggregate(e) {
                Err(unsupported(
                    "this aggregate over a join across sets (COUNT, SUM, MIN, MAX, AVG are grouped by the gateway)",
                ))
            } else {
                Ok(None)
            }
        }
    };
    let refuse = || unsupported(format!("this {fun:?}() call over a join across sets"));
    if f.over.is_some() || f.filter.is_some() {
        return Err(refuse());
    }
    let FunctionArguments::List(l) = &f.args else {
        return Err(refuse());
    };
    if l.duplicate_treatment.is_some() || !l.clauses.is_empty() {
        return Err(unsupported(
            "an aggregate of DISTINCT values over a join across sets",
        ));
    }
    match l.args.as_slice() {
        [FunctionArg::Unnamed(FunctionArgExpr::Wildcard)] if fun == Fun::Count => {
            Ok(Some((Fun::CountStar, None)))
        }
        [FunctionArg::Unnamed(FunctionArgExpr::Expr(a))] if !contains_aggregate(a) => {
            Ok(Some((fun, Some(a))))
        }
        _ => Err(refuse()),
    }
}

pub(super) fn contains_aggregate(e: &Expr) -> bool {
    crate::route::aggs::contains_aggregate(e)
}

/// A select item an ORDER BY / HAVING expression names (position, alias, text).
pub(super) fn select_ref(e: &Expr, exprs: &[(&Expr, Option<String>)]) -> Option<usize> {
    match strip(e) {
        Expr::Value(v) => match &v.value {
            sqlparser::ast::Value::Number(n, _) => {
                let i: usize = n.parse().ok()?;
                (i >= 1 && i <= exprs.len()).then(|| i - 1)
            }
            _ => None,
        },
        Expr::Identifier(id) => exprs.iter().position(|(_, a)| {
            a.as_deref()
                .is_some_and(|a| a.eq_ignore_ascii_case(&id.value))
        }),
        _ => None,
    }
}
