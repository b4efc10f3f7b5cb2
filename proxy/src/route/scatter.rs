//! Planning a `SELECT` that runs on several sets: the per-set statement (the
//! client's text with hidden helper columns appended, `ORDER BY`/`LIMIT`
//! adjusted) and the [`MergeSpec`] that puts the answers back together.
//!
//! Helper columns: `WEIGHT_STRING(x)` so strings merge in MariaDB's collation
//! order, values of sort keys not in the select list, and `SUM(x)`/`COUNT(x)` for
//! each `AVG(x)`. The client never sees them.

use sqlparser::ast::{Select, SelectItem};

use super::aggs::{avg_helpers, classify, contains_aggregate, var_helpers, Agg};
use super::calc::to_calc;
use super::having::{having_filter, split_having};
use super::hidden::{normalize, resolve, unsupported, Hidden};
use super::select::{apply_edits, shape, Item, Shape};
use crate::error::ProxyError;
use crate::merge::calc::Calc;
use crate::merge::collate::weight_sql;
use crate::merge::{AggSpec, KeySpec, MergeSpec, HIDDEN_MARK};
use crate::sql::lexer::Token;

/// Plans the merge of a SELECT over several sets.
pub fn plan(
    sql: &str,
    tokens: &[Token],
    select: &Select,
    aggregates: bool,
) -> Result<MergeSpec, ProxyError> {
    let mut sh: Shape = shape(sql, tokens).ok_or_else(|| unsupported("this form of SELECT"))?;
    if sh.rollup.is_some() && sh.unsupported.as_deref() == Some(super::select::ROLLUP) {
        // The grouped planner re-aggregates the rollup rows itself.
        sh.unsupported = None;
    }
    let grouped = aggregates || !sh.group_by.is_empty();
    if sh.unsupported.as_deref() == Some(super::select::CALC_FOUND_ROWS) {
        if grouped || sh.distinct {
            // The count is of groups or distinct rows, which no set knows.
            return Err(unsupported(
                "SQL_CALC_FOUND_ROWS with GROUP BY, DISTINCT or aggregates",
            ));
        }
        // Rows of the sets are disjoint: their counts add up.
        sh.unsupported = None;
    }
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
    if grouped || sh.distinct {
        if wildcard {
            return Err(unsupported(
                "SELECT * with GROUP BY, DISTINCT or aggregates",
            ));
        }
        if sh.rollup.is_none() && !(sh.distinct && grouped) {
            // Asked only of a select alias inside a moved expression.
            let aggregate = |i: usize| match select.projection.get(i) {
                Some(SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. }) => {
                    contains_aggregate(e)
                }
                _ => true,
            };
            // A DISTINCT's ORDER BY expression may only read its items.
            let distinct = sh.distinct && !grouped;
            if let Some(m) =
                super::order_items::move_order_exprs(sql, tokens, &sh, &aggregate, distinct)?
            {
                return plan_with_order_items(&m.sql, m.extra, grouped);
            }
        }
        return plan_grouped(sql, &sh, select, grouped, 0);
    }
    plan_sorted(sql, &sh, wildcard)
}

