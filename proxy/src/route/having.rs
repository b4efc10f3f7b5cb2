//! `HAVING` planned for the gateway: each set cannot apply it (it sees only part
//! of every group), so the condition becomes a [`Filter`] over merged rows.
//! Comparisons of numbers, and of strings under the compared column's collation:
//! every string operand gets a helper column with its `WEIGHT_STRING`, a literal
//! one computed by each set in the column's collation.

use sqlparser::ast::Expr;

use super::aggs::{avg_helpers, classify, contains_aggregate, Agg};
use super::hidden::{normalize, unsupported, Hidden};
use super::select::Shape;
use crate::error::ProxyError;
use crate::merge::collate::weight_sql;
use crate::merge::filter::{CmpOp, Filter, Operand};
use crate::merge::AggSpec;

/// Byte offset of a sqlparser location (1-based line and character column).
fn offset(sql: &str, loc: sqlparser::tokenizer::Location) -> Option<usize> {
    if loc.line == 0 {
        return None;
    }
    let mut line = 1;
    let mut col = 1;
    for (i, c) in sql.char_indices() {
        if line == loc.line && col == loc.column {
            return Some(i);
        }
        if c == '\n' {
            line += 1;
            col = 1;
        } else {
            col += 1;
        }
    }
    (line == loc.line && col == loc.column).then_some(sql.len())
}

/// The client's text of an expression (from its span), if sqlparser kept one.
pub(super) fn text_of<'s>(sql: &'s str, e: &Expr) -> Option<&'s str> {
    use sqlparser::ast::Spanned;
    let sp = e.span();
    let (a, b) = (offset(sql, sp.start)?, offset(sql, sp.end)?);
    (a < b).then(|| &sql[a..b])
}

/// One side of a HAVING comparison while planning: the runtime operand and, for
/// a column, the SQL text that computes it on each set (for weight helpers).
struct Side {
    op: Operand,
    text: Option<String>,
}

/// A string literal as SQL (backslash and quote escaped).
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// Planning state shared by the parts of one HAVING clause.
struct Ctx<'a> {
    sql: &'a str,
    sh: &'a Shape,
    /// Weight column of each select item already computed (group keys, MIN/MAX).
    item_weight: &'a [Option<usize>],
    /// How each select item combines across sets.
    item_aggs: &'a [AggSpec],
    hidden: &'a mut Hidden,
    extra: &'a mut Vec<(usize, AggSpec)>,
}

