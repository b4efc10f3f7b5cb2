//! Planning a `SELECT` that runs on several sets: the per-set statement (the
//! client's text with hidden helper columns appended, `ORDER BY`/`LIMIT`
//! adjusted) and the [`MergeSpec`] that puts the answers back together.
//!
//! Helper columns: `WEIGHT_STRING(x)` so strings merge in MariaDB's collation
//! order, values of sort keys not in the select list, and `SUM(x)`/`COUNT(x)` for
//! each `AVG(x)`. The client never sees them.

use sqlparser::ast::{Expr, FunctionArguments, Select, SelectItem};

use super::select::{apply_edits, shape, Item, Shape};
use crate::error::ProxyError;
use crate::merge::calc::Calc;
use crate::merge::filter::{CmpOp, Filter, Operand};
use crate::merge::{AggSpec, KeySpec, MergeSpec, HIDDEN_MARK};
use crate::sql::lexer::Token;

fn unsupported(what: &str) -> ProxyError {
    ProxyError::NotSupported(format!("{what} across sets"))
}

/// Collects hidden helper columns; they follow the `visible` select items.
struct Hidden {
    visible: usize,
    exprs: Vec<String>,
}

impl Hidden {
    fn add(&mut self, expr: String) -> usize {
        if let Some(i) = self.exprs.iter().position(|e| *e == expr) {
            return self.visible + i;
        }
        self.exprs.push(expr);
        self.visible + self.exprs.len() - 1
    }
    fn sql(&self) -> String {
        self.exprs
            .iter()
            .enumerate()
            .map(|(i, e)| format!(", {e} AS `__sw{i}`"))
            .collect()
    }
}

fn normalize(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_whitespace() && *c != '`')
        .flat_map(char::to_lowercase)
        .collect()
}

/// The select item an ORDER BY / GROUP BY item refers to: by position, alias or
/// identical expression.
fn resolve(sql: &str, it: &Item, items: &[Item]) -> Option<usize> {
    let text = &sql[it.expr.0..it.expr.1];
    if let Ok(n) = text.trim().parse::<usize>() {
        return (n >= 1 && n <= items.len()).then(|| n - 1);
    }
    let t = text.trim().trim_matches('`');
    if let Some(i) = items.iter().position(|s| {
        s.alias
            .as_deref()
            .is_some_and(|a| a.eq_ignore_ascii_case(t))
    }) {
        return Some(i);
    }
    let n = normalize(text);
    items
        .iter()
        .position(|s| normalize(&sql[s.expr.0..s.expr.1]) == n)
}

enum Agg {
    None,
    Count,
    /// `COUNT(DISTINCT x)` (one argument).
    CountDistinct,
    /// `GROUP_CONCAT(... [SEPARATOR s])` without ORDER BY or DISTINCT.
    GroupConcat(Vec<u8>),
    Sum,
    Min,
    Max,
    Avg,
}

/// What a select item computes: an aggregate (and its argument's text) or not.
fn classify(sql: &str, expr: &Expr) -> Result<(Agg, Option<String>), ProxyError> {
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
        "GROUP_CONCAT" if f.over.is_none() => {
            let FunctionArguments::List(list) = &f.args else {
                return Err(unsupported("GROUP_CONCAT() with these arguments"));
            };
            let mut sep = b",".to_vec();
            for c in &list.clauses {
                match c {
                    sqlparser::ast::FunctionArgumentClause::Separator(v) => match &v.value {
                        sqlparser::ast::Value::SingleQuotedString(s)
                        | sqlparser::ast::Value::DoubleQuotedString(s) => {
                            sep = s.as_bytes().to_vec()
                        }
                        _ => return Err(unsupported("GROUP_CONCAT(... SEPARATOR <non-string>)")),
                    },
                    _ => return Err(unsupported("GROUP_CONCAT(... ORDER BY/LIMIT ...)")),
                }
            }
            if list.duplicate_treatment.is_some() {
                return Err(unsupported("GROUP_CONCAT(DISTINCT ...)"));
            }
            return Ok((Agg::GroupConcat(sep), None));
        }
        "STD" | "STDDEV" | "STDDEV_POP" | "STDDEV_SAMP" | "VARIANCE" | "VAR_POP" | "VAR_SAMP"
        | "BIT_AND" | "BIT_OR" | "BIT_XOR" | "JSON_ARRAYAGG" | "JSON_OBJECTAGG"
            if f.over.is_none() =>
        {
            return Err(unsupported(&format!("{name}()")))
        }
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
    if matches!(
        list.duplicate_treatment,
        Some(sqlparser::ast::DuplicateTreatment::Distinct)
    ) {
        return match agg {
            Agg::Count if list.args.len() == 1 => Ok((Agg::CountDistinct, arg)),
            _ => Err(unsupported(&format!(
                "{name}(DISTINCT ...) with these arguments"
            ))),
        };
    }
    Ok((agg, arg))
}

