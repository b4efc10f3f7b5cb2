//! GROUP BY, aggregates (COUNT, SUM, MIN, MAX, AVG), DISTINCT and HAVING over
//! the rows of a cross-set join, grouped by the gateway.
//!
//! Each joined row becomes one "set row" of the merge's fold
//! ([`crate::merge::aggregate`]): COUNT(*) is 1, COUNT(x) 1 or 0, SUM / MIN /
//! MAX the value, AVG a hidden sum and count; group keys carry their collation
//! weight. The rows are sorted on the group keys and folded by the merge's
//! `Grouper` ([`super::grouping`] runs it); HAVING is the merge's [`Filter`]. Column definitions are
//! MariaDB's own: the client's statement with `LIMIT 0`, asked of a set that
//! holds both tables (none: refused with 1235).

use sqlparser::ast::{
    BinaryOperator, Distinct, Expr, FunctionArg, FunctionArgExpr, FunctionArguments, GroupByExpr,
    OrderByKind, Query, Select, SelectItem, UnaryOperator,
};

use super::plan::{add_hidden, Side};
use super::source::Source;
use super::tables::{sides_of, Table};
use super::unsupported;
use crate::error::ProxyError;
use crate::merge::collate::weight_sql;
use crate::merge::filter::{CmpOp, Filter, Operand};
use crate::route::select::Shape;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fun {
    CountStar,
    Count,
    Sum,
    Min,
    Max,
    Avg,
}

/// A column of one side's query: side, hidden value, hidden weight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SideCol {
    pub side: usize,
    pub value: usize,
    pub weight: usize,
}

/// A result column (visible, or needed by HAVING / ORDER BY).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// A group key's value (as any row of the group has it).
    Key { col: SideCol, text: String },
    Agg {
        fun: Fun,
        arg: Option<SideCol>,
        text: String,
    },
}

impl Item {
    fn text(&self) -> &str {
        match self {
            Item::Key { text, .. } | Item::Agg { text, .. } => text,
        }
    }
    /// Helper columns after the items: weight (keys, MIN/MAX), sum and count (AVG).
    pub(super) fn helpers(&self) -> usize {
        match self {
            Item::Key { .. }
            | Item::Agg {
                fun: Fun::Min | Fun::Max,
                ..
            } => 1,
            Item::Agg { fun: Fun::Avg, .. } => 2,
            Item::Agg { .. } => 0,
        }
    }
}

/// The grouping of a join's rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupPlan {
    /// Visible items first, then those only HAVING / ORDER BY use.
    pub items: Vec<Item>,
    pub visible: usize,
    /// GROUP BY keys (all items under DISTINCT).
    pub keys: Vec<SideCol>,
    /// No GROUP BY: one row even over no joined rows.
    pub one_row: bool,
    pub having: Option<Filter>,
    /// Result order: item, DESC.
    pub order: Vec<(usize, bool)>,
    pub offset: u64,
    pub limit: Option<u64>,
    /// The statement asked for the column definitions, and where.
    pub columns_sql: String,
    pub columns_set: String,
}

impl GroupPlan {
    /// First helper column of each item, in the folded rows.
    pub(super) fn helper_at(&self) -> Vec<usize> {
        let mut at = self.items.len();
        self.items
            .iter()
            .map(|it| {
                let a = at;
                at += it.helpers();
                a
            })
            .collect()
    }

    /// The grouping step, as a line of the plan's description.
    pub fn describe(&self) -> String {
        let aggs = self
            .items
            .iter()
            .filter(|i| matches!(i, Item::Agg { .. }))
            .count();
        format!(
            "  then in the gateway: group by {} keys, {} aggregates{}, {} sort keys, OFFSET {}, LIMIT {} (column definitions from {})",
            self.keys.len(),
            aggs,
            if self.having.is_some() { ", HAVING" } else { "" },
            self.order.len(),
            self.offset,
            self.limit.map_or("none".to_string(), |l| l.to_string()),
            self.columns_set
        )
    }

    /// The weight column of item `i`, when it has one.
    pub(super) fn weight_of(&self, i: usize) -> Option<usize> {
        (matches!(
            self.items[i],
            Item::Key { .. }
                | Item::Agg {
                    fun: Fun::Min | Fun::Max,
                    ..
                }
        ))
        .then(|| self.helper_at()[i])
    }
}

