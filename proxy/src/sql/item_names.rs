//! The names MariaDB gives a prepared statement's select items that hold
//! placeholders. MariaDB names an item without an alias by its text as
//! written, so a prepared `SELECT id, ?, CONCAT(?, name)` answers columns
//! `id`, `?` and `CONCAT(?, name)` whatever the values. When the gateway
//! plans such a statement from its text with the values written in (a join
//! or subquery across sets, an SQL `EXECUTE` of one), the sets name those
//! items by the values instead; these names put MariaDB's back.

use crate::sql::lexer::{tokenize, Kind, Token};
use crate::sql::select::shape;

/// One select item: a `*` / `t.*` (of unknown width), or an expression with
/// the name MariaDB gives it when that name holds a `?` (`None`: the sets'
/// name is right) and, when it is a bare `?` (aliased or not), the index of
/// that placeholder (its column is typed by the parameter alone).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Item {
    Star,
    Expr(Option<String>, Option<usize>),
}

/// The select items of a prepared statement, for renaming its result's
/// columns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemNames {
    items: Vec<Item>,
}

impl ItemNames {
    /// The items of `sql` (with `?`), when one of them is named by a `?` or
    /// is a bare `?`.
    pub fn of(sql: &str) -> Option<ItemNames> {
        let tokens = tokenize(sql).ok()?;
        let s = shape(sql, &tokens)?;
        let mut any = false;
        let items = s
            .items
            .iter()
            .map(|it| {
                let text = &sql[it.expr.0..it.expr.1];
                if text == "*" || text.ends_with(".*") {
                    return Item::Star;
                }
                let holds = tokens.iter().any(|t| {
                    t.kind == Kind::Placeholder && t.start >= it.expr.0 && t.end <= it.expr.1
                });
                let param = (text == "?").then(|| {
                    tokens
                        .iter()
                        .filter(|t| t.kind == Kind::Placeholder && t.start < it.expr.0)
                        .count()
                });
                any |= holds;
                let name = (it.alias.is_none() && holds).then(|| text.to_string());
                Item::Expr(name, param)
            })
            .collect();
        any.then_some(ItemNames { items })
    }

    /// The new name of each of `n` result columns (`None`: keep it). Items
    /// after a `*` are counted from the end.
    pub fn names(&self, n: usize) -> Vec<Option<&str>> {
        self.columns(n)
            .into_iter()
            .map(|i| match i {
                Some(Item::Expr(Some(name), _)) => Some(name.as_str()),
                _ => None,
            })
            .collect()
    }

    /// For each of `n` result columns that is a bare `?` item: the index of
    /// its placeholder.
    pub fn params(&self, n: usize) -> Vec<Option<usize>> {
        self.columns(n)
            .into_iter()
            .map(|i| match i {
                Some(Item::Expr(_, p)) => *p,
                _ => None,
            })
            .collect()
    }

    /// The item of each of `n` result columns, where it is known.
    fn columns(&self, n: usize) -> Vec<Option<&Item>> {
        let mut out = vec![None; n];
        let stars = self.items.iter().filter(|i| **i == Item::Star).count();
        if stars == 0 && self.items.len() != n {
            return out;
        }
        let front = self
            .items
            .iter()
            .take_while(|i| **i != Item::Star)
            .collect::<Vec<_>>();
        let back = match stars {
            0 => Vec::new(),
            _ => self
                .items
                .iter()
                .rev()
                .take_while(|i| **i != Item::Star)
                .collect::<Vec<_>>(),
        };
        if front.len() + back.len() > n {
            return out;
        }
        for (k, it) in front.iter().enumerate() {
            out[k] = Some(*it);
        }
        for (k, it) in back.iter().enumerate() {
            out[n - 1 - k] = Some(*it);
        }
        out
    }
}