/// Plans the merge of a SELECT over several sets.
pub fn plan(
    sql: &str,
    tokens: &[Token],
    select: &Select,
    aggregates: bool,
) -> Result<MergeSpec, ProxyError> {
    let sh: Shape = shape(sql, tokens).ok_or_else(|| unsupported("this form of SELECT"))?;
    if let Some(u) = &sh.unsupported {
        return Err(unsupported(u));
    }
    if sh.items.len() != select.projection.len() {
        return Err(unsupported("this select list"));
    }
    let wildcard = select.projection.iter().any(|p| {
        matches!(
            p,
            SelectItem::Wildcard(_) | SelectItem::QualifiedWildcard(..)
        )
    });
    let grouped = aggregates || !sh.group_by.is_empty();
    if grouped || sh.distinct {
        if wildcard {
            return Err(unsupported(
                "SELECT * with GROUP BY, DISTINCT or aggregates",
            ));
        }
        return plan_grouped(sql, &sh, select, grouped);
    }
    plan_sorted(sql, &sh, wildcard)
}

/// No grouping: each set sorts and limits; the merge keeps the order.
fn plan_sorted(sql: &str, sh: &Shape, wildcard: bool) -> Result<MergeSpec, ProxyError> {
    // With `*` the visible width is unknown here: helper columns are addressed
    // from the end (see `MergeSpec::hidden_from_end`), so never by item position.
    let mut hidden = Hidden {
        visible: 0,
        exprs: Vec::new(),
    };
    let mut keys = Vec::new();
    for it in &sh.order_by {
        let item = if wildcard {
            None
        } else {
            resolve(sql, it, &sh.items)
        };
        let expr_text = match item {
            Some(i) => sql[sh.items[i].expr.0..sh.items[i].expr.1].to_string(),
            None => sql[it.expr.0..it.expr.1].to_string(),
        };
        let value = match item {
            Some(i) => Value::Visible(i),
            None => Value::Hidden(hidden.add(format!("({expr_text})"))),
        };
        let weight = hidden.add(format!("WEIGHT_STRING({expr_text})"));
        keys.push((value, weight, it.desc));
    }
    let mut edits = vec![(sh.list_end, sh.list_end, hidden.sql())];
    let (offset, limit) = match sh.limit {
        Some((o, n)) => {
            let (s, e) = sh.limit_span.expect("limit span");
            edits.push((s, e, format!("LIMIT {}", o + n)));
            (o, Some(n))
        }
        None => (0, None),
    };
    let n_hidden = hidden.exprs.len();
    Ok(MergeSpec {
        sql: apply_edits(sql, edits),
        visible: usize::MAX,
        hidden: n_hidden,
        keys: keys
            .into_iter()
            .map(|(v, w, desc)| KeySpec {
                value: v.encode(),
                weight: Some(HIDDEN_MARK + w),
                desc,
            })
            .collect(),
        group: None,
        computed: Vec::new(),
        group_keys: None,
        pre_group: None,
        one_row: false,
        having: None,
        final_order: None,
        offset,
        limit,
    })
}

enum Value {
    Visible(usize),
    Hidden(usize),
}

impl Value {
    fn encode(&self) -> usize {
        match self {
            Value::Visible(i) => *i,
            Value::Hidden(h) => HIDDEN_MARK + h,
        }
    }
}