fn norm(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_whitespace() && *c != '`')
        .flat_map(char::to_lowercase)
        .collect()
}

fn strip(e: &Expr) -> &Expr {
    match e {
        Expr::Nested(x) => strip(x),
        e => e,
    }
}

/// An aggregate call this module folds: its function and argument.
fn aggregate(e: &Expr) -> Result<Option<(Fun, Option<&Expr>)>, ProxyError> {
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

fn contains_aggregate(e: &Expr) -> bool {
    crate::route::aggs::contains_aggregate(e)
}

/// Plans the grouping; adds the columns it reads to the sides' queries.
pub struct Planner<'a, 's> {
    pub src: &'a Source<'s>,
    pub sql: &'s str,
    pub t: &'a [Table<'a>; 2],
    pub sides: &'a mut [Side; 2],
    /// The null-extended side of an outer join (never filtered for the
    /// column definitions: that would make it an inner join).
    pub nulled: Option<usize>,
    items: Vec<Item>,
    keys: Vec<(SideCol, String)>,
}

impl<'a, 's> Planner<'a, 's> {
    fn text(&self, e: &Expr) -> Result<String, ProxyError> {
        let t = self.src.expr(e).ok_or_else(|| {
            unsupported("an expression the gateway cannot locate in a join across sets")
        })?;
        // A call whose span stops at its name (`COUNT(*)`): up to its `)`.
        let at = t.as_ptr() as usize - self.sql.as_ptr() as usize;
        let mut end = at + t.len();
        if matches!(strip(e), Expr::Function(_)) && !t.ends_with(')') {
            let rest = &self.sql[end..];
            if rest.trim_start().starts_with('(') {
                let mut depth = 0i32;
                for (i, c) in rest.char_indices() {
                    match c {
                        '(' => depth += 1,
                        ')' => {
                            depth -= 1;
                            if depth == 0 {
                                end += i + 1;
                                break;
                            }
                        }
                        _ => {}
                    }
                }
            }
        }
        Ok(self.sql[at..end].to_string())
    }

    /// `e` read from its one table (value and weight).
    fn side_col(&mut self, e: &Expr) -> Result<SideCol, ProxyError> {
        let side = match sides_of(e, self.t)? {
            // A constant: from the preserved side of an outer join, whose rows
            // are all there.
            0 => self.nulled.map_or(0, |n| 1 - n),
            1 => 0,
            2 => 1,
            _ => return Err(unsupported(
                "an expression mixing columns of both tables of a join across sets, under GROUP BY",
            )),
        };
        if Some(side) == self.nulled && super::nulled::null_sensitive(e) {
            // A null-extended row would read NULL for it (see `nulled`).
            return Err(unsupported(
                "an aggregate or GROUP BY of an expression that is not NULL for NULL columns \
                 (IS NULL, COALESCE, IF, CASE) over the outer-joined table of a join across sets",
            ));
        }
        let text = self.text(e)?;
        let value = add_hidden(&mut self.sides[side], text.clone());
        let weight = add_hidden(&mut self.sides[side], weight_sql(&text));
        Ok(SideCol {
            side,
            value,
            weight,
        })
    }

    /// The item for an aggregate call or a group key's expression, added if new.
    fn item_of(&mut self, e: &Expr) -> Result<usize, ProxyError> {
        let text = self.text(e)?;
        if let Some(i) = self
            .items
            .iter()
            .position(|it| norm(it.text()) == norm(&text))
        {
            return Ok(i);
        }
        let item = match aggregate(e)? {
            Some((fun, arg)) => Item::Agg {
                fun,
                arg: match arg {
                    Some(a) => Some(self.side_col(a)?),
                    None => None,
                },
                text,
            },
            None => match self.keys.iter().find(|(_, k)| norm(k) == norm(&text)) {
                Some((col, _)) => Item::Key { col: *col, text },
                None => {
                    return Err(unsupported(
                        "a column that is not a GROUP BY key, over a join across sets",
                    ))
                }
            },
        };
        self.items.push(item);
        Ok(self.items.len() - 1)
    }
}

