//! A scalar subquery correlated on one equality whose value is one aggregate
//! (the annotate / subquery counts of Django, Rails and SQLAlchemy):
//! `(SELECT COUNT(*) FROM t WHERE t.k = outer.c [AND <t only>] [GROUP BY t.k])`
//! over a table on other sets. Its values per key are read first, grouped
//! across sets — `SELECT t.k, COUNT(*) FROM t WHERE ... GROUP BY t.k` — and
//! written back as `(CASE outer.c WHEN k1 THEN v1 ... ELSE e END)`, where `e`
//! is the aggregate over no rows (COUNT's 0, SUM's NULL: read as
//! `SELECT agg FROM t WHERE 0`), or NULL when the subquery has the GROUP BY
//! (no group, no row). A NULL `outer.c` matches no key, as `t.k = NULL`
//! matches no row. Keys must be numbers: a string key's groups follow the
//! inner column's collation, which CASE's comparison need not share.

use sqlparser::ast::{Expr, GroupByExpr, Query, SelectItem, SetExpr};

use super::fetch::Fetched;
use super::source::Source;
use super::subquery::{correlation, Form, Sub};
use super::Budget;
use crate::error::ProxyError;
use crate::exec::Exec;
use crate::merge::value::{cmp_for, Cmp};

/// The subquery `q` when it has the shape of the module doc.
pub fn sub(q: &Query, src: &Source) -> Option<Sub> {
    let SetExpr::Select(s) = q.body.as_ref() else {
        return None;
    };
    if q.with.is_some() || q.order_by.is_some() || q.limit_clause.is_some() || s.distinct.is_some()
    {
        return None;
    }
    let [item] = s.projection.as_slice() else {
        return None;
    };
    let expr = match item {
        SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => e,
        _ => return None,
    };
    let Expr::Function(f) = expr else {
        return None;
    };
    let name = f.name.to_string().to_ascii_uppercase();
    if !["COUNT", "SUM", "MIN", "MAX", "AVG"].contains(&name.as_str()) || f.over.is_some() {
        return None;
    }
    let c = correlation(s, src)?;
    let (inner, outer) = (c.inner.as_ref()?, c.outer.clone()?);
    let grouped = match &s.group_by {
        GroupByExpr::Expressions(e, m) if e.is_empty() && m.is_empty() => false,
        GroupByExpr::Expressions(e, m) if e.len() == 1 && m.is_empty() => {
            if bare(src.expr(&e[0])?) != bare(inner) {
                return None;
            }
            true
        }
        _ => return None,
    };
    let agg = src.expr(expr)?;
    let filter = c.filter();
    let whole = super::subquery::whole_range(q, src)?;
    Some(Sub {
        range: whole,
        values_sql: format!(
            "SELECT {inner}, {agg} FROM {}{filter} GROUP BY {inner}",
            c.from
        ),
        form: Form::Correlated {
            outer,
            empty_sql: (!grouped).then(|| format!("SELECT {agg} FROM {} WHERE 0", c.from)),
        },
    })
}

/// An expression's text without backticks and parentheses, lower-cased.
fn bare(s: &str) -> String {
    s.chars()
        .filter(|c| !matches!(c, '`' | '(' | ')') && !c.is_whitespace())
        .collect::<String>()
        .to_ascii_lowercase()
}

/// The `CASE` replacing the subquery `s` (see the module doc).
pub async fn read(exec: &mut Exec<'_>, s: &Sub, budget: &mut Budget) -> Result<String, ProxyError> {
    let Form::Correlated { outer, empty_sql } = &s.form else {
        return Err(ProxyError::Internal(
            "correlated: not a correlated subquery".into(),
        ));
    };
    let f = super::capture::read(exec, &s.values_sql, budget).await?;
    let empty = match empty_sql {
        None => "NULL".to_string(),
        Some(q) => {
            let e = super::capture::read(exec, q, budget).await?;
            one_value(&e)?
        }
    };
    case(outer, &f, &empty)
}

fn refused(what: &str) -> ProxyError {
    super::unsupported(format!("a correlated subquery across sets {what}"))
}

/// The only value of `f` as a literal.
fn one_value(f: &Fetched) -> Result<String, ProxyError> {
    let col = f.cols.first().ok_or_else(|| refused("without a column"))?;
    Ok(
        match f.rows.first().and_then(|r| r.first()).cloned().flatten() {
            Some(v) => value(col, &v)?,
            None => "NULL".to_string(),
        },
    )
}

