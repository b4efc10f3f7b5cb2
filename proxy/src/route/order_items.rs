//! A grouped SELECT over several sets that orders by an expression which is
//! not one of its select items (`GROUP BY g ORDER BY COUNT(*) DESC`,
//! `ORDER BY g IS NULL, g`): the expression is moved into the select list as
//! an item of its own, aliased, and the ORDER BY names the alias. The grouped
//! planner then computes it per group like any item (an aggregate, an
//! expression over aggregates, or a group key's expression), and the extra
//! items are dropped from the client's rows as helper columns are.
//!
//! A DISTINCT without grouping is planned the same way, its keys being the
//! client's items alone, when the expression reads nothing but select items
//! (so it has one value per distinct row, as MariaDB sorts them).
//!
//! A select alias inside the moved expression is replaced by its item's text
//! (MariaDB resolves ORDER BY names to select aliases first), since the select
//! list cannot name its own aliases; the alias of an aggregate item is
//! MariaDB's error 1247 there.

use sqlparser::ast::{visit_expressions, Expr};
use sqlparser::dialect::MySqlDialect;
use sqlparser::parser::Parser;
use std::ops::ControlFlow;

use super::aggs::contains_aggregate;
use super::hidden::{normalize, resolve, unsupported};
use super::select::Shape;
use crate::error::ProxyError;
use crate::sql::lexer::{Kind, Token};

/// A grouped statement with ORDER BY expressions moved into its select list.
pub(super) struct Moved {
    pub(super) sql: String,
    /// Select items added after the client's.
    pub(super) extra: usize,
}

/// The statement with its unresolved ORDER BY expressions moved into the
/// select list; `None` when every ORDER BY item is a select item already.
/// `aggregate(i)`: whether select item `i` holds an aggregate; `distinct`: a
/// DISTINCT without grouping.
pub(super) fn move_order_exprs(
    sql: &str,
    tokens: &[Token],
    sh: &Shape,
    aggregate: &dyn Fn(usize) -> bool,
    distinct: bool,
) -> Result<Option<Moved>, ProxyError> {
    let mut added = Vec::new();
    let mut edits = Vec::new();
    for it in &sh.order_by {
        let text = sql[it.expr.0..it.expr.1].trim();
        if text.eq_ignore_ascii_case("NULL") || resolve(sql, it, &sh.items).is_some() {
            continue;
        }
        if distinct && !reads_only_items(sql, text, sh) {
            return Err(unsupported(
                "ORDER BY an expression that is not in the select list, with DISTINCT",
            ));
        }
        let alias = format!("`__swo{}`", added.len());
        added.push(format!(
            ", {} AS {alias}",
            with_aliases_expanded(sql, tokens, it.expr, sh, aggregate)?
        ));
        edits.push((it.expr.0, it.expr.1, alias));
    }
    if added.is_empty() {
        return Ok(None);
    }
    let extra = added.len();
    edits.push((sh.list_end, sh.list_end, added.concat()));
    Ok(Some(Moved {
        sql: super::select::apply_edits(sql, edits),
        extra,
    }))
}

/// Whether expression `text` holds no aggregate and every column it reads is
/// a select item (by its text or alias).
fn reads_only_items(sql: &str, text: &str, sh: &Shape) -> bool {
    let Ok(expr) = Parser::new(&MySqlDialect {})
        .try_with_sql(text)
        .and_then(|mut p| p.parse_expr())
    else {
        return false;
    };
    if contains_aggregate(&expr) {
        return false;
    }
    let selected = |name: String| {
        let name = normalize(&name);
        sh.items.iter().any(|it| {
            let item = normalize(&sql[it.expr.0..it.expr.1]);
            // `s` reads the item `t.s` (a name's last part).
            let plain = item
                .chars()
                .all(|c| c.is_alphanumeric() || c == '_' || c == '.');
            let column = item.rsplit('.').next().unwrap_or(&item);
            item == name
                || (plain && column == name)
                || it.alias.as_deref().is_some_and(|a| normalize(a) == name)
        })
    };
    visit_expressions(&expr, |e| match e {
        Expr::Identifier(i) if !selected(i.value.clone()) => ControlFlow::Break(()),
        Expr::CompoundIdentifier(parts) => {
            let full = parts
                .iter()
                .map(|p| p.value.as_str())
                .collect::<Vec<_>>()
                .join(".");
            let last = parts.last().map(|p| p.value.clone()).unwrap_or_default();
            if selected(full) || selected(last) {
                ControlFlow::Continue(())
            } else {
                ControlFlow::Break(())
            }
        }
        _ => ControlFlow::Continue(()),
    })
    .is_continue()
}