/// GROUP BY / aggregates / DISTINCT: each set groups and sorts by the group keys;
/// the merge folds equal groups, then sorts by the client's ORDER BY.
fn plan_grouped(
    sql: &str,
    sh: &Shape,
    select: &Select,
    grouped: bool,
) -> Result<MergeSpec, ProxyError> {
    let n = sh.items.len();
    let mut hidden = Hidden {
        visible: n,
        exprs: Vec::new(),
    };
    let mut aggs = vec![AggSpec::Any; n];
    let mut item_weight: Vec<Option<usize>> = vec![None; n];
    // COUNT(DISTINCT x): each set also groups by x; a first merge stage folds
    // equal (keys, x), the second counts the distinct x of each group.
    let mut distinct_arg: Option<String> = None;
    let mut distinct_cols = Vec::new();
    // Items that are expressions over aggregates, and their helper aggregates.
    let mut computed: Vec<(usize, Calc)> = Vec::new();
    let mut calc_aggs: Vec<(usize, AggSpec)> = Vec::new();
    if grouped {
        for (i, p) in select.projection.iter().enumerate() {
            let expr = match p {
                SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => e,
                _ => return Err(unsupported("this select item")),
            };
            let (agg, arg) = classify(sql, expr)?;
            let item_text = &sql[sh.items[i].expr.0..sh.items[i].expr.1];
            aggs[i] = match agg {
                Agg::None => {
                    if contains_aggregate(expr) {
                        // Computed by the gateway from helper aggregates.
                        let calc = to_calc(sql, expr, &mut hidden, &mut calc_aggs)?;
                        computed.push((i, calc));
                    }
                    AggSpec::Any
                }
                Agg::Count => AggSpec::Count,
                Agg::GroupConcat(sep) => AggSpec::Concat { sep },
                Agg::CountDistinct => {
                    let arg = arg.clone().unwrap_or_default();
                    match &distinct_arg {
                        Some(a) if normalize(a) != normalize(&arg) => {
                            return Err(unsupported(
                                "COUNT(DISTINCT ...) of two different expressions",
                            ))
                        }
                        _ => distinct_arg = Some(arg),
                    }
                    distinct_cols.push(i);
                    AggSpec::Count
                }
                Agg::Sum => AggSpec::Sum,
                Agg::Min | Agg::Max => {
                    let w = hidden.add(format!("WEIGHT_STRING({item_text})"));
                    item_weight[i] = Some(w);
                    if matches!(agg, Agg::Min) {
                        AggSpec::Min { weight: Some(w) }
                    } else {
                        AggSpec::Max { weight: Some(w) }
                    }
                }
                Agg::Avg => {
                    let arg = arg.ok_or_else(|| unsupported("AVG() without an argument"))?;
                    let (sum, count) = avg_helpers(&arg, &mut hidden, &mut calc_aggs);
                    AggSpec::Avg { sum, count }
                }
            };
        }
    }
    // Group keys: GROUP BY items, or for DISTINCT every item.
    let group_items: Vec<(usize, usize)> = if sh.group_by.is_empty() && sh.distinct && !grouped {
        sh.items.iter().map(|i| i.expr).collect()
    } else {
        sh.group_by.iter().map(|i| i.expr).collect()
    };
    let mut keys = Vec::new();
    let mut order_texts = Vec::new();
    for (gi, &(s, e)) in group_items.iter().enumerate() {
        let text = &sql[s..e];
        let as_item = Item {
            start: s,
            end: e,
            alias: None,
            expr: (s, e),
            desc: false,
        };
        let value = if sh.distinct && sh.group_by.is_empty() && !grouped {
            gi
        } else {
            match resolve(sql, &as_item, &sh.items) {
                Some(i) => i,
                None => hidden.add(format!("({text})")),
            }
        };
        let value_text = if value < n {
            &sql[sh.items[value].expr.0..sh.items[value].expr.1]
        } else {
            text
        };
        let weight = hidden.add(format!("WEIGHT_STRING({value_text})"));
        if value < n {
            item_weight[value].get_or_insert(weight);
        }
        keys.push(KeySpec {
            value,
            weight: Some(weight),
            desc: false,
        });
        order_texts.push(value_text.to_string());
    }
    let final_keys = keys.clone();
    let mut group_extra = None;
    if let Some(arg) = &distinct_arg {
        let value = hidden.add(format!("({arg})"));
        let weight = hidden.add(format!("WEIGHT_STRING({arg})"));
        keys.push(KeySpec {
            value,
            weight: Some(weight),
            desc: false,
        });
        order_texts.push(arg.clone());
        group_extra = Some(arg.clone());
    }
    // HAVING: evaluated on merged groups; its aggregates may need helper columns.
    let mut extra_aggs = Vec::new();
    let having = match &select.having {
        Some(h) => Some(having_filter(sql, h, sh, &mut hidden, &mut extra_aggs)?),
        None => None,
    };
    aggs.resize(n + hidden.exprs.len(), AggSpec::Any);
    for (i, a) in extra_aggs.into_iter().chain(calc_aggs) {
        aggs[i] = a;
    }
    // The client's ORDER BY, on the merged groups.
    let mut final_order = Vec::new();
    for it in &sh.order_by {
        let i = resolve(sql, it, &sh.items).ok_or_else(|| {
            unsupported("ORDER BY an expression that is not in the select list, with grouping")
        })?;
        final_order.push(KeySpec {
            value: i,
            weight: item_weight[i],
            desc: it.desc,
        });
    }
    // Per-set statement: helpers appended, ORDER BY the group keys, no LIMIT.
    let mut edits = vec![(sh.list_end, sh.list_end, hidden.sql())];
    if let Some((s, e)) = sh.order_span {
        edits.push((s, e, String::new()));
    }
    if let Some((s, e)) = sh.limit_span {
        edits.push((s, e, String::new()));
    }
    if let Some((s, e)) = sh.having_span {
        edits.push((s, e, String::new()));
    }
    // Where clauses go: after GROUP BY, or where the removed tail started.
    let tail = [sh.having_span, sh.order_span, sh.limit_span]
        .iter()
        .flatten()
        .map(|s| s.0)
        .min();
    let at = sh.group_span.map(|g| g.1).or(tail).unwrap_or(sql.len());
    if let Some(x) = &group_extra {
        let clause = match sh.group_span {
            Some(_) => format!(", {x}"),
            None => format!(" GROUP BY {x}"),
        };
        edits.push((at, at, clause));
    }
    if !order_texts.is_empty() {
        edits.push((at, at, format!(" ORDER BY {} ", order_texts.join(", "))));
    }
    let (offset, limit) = match sh.limit {
        Some((o, c)) => (o, Some(c)),
        None => (0, None),
    };
    let pre_group = distinct_arg.as_ref().map(|_| {
        let mut pre = aggs.clone();
        for &i in &distinct_cols {
            // Within one (group, x): 1 when x is not NULL, the same on every set.
            pre[i] = AggSpec::Any;
        }
        pre
    });
    Ok(MergeSpec {
        sql: apply_edits(sql, edits).trim_end().to_string(),
        visible: n,
        hidden: hidden.exprs.len(),
        keys,
        group: Some(aggs),
        computed,
        group_keys: distinct_arg.as_ref().map(|_| final_keys),
        pre_group,
        one_row: grouped && sh.group_by.is_empty(),
        having,
        final_order: (!final_order.is_empty()).then_some(final_order),
        offset,
        limit,
    })
}