/// Plans GROUP BY / aggregates / DISTINCT / HAVING over the join.
pub fn plan(
    mut p: Planner<'_, '_>,
    shape: &Shape,
    q: &Query,
    sel: &Select,
    columns_set: Option<String>,
) -> Result<GroupPlan, ProxyError> {
    let Some(columns_set) = columns_set else {
        return Err(unsupported(
            "GROUP BY, DISTINCT or aggregates over a join of tables that no one set holds together (the gateway takes the column definitions from such a set)",
        ));
    };
    if shape.rollup.is_some() {
        return Err(unsupported("WITH ROLLUP over a join across sets"));
    }
    let exprs: Vec<(&Expr, Option<String>)> = sel
        .projection
        .iter()
        .map(|it| match it {
            SelectItem::UnnamedExpr(e) => Ok((e, None)),
            SelectItem::ExprWithAlias { expr, alias } => Ok((expr, Some(alias.value.clone()))),
            _ => Err(unsupported(
                "`*` with GROUP BY, DISTINCT or aggregates over a join across sets",
            )),
        })
        .collect::<Result<_, _>>()?;
    let distinct = match &sel.distinct {
        None => false,
        Some(Distinct::Distinct) => true,
        Some(_) => return Err(unsupported("DISTINCT ON over a join across sets")),
    };
    let GroupByExpr::Expressions(group_by, mods) = &sel.group_by else {
        return Err(unsupported("GROUP BY ALL over a join across sets"));
    };
    if !mods.is_empty() {
        return Err(unsupported("GROUP BY modifiers over a join across sets"));
    }
    // Group keys: expressions, select-list positions or aliases.
    for g in group_by {
        let e = match strip(g) {
            Expr::Value(v) => match &v.value {
                sqlparser::ast::Value::Number(n, _) => {
                    let i: usize = n.parse().unwrap_or(0);
                    i.checked_sub(1)
                        .and_then(|i| exprs.get(i))
                        .map(|x| x.0)
                        .ok_or_else(|| {
                            unsupported("GROUP BY this position over a join across sets")
                        })?
                }
                _ => return Err(unsupported("GROUP BY a constant over a join across sets")),
            },
            Expr::Identifier(id) => exprs
                .iter()
                .find(|(_, a)| {
                    a.as_deref()
                        .is_some_and(|a| a.eq_ignore_ascii_case(&id.value))
                })
                .map_or(g, |x| x.0),
            _ => g,
        };
        if contains_aggregate(e) {
            return Err(unsupported("GROUP BY an aggregate over a join across sets"));
        }
        let col = p.side_col(e)?;
        let text = p.text(e)?;
        p.keys.push((col, text));
    }
    let any_agg = exprs.iter().any(|(e, _)| contains_aggregate(e));
    if distinct {
        if !group_by.is_empty() || any_agg {
            return Err(unsupported(
                "DISTINCT with GROUP BY or aggregates over a join across sets",
            ));
        }
        for (e, _) in &exprs {
            let col = p.side_col(e)?;
            let text = p.text(e)?;
            p.keys.push((col, text));
        }
    }
    // Select items.
    for (e, _) in &exprs {
        let text = p.text(e)?;
        let item = match aggregate(e)? {
            Some((fun, arg)) => Item::Agg {
                fun,
                arg: match arg {
                    Some(a) => Some(p.side_col(a)?),
                    None => None,
                },
                text,
            },
            None if contains_aggregate(e) => {
                return Err(unsupported(
                    "an expression over aggregates over a join across sets",
                ))
            }
            None => match p.keys.iter().find(|(_, k)| norm(k) == norm(&text)) {
                Some((col, _)) => Item::Key { col: *col, text },
                None => {
                    return Err(unsupported(
                        "a select item that is not a GROUP BY key or an aggregate, over a join across sets",
                    ))
                }
            },
        };
        p.items.push(item);
    }
    let visible = p.items.len();
    // ORDER BY: a select item (position, alias, same text), an aggregate or a key.
    let mut order = Vec::new();
    if let Some(ob) = &q.order_by {
        let OrderByKind::Expressions(list) = &ob.kind else {
            return Err(unsupported("ORDER BY ALL over a join across sets"));
        };
        for o in list {
            if o.options.nulls_first.is_some() || o.with_fill.is_some() {
                return Err(unsupported("ORDER BY ... NULLS over a join across sets"));
            }
            let i = select_ref(&o.expr, &exprs)
                .map(Ok)
                .unwrap_or_else(|| p.item_of(&o.expr))?;
            order.push((
                i,
                matches!(o.options.sort, Some(sqlparser::ast::OrderBySort::Desc)),
            ));
        }
    }
    // HAVING: its items first (they decide the helper columns' places).
    if let Some(h) = &sel.having {
        having(&mut p, h, &exprs, None)?;
    }
    let mut gp = GroupPlan {
        items: p.items.clone(),
        visible,
        keys: p.keys.iter().map(|(c, _)| *c).collect(),
        one_row: group_by.is_empty() && !distinct,
        having: None,
        order,
        offset: 0,
        limit: None,
        columns_sql: String::new(),
        columns_set,
    };
    if let Some(h) = &sel.having {
        gp.having = Some(having(&mut p, h, &exprs, Some(&gp))?);
    }
    let (offset, limit) = match (shape.limit, shape.limit_span) {
        (Some((o, c)), _) => (o, Some(c)),
        (None, None) => (0, None),
        (None, Some(_)) => {
            return Err(unsupported(
                "a LIMIT that is not literal numbers over a join across sets",
            ))
        }
    };
    gp.offset = offset;
    gp.limit = limit;
    // A condition no row passes that MariaDB cannot fold away (its zero-row
    // shortcuts change the column definitions): it groups as for real.
    let never: Vec<String> = p
        .sides
        .iter()
        .enumerate()
        .filter(|(i, _)| Some(*i) != p.nulled)
        .filter_map(|(_, s)| s.key_exprs.first())
        .map(|k| format!("NULLIF({k}, {k}) IS NOT NULL"))
        .collect();
    let never = never.join(" AND ");
    let where_span = match &sel.selection {
        Some(w) => {
            let t = p.src.expr(w).ok_or_else(|| {
                unsupported("a WHERE the gateway cannot locate in a join across sets")
            })?;
            let at = t.as_ptr() as usize - p.sql.as_ptr() as usize;
            Some((at, at + t.len()))
        }
        None => None,
    };
    gp.columns_sql = columns_sql(p.sql, shape, &gp.items[visible..], where_span, &never);
    Ok(gp)
}