/// The text of `span`, each bare name of a select alias replaced by that
/// item's expression in parentheses.
fn with_aliases_expanded(
    sql: &str,
    tokens: &[Token],
    span: (usize, usize),
    sh: &Shape,
    aggregate: &dyn Fn(usize) -> bool,
) -> Result<String, ProxyError> {
    let inside: Vec<&Token> = tokens
        .iter()
        .filter(|t| t.start >= span.0 && t.end <= span.1)
        .collect();
    let mut out = String::new();
    let mut last = span.0;
    for (k, t) in inside.iter().enumerate() {
        if !matches!(t.kind, Kind::Word | Kind::QuotedIdent) {
            continue;
        }
        let dotted = |j: Option<&&Token>| j.is_some_and(|u| u.is_punct(sql, "."));
        let calls = inside.get(k + 1).is_some_and(|u| u.is_punct(sql, "("));
        if dotted(k.checked_sub(1).and_then(|j| inside.get(j)))
            || dotted(inside.get(k + 1))
            || calls
        {
            continue;
        }
        let name = t.text(sql).trim_matches('`');
        let Some(i) = sh.items.iter().position(|s| {
            s.alias
                .as_deref()
                .is_some_and(|a| a.eq_ignore_ascii_case(name))
        }) else {
            continue;
        };
        if aggregate(i) {
            return Err(ProxyError::GroupFunctionReference(name.to_string()));
        }
        let item = &sh.items[i];
        out.push_str(&sql[last..t.start]);
        out.push('(');
        out.push_str(&sql[item.expr.0..item.expr.1]);
        out.push(')');
        last = t.end;
    }
    out.push_str(&sql[last..span.1]);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::lexer::tokenize;

    /// `aggregate`: the select items holding an aggregate.
    fn moved(sql: &str, aggregate: &[bool]) -> Result<Option<(String, usize)>, u16> {
        let tokens = tokenize(sql).unwrap();
        let sh = super::super::select::shape(sql, &tokens).unwrap();
        let aggregate = |i: usize| aggregate.get(i).copied().unwrap_or(true);
        match move_order_exprs(sql, &tokens, &sh, &aggregate, sh.distinct) {
            Ok(m) => Ok(m.map(|m| (m.sql, m.extra))),
            Err(e) => Err(e.code()),
        }
    }

    #[test]
    fn an_aggregate_not_selected_becomes_an_item() {
        assert_eq!(
            moved(
                "SELECT g FROM a GROUP BY g ORDER BY COUNT(*) DESC, g",
                &[false]
            ),
            Ok(Some((
                "SELECT g, COUNT(*) AS `__swo0` FROM a GROUP BY g ORDER BY `__swo0` DESC, g".into(),
                1
            )))
        );
    }

    #[test]
    fn aliases_inside_are_expanded_and_selected_items_stay() {
        assert_eq!(
            moved(
                "SELECT g % 3 AS m, COUNT(*) c FROM a GROUP BY m ORDER BY m IS NULL, c, t.m + m(1)",
                &[false, true]
            ),
            Ok(Some((
                "SELECT g % 3 AS m, COUNT(*) c, (g % 3) IS NULL AS `__swo0`, t.m + m(1) AS `__swo1` FROM a GROUP BY m ORDER BY `__swo0`, c, `__swo1`".into(),
                2
            )))
        );
        assert_eq!(
            moved(
                "SELECT g, COUNT(*) FROM a GROUP BY g ORDER BY 2, g, NULL",
                &[false, true]
            ),
            Ok(None)
        );
    }

    #[test]
    fn a_distinct_orders_by_expressions_of_its_items_only() {
        assert_eq!(
            moved("SELECT DISTINCT g, t.s FROM a t ORDER BY g IS NULL, LOWER(s), g", &[false, false]),
            Ok(Some((
                "SELECT DISTINCT g, t.s, g IS NULL AS `__swo0`, LOWER(s) AS `__swo1` FROM a t ORDER BY `__swo0`, `__swo1`, g".into(),
                2
            )))
        );
        assert_eq!(
            moved("SELECT DISTINCT g FROM a ORDER BY id", &[false]),
            Err(1235)
        );
        assert_eq!(
            moved("SELECT DISTINCT g FROM a ORDER BY -id", &[false]),
            Err(1235)
        );
        assert_eq!(
            moved("SELECT DISTINCT g FROM a ORDER BY COUNT(*)", &[false]),
            Err(1235)
        );
    }

    #[test]
    fn an_aggregate_alias_inside_an_expression_is_error_1247() {
        assert_eq!(
            moved(
                "SELECT g, COUNT(*) c FROM a GROUP BY g ORDER BY c + 0",
                &[false, true]
            ),
            Err(1247)
        );
    }
}
