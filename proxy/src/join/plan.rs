//! Splitting a two-table join into one query per side, and the cost rule.
//!
//! Each side's query reads one table: the select items of that table as the
//! client wrote them, then hidden helper columns (each join key, its collation
//! weight, ORDER BY values and weights, columns the gateway tests after an
//! outer join), and the conditions of the ON / WHERE clauses that refer to that
//! table alone (pushed down, as written). Conditions between the two tables must
//! be equalities: they are the join keys.
//!
//! Which operator runs it is [`super::cost`]'s rule; resolving column
//! references to the two tables is [`super::tables`].

use sqlparser::ast::{
    BinaryOperator, Expr, GroupByExpr, JoinConstraint, JoinOperator, OrderByKind, Query, Select,
    SelectItem, SelectItemQualifiedWildcardKind,
};
use topo::ClusterSnapshot;

use super::json_key;
use super::plan_exprs::{count_star, is_column, is_constant, null_rejecting, order_expr, strip};
use super::source::{conjuncts, Source};
use super::tables::{name_parts, sides_of, table_of, Table};
use super::unsupported;
use crate::error::ProxyError;
use crate::merge::collate::weight_sql;
use crate::route::key::{pinned_values, KeyColumn};
use crate::route::plan::KnownTable;
use crate::sql::lexer::Token;
use crate::sql::select::shape;

// The plan's types, under the paths `join::plan::*` other modules use.
pub use super::two_sided::{JoinKind, NullTest, OrderKey, OutItem, Side, Strategy, TwoSided};

