//! `IN` / `NOT IN` / `EXISTS` / `NOT EXISTS` subqueries over tables on other
//! sets (Vitess's uncorrelated subquery and semi-join primitives): each
//! subquery's values are read first (a normal routed query), then written into
//! the statement in its place, which is routed again like any statement.
//!
//! - `x [NOT] IN (SELECT y ...)` (uncorrelated): `x [NOT] IN (v1, ..., vn)`
//!   with the distinct values, NULL included — MariaDB then gives exactly the
//!   subquery's three-valued answer (a NULL in the list makes a non-match
//!   NULL, so `NOT IN` is never TRUE). No rows: `x [NOT] IN (SELECT 1 FROM DUAL
//!   WHERE 0)`, an empty subquery as MariaDB evaluates it (FALSE / TRUE even
//!   for a NULL `x`).
//! - `[NOT] EXISTS (SELECT ... FROM t WHERE t.y = outer.x AND <t only>)`
//!   (correlated on one equality): a semi / anti join on the non-NULL values
//!   of `t.y`: `(outer.x IS NOT NULL AND outer.x IN (...))`, and for NOT EXISTS
//!   `(outer.x IS NULL OR outer.x NOT IN (...))`; no values: FALSE / TRUE.
//! - `[NOT] EXISTS` of an uncorrelated subquery: TRUE or FALSE.
//! - A scalar subquery `(SELECT ...)` (uncorrelated) as an operand in WHERE,
//!   HAVING or ON (`amount > (SELECT AVG(amount) FROM t)`): its value, NULL
//!   for no row, MariaDB's 1242 for more than one; read through the executor
//!   when it needs a merge across sets (`super::capture`).

use std::ops::ControlFlow;

use sqlparser::ast::{
    Expr, GroupByExpr, Query, Select, SetExpr, Spanned, TableFactor, Visit, Visitor,
};

use super::source::Source;
use crate::sql::lexer::Token;

// Read by `super::correlated` too, under this path.
pub(super) use super::correlation::correlation;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Form {
    /// Replace `(SELECT ...)` by the value list.
    In,
    /// Replace `[NOT] EXISTS (...)` by a test of `outer` against the values.
    Semi { negated: bool, outer: String },
    /// Replace `[NOT] EXISTS (...)` by TRUE / FALSE.
    Exists { negated: bool },
    /// Replace a scalar `(SELECT ...)` by its one value.
    Scalar,
    /// Replace the `(SELECT ...)` of `x op ALL / ANY / SOME (SELECT ...)` by a
    /// subquery of its values (`super::quantified`).
    Quantified,
    /// Replace a UNION's branch by a derived table of its rows
    /// (`super::union_reads`).
    Rows,
    /// Replace a correlated aggregate subquery by a `CASE` of the outer column
    /// over its values per key (`super::correlated`); `empty_sql` gives the
    /// aggregate over no rows (`None`: NULL).
    Correlated {
        outer: String,
        empty_sql: Option<String>,
    },
}

/// One subquery to read first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sub {
    /// Byte range of the client's text it replaces.
    pub range: (usize, usize),
    /// The query giving its values (one column).
    pub values_sql: String,
    pub form: Form,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubqueryPlan {
    /// The client's statement.
    pub sql: String,
    /// In text order, not overlapping.
    pub subs: Vec<Sub>,
    /// Some of them in the select list: where the client's column definitions
    /// come from (the sets filled in by `super::take_over`).
    pub columns: Option<super::selected::Columns>,
    /// A UNION's branches (`super::union_reads`) whose rows the union
    /// de-duplicates or sorts.
    pub compared: bool,
}

impl SubqueryPlan {
    pub fn describe(&self) -> Vec<String> {
        let mut v = Vec::new();
        for (i, s) in self.subs.iter().enumerate() {
            let what = match &s.form {
                Form::In => "IN values".to_string(),
                Form::Semi {
                    negated: false,
                    outer,
                } => format!("semi join on {outer}"),
                Form::Semi {
                    negated: true,
                    outer,
                } => format!("anti join on {outer}"),
                Form::Exists { .. } => "EXISTS".to_string(),
                Form::Scalar => "scalar value".to_string(),
                Form::Quantified => "ALL / ANY values".to_string(),
                Form::Rows => "UNION branch rows".to_string(),
                Form::Correlated { outer, .. } => format!("values per key of {outer}"),
            };
            v.push(format!("subquery {} ({what}): {}", i + 1, s.values_sql));
        }
        v.push(format!(
            "then: the statement with the values written in, routed as usual: {}",
            self.sql
        ));
        v
    }