/// The helper columns of `AVG(arg)`: `SUM(arg)` and `COUNT(arg)`, each combined by
/// its own spec (so a helper shared with a selected `SUM(arg)` is added once).
fn avg_helpers(
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

/// Translates an expression over aggregates into a [`Calc`]; each aggregate
/// becomes a helper column combined like a select item.
fn to_calc(
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
                B::Divide => Calc::Div(l, r),
                _ => return Err(refuse()),
            }
        }
        Expr::Cast { expr, .. } => Calc::Cast(sub(expr, hidden, extra)?),
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
                        AggSpec::Avg { sum, count }
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
fn text_of<'s>(sql: &'s str, e: &Expr) -> Option<&'s str> {
    use sqlparser::ast::Spanned;
    let sp = e.span();
    let (a, b) = (offset(sql, sp.start)?, offset(sql, sp.end)?);
    (a < b).then(|| &sql[a..b])
}

/// Translates HAVING into a [`Filter`] over merged rows. Aggregates and group keys
/// refer to select items (by alias or identical text) or to new helper columns.
fn having_filter(
    sql: &str,
    e: &Expr,
    sh: &Shape,
    hidden: &mut Hidden,
    extra: &mut Vec<(usize, AggSpec)>,
) -> Result<Filter, ProxyError> {
    use sqlparser::ast::{BinaryOperator as B, UnaryOperator, Value};
    let cmp = |op: &B| match op {
        B::Eq => Some(CmpOp::Eq),
        B::NotEq => Some(CmpOp::NotEq),
        B::Lt => Some(CmpOp::Lt),
        B::LtEq => Some(CmpOp::LtEq),
        B::Gt => Some(CmpOp::Gt),
        B::GtEq => Some(CmpOp::GtEq),
        _ => None,
    };
    let operand = |x: &Expr,
                   hidden: &mut Hidden,
                   extra: &mut Vec<(usize, AggSpec)>|
     -> Result<Operand, ProxyError> {
        match x {
            Expr::Value(v) => match &v.value {
                Value::Number(n, _) => Ok(Operand::Lit(Some(n.clone()))),
                Value::Null => Ok(Operand::Lit(None)),
                _ => Err(unsupported(
                    "a HAVING comparison with a non-numeric literal",
                )),
            },
            Expr::UnaryOp {
                op: UnaryOperator::Minus,
                expr,
            } => match expr.as_ref() {
                Expr::Value(v) => match &v.value {
                    Value::Number(n, _) => Ok(Operand::Lit(Some(format!("-{n}")))),
                    _ => Err(unsupported("this HAVING operand")),
                },
                _ => Err(unsupported("this HAVING operand")),
            },
            _ => {
                // The operand's own text when sqlparser kept its span; a function
                // call's printed form otherwise (exact for aggregate calls).
                let printed = x.to_string();
                let text = text_of(sql, x)
                    .filter(|t| normalize(t) == normalize(&printed))
                    .unwrap_or(&printed);
                // An alias or the same text as a select item.
                let t = normalize(text);
                if let Some(i) = sh.items.iter().position(|s| {
                    s.alias.as_deref().is_some_and(|a| normalize(a) == t)
                        || normalize(&sql[s.expr.0..s.expr.1]) == t
                }) {
                    return Ok(Operand::Col(i));
                }
                // A new aggregate: computed by each set, combined like a select item.
                let (agg, arg) = classify(sql, x)?;
                let spec = match agg {
                    Agg::None => {
                        return Err(unsupported(
                            "a HAVING operand that is neither selected nor an aggregate",
                        ))
                    }
                    Agg::CountDistinct | Agg::GroupConcat(_) => {
                        return Err(unsupported(
                            "this aggregate in HAVING when it is not selected",
                        ))
                    }
                    Agg::Count => AggSpec::Count,
                    Agg::Sum => AggSpec::Sum,
                    Agg::Min => AggSpec::Min { weight: None },
                    Agg::Max => AggSpec::Max { weight: None },
                    Agg::Avg => {
                        let arg = arg.ok_or_else(|| unsupported("AVG() without an argument"))?;
                        let (sum, count) = avg_helpers(&arg, hidden, extra);
                        AggSpec::Avg { sum, count }
                    }
                };
                let i = hidden.add(text.to_string());
                extra.push((i, spec));
                Ok(Operand::Col(i))
            }
        }
    };
    Ok(match e {
        Expr::BinaryOp {
            left,
            op: B::And,
            right,
        } => Filter::And(
            Box::new(having_filter(sql, left, sh, hidden, extra)?),
            Box::new(having_filter(sql, right, sh, hidden, extra)?),
        ),
        Expr::BinaryOp {
            left,
            op: B::Or,
            right,
        } => Filter::Or(
            Box::new(having_filter(sql, left, sh, hidden, extra)?),
            Box::new(having_filter(sql, right, sh, hidden, extra)?),
        ),
        Expr::BinaryOp { left, op, right } if cmp(op).is_some() => Filter::Cmp(
            operand(left, hidden, extra)?,
            cmp(op).expect("comparison"),
            operand(right, hidden, extra)?,
        ),
        Expr::UnaryOp {
            op: UnaryOperator::Not,
            expr,
        } => Filter::Not(Box::new(having_filter(sql, expr, sh, hidden, extra)?)),
        Expr::Nested(inner) => having_filter(sql, inner, sh, hidden, extra)?,
        Expr::IsNull(x) => Filter::IsNull(operand(x, hidden, extra)?, false),
        Expr::IsNotNull(x) => Filter::IsNull(operand(x, hidden, extra)?, true),
        other => return Err(unsupported(&format!("HAVING {other}"))),
    })
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
                if matches!(
                    n.as_str(),
                    "COUNT"
                        | "SUM"
                        | "MIN"
                        | "MAX"
                        | "AVG"
                        | "GROUP_CONCAT"
                        | "STD"
                        | "STDDEV"
                        | "VARIANCE"
                ) && f.over.is_none()
                {
                    return ControlFlow::Break(());
                }
            }
            ControlFlow::Continue(())
        }
    }
    e.visit(&mut Finder { depth: 0 }).is_break()
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