impl Ctx<'_> {
    fn side(&mut self, x: &Expr) -> Result<Side, ProxyError> {
        use sqlparser::ast::{UnaryOperator, Value};
        let lit = |op| Ok(Side { op, text: None });
        match x {
            Expr::Value(v) => match &v.value {
                Value::Number(n, _) => lit(Operand::Lit(Some(n.clone()))),
                Value::Null => lit(Operand::Lit(None)),
                Value::SingleQuotedString(s) | Value::DoubleQuotedString(s) => lit(Operand::Str {
                    text: s.clone(),
                    weight: None,
                }),
                _ => Err(unsupported("this literal in HAVING")),
            },
            Expr::UnaryOp {
                op: UnaryOperator::Minus,
                expr,
            } => match expr.as_ref() {
                Expr::Value(v) => match &v.value {
                    Value::Number(n, _) => lit(Operand::Lit(Some(format!("-{n}")))),
                    _ => Err(unsupported("this HAVING operand")),
                },
                _ => Err(unsupported("this HAVING operand")),
            },
            _ => self.column(x),
        }
    }

    /// A select item (by alias or identical text) or a new helper aggregate.
    fn column(&mut self, x: &Expr) -> Result<Side, ProxyError> {
        let sql = self.sql;
        // The operand's own text when sqlparser kept its span; a function
        // call's printed form otherwise (exact for aggregate calls).
        let printed = x.to_string();
        let text = text_of(sql, x)
            .filter(|t| normalize(t) == normalize(&printed))
            .unwrap_or(&printed)
            .to_string();
        let t = normalize(&text);
        if let Some(i) = self.sh.items.iter().position(|s| {
            s.alias.as_deref().is_some_and(|a| normalize(a) == t)
                || normalize(&sql[s.expr.0..s.expr.1]) == t
        }) {
            let item = &self.sh.items[i];
            return Ok(Side {
                op: Operand::Col {
                    value: i,
                    weight: self.item_weight[i],
                },
                text: Some(sql[item.expr.0..item.expr.1].to_string()),
            });
        }
        // A new aggregate: computed by each set, combined like a select item.
        let (agg, arg) = classify(sql, x)?;
        let mut weight = None;
        let spec = match agg {
            Agg::None => {
                return Err(unsupported(
                    "a HAVING operand that is neither selected nor an aggregate",
                ))
            }
            Agg::Count => AggSpec::Count,
            Agg::Sum => AggSpec::Sum,
            Agg::Min | Agg::Max => {
                let w = self.hidden.add(weight_sql(&text));
                weight = Some(w);
                if matches!(agg, Agg::Min) {
                    AggSpec::Min { weight }
                } else {
                    AggSpec::Max { weight }
                }
            }
            Agg::Avg => {
                let arg = arg.ok_or_else(|| unsupported("AVG() without an argument"))?;
                let (sum, count) = avg_helpers(&arg, self.hidden, self.extra);
                AggSpec::Avg {
                    sum,
                    count,
                    exact: false,
                }
            }
            _ => {
                return Err(unsupported(
                    "this aggregate in HAVING when it is not selected",
                ))
            }
        };
        let i = self.hidden.add(text.clone());
        self.extra.push((i, spec));
        Ok(Side {
            op: Operand::Col { value: i, weight },
            text: Some(text),
        })
    }

    /// Gives a column side the weight column a string comparison needs.
    fn weigh(&mut self, s: &mut Side) -> Result<(), ProxyError> {
        if let (Operand::Col { value, weight }, Some(text)) = (&mut s.op, &s.text) {
            if weight.is_none() {
                let combinable = *value >= self.item_aggs.len()
                    || matches!(
                        self.item_aggs[*value],
                        AggSpec::Any | AggSpec::Min { .. } | AggSpec::Max { .. }
                    );
                if !combinable {
                    return Err(unsupported(
                        "a string comparison in HAVING on this aggregate",
                    ));
                }
                *weight = Some(self.hidden.add(weight_sql(text)));
            }
        }
        Ok(())
    }

    /// `a op b`: string literals get their weight in the other side's collation
    /// (`WEIGHT_STRING(IF(0, other, 'lit'))`, computed by each set).
    fn compare(&mut self, left: &Expr, op: CmpOp, right: &Expr) -> Result<Filter, ProxyError> {
        let mut a = self.side(left)?;
        let mut b = self.side(right)?;
        let is_str = |s: &Side| matches!(s.op, Operand::Str { .. });
        let is_col = |s: &Side| matches!(s.op, Operand::Col { .. });
        match (is_str(&a), is_str(&b)) {
            (true, true) => return Err(unsupported("a HAVING comparison of two literals")),
            (true, false) | (false, true) => {
                let (lit, col) = if is_str(&a) {
                    (&mut a, &mut b)
                } else {
                    (&mut b, &mut a)
                };
                if !is_col(col) {
                    return Err(unsupported("a HAVING comparison of two literals"));
                }
                self.weigh(col)?;
                let other = col.text.clone().unwrap_or_default();
                if let Operand::Str { text, weight } = &mut lit.op {
                    *weight = Some(
                        self.hidden
                            .add(weight_sql(&format!("IF(0, {other}, {})", quote(text)))),
                    );
                }
            }
            (false, false) => {
                if is_col(&a) && is_col(&b) {
                    self.weigh(&mut a)?;
                    self.weigh(&mut b)?;
                    // Their weights compare only in one collation: each set
                    // says whether the two have it (an Any helper: constant).
                    let (ta, tb) = (a.text.clone(), b.text.clone());
                    let space = |t: &str| format!("COLLATION(IF(0, {t}, ' '))");
                    if let (Some(ta), Some(tb)) = (ta, tb) {
                        let same = self.hidden.add(format!("{} = {}", space(&ta), space(&tb)));
                        return Ok(Filter::And(
                            Box::new(Filter::SameCollation(same)),
                            Box::new(Filter::Cmp(a.op, op, b.op)),
                        ));
                    }
                }
            }
        }
        Ok(Filter::Cmp(a.op, op, b.op))
    }

    fn filter(&mut self, e: &Expr) -> Result<Filter, ProxyError> {
        use sqlparser::ast::{BinaryOperator as B, UnaryOperator};
        let cmp = |op: &B| match op {
            B::Eq => Some(CmpOp::Eq),
            B::NotEq => Some(CmpOp::NotEq),
            B::Lt => Some(CmpOp::Lt),
            B::LtEq => Some(CmpOp::LtEq),
            B::Gt => Some(CmpOp::Gt),
            B::GtEq => Some(CmpOp::GtEq),
            _ => None,
        };
        Ok(match e {
            Expr::BinaryOp {
                left,
                op: B::And,
                right,
            } => Filter::And(Box::new(self.filter(left)?), Box::new(self.filter(right)?)),
            Expr::BinaryOp {
                left,
                op: B::Or,
                right,
            } => Filter::Or(Box::new(self.filter(left)?), Box::new(self.filter(right)?)),
            Expr::BinaryOp { left, op, right } if cmp(op).is_some() => {
                self.compare(left, cmp(op).expect("comparison"), right)?
            }
            Expr::UnaryOp {
                op: UnaryOperator::Not,
                expr,
            } => Filter::Not(Box::new(self.filter(expr)?)),
            Expr::Nested(inner) => self.filter(inner)?,
            Expr::IsNull(x) => Filter::IsNull(self.side(x)?.op, false),
            Expr::IsNotNull(x) => Filter::IsNull(self.side(x)?.op, true),
            other => return Err(unsupported(&format!("HAVING {other}"))),
        })
    }
}