    /// The statement with each subquery replaced by `replacements`.
    pub fn substitute(&self, replacements: &[String]) -> String {
        let mut out = String::with_capacity(self.sql.len());
        let mut last = 0;
        for (s, r) in self.subs.iter().zip(replacements) {
            out.push_str(&self.sql[last..s.range.0]);
            out.push_str(r);
            last = s.range.1;
        }
        out.push_str(&self.sql[last..]);
        out
    }
}

/// The replacement text of a subquery given its values (literals, `NULL`
/// for NULL; distinct).
pub fn replacement(form: &Form, values: &[Option<String>]) -> String {
    let list = |vals: &[&str]| vals.join(", ");
    match form {
        Form::In if values.is_empty() => "(SELECT 1 FROM DUAL WHERE 0)".to_string(),
        Form::In => {
            let v: Vec<&str> = values
                .iter()
                .map(|v| v.as_deref().unwrap_or("NULL"))
                .collect();
            format!("({})", list(&v))
        }
        Form::Semi { negated, outer } => {
            let v: Vec<&str> = values.iter().filter_map(|v| v.as_deref()).collect();
            match (v.is_empty(), negated) {
                (true, false) => "FALSE".to_string(),
                (true, true) => "TRUE".to_string(),
                (false, false) => format!("({outer} IS NOT NULL AND {outer} IN ({}))", list(&v)),
                (false, true) => format!("({outer} IS NULL OR {outer} NOT IN ({}))", list(&v)),
            }
        }
        Form::Exists { negated } => match (values.is_empty(), negated) {
            (false, false) | (true, true) => "TRUE".to_string(),
            _ => "FALSE".to_string(),
        },
        Form::Quantified => super::quantified::values_subquery(values),
        // Written by `super::union_reads::rows_text` from the whole rows.
        Form::Rows | Form::Correlated { .. } => String::new(),
        // Bare (a literal is atomic), so the HAVING merge sees a plain operand.
        Form::Scalar => format!(
            " {} ",
            values.first().and_then(|v| v.as_deref()).unwrap_or("NULL")
        ),
    }
}

/// The subqueries of the WHERE clause the gateway can read first; `None`
/// when there are none.
pub fn plan(sql: &str, tokens: &[Token], sel: &Select) -> Option<SubqueryPlan> {
    let src = Source::new(sql, tokens);
    let mut f = Finder {
        src: &src,
        depth: 0,
        out: Vec::new(),
    };
    // The select list's first: the client then gets its statement's column
    // definitions (`super::selected`), or when they cannot be read, the
    // select list is left alone.
    let mut sorted_items = Vec::new();
    for (i, item) in sel.projection.iter().enumerate() {
        let before = f.out.len();
        let _ = item.visit(&mut f);
        if f.out.len() > before {
            let (e, alias) = match item {
                sqlparser::ast::SelectItem::UnnamedExpr(e) => (e, None),
                sqlparser::ast::SelectItem::ExprWithAlias { expr, alias } => {
                    (expr, Some(alias.value.clone()))
                }
                _ => continue,
            };
            let text = src.expr(e).unwrap_or_default().to_string();
            sorted_items.push((i + 1, alias, text));
        }
    }
    let mut columns = None;
    if super::selected::sorts_by(sql, tokens, &sorted_items) {
        f.out.clear();
    }
    if !f.out.is_empty() {
        match super::selected::columns_sql(sql, tokens) {
            Some(c) => {
                columns = Some(super::selected::Columns {
                    sql: c,
                    sets: Vec::new(),
                    anywhere: false,
                })
            }
            None => f.out.clear(),
        }
    }
    let _ = sel.selection.visit(&mut f);
    let _ = sel.having.visit(&mut f);
    for t in &sel.from {
        for j in &t.joins {
            let _ = j.join_operator.visit(&mut f);
        }
    }
    let mut subs = f.out;
    if subs.is_empty() {
        return None;
    }
    // Stable: a quantified subquery stays ahead of the scalar one its
    // operand also looked like, which is dropped.
    subs.sort_by_key(|s| s.range.0);
    subs.dedup_by(|later, first| later.range == first.range);
    if subs.windows(2).any(|w| w[0].range.1 > w[1].range.0) {
        return None;
    }
    Some(SubqueryPlan {
        sql: sql.to_string(),
        subs,
        columns,
        compared: false,
    })
}

/// Finds the subqueries of the outer query block (not those nested in
/// another subquery or a derived table).
struct Finder<'a, 's> {
    src: &'a Source<'s>,
    depth: usize,
    out: Vec<Sub>,
}

impl Visitor for Finder<'_, '_> {
    type Break = ();

    fn pre_visit_query(&mut self, _q: &Query) -> ControlFlow<()> {
        self.depth += 1;
        ControlFlow::Continue(())
    }

