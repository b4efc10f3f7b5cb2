//! Planning the grouping: the select list's items (group keys, aggregates),
//! the GROUP BY keys (expressions, positions, aliases), DISTINCT, ORDER BY and
//! LIMIT; each column read is added to its side's query (value and weight).

use sqlparser::ast::{Distinct, Expr, GroupByExpr, OrderByKind, Query, Select, SelectItem};

use super::exprs::{aggregate, contains_aggregate, norm, select_ref, strip};
use super::having::having;
use super::{columns, GroupPlan, Item, SideCol};
use crate::error::ProxyError;
use crate::join::plan::{add_hidden, Side};
use crate::join::source::Source;
use crate::join::tables::{sides_of, Table};
use crate::join::unsupported;
use crate::merge::collate::weight_sql;
use crate::sql::select::Shape;

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

impl<'a, 's> Planner<'a, 's> {
    pub(super) fn text(&self, e: &Expr) -> Result<String, ProxyError> {
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
    pub(super) fn side_col(&mut self, e: &Expr) -> Result<SideCol, ProxyError> {
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
        if Some(side) == self.nulled && crate::join::nulled::null_sensitive(e) {
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
    pub(super) fn item_of(&mut self, e: &Expr) -> Result<usize, ProxyError> {
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
    gp.columns_sql = columns::sql(&p, shape, sel, &gp.items[visible..])?;
    Ok(gp)
}