/// Whether a condition uses no aggregate, no alias of one and no subquery.
fn on_keys_only(c: &Expr, agg_aliases: &[String]) -> bool {
    use sqlparser::ast::{Visit, Visitor};
    use std::ops::ControlFlow;
    struct Check<'a>(&'a [String]);
    impl Visitor for Check<'_> {
        type Break = ();
        fn pre_visit_query(&mut self, _q: &sqlparser::ast::Query) -> ControlFlow<()> {
            ControlFlow::Break(())
        }
        fn pre_visit_expr(&mut self, e: &Expr) -> ControlFlow<()> {
            match e {
                Expr::Identifier(i) if self.0.iter().any(|a| a.eq_ignore_ascii_case(&i.value)) => {
                    ControlFlow::Break(())
                }
                _ => ControlFlow::Continue(()),
            }
        }
    }
    !contains_aggregate(c) && c.visit(&mut Check(agg_aliases)).is_continue()
}

/// Splits HAVING at its top-level ANDs into the conditions without aggregates
/// (on group keys: exact on each set, which sees whole values of the keys),
/// as the client wrote them, and the rest (for [`having_filter`]).
/// `agg_aliases`: aliases of select items computed from aggregates (a
/// condition naming one is not on keys alone).
pub(super) fn split_having(
    sql: &str,
    e: &Expr,
    agg_aliases: &[String],
) -> (Vec<String>, Option<Expr>) {
    fn conjuncts<'e>(e: &'e Expr, out: &mut Vec<&'e Expr>) {
        match e {
            Expr::BinaryOp {
                left,
                op: sqlparser::ast::BinaryOperator::And,
                right,
            } => {
                conjuncts(left, out);
                conjuncts(right, out);
            }
            Expr::Nested(inner)
                if matches!(
                    inner.as_ref(),
                    Expr::BinaryOp {
                        op: sqlparser::ast::BinaryOperator::And,
                        ..
                    }
                ) =>
            {
                conjuncts(inner, out)
            }
            other => out.push(other),
        }
    }
    let mut parts = Vec::new();
    conjuncts(e, &mut parts);
    let mut pushed = Vec::new();
    let mut rest: Option<Expr> = None;
    for c in parts {
        let text = text_of(sql, c).filter(|t| normalize(t) == normalize(&c.to_string()));
        match text {
            Some(t) if on_keys_only(c, agg_aliases) => pushed.push(format!("({t})")),
            _ => {
                rest = Some(match rest {
                    None => c.clone(),
                    Some(r) => Expr::BinaryOp {
                        left: Box::new(r),
                        op: sqlparser::ast::BinaryOperator::And,
                        right: Box::new(c.clone()),
                    },
                })
            }
        }
    }
    (pushed, rest)
}

/// Translates HAVING into a [`Filter`] over merged rows. Aggregates and group keys
/// refer to select items (by alias or identical text) or to new helper columns;
/// strings compare by collation weight (the literal's computed in the column's
/// collation by each set).
pub(super) fn having_filter(
    sql: &str,
    e: &Expr,
    sh: &Shape,
    item_weight: &[Option<usize>],
    item_aggs: &[AggSpec],
    hidden: &mut Hidden,
    extra: &mut Vec<(usize, AggSpec)>,
) -> Result<Filter, ProxyError> {
    Ctx {
        sql,
        sh,
        item_weight,
        item_aggs,
        hidden,
        extra,
    }
    .filter(e)
}