/// For each placeholder of `tokens`: whether it is in a select list (the last
/// clause word outside parentheses before it is `SELECT`).
pub fn listed_placeholders(sql: &str, tokens: &[Token]) -> Vec<bool> {
    let mut depth = 0i32;
    let mut in_list = false;
    let mut out = Vec::new();
    for t in tokens.iter().filter(|t| !t.is_trivia()) {
        if t.is_punct(sql, "(") {
            depth += 1;
        } else if t.is_punct(sql, ")") {
            depth -= 1;
        } else if t.kind == Kind::Placeholder {
            out.push(in_list);
        } else if depth == 0 && t.kind == Kind::Word {
            let w = t.text(sql).to_ascii_uppercase();
            if w == "SELECT" {
                in_list = true;
            } else if matches!(
                w.as_str(),
                "FROM" | "WHERE" | "GROUP" | "HAVING" | "ORDER" | "LIMIT" | "UNION" | "INTO"
            ) {
                in_list = false;
            }
        }
    }
    out
}

/// For each placeholder of `sql`: whether it is a whole select item (`SELECT
/// ?, ...`), not part of one (`? + 1`).
pub fn whole_item_placeholders(sql: &str, tokens: &[Token]) -> Vec<bool> {
    let items: Vec<(usize, usize)> = shape(sql, tokens)
        .map(|s| s.items.iter().map(|i| i.expr).collect())
        .unwrap_or_default();
    tokens
        .iter()
        .filter(|t| t.kind == Kind::Placeholder)
        .map(|t| items.contains(&(t.start, t.end)))
        .collect()
}

/// A number parameter spliced into a select list (as `literal`) written as
/// an expression MariaDB types as it types the `?` of a prepared statement
/// bound to it, not as the literal's narrower type: an integer BIGINT of 21
/// characters, NOT NULL as a whole item (`whole`), nullable inside an
/// expression (`? + 1`); an unsigned one BIGINT UNSIGNED of 21; a double
/// DOUBLE of 23. `None`: the literal is typed alike.
pub fn listed(value: &mysql_common::value::Value, literal: &str, whole: bool) -> Option<String> {
    use mysql_common::value::Value;
    Some(match value {
        Value::Int(n) if whole => format!("CASE WHEN 0 THEN -9223372036854775808 + 0 ELSE {n} END"),
        Value::Int(n) => {
            format!("CASE WHEN 0 THEN -9223372036854775808 + 0 WHEN 0 THEN NULL ELSE {n} END")
        }
        Value::UInt(_) => format!("({literal} | 0)"),
        Value::Double(_) => format!("({literal} * 1)"),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholder_items_keep_their_text() {
        let n = ItemNames::of("SELECT o.id, ?, ? + 1 AS x, CONCAT(?, u.name) FROM o JOIN u ON u.id = o.uid WHERE o.id < ?").unwrap();
        assert_eq!(
            n.names(4),
            vec![None, Some("?"), None, Some("CONCAT(?, u.name)")]
        );
        // Not the column count the statement gives: left alone.
        assert_eq!(n.names(3), vec![None; 3]);
        assert!(ItemNames::of("SELECT id FROM t WHERE id = ?").is_none());
        let n = ItemNames::of("SELECT ? AS a, c, ? + 1, ? FROM t WHERE c = ?").unwrap();
        assert_eq!(n.names(4), vec![None, None, Some("? + 1"), Some("?")]);
        assert_eq!(n.params(4), vec![Some(0), None, None, Some(2)]);
    }

    #[test]
    fn whole_items_and_listed_placeholders() {
        let sql = "SELECT ?, ? + 1, x AS y, ? a FROM t WHERE c = ? LIMIT ?";
        let t = tokenize(sql).unwrap();
        assert_eq!(
            whole_item_placeholders(sql, &t),
            vec![true, false, true, false, false]
        );
        assert_eq!(
            listed_placeholders(sql, &t),
            vec![true, true, true, false, false]
        );
    }

    #[test]
    fn items_after_a_star_count_from_the_end() {
        let n = ItemNames::of("SELECT ?, t.*, -?, u.id FROM t JOIN u ON u.id = t.id").unwrap();
        assert_eq!(
            n.names(6),
            vec![Some("?"), None, None, None, Some("-?"), None]
        );
        let n = ItemNames::of("SELECT *, ? FROM t").unwrap();
        assert_eq!(n.names(3), vec![None, None, Some("?")]);
    }
}
