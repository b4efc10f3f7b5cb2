//! HAVING over a join's groups: comparisons of aggregates and keys with
//! numbers, AND, OR, NOT, IS NULL, as the merge's [`Filter`].

use sqlparser::ast::{BinaryOperator, Expr, UnaryOperator};

use super::exprs::{select_ref, strip};
use super::{GroupPlan, Planner};
use crate::error::ProxyError;
use crate::join::unsupported;
use crate::merge::filter::{CmpOp, Filter, Operand};

/// The HAVING filter (`gp` None: only adds the items it reads).
pub(super) fn having(
    p: &mut Planner<'_, '_>,
    e: &Expr,
    exprs: &[(&Expr, Option<String>)],
    gp: Option<&GroupPlan>,
) -> Result<Filter, ProxyError> {
    let refuse = || {
        unsupported(
            "this HAVING over a join across sets (comparisons of aggregates and keys with numbers, AND, OR, NOT, IS NULL)",
        )
    };
    let operand = |p: &mut Planner<'_, '_>, x: &Expr| -> Result<Operand, ProxyError> {
        match strip(x) {
            Expr::Value(v) => match &v.value {
                sqlparser::ast::Value::Number(n, _) => Ok(Operand::Lit(Some(n.clone()))),
                sqlparser::ast::Value::Null => Ok(Operand::Lit(None)),
                _ => Err(refuse()),
            },
            Expr::UnaryOp {
                op: UnaryOperator::Minus,
                expr,
            } => match strip(expr) {
                Expr::Value(v) => match &v.value {
                    sqlparser::ast::Value::Number(n, _) => Ok(Operand::Lit(Some(format!("-{n}")))),
                    _ => Err(refuse()),
                },
                _ => Err(refuse()),
            },
            _ => {
                let i = match x {
                    Expr::Identifier(_) => select_ref(x, exprs),
                    _ => None,
                };
                let i = match i {
                    Some(i) => i,
                    None => p.item_of(x)?,
                };
                Ok(Operand::Col {
                    value: i,
                    weight: gp.and_then(|g| g.weight_of(i)),
                })
            }
        }
    };
    Ok(match strip(e) {
        Expr::BinaryOp { left, op, right } => {
            let b = |f: Filter| Box::new(f);
            match op {
                BinaryOperator::And => Filter::And(
                    b(having(p, left, exprs, gp)?),
                    b(having(p, right, exprs, gp)?),
                ),
                BinaryOperator::Or => Filter::Or(
                    b(having(p, left, exprs, gp)?),
                    b(having(p, right, exprs, gp)?),
                ),
                op => {
                    let op = match op {
                        BinaryOperator::Eq => CmpOp::Eq,
                        BinaryOperator::NotEq => CmpOp::NotEq,
                        BinaryOperator::Lt => CmpOp::Lt,
                        BinaryOperator::LtEq => CmpOp::LtEq,
                        BinaryOperator::Gt => CmpOp::Gt,
                        BinaryOperator::GtEq => CmpOp::GtEq,
                        _ => return Err(refuse()),
                    };
                    Filter::Cmp(operand(p, left)?, op, operand(p, right)?)
                }
            }
        }
        Expr::UnaryOp {
            op: UnaryOperator::Not,
            expr,
        } => Filter::Not(Box::new(having(p, expr, exprs, gp)?)),
        Expr::IsNull(x) => Filter::IsNull(operand(p, x)?, false),
        Expr::IsNotNull(x) => Filter::IsNull(operand(p, x)?, true),
        _ => return Err(refuse()),
    })
}
