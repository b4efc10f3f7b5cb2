//! Aggregate calls as the merge sees them: which aggregate a select item or
//! HAVING operand is ([`classify`]), and the helper columns some need from each
//! set (`SUM`/`COUNT` for `AVG`; `COUNT`/`SUM`/squared deviations for the
//! STD / VARIANCE family). BIT_AND/OR/XOR combine with their own operator.

use sqlparser::ast::{Expr, FunctionArguments};

use super::hidden::{unsupported, Hidden};
use crate::error::ProxyError;
use crate::merge::{AggSpec, BitOp, VarKind};

/// Whether an expression's text calls a function whose value changes between
/// evaluations (a helper aggregate per set would not see the same values).
fn non_deterministic(text: &str) -> bool {
    let t = text.to_ascii_uppercase();
    [
        "RAND(",
        "UUID",
        "SYSDATE(",
        "NEXTVAL(",
        "NEXT VALUE",
        "CONNECTION_ID(",
        ":=",
    ]
    .iter()
    .any(|f| t.contains(f))
}

pub(super) enum Agg {
    None,
    Count,
    /// `COUNT(DISTINCT x)` (one argument).
    CountDistinct,
    /// `COUNT(DISTINCT a, b, ...)`: its argument expressions.
    CountDistinctTuple(Vec<String>),
    /// `SUM(DISTINCT x)`.
    SumDistinct,
    /// `AVG(DISTINCT x)`.
    AvgDistinct,
    /// `GROUP_CONCAT(... [SEPARATOR s])` without ORDER BY or DISTINCT: the
    /// separator and the argument expressions.
    GroupConcat(Vec<u8>, Vec<String>),
    /// `GROUP_CONCAT([DISTINCT] ... [ORDER BY ...] [SEPARATOR s])`, or
    /// `JSON_ARRAYAGG([DISTINCT] x [ORDER BY ...] [LIMIT n])`.
    OrderedConcat(ConcatCall),
    Sum,
    Min,
    Max,
    Avg,
    /// The STD / VARIANCE family.
    Var(VarKind),
    /// BIT_AND / BIT_OR / BIT_XOR.
    Bit(BitOp),
}

/// A `GROUP_CONCAT` with ORDER BY and/or DISTINCT, as written.
pub(super) struct ConcatCall {
    pub sep: Vec<u8>,
    pub distinct: bool,
    /// Argument expressions (their values are concatenated per row).
    pub args: Vec<String>,
    /// ORDER BY expressions and DESC.
    pub order: Vec<(String, bool)>,
    /// `JSON_ARRAYAGG` (a JSON array of the elements as each set renders
    /// them) rather than `GROUP_CONCAT`.
    pub json: bool,
    /// `LIMIT n` inside (`JSON_ARRAYAGG` only).
    pub limit: Option<u64>,
}

