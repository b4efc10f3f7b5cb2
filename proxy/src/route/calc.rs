//! Select items that are expressions over aggregates (`SUM(a) / COUNT(*)`,
//! `ROUND(AVG(x), 2)`): translated into a [`Calc`] the gateway evaluates on
//! merged groups, each aggregate inside becoming a helper column.

use sqlparser::ast::{Expr, FunctionArguments};

use super::aggs::{avg_helpers, classify, Agg};
use super::hidden::{unsupported, Hidden};
use crate::error::ProxyError;
use crate::merge::calc::Calc;
use crate::merge::AggSpec;

/// What a `CAST` over aggregate results turns them into.
enum CastTarget {
    /// SIGNED, UNSIGNED, DECIMAL, DOUBLE, FLOAT...: computed in decimals.
    Number,
    /// CHAR, BINARY...: the aggregate's own text.
    Text,
    /// DATE, TIME, JSON...: not computed by the gateway.
    Other,
}

fn cast_target(t: &sqlparser::ast::DataType) -> CastTarget {
    let name = t.to_string().to_ascii_uppercase();
    let word = name.split(['(', ' ']).next().unwrap_or("");
    match word {
        "SIGNED" | "UNSIGNED" | "DECIMAL" | "NUMERIC" | "DEC" | "DOUBLE" | "FLOAT" | "REAL"
        | "INT" | "INTEGER" | "BIGINT" => CastTarget::Number,
        // With a length (CHAR(2)) MariaDB cuts the text: not computed here.
        "CHAR" | "NCHAR" | "BINARY" | "CHARACTER" if !name.contains('(') => CastTarget::Text,
        _ => CastTarget::Other,
    }
}

/// Translates an expression over aggregates into a [`Calc`]; each aggregate
/// becomes a helper column combined like a select item.
pub(super) fn to_calc(
    sql: &str,
    e: &Expr,
    hidden: &mut Hidden,
    extra: &mut Vec<(usize, AggSpec)>,
) -> Result<Calc, ProxyError> {
    use sqlparser::ast::{BinaryOperator as B, FunctionArg, FunctionArgExpr, UnaryOperator, Value};
    let sub = |x: &Expr, hidden: &mut Hidden, extra: &mut Vec<(usize, AggSpec)>| {
        to_calc(sql, x, hidden, extra).map(Box::new)
    };
    let refuse = || unsupported(&format!("the expression over aggregate results `{e}`"));
    Ok(match e {
        Expr::Nested(x) => to_calc(sql, x, hidden, extra)?,
        Expr::Value(v) => match &v.value {
            Value::Number(n, _) => Calc::Num(n.clone()),
            Value::Null => Calc::Null,
            _ => return Err(refuse()),
        },
        Expr::UnaryOp {
            op: UnaryOperator::Minus,
            expr,
        } => Calc::Neg(sub(expr, hidden, extra)?),
        Expr::UnaryOp {
            op: UnaryOperator::Plus,
            expr,
        } => to_calc(sql, expr, hidden, extra)?,
        Expr::BinaryOp { left, op, right } => {
            let (l, r) = (sub(left, hidden, extra)?, sub(right, hidden, extra)?);
            match op {
                B::Plus => Calc::Add(l, r),
                B::Minus => Calc::Sub(l, r),
                B::Multiply => Calc::Mul(l, r),
                B::Divide => {
                    // MariaDB cuts a decimal quotient after a number of digits
                    // that depends on the session's increment.
                    let incr = hidden.add("@@div_precision_increment".into());
                    Calc::Div(l, r, incr)
                }
                _ => return Err(refuse()),
            }
        }
        Expr::Cast {
            expr, data_type, ..
        } => {
            let inner = sub(expr, hidden, extra)?;
            match cast_target(data_type) {
                CastTarget::Number => Calc::Cast(inner),
                // The text of one aggregate, as the merge formats it.
                CastTarget::Text => match *inner {
                    Calc::Col(i) => {
                        // An average's text is MariaDB's, at its scale.
                        for (c, spec) in extra.iter_mut() {
                            if let (true, AggSpec::Avg { exact, .. }) = (*c == i, spec) {
                                *exact = false;
                            }
                        }
                        Calc::Text(i)
                    }
                    _ => return Err(refuse()),
                },
                CastTarget::Other => return Err(refuse()),
            }
        }
        Expr::Function(f) => {
            let name = f.name.to_string().to_ascii_uppercase();
            let (agg, arg) = classify(sql, e)?;
            if !matches!(agg, Agg::None) {
                let spec = match agg {
                    Agg::Count => AggSpec::Count,
                    Agg::Sum => AggSpec::Sum,
                    Agg::Min => AggSpec::Min { weight: None },
                    Agg::Max => AggSpec::Max { weight: None },
                    Agg::Avg => {
                        let arg = arg.ok_or_else(refuse)?;
                        let (sum, count) = avg_helpers(&arg, hidden, extra);
                        AggSpec::Avg {
                            sum,
                            count,
                            exact: true,
                        }
                    }
                    _ => return Err(refuse()),
                };
                let i = hidden.add(e.to_string());
                extra.push((i, spec));
                return Ok(Calc::Col(i));
            }
            let FunctionArguments::List(list) = &f.args else {
                return Err(refuse());
            };
            let args: Vec<&Expr> = list
                .args
                .iter()
                .filter_map(|a| match a {
                    FunctionArg::Unnamed(FunctionArgExpr::Expr(x)) => Some(x),
                    _ => None,
                })
                .collect();
            let digits = |x: Option<&&Expr>| -> Result<i64, ProxyError> {
                match x {
                    None => Ok(0),
                    Some(Expr::Value(v)) => match &v.value {
                        Value::Number(n, _) => n.parse().map_err(|_| refuse()),
                        _ => Err(refuse()),
                    },
                    Some(_) => Err(refuse()),
                }
            };
            match (name.as_str(), args.as_slice()) {
                ("ROUND", [x, ..]) => Calc::Round(sub(x, hidden, extra)?, digits(args.get(1))?),
                ("TRUNCATE", [x, _]) => {
                    Calc::Truncate(sub(x, hidden, extra)?, digits(args.get(1))?)
                }
                ("COALESCE" | "IFNULL", [_, ..]) => Calc::Coalesce(
                    args.iter()
                        .map(|x| to_calc(sql, x, hidden, extra))
                        .collect::<Result<_, _>>()?,
                ),
                _ => return Err(refuse()),
            }
        }
        _ => return Err(refuse()),
    })
}