/// A select item an ORDER BY / HAVING expression names (position, alias, text).
fn select_ref(e: &Expr, exprs: &[(&Expr, Option<String>)]) -> Option<usize> {
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

/// The HAVING filter (`gp` None: only adds the items it reads).
fn having(
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

/// The client's statement with the extra items added and `never` added to
/// its WHERE.
fn columns_sql(
    sql: &str,
    shape: &Shape,
    extra: &[Item],
    where_span: Option<(usize, usize)>,
    never: &str,
) -> String {
    let mut edits: Vec<(usize, usize, String)> = Vec::new();
    let list: String = extra.iter().map(|it| format!(", {}", it.text())).collect();
    edits.push((shape.list_end, shape.list_end, list));
    match where_span {
        Some((a, b)) => {
            edits.push((a, a, "(".into()));
            edits.push((b, b, format!(") AND {never}")));
        }
        None => {
            let at = [
                shape.group_span,
                shape.having_span,
                shape.order_span,
                shape.limit_span,
            ]
            .iter()
            .flatten()
            .map(|s| s.0)
            .min()
            .unwrap_or(sql.trim_end().trim_end_matches(';').len());
            edits.push((at, at, format!(" WHERE {never} ")));
        }
    }
    edits.sort_by_key(|e| e.0);
    let mut s = String::with_capacity(sql.len() + 64);
    let mut pos = 0;
    for (a, b, t) in edits {
        s.push_str(&sql[pos..a]);
        s.push_str(&t);
        pos = b;
    }
    s.push_str(&sql[pos..]);
    s
}

impl<'a, 's> Planner<'a, 's> {
    pub fn new(
        src: &'a Source<'s>,
        sql: &'s str,
        t: &'a [Table<'a>; 2],
        sides: &'a mut [Side; 2],
    ) -> Self {
        Self {
            src,
            sql,
            t,
            sides,
            nulled: None,
            items: Vec::new(),
            keys: Vec::new(),
        }
    }
}