/// What a select item computes: an aggregate (and its argument's text) or not.
pub(super) fn classify(sql: &str, expr: &Expr) -> Result<(Agg, Option<String>), ProxyError> {
    let Expr::Function(f) = expr else {
        return Ok((Agg::None, None));
    };
    let name = f.name.to_string().to_ascii_uppercase();
    let agg = match name.as_str() {
        "COUNT" => Agg::Count,
        "SUM" => Agg::Sum,
        "MIN" => Agg::Min,
        "MAX" => Agg::Max,
        "AVG" => Agg::Avg,
        "GROUP_CONCAT" | "JSON_ARRAYAGG" if f.over.is_none() => {
            let json = name == "JSON_ARRAYAGG";
            let FunctionArguments::List(list) = &f.args else {
                return Err(unsupported(&format!("{name}() with these arguments")));
            };
            use sqlparser::ast::{FunctionArgumentClause as C, OrderBySort};
            let mut sep = b",".to_vec();
            let mut order = Vec::new();
            let mut limit = None;
            for c in &list.clauses {
                match c {
                    C::Separator(_) if json => {
                        return Err(unsupported("JSON_ARRAYAGG(... SEPARATOR ...)"))
                    }
                    C::Separator(v) => match &v.value {
                        sqlparser::ast::Value::SingleQuotedString(s)
                        | sqlparser::ast::Value::DoubleQuotedString(s) => {
                            sep = s.as_bytes().to_vec()
                        }
                        _ => return Err(unsupported("GROUP_CONCAT(... SEPARATOR <non-string>)")),
                    },
                    C::OrderBy(items) => {
                        for o in items {
                            if o.options.nulls_first.is_some() || o.with_fill.is_some() {
                                return Err(unsupported(
                                    "GROUP_CONCAT(... ORDER BY ... NULLS ...)",
                                ));
                            }
                            let desc = match &o.options.sort {
                                None | Some(OrderBySort::Asc) => false,
                                Some(OrderBySort::Desc) => true,
                                Some(OrderBySort::Using(_)) => {
                                    return Err(unsupported("GROUP_CONCAT(... ORDER BY ... USING)"))
                                }
                            };
                            order.push((o.expr.to_string(), desc));
                        }
                    }
                    C::Limit(sqlparser::ast::Expr::Value(v)) if json => match &v.value {
                        sqlparser::ast::Value::Number(n, _) => {
                            limit = Some(n.parse().map_err(|_| {
                                unsupported("JSON_ARRAYAGG(... LIMIT <this value>)")
                            })?)
                        }
                        _ => return Err(unsupported("JSON_ARRAYAGG(... LIMIT <non-number>)")),
                    },
                    _ => return Err(unsupported(&format!("{name}(... LIMIT ...)"))),
                }
            }
            let distinct = matches!(
                list.duplicate_treatment,
                Some(sqlparser::ast::DuplicateTreatment::Distinct)
            );
            let args: Vec<String> = list.args.iter().map(|a| a.to_string()).collect();
            if json && (args.len() != 1 || (!distinct && order.is_empty())) {
                // Without ORDER BY the elements come in the order rows are
                // read, which no merge of several sets reproduces.
                return Err(unsupported("JSON_ARRAYAGG() without ORDER BY"));
            }
            if !distinct && order.is_empty() {
                if args.is_empty() || args.iter().any(|t| non_deterministic(t)) {
                    return Err(unsupported("GROUP_CONCAT() with these arguments"));
                }
                return Ok((Agg::GroupConcat(sep, args), None));
            }
            if args.is_empty()
                || args
                    .iter()
                    .chain(order.iter().map(|o| &o.0))
                    .any(|t| non_deterministic(t))
            {
                return Err(unsupported(&format!("{name}() with these arguments")));
            }
            return Ok((
                Agg::OrderedConcat(ConcatCall {
                    sep,
                    distinct,
                    args,
                    order,
                    json,
                    limit,
                }),
                None,
            ));
        }
        "STD" | "STDDEV" | "STDDEV_POP" => Agg::Var(VarKind::StdPop),
        "STDDEV_SAMP" => Agg::Var(VarKind::StdSamp),
        "VARIANCE" | "VAR_POP" => Agg::Var(VarKind::VarPop),
        "VAR_SAMP" => Agg::Var(VarKind::VarSamp),
        "BIT_AND" => Agg::Bit(BitOp::And),
        "BIT_OR" => Agg::Bit(BitOp::Or),
        "BIT_XOR" => Agg::Bit(BitOp::Xor),
        "JSON_OBJECTAGG" if f.over.is_none() => return Err(unsupported(&format!("{name}()"))),
        _ => return Ok((Agg::None, None)),
    };
    if f.over.is_some() {
        return Ok((Agg::None, None));
    }
    let FunctionArguments::List(list) = &f.args else {
        return Err(unsupported(&format!("{name}() with these arguments")));
    };
    let _ = sql;
    let arg = list.args.first().map(|a| a.to_string());
    if matches!(agg, Agg::Var(_) | Agg::Bit(_)) {
        if list.args.len() != 1 || list.duplicate_treatment.is_some() {
            return Err(unsupported(&format!("{name}() with these arguments")));
        }
        if arg.as_deref().is_some_and(non_deterministic) {
            // Each set's helpers would see other values than each other.
            return Err(unsupported(&format!(
                "{name}() of a non-deterministic expression"
            )));
        }
    }
    if matches!(
        list.duplicate_treatment,
        Some(sqlparser::ast::DuplicateTreatment::Distinct)
    ) {
        return match agg {
            Agg::Count if list.args.len() == 1 => Ok((Agg::CountDistinct, arg)),
            Agg::Count if list.args.len() > 1 => {
                let args: Vec<String> = list.args.iter().map(|a| a.to_string()).collect();
                if args.iter().any(|a| non_deterministic(a)) {
                    return Err(unsupported(
                        "COUNT(DISTINCT ...) of a non-deterministic expression",
                    ));
                }
                Ok((Agg::CountDistinctTuple(args), None))
            }
            Agg::Sum if list.args.len() == 1 => Ok((Agg::SumDistinct, arg)),
            Agg::Avg if list.args.len() == 1 => Ok((Agg::AvgDistinct, arg)),
            // The least / greatest of the distinct values is the least / greatest.
            Agg::Min | Agg::Max if list.args.len() == 1 => Ok((agg, arg)),
            _ => Err(unsupported(&format!(
                "{name}(DISTINCT ...) with these arguments"
            ))),
        };
    }
    Ok((agg, arg))
}