/// Plans `sql`, a grouped or DISTINCT SELECT whose last `extra` select items
/// were moved there from its ORDER BY (`super::order_items`).
fn plan_with_order_items(sql: &str, extra: usize, grouped: bool) -> Result<MergeSpec, ProxyError> {
    let refused = || unsupported("this ORDER BY expression, with grouping");
    let tokens = crate::sql::lexer::tokenize(sql).map_err(|_| refused())?;
    let sh = shape(sql, &tokens).ok_or_else(refused)?;
    let stmt = crate::sql::parse_one(sql).map_err(|_| refused())?;
    let sqlparser::ast::Statement::Query(q) = &stmt else {
        return Err(refused());
    };
    let sqlparser::ast::SetExpr::Select(select) = q.body.as_ref() else {
        return Err(refused());
    };
    if sh.items.len() != select.projection.len() || sh.items.len() < extra {
        return Err(refused());
    }
    plan_grouped(sql, &sh, select, grouped, extra)
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
        let weight = hidden.add(weight_sql(&expr_text));
        keys.push((value, weight, it.desc));
    }
    let mut edits = vec![(sh.list_end, sh.list_end, hidden.sql())];
    let (offset, limit) = match sh.limit {
        Some((o, n)) => {
            let (s, e) = sh.limit_span.expect("limit span");
            edits.push((s, e, format!("LIMIT {}", o.saturating_add(n))));
            (o, Some(n))
        }
        None => (0, None),
    };
    let n_hidden = hidden.exprs.len();
    Ok(MergeSpec {
        columns_sql: None,
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
        rollup: false,
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
/// the merge folds equal groups, then sorts by the client's ORDER BY. The last
/// `extra` select items are ORDER BY expressions moved there: not a DISTINCT's
/// keys, dropped from the client's rows.
fn plan_grouped(
    sql: &str,
    sh: &Shape,
    select: &Select,
    grouped: bool,
    extra: usize,
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
    // Several arguments: each set groups by all of them, the last stage counts
    // each one's distinct values (`AggSpec::CountDistinct`).
    let mut distinct_args: Vec<String> = Vec::new();
    let mut distinct_cols: Vec<usize> = Vec::new();
    let mut distinct_of: Vec<(usize, usize)> = Vec::new();
    // SUM / AVG(DISTINCT x): only with one distinct argument in the statement.
    let mut summed_distinct = false;
    // The distinct arguments COUNT(DISTINCT a, b, ...) groups by.
    let mut tuple_distinct: Vec<Vec<usize>> = Vec::new();
    // GROUP_CONCAT(... ORDER BY / DISTINCT): each set also groups by its
    // elements (see `concat`), in the same two stages.
    let mut ordered = None;
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
                Agg::GroupConcat(sep, args) => {
                    let args = match super::concat::source_texts(item_text) {
                        Some((a, _)) if a.len() == args.len() => a,
                        _ => return Err(unsupported("this GROUP_CONCAT() call")),
                    };
                    // The session's limit, and each set's uncut length (see
                    // `merge::concat`): LENGTH(element) + LENGTH(separator).
                    let max_len = hidden.add("@@group_concat_max_len".into());
                    let len = hidden.add(format!(
                        "SUM(LENGTH(CONCAT({})) + {})",
                        args.join(", "),
                        sep.len()
                    ));
                    calc_aggs.push((len, AggSpec::Sum));
                    AggSpec::Concat { sep, max_len, len }
                }
                Agg::CountDistinct => {
                    let arg = arg.clone().unwrap_or_default();
                    let k = distinct_arg(&mut distinct_args, arg);
                    distinct_cols.push(i);
                    distinct_of.push((i, k));
                    AggSpec::Count
                }
                // COUNT(DISTINCT a, b): each set groups by a and b too; within one
                // (group, a, b) its count is 1 when neither is NULL, added up in the
                // second stage.
                Agg::CountDistinctTuple(parts) => {
                    let ks: Vec<usize> = parts
                        .into_iter()
                        .map(|p| distinct_arg(&mut distinct_args, p))
                        .collect();
                    tuple_distinct.push(ks);
                    distinct_cols.push(i);
                    AggSpec::Count
                }
                // Within one (group, x) every set's SUM(DISTINCT x) is x: taken
                // once in the first stage, added up in the second. AVG(DISTINCT x)
                // from hidden SUM(DISTINCT x) and COUNT(DISTINCT x) likewise.
                Agg::SumDistinct | Agg::AvgDistinct => {
                    let arg = arg.clone().unwrap_or_default();
                    distinct_arg(&mut distinct_args, arg.clone());
                    summed_distinct = true;
                    if matches!(agg, Agg::SumDistinct) {
                        distinct_cols.push(i);
                        AggSpec::Sum
                    } else {
                        let sum = hidden.add(format!("SUM(DISTINCT {arg})"));
                        let count = hidden.add(format!("COUNT(DISTINCT {arg})"));
                        distinct_cols.extend([sum, count]);
                        calc_aggs.push((sum, AggSpec::Sum));
                        calc_aggs.push((count, AggSpec::Count));
                        AggSpec::Avg {
                            sum,
                            count,
                            exact: false,
                        }
                    }
                }
                Agg::Sum => AggSpec::Sum,
                Agg::Min | Agg::Max => {
                    let w = hidden.add(weight_sql(item_text));
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
                    AggSpec::Avg {
                        sum,
                        count,
                        exact: false,
                    }
                }
                Agg::Var(kind) => {
                    let arg = arg.ok_or_else(|| unsupported("STD() without an argument"))?;
                    let (count, m2) = var_helpers(&arg, &mut hidden, &mut calc_aggs);
                    AggSpec::Var { kind, count, m2 }
                }
                Agg::Bit(op) => AggSpec::Bit(op),
                Agg::OrderedConcat(mut call) => {
                    // The client's texts (sqlparser's lose escapes).
                    match super::concat::source_texts(item_text) {
                        Some((a, o))
                            if a.len() == call.args.len() && o.len() == call.order.len() =>
                        {
                            call.args = a;
                            for (c, t) in call.order.iter_mut().zip(o) {
                                c.0 = t;
                            }
                        }
                        _ => return Err(unsupported("this GROUP_CONCAT() / JSON_ARRAYAGG() call")),
                    }
                    if ordered.is_some() {
                        return Err(unsupported(
                            "two GROUP_CONCAT / JSON_ARRAYAGG(... ORDER BY / DISTINCT ...) in one SELECT",
                        ));
                    }
                    ordered = Some((i, call));
                    AggSpec::Any
                }
            };
        }
    }
    // Group keys: GROUP BY items, or for DISTINCT every item.
    let group_items: Vec<(usize, usize)> = if sh.group_by.is_empty() && sh.distinct && !grouped {
        sh.items[..n - extra].iter().map(|i| i.expr).collect()
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
        let weight = hidden.add(weight_sql(value_text));
        if value < n {
            item_weight[value].get_or_insert(weight);
        }
        // `GROUP BY x DESC` (MariaDB): groups come out in that direction.
        let desc = !sh.group_by.is_empty() && sh.group_by[gi].desc;
        keys.push(KeySpec {
            value,
            weight: Some(weight),
            desc,
        });
        order_texts.push(if desc {
            format!("{value_text} DESC")
        } else {
            value_text.to_string()
        });
    }
    let final_keys = keys.clone();
    let mut group_extra: Vec<String> = Vec::new();
    if tuple_distinct
        .iter()
        .any(|t| (0..distinct_args.len()).any(|k| !t.contains(&k)))
    {
        // Grouped by another argument too, a pair would be counted once per value
        // of that argument.
        return Err(unsupported(
            "COUNT(DISTINCT a, b) next to a DISTINCT argument it does not contain",
        ));
    }
    if summed_distinct && distinct_args.len() > 1 {
        return Err(unsupported(
            "SUM(DISTINCT ...) or AVG(DISTINCT ...) next to another DISTINCT argument",
        ));
    }
    // Columns taken as they are in the first stage.
    let mut pre_any = distinct_cols.clone();
    if !distinct_args.is_empty() && ordered.is_some() {
        return Err(unsupported(
            "COUNT(DISTINCT ...) with GROUP_CONCAT / JSON_ARRAYAGG(... ORDER BY / DISTINCT ...)",
        ));
    }
    let mut concat_spec = None;
    let mut limit0 = None;
    if let Some((i, call)) = &ordered {
        let sub = super::concat::plan(call, &mut hidden)?;
        let limit0_call = sub.call.clone();
        keys.extend(sub.keys);
        order_texts.extend(sub.order_by);
        group_extra.extend(sub.group_by);
        calc_aggs.extend(sub.helpers);
        concat_spec = Some((*i, sub.spec));
        pre_any.push(*i);
        // Each set's own list is not used, only its column definition: an
        // empty list of the same arguments (no element to cut, no warning) —
        // or a JSON_ARRAYAGG's one element — under the name the client's text gives the column (as MariaDB keeps
        // names: in utf8mb3, other characters as '?').
        let item = &sh.items[*i];
        let (s0, e) = item.expr;
        let name = match &item.alias {
            Some(_) => String::new(),
            None => {
                let text: String = sql[s0..e]
                    .chars()
                    .map(|c| if c.len_utf8() > 3 { '?' } else { c })
                    .collect();
                format!(" AS `{}`", text.replace('`', "``"))
            }
        };
        limit0 = Some((s0, e, format!("{limit0_call}{name}")));
    }
    let staged = !distinct_args.is_empty() || ordered.is_some();
    let mut distinct_keys = Vec::new();
    for arg in &distinct_args {
        let value = hidden.add(format!("({arg})"));
        let weight = hidden.add(weight_sql(arg));
        keys.push(KeySpec {
            value,
            weight: Some(weight),
            desc: false,
        });
        distinct_keys.push((value, weight));
        order_texts.push(arg.clone());
        group_extra.push(arg.clone());
    }
    if distinct_args.len() > 1 {
        for &(i, k) in &distinct_of {
            let (value, weight) = distinct_keys[k];
            aggs[i] = AggSpec::CountDistinct {
                value,
                weight: Some(weight),
            };
        }
    }
    // `ORDER BY NULL` (MySQL's "no sort after GROUP BY"): no order at all.
    let order_by: Vec<&Item> = sh
        .order_by
        .iter()
        .filter(|it| {
            !sql[it.expr.0..it.expr.1]
                .trim()
                .eq_ignore_ascii_case("NULL")
        })
        .collect();
    if sh.distinct && sh.group_by.is_empty() && !grouped && order_by.is_empty() {
        // Sorted for the merge, a DISTINCT goes through a temporary table in
        // which MariaDB turns a BIT column into a BIGINT (its column definition
        // and its values); grouped by its items too, each set answers with the
        // column definitions of the client's unsorted DISTINCT.
        group_extra.extend(order_texts.iter().cloned());
    }
    // HAVING: conditions on the group keys alone run on each set (as MariaDB
    // itself moves them into WHERE); the rest is evaluated on merged groups, its
    // aggregates may need helper columns.
    let (pushed, rest) = match &select.having {
        Some(h) if !sh.group_by.is_empty() => {
            let agg_aliases: Vec<String> = sh
                .items
                .iter()
                .enumerate()
                .filter(|(i, _)| {
                    !matches!(aggs[*i], AggSpec::Any) || computed.iter().any(|(c, _)| c == i)
                })
                .filter_map(|(_, it)| it.alias.clone())
                .collect();
            split_having(sql, h, &agg_aliases)
        }
        Some(h) => (Vec::new(), Some(h.clone())),
        None => (Vec::new(), None),
    };
    let mut extra_aggs = Vec::new();
    let having = match &rest {
        Some(h) => Some(having_filter(
            sql,
            h,
            sh,
            &item_weight,
            &aggs,
            &mut hidden,
            &mut extra_aggs,
        )?),
        None => None,
    };
    aggs.resize(n + hidden.exprs.len(), AggSpec::Any);
    for (i, a) in extra_aggs.into_iter().chain(calc_aggs) {
        aggs[i] = a;
    }
    if let Some((i, spec)) = concat_spec {
        aggs[i] = spec;
    }
    // The client's ORDER BY, on the merged groups.
    let mut final_order = Vec::new();
    for it in order_by {
        let i = resolve(sql, it, &sh.items).ok_or_else(|| {
            unsupported("ORDER BY an expression that is not in the select list, with grouping")
        })?;
        if matches!(
            aggs[i],
            AggSpec::Concat { .. } | AggSpec::OrderedConcat { .. }
        ) {
            return Err(unsupported(
                "ORDER BY a GROUP_CONCAT() / JSON_ARRAYAGG() result",
            ));
        }
        // A plain item that is not itself a group key (`SELECT u ... GROUP BY
        // u COLLATE utf8mb4_bin ORDER BY u`) sorts in its own collation: it
        // needs a weight of its own. (Aggregates other than MIN / MAX are
        // numbers; an expression over aggregates is computed by the gateway.)
        // (A constant — a literal, a `?` — sorts alike on every row: no
        // weight, which would repeat a client's `?` in the per-set text.)
        let plain = matches!(aggs[i], AggSpec::Any) && !computed.iter().any(|(c, _)| *c == i);
        if item_weight[i].is_none() && plain && reads_a_column(&select.projection[i]) {
            let text = &sql[sh.items[i].expr.0..sh.items[i].expr.1];
            let w = hidden.add(weight_sql(text));
            aggs.resize(n + hidden.exprs.len(), AggSpec::Any);
            item_weight[i] = Some(w);
        }
        final_order.push(KeySpec {
            value: i,
            weight: item_weight[i],
            desc: it.desc,
        });
    }
    // An ORDER BY on the leading group keys is the order groups come out in
    // (MariaDB too sends them without sorting them again).
    let group_order = final_order.len() <= final_keys.len()
        && final_order
            .iter()
            .zip(&final_keys)
            .all(|(o, k)| o.value == k.value);
    let group_direction = final_order
        .iter()
        .zip(&final_keys)
        .all(|(o, k)| o.desc == k.desc);
    let plain_concat = aggs.iter().any(|a| matches!(a, AggSpec::Concat { .. }));
    if (ordered.is_some() || plain_concat) && !group_order {
        // MariaDB then builds every group's list in a temporary table whose
        // column definitions and cut warnings the sets' answers do not show.
        return Err(unsupported(
            "GROUP_CONCAT() with an ORDER BY that is not the grouping",
        ));
    }
    if !distinct_args.is_empty() && !group_order {
        // Likewise: the temporary table's column definitions (flags).
        return Err(unsupported(
            "COUNT(DISTINCT ...) with an ORDER BY that is not the grouping",
        ));
    }
    if group_order && group_direction {
        final_order.clear();
    }
    let rollup = match sh.rollup {
        Some(span) => {
            let calc_items: Vec<usize> = computed.iter().map(|(i, _)| *i).collect();
            super::rollup::check(sh, &aggs, &keys, staged, &calc_items)?;
            Some(span)
        }
        None => None,
    };
    // Per-set statement: helpers appended, ORDER BY the group keys, no LIMIT,
    // no ROLLUP (the merge adds the rollup rows).
    let mut edits = vec![(sh.list_end, sh.list_end, hidden.sql())];
    if let Some((s, e)) = rollup {
        edits.push((s, e, String::new()));
    }
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
    if !group_extra.is_empty() {
        let x = group_extra.join(", ");
        let clause = match sh.group_span {
            Some(_) => format!(", {x}"),
            None => format!(" GROUP BY {x}"),
        };
        edits.push((at, at, clause));
    }
    edits.extend(limit0);
    if !pushed.is_empty() {
        edits.push((at, at, format!(" HAVING {}", pushed.join(" AND "))));
    }
    if !order_texts.is_empty() {
        edits.push((at, at, format!(" ORDER BY {} ", order_texts.join(", "))));
    }
    let (offset, limit) = match sh.limit {
        Some((o, c)) => (o, Some(c)),
        None => (0, None),
    };
    let pre_group = staged.then(|| {
        let mut pre = aggs.clone();
        for &i in &pre_any {
            // Within one (group, x): COUNT(DISTINCT x) is 1 when x is not NULL,
            // the same on every set; a list element is built in the second stage.
            pre[i] = AggSpec::Any;
        }
        pre
    });
    let columns_sql = rollup.map(|_| super::rollup::columns_sql(sql, sh));
    Ok(MergeSpec {
        columns_sql,
        sql: apply_edits(sql, edits).trim_end().to_string(),
        visible: n - extra,
        hidden: hidden.exprs.len() + extra,
        keys,
        group: Some(aggs),
        computed,
        group_keys: staged.then_some(final_keys),
        pre_group,
        one_row: grouped && sh.group_by.is_empty(),
        having,
        final_order: (!final_order.is_empty()).then_some(final_order),
        offset,
        limit,
        rollup: rollup.is_some(),
    })
}

/// Whether select item `p` reads a column.
fn reads_a_column(p: &SelectItem) -> bool {
    use sqlparser::ast::{visit_expressions, Expr};
    use std::ops::ControlFlow;
    let e = match p {
        SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => e,
        _ => return true,
    };
    visit_expressions(e, |x| match x {
        Expr::Identifier(_) | Expr::CompoundIdentifier(_) => ControlFlow::Break(()),
        _ => ControlFlow::Continue(()),
    })
    .is_break()
}

/// The index of `arg` among the statement's distinct arguments (added if new).
fn distinct_arg(args: &mut Vec<String>, arg: String) -> usize {
    match args.iter().position(|a| normalize(a) == normalize(&arg)) {
        Some(k) => k,
        None => {
            args.push(arg);
            args.len() - 1
        }
    }
}