    fn post_visit_query(&mut self, _q: &Query) -> ControlFlow<()> {
        self.depth -= 1;
        ControlFlow::Continue(())
    }

    fn pre_visit_expr(&mut self, e: &Expr) -> ControlFlow<()> {
        if self.depth > 0 {
            return ControlFlow::Continue(());
        }
        let found = match e {
            Expr::InSubquery { expr, subquery, .. } if !matches!(expr.as_ref(), Expr::Tuple(_)) => {
                whole_sub(subquery, self.src, Form::In)
            }
            Expr::Exists { subquery, negated } => exists_sub(subquery, *negated, self.src),
            Expr::AllOp { right, .. } | Expr::AnyOp { right, .. } => match right.as_ref() {
                Expr::Subquery(q) => whole_sub(q, self.src, Form::Quantified),
                _ => None,
            },
            Expr::Subquery(q) => {
                super::correlated::sub(q, self.src).or_else(|| whole_sub(q, self.src, Form::Scalar))
            }
            _ => None,
        };
        self.out.extend(found);
        ControlFlow::Continue(())
    }
}

/// Token range of a subquery's text: its first token and its closing `)`.
fn located(q: &Query, src: &Source) -> Option<(usize, usize)> {
    let (a, b) = src.parenthesized(q.span())?;
    if !src.sig[a].is_word(src.sql, "SELECT") {
        return None;
    }
    // `((SELECT ...) UNION (SELECT ...))`: the span starts inside the first
    // branch's own parentheses, which are not the subquery's.
    if src.sig.get(b + 1).is_some_and(|t| {
        ["UNION", "INTERSECT", "EXCEPT"]
            .iter()
            .any(|w| t.is_word(src.sql, w))
    }) {
        return None;
    }
    Some((a, b))
}

/// Whether `q` reads only a `JSON_TABLE` of a constant (the values of a
/// subquery read before, `super::collated`): nothing to read first, and no
/// column of the statement's tables.
pub(super) fn values_only(q: &Query) -> bool {
    let constant = |e: &Expr| {
        sqlparser::ast::visit_expressions(e, |x| match x {
            Expr::Identifier(_) | Expr::CompoundIdentifier(_) | Expr::Subquery(_) => {
                ControlFlow::Break(())
            }
            _ => ControlFlow::Continue(()),
        })
        .is_continue()
    };
    matches!(q.body.as_ref(), SetExpr::Select(s)
        if !s.from.is_empty()
            && s.selection.is_none()
            && s.from.iter().all(|f| f.joins.is_empty()
                && matches!(&f.relation, TableFactor::JsonTable { json_expr, .. } if constant(json_expr))))
}

/// A subquery replaced whole, parentheses included (`IN (...)`, a scalar).
fn whole_sub(q: &Query, src: &Source, form: Form) -> Option<Sub> {
    if values_only(q) {
        return None;
    }
    let (a, b) = located(q, src)?;
    Some(Sub {
        range: (src.sig[a - 1].start, src.sig[b].end),
        values_sql: src.sql[src.sig[a].start..src.sig[b - 1].end].to_string(),
        form,
    })
}

/// The byte range of a subquery with its parentheses.
pub(super) fn whole_range(q: &Query, src: &Source) -> Option<(usize, usize)> {
    let (a, b) = located(q, src)?;
    Some((src.sig[a - 1].start, src.sig[b].end))
}

fn exists_sub(q: &Query, negated: bool, src: &Source) -> Option<Sub> {
    let (a, b) = located(q, src)?;
    // `[NOT] EXISTS (`
    let ex = a.checked_sub(2)?;
    if !src.sig[ex].is_word(src.sql, "EXISTS") {
        return None;
    }
    let start = if negated {
        let n = ex.checked_sub(1)?;
        if !src.sig[n].is_word(src.sql, "NOT") {
            return None;
        }
        n
    } else {
        ex
    };
    let range = (src.sig[start].start, src.sig[b].end);
    let SetExpr::Select(s) = q.body.as_ref() else {
        return None;
    };
    if q.with.is_some() || !matches!(&s.group_by, GroupByExpr::Expressions(e, _) if e.is_empty()) {
        return None;
    }
    let c = correlation(s, src)?;
    let mut values_sql = match &c.inner {
        Some(i) => format!("SELECT {i} FROM {}", c.from),
        None => format!("SELECT 1 FROM {}", c.from),
    };
    values_sql.push_str(&c.filter());
    let form = match c.outer {
        Some(outer) => Form::Semi { negated, outer },
        None => Form::Exists { negated },
    };
    Some(Sub {
        range,
        values_sql,
        form,
    })
}

#[cfg(test)]
#[path = "subquery_tests.rs"]
mod tests;