/// The helper columns of a STD / VARIANCE of `arg`: `COUNT(arg)`, `SUM(arg)`
/// and each set's sum of squared deviations (`VAR_POP` × `COUNT`, in full
/// double precision), combined across sets with Chan's formula.
pub(super) fn var_helpers(
    arg: &str,
    hidden: &mut Hidden,
    extra: &mut Vec<(usize, AggSpec)>,
) -> (usize, usize) {
    let count = hidden.add(format!("COUNT({arg})"));
    let sum = hidden.add(format!("SUM({arg})"));
    let m2 = hidden.add(format!("CAST(VAR_POP({arg}) AS DOUBLE) * COUNT({arg})"));
    extra.push((count, AggSpec::Count));
    extra.push((sum, AggSpec::Sum));
    extra.push((m2, AggSpec::M2 { count, sum }));
    (count, m2)
}

/// The helper columns of `AVG(arg)`: `SUM(arg)` and `COUNT(arg)`, each combined by
/// its own spec (so a helper shared with a selected `SUM(arg)` is added once).
pub(super) fn avg_helpers(
    arg: &str,
    hidden: &mut Hidden,
    extra: &mut Vec<(usize, AggSpec)>,
) -> (usize, usize) {
    let sum = hidden.add(format!("SUM({arg})"));
    let count = hidden.add(format!("COUNT({arg})"));
    extra.push((sum, AggSpec::Sum));
    extra.push((count, AggSpec::Count));
    (sum, count)
}

/// Whether `e` calls an aggregate function outside any subquery.
pub fn contains_aggregate(e: &Expr) -> bool {
    use sqlparser::ast::Visit;
    use std::ops::ControlFlow;
    /// Counts query nesting, so aggregates inside subqueries are not seen.
    struct Finder {
        depth: usize,
    }
    impl sqlparser::ast::Visitor for Finder {
        type Break = ();
        fn pre_visit_query(&mut self, _q: &sqlparser::ast::Query) -> ControlFlow<()> {
            self.depth += 1;
            ControlFlow::Continue(())
        }
        fn post_visit_query(&mut self, _q: &sqlparser::ast::Query) -> ControlFlow<()> {
            self.depth -= 1;
            ControlFlow::Continue(())
        }
        fn pre_visit_expr(&mut self, e: &Expr) -> ControlFlow<()> {
            if self.depth > 0 {
                return ControlFlow::Continue(());
            }
            if let Expr::Function(f) = e {
                let n = f.name.to_string().to_ascii_uppercase();
                if super::analyze::AGGREGATES.contains(&n.as_str()) && f.over.is_none() {
                    return ControlFlow::Break(());
                }
            }
            ControlFlow::Continue(())
        }
    }
    e.visit(&mut Finder { depth: 0 }).is_break()
}

/// Whether the outer select list or HAVING uses an aggregate (subqueries' own
/// aggregates run inside each set and do not count).
pub(crate) fn outer_aggregates(sel: &sqlparser::ast::Select) -> bool {
    use sqlparser::ast::SelectItem;
    sel.projection.iter().any(|p| match p {
        SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => {
            contains_aggregate(e)
        }
        _ => false,
    }) || sel.having.as_ref().is_some_and(contains_aggregate)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlparser::dialect::MySqlDialect;
    use sqlparser::parser::Parser;

    fn expr(sql: &str) -> Expr {
        Parser::new(&MySqlDialect {})
            .try_with_sql(sql)
            .unwrap()
            .parse_expr()
            .unwrap()
    }

    #[test]
    fn aggregates_outside_subqueries() {
        assert!(contains_aggregate(&expr("COUNT(*) + 1")));
        assert!(!contains_aggregate(&expr("(SELECT COUNT(*) FROM t)")));
        assert!(!contains_aggregate(&expr("x IN (SELECT MAX(y) FROM t)")));
        assert!(contains_aggregate(&expr("SUM(a) > (SELECT 1)")));
    }
}