fn value(col: &mysql_common::packets::Column, v: &[u8]) -> Result<String, ProxyError> {
    if cmp_for(col) == Cmp::Float
        && col.column_type() == mysql_common::constants::ColumnType::MYSQL_TYPE_FLOAT
    {
        return Err(refused("giving FLOAT values"));
    }
    Ok(super::key::literal(col, v))
}

/// `(CASE outer WHEN key THEN value ... ELSE empty END)` over the rows of
/// `f` (key, value).
fn case(outer: &str, f: &Fetched, empty: &str) -> Result<String, ProxyError> {
    let [kc, vc] = &f.cols[..] else {
        return Err(refused("of this shape"));
    };
    if !matches!(cmp_for(kc), Cmp::Int | Cmp::Decimal) {
        return Err(refused("correlated on a key that is not a number"));
    }
    let mut arms = String::new();
    for r in &f.rows {
        let (Some(Some(k)), Some(v)) = (r.first(), r.get(1)) else {
            continue; // a NULL key matches no outer row
        };
        let v = match v {
            Some(v) => value(vc, v)?,
            None => "NULL".to_string(),
        };
        arms.push_str(&format!(" WHEN {} THEN {v}", super::key::literal(kc, k)));
    }
    if arms.is_empty() {
        return Ok(format!("({empty})"));
    }
    Ok(format!("(CASE {outer}{arms} ELSE {empty} END)"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use mysql_common::constants::ColumnType;
    use mysql_common::packets::Column;
    use std::sync::Arc;

    fn sub_of(sql: &str) -> Option<Sub> {
        let st = crate::sql::parse_one(sql).unwrap();
        let sqlparser::ast::Statement::Query(q) = &st else {
            panic!()
        };
        let SetExpr::Select(s) = q.body.as_ref() else {
            panic!()
        };
        let p = super::super::subquery::plan(sql, &crate::sql::lexer::tokenize(sql).unwrap(), s)?;
        p.subs.into_iter().next()
    }

    #[test]
    fn annotate_counts_are_read_by_key() {
        let s = sub_of("SELECT u.id, (SELECT COUNT(*) FROM orders o WHERE o.uid = u.id AND o.amount > 5) AS n FROM users u").unwrap();
        assert_eq!(
            s.values_sql,
            "SELECT o.uid, COUNT(*) FROM `orders` AS `o` WHERE (o.amount > 5) GROUP BY o.uid"
        );
        assert_eq!(
            s.form,
            Form::Correlated {
                outer: "`u`.`id`".into(),
                empty_sql: Some("SELECT COUNT(*) FROM `orders` AS `o` WHERE 0".into())
            }
        );
        // Django's: GROUP BY the key, the outer column in parentheses.
        let s = sub_of("SELECT (SELECT SUM(U0.qty) AS t FROM items U0 WHERE U0.uid = (users.id) GROUP BY U0.uid) AS t FROM users").unwrap();
        assert_eq!(
            s.form,
            Form::Correlated {
                outer: "`users`.`id`".into(),
                empty_sql: None
            }
        );
        // Not an aggregate, or grouped by something else: not this form.
        let s = sub_of("SELECT (SELECT o.amount FROM orders o WHERE o.uid = u.id) FROM users u")
            .unwrap();
        assert_eq!(s.form, Form::Scalar);
        let s = sub_of("SELECT (SELECT COUNT(*) FROM orders o WHERE o.uid = u.id GROUP BY o.status) FROM users u").unwrap();
        assert_eq!(s.form, Form::Scalar);

        let f = Fetched {
            cols: Arc::from(vec![
                Column::new(ColumnType::MYSQL_TYPE_LONGLONG),
                Column::new(ColumnType::MYSQL_TYPE_LONGLONG),
            ]),
            rows: vec![
                vec![Some(b"7".to_vec()), Some(b"2".to_vec())],
                vec![None, Some(b"9".to_vec())],
            ],
            warnings: 0,
            sets: Vec::new(),
        };
        assert_eq!(
            case("`u`.`id`", &f, "0").unwrap(),
            "(CASE `u`.`id` WHEN 7 THEN 2 ELSE 0 END)"
        );
        let text = Fetched {
            cols: Arc::from(vec![
                Column::new(ColumnType::MYSQL_TYPE_VAR_STRING).with_character_set(45),
                Column::new(ColumnType::MYSQL_TYPE_LONGLONG),
            ]),
            ..f
        };
        assert!(case("`u`.`id`", &text, "0").is_err());
    }
}