/// Plans a two-table SELECT join whose tables are not co-located.
pub fn plan_join(
    snap: &ClusterSnapshot,
    db: Option<&str>,
    known: &[KnownTable],
    sql: &str,
    tokens: &[Token],
    q: &Query,
    sel: &Select,
) -> Result<TwoSided, ProxyError> {
    let src = Source::new(sql, tokens);
    let refuse = |what: &str| Err(unsupported(format!("{what} over a join across sets")));
    if q.with.is_some() {
        return refuse("WITH");
    }
    let count_only = count_star(sel) && q.order_by.is_none() && sel.distinct.is_none();
    let grouped = !matches!(&sel.group_by, GroupByExpr::Expressions(e, _) if e.is_empty())
        || sel.distinct.is_some()
        || sel.having.is_some()
        || crate::route::aggs::outer_aggregates(sel) && !count_only;
    if sel.into.is_some() || !q.locks.is_empty() || q.fetch.is_some() {
        return refuse("INTO, FETCH or a locking read");
    }
    // FROM a JOIN b ON ...  |  FROM a, b WHERE ...
    let (left, right, op) = match sel.from.as_slice() {
        [one] if one.joins.len() == 1 => (
            &one.relation,
            &one.joins[0].relation,
            Some(&one.joins[0].join_operator),
        ),
        [a, b] if a.joins.is_empty() && b.joins.is_empty() => (&a.relation, &b.relation, None),
        _ => {
            return Err(unsupported(
                "a join of more than two tables (or a derived table) across sets",
            ))
        }
    };
    let (kind, on) = match op {
        None => (JoinKind::Inner, None),
        Some(JoinOperator::Join(c) | JoinOperator::Inner(c)) => (JoinKind::Inner, Some(c)),
        Some(JoinOperator::Left(c) | JoinOperator::LeftOuter(c)) => {
            (JoinKind::Outer { preserved: 0 }, Some(c))
        }
        Some(JoinOperator::Right(c) | JoinOperator::RightOuter(c)) => {
            (JoinKind::Outer { preserved: 1 }, Some(c))
        }
        Some(_) => return Err(unsupported("this kind of join across sets")),
    };
    let mut using: Vec<String> = Vec::new();
    let on = match on {
        None | Some(JoinConstraint::None) => None,
        Some(JoinConstraint::On(e)) => Some(e),
        Some(JoinConstraint::Using(cols)) => {
            // `*` would show the USING columns once, first: not the sides' `*`.
            if sel
                .projection
                .iter()
                .any(|p| matches!(p, SelectItem::Wildcard(_)))
            {
                return Err(unsupported("SELECT * of a JOIN ... USING across sets"));
            }
            for c in cols {
                match name_parts(c)?.as_slice() {
                    [c] => using.push(c.clone()),
                    _ => return Err(unsupported("this JOIN ... USING across sets")),
                }
            }
            None
        }
        Some(_) => return Err(unsupported("NATURAL JOIN across sets")),
    };
    let (t0, from0) = table_of(left, snap, db, known)?;
    let (t1, from1) = table_of(right, snap, db, known)?;
    let t = [t0, t1];
    let mut sides: [Side; 2] = [from0, from1].map(|from| Side {
        name: String::new(),
        from,
        items: vec![],
        star: None,
        hidden: vec![],
        conds: vec![],
        keys: vec![],
        key_exprs: vec![],
        pinned: false,
        key_is_shard_key: false,
        gates: vec![],
        null_safe: vec![],
    });
    for (s, tb) in sides.iter_mut().zip(&t) {
        s.name = format!("{}.{}", tb.db, tb.name);
    }
    let text = |e: &Expr| {
        src.expr(e).map(str::to_string).ok_or_else(|| {
            unsupported("an expression the gateway cannot locate in a join across sets")
        })
    };
    // Conditions.
    let mut key_pairs: Vec<(String, String)> = Vec::new();
    let mut key_texts: Vec<String> = Vec::new();
    let mut pushed: [Vec<&Expr>; 2] = [vec![], vec![]];
    let mut null_tests: Vec<(usize, String, bool)> = Vec::new();
    let mut gated: Vec<(usize, String)> = Vec::new();
    let mut null_safe: Vec<bool> = Vec::new();
    let mut kind = kind;
    let mut nulled = match kind {
        JoinKind::Outer { preserved } => Some(1 - preserved),
        JoinKind::Inner => None,
    };
    let clauses = [(true, on), (false, sel.selection.as_ref())];
    for (in_on, clause) in clauses {
        let Some(clause) = clause else { continue };
        for c in conjuncts(clause) {
            let m = sides_of(c, &t)?;
            let target = match m {
                0 => match (in_on, nulled) {
                    (true, Some(n)) => n,
                    (false, Some(n)) => 1 - n,
                    _ => 0,
                },
                1 | 2 => (m >> 1) as usize,
                _ => {
                    // Both tables: an equality between one side and the other.
                    if !in_on && nulled.is_some() {
                        return Err(unsupported(
                            "a WHERE condition between the two tables of an outer join across sets",
                        ));
                    }
                    let Expr::BinaryOp {
                        left,
                        op: op @ (BinaryOperator::Eq | BinaryOperator::Spaceship),
                        right,
                    } = strip(c)
                    else {
                        return Err(unsupported(
                            "a join condition other than equalities between the two tables across sets",
                        ));
                    };
                    let (l, r) = (sides_of(left, &t)?, sides_of(right, &t)?);
                    let (lt, rt) = json_key::key_texts(left, right, text(left)?, text(right)?);
                    let (a, b) = match (l, r) {
                        (1, 2) => (lt, rt),
                        (2, 1) => (rt, lt),
                        _ => {
                            return Err(unsupported(
                                "a join condition other than equalities between the two tables across sets",
                            ))
                        }
                    };
                    key_pairs.push((a, b));
                    key_texts.push(text(c)?);
                    null_safe.push(*op == BinaryOperator::Spaceship);
                    continue;
                }
            };
            if Some(target) == nulled && !in_on && null_rejecting(c) {
                // False for null-extended rows: an inner join (as MariaDB
                // simplifies it), the condition pushed down.
                kind = JoinKind::Inner;
                nulled = None;
            }
            if Some(target) == nulled && !in_on {
                // WHERE on the null-extended side: only IS [NOT] NULL of a column.
                match strip(c) {
                    Expr::IsNull(x) if is_column(x) => null_tests.push((target, text(x)?, true)),
                    Expr::IsNotNull(x) if is_column(x) => {
                        null_tests.push((target, text(x)?, false))
                    }
                    _ => {
                        return Err(unsupported(
                            "a WHERE condition on the outer-joined table other than `column IS [NOT] NULL` across sets",
                        ))
                    }
                }
                continue;
            }
            if in_on && nulled.is_some() && Some(target) != nulled {
                // Not a filter: the preserved row stays, matching nothing.
                gated.push((target, text(c)?));
                continue;
            }
            pushed[target].push(c);
        }
    }
    for c in &using {
        let q = |tb: &Table| {
            let name = tb.alias.clone().unwrap_or_else(|| tb.name.clone());
            format!("`{}`.`{}`", name.replace('`', "``"), c.replace('`', "``"))
        };
        key_pairs.push((q(&t[0]), q(&t[1])));
        key_texts.push(format!("{} = {}", q(&t[0]), q(&t[1])));
        null_safe.push(false);
    }
    if key_pairs.is_empty() {
        return Err(unsupported(
            "a join across sets without an equality between the two tables",
        ));
    }
    for s in sides.iter_mut() {
        s.null_safe = null_safe.clone();
    }
    for (side, c) in gated {
        let g = add_hidden(&mut sides[side], format!("({c}) IS TRUE"));
        sides[side].gates.push(g);
    }
    for (i, s) in sides.iter_mut().enumerate() {
        for c in &pushed[i] {
            s.conds.push(text(c)?);
        }
        if let Some(key) = &t[i].shard_key {
            let mut quals = vec![t[i].name.as_str()];
            if let Some(a) = &t[i].alias {
                quals = vec![a.as_str()];
            }
            // A hint for the join's order only (each side is routed again).
            let col = KeyColumn {
                key,
                qualifiers: quals,
                unqualified: true,
                text: false,
            };
            s.pinned = pushed[i]
                .iter()
                .any(|c| pinned_values(Some(c), &col).is_some());
        }
    }
    for (a, b) in &key_pairs {
        for (i, k) in [a, b].into_iter().enumerate() {
            let v = add_hidden(&mut sides[i], k.clone());
            let w = add_hidden(&mut sides[i], weight_sql(k));
            sides[i].keys.push((v, w));
            sides[i].key_exprs.push(k.clone());
        }
    }
    for (i, s) in sides.iter_mut().enumerate() {
        if let (Some(key), [k]) = (&t[i].shard_key, s.key_exprs.as_slice()) {
            let bare = k.rsplit('.').next().unwrap_or(k).trim_matches('`');
            s.key_is_shard_key = bare.eq_ignore_ascii_case(key);
        }
    }
    let null_tests = null_tests
        .into_iter()
        .map(|(side, e, is_null)| NullTest {
            side,
            col: add_hidden(&mut sides[side], e),
            is_null,
        })
        .collect();
    // Select items.
    let shape =
        shape(sql, tokens).ok_or_else(|| unsupported("this SELECT over a join across sets"))?;
    if let Some(why) = &shape.unsupported {
        return Err(unsupported(format!("{why} over a join across sets")));
    }
    if shape.items.len() != sel.projection.len() {
        return Err(unsupported("this select list over a join across sets"));
    }
    let mut out = Vec::new();
    let mut item_exprs: Vec<Option<(&Expr, usize)>> = Vec::new();
    let count =
        (count_only && !grouped).then(|| sql[shape.items[0].start..shape.items[0].end].to_string());
    let refs: Vec<crate::route::analyze::TableRef> = t
        .iter()
        .map(|tb| crate::route::analyze::TableRef {
            db: Some(tb.db.clone()),
            name: tb.name.clone(),
            alias: None,
            pos: usize::MAX,
        })
        .collect();
    let group = if grouped {
        let set = super::set_holding_all(snap, db, &refs);
        let mut p = super::group::Planner::new(&src, sql, &t, &mut sides);
        p.nulled = nulled;
        Some(Box::new(super::group::plan(p, &shape, q, sel, set)?))
    } else {
        None
    };
    for (it, p) in shape.items.iter().zip(&sel.projection) {
        if count.is_some() || group.is_some() {
            break;
        }
        let written = sql[it.start..it.end].to_string();
        let side_list: Vec<usize> = match p {
            SelectItem::Wildcard(_) => vec![0, 1],
            SelectItem::QualifiedWildcard(SelectItemQualifiedWildcardKind::ObjectName(n), _) => {
                let quals = name_parts(n)?;
                match t.iter().position(|tb| tb.matches(&quals)) {
                    Some(i) => vec![i],
                    None => return Err(unsupported("this `t.*` in a join across sets")),
                }
            }
            SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => {
                let s = match sides_of(e, &t)? {
                    // A constant: from the preserved side (super::nulled).
                    0 => usize::from(nulled == Some(0)),
                    1 => 0,
                    2 => 1,
                    _ => {
                        return Err(unsupported(
                            "a select item mixing columns of both tables of a join across sets",
                        ))
                    }
                };
                if nulled == Some(s) && super::nulled::null_sensitive(e) {
                    return Err(nulled_refused());
                }
                vec![s]
            }
            _ => return Err(unsupported("this select item in a join across sets")),
        };
        let star = side_list.len() == 2 || matches!(p, SelectItem::QualifiedWildcard(..));
        for s in side_list {
            let side = &mut sides[s];
            if star {
                if side.star.is_some() {
                    return Err(unsupported("two `*` of one table in a join across sets"));
                }
                side.star = Some(side.items.len());
                side.items
                    .push(match (&t[s].alias, star && !written.ends_with(".*")) {
                        (Some(a), _) => format!("`{}`.*", a.replace('`', "``")),
                        (None, _) => format!("{}.*", side.from),
                    });
                item_exprs.push(None);
            } else {
                side.items.push(written.clone());
                let e = match p {
                    SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => e,
                    _ => unreachable!(),
                };
                item_exprs.push(Some((e, s)));
            }
            let constant = match p {
                SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => {
                    is_constant(e)
                }
                _ => false,
            };
            out.push(OutItem {
                side: s,
                item: side.items.len() - 1,
                constant,
            });
        }
    }
    // ORDER BY: each key an expression of one table (or a select item).
    let mut order = Vec::new();
    if let Some(ob) = q.order_by.as_ref().filter(|_| group.is_none()) {
        let OrderByKind::Expressions(list) = &ob.kind else {
            return refuse("ORDER BY ALL");
        };
        for o in list {
            let (e, side) = order_expr(&o.expr, sel, &shape, &item_exprs, &t)?;
            if nulled == Some(side) && super::nulled::null_sensitive(e) {
                return Err(nulled_refused());
            }
            let et = text(e)?;
            let value = add_hidden(&mut sides[side], et.clone());
            let weight = add_hidden(&mut sides[side], weight_sql(&et));
            order.push(OrderKey {
                side,
                value,
                weight,
                desc: matches!(o.options.sort, Some(sqlparser::ast::OrderBySort::Desc)),
            });
        }
    }
    let (offset, limit) = match (shape.limit, shape.limit_span) {
        _ if group.is_some() => (0, None),
        (Some((o, c)), _) => (o, Some(c)),
        (None, None) => (0, None),
        (None, Some(_)) => return refuse("a LIMIT that is not literal numbers"),
    };
    let strategy = super::cost::strategy(sql, kind, &sides);
    let sort_plan = (!order.is_empty())
        .then(|| super::set_holding_all(snap, db, &refs))
        .flatten()
        .map(|set| (set, format!("EXPLAIN {sql}")));
    Ok(TwoSided {
        kind,
        sides,
        out,
        order,
        null_tests,
        offset,
        limit,
        strategy,
        batch: super::config().batch.max(1),
        keys_text: key_texts.join(" AND "),
        count,
        group,
        sort_plan,
    })
}

/// An expression over the null-extended table that is not NULL for NULL columns.
fn nulled_refused() -> ProxyError {
    unsupported(
        "an expression not NULL for NULL columns (IS NULL, COALESCE, IF, CASE...) over the outer-joined table of a join across sets",
    )
}

pub(super) fn add_hidden(s: &mut Side, e: String) -> usize {
    if let Some(i) = s.hidden.iter().position(|h| *h == e) {
        return i;
    }
    s.hidden.push(e);
    s.hidden.len() - 1
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
