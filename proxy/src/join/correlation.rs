//! A subquery block over one table, correlated with the outer query on at
//! most one equality `inner = outer.col` ([`Correlation`]): the shape both
//! `[NOT] EXISTS` ([`super::subquery`]) and the correlated aggregates
//! ([`super::correlated`]) read first.

use sqlparser::ast::{BinaryOperator, Expr, Select, TableFactor};

use super::source::{columns_of, conjuncts, quoted, Source};

/// A subquery block over one table, correlated with the outer query on at
/// most one equality `inner = outer.col`.
pub(super) struct Correlation {
    /// Its table, as `FROM` text (alias kept).
    pub from: String,
    /// The correlation's own side and the outer column (quoted).
    pub inner: Option<String>,
    pub outer: Option<String>,
    /// Its other conditions (on its own table).
    pub rest: Vec<String>,
}

impl Correlation {
    /// ` WHERE <rest>`, or nothing.
    pub fn filter(&self) -> String {
        if self.rest.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", self.rest.join(" AND "))
        }
    }
}

/// The correlation of `s` (one table, no HAVING); `None` for other shapes.
pub(super) fn correlation(s: &Select, src: &Source) -> Option<Correlation> {
    if s.having.is_some() || s.from.len() != 1 || !s.from[0].joins.is_empty() {
        return None;
    }
    let TableFactor::Table { name, alias, .. } = &s.from[0].relation else {
        return None;
    };
    let idents: Vec<_> = name
        .0
        .iter()
        .filter_map(|p| p.as_ident().cloned())
        .collect();
    if idents.len() != name.0.len() {
        return None;
    }
    let tname = idents.last()?.value.clone();
    let own = |quals: &[String]| match (quals, alias) {
        ([], _) => true,
        ([q], Some(a)) => *q == a.name.value,
        ([q], None) => q.eq_ignore_ascii_case(&tname),
        ([_, t], None) => t.eq_ignore_ascii_case(&tname),
        _ => false,
    };
    let mut from = quoted(&idents);
    if let Some(a) = alias {
        from.push_str(&format!(" AS `{}`", a.name.value.replace('`', "``")));
    }
    let mut inner: Option<String> = None;
    let mut outer: Option<String> = None;
    let mut rest: Vec<String> = Vec::new();
    if let Some(w) = &s.selection {
        for c in conjuncts(w) {
            let cols = columns_of(c)?;
            if cols.iter().all(|(q, _)| own(q)) {
                rest.push(format!("({})", src.expr(c)?));
                continue;
            }
            // The correlation: own expression = outer column.
            let Expr::BinaryOp {
                left,
                op: BinaryOperator::Eq,
                right,
            } = c
            else {
                return None;
            };
            let is_outer = |e: &Expr| {
                match e {
                    Expr::Nested(e) => match e.as_ref() {
                        Expr::CompoundIdentifier(p) if p.len() >= 2 => Some(p),
                        _ => None,
                    },
                    Expr::CompoundIdentifier(p) if p.len() >= 2 => Some(p),
                    _ => None,
                }
                .and_then(|p| {
                    let quals: Vec<String> =
                        p[..p.len() - 1].iter().map(|i| i.value.clone()).collect();
                    (!own(&quals)).then(|| quoted(p))
                })
            };
            let owned = |e: &Expr| columns_of(e).is_some_and(|c| c.iter().all(|(q, _)| own(q)));
            let (i, o) = match (is_outer(left), is_outer(right)) {
                (None, Some(o)) if owned(left) => (left, o),
                (Some(o), None) if owned(right) => (right, o),
                _ => return None,
            };
            if outer.is_some() {
                return None;
            }
            inner = Some(src.expr(i)?.to_string());
            outer = Some(o);
        }
    }
    Some(Correlation {
        from,
        inner,
        outer,
        rest,
    })
}
