//! `INSERT ... SELECT ... ON DUPLICATE KEY UPDATE` may name a column of the
//! SELECT's tables (`c = s.c + 1`): MariaDB reads it from the row the SELECT
//! gave. Once the gateway has written those rows as `VALUES`
//! (`insert_select`), `s` is gone from the statement: each such reference is
//! written `VALUES(t)`, `t` being the target column that the SELECT item
//! `s.c` (or a bare `c` of a one-table SELECT) fills — the same value. A
//! reference to a column that is no item of the SELECT is refused (1235); one
//! qualified by the target's own name that the SELECT reads too is MariaDB's
//! 1052 (ambiguous).

use sqlparser::ast::{Expr, SelectItem, SetExpr, Statement, TableFactor};

use crate::error::ProxyError;
use crate::sql::lexer::{significant, tokenize, Kind};
use crate::sql::scan::{ident_text, quote_ident};

/// `tail` (`ON DUPLICATE KEY UPDATE ...`) with each `q.c` naming a table of
/// `select` written `VALUES(target)`. `target_table` is the INSERT's table,
/// `targets` the columns the SELECT's items fill, in order.
pub(super) fn rewrite(
    tail: &str,
    select: &str,
    target_table: &str,
    targets: &[String],
) -> Result<Option<String>, ProxyError> {
    let toks = tokenize(tail).map_err(|e| ProxyError::Syntax(e.what.to_string()))?;
    let sig = significant(&toks);
    let is_ident = |k: Kind| matches!(k, Kind::Word | Kind::QuotedIdent);
    // `q . c`, not part of `db.q.c` nor of `q.c.x`.
    let refs: Vec<(usize, usize, String, String)> = (0..sig.len().saturating_sub(2))
        .filter(|&i| {
            is_ident(sig[i].kind)
                && sig[i + 1].is_punct(tail, ".")
                && is_ident(sig[i + 2].kind)
                && !(i > 0 && sig[i - 1].is_punct(tail, "."))
                && !sig.get(i + 3).is_some_and(|t| t.is_punct(tail, "."))
        })
        .map(|i| {
            (
                sig[i].start,
                sig[i + 2].end,
                ident_text(tail, &sig[i]),
                ident_text(tail, &sig[i + 2]),
            )
        })
        .collect();
    if refs.is_empty() {
        return Ok(None);
    }
    let Some(src) = Source::of(select) else {
        return Ok(None);
    };
    let mut out = String::with_capacity(tail.len() + 16);
    let mut at = 0;
    for (start, end, q, c) in refs {
        if !src.names(&q) {
            continue;
        }
        if q.eq_ignore_ascii_case(target_table) {
            return Err(ProxyError::Backend {
                code: 1052,
                state: "23000".into(),
                message: format!("Column '{q}.{c}' in UPDATE is ambiguous"),
            });
        }
        let j = src.item_of(&q, &c).ok_or_else(|| {
            ProxyError::NotSupported(format!(
                "INSERT ... SELECT across sets whose ON DUPLICATE KEY UPDATE names `{q}`.`{c}`, \
                 which is not an item of the SELECT"
            ))
        })?;
        let target = targets.get(j).ok_or_else(|| {
            ProxyError::NotSupported("INSERT ... SELECT with more items than columns".into())
        })?;
        out.push_str(&tail[at..start]);
        out.push_str(&format!("VALUES({})", quote_ident(target)));
        at = end;
    }
    if at == 0 {
        return Ok(None);
    }
    out.push_str(&tail[at..]);
    Ok(Some(out))
}

/// The SELECT's tables (their qualifiers) and items.
struct Source {
    /// The name each table is referred to by (its alias, else its name).
    qualifiers: Vec<String>,
    /// Each item as `(qualifier, column)` when it is a plain column (`None`
    /// qualifier: unqualified); `None` for any other item.
    items: Vec<Option<(Option<String>, String)>>,
}

impl Source {
    /// `None` when the SELECT is not one plain block (a UNION, VALUES, ...):
    /// its tables' columns are not visible to ON DUPLICATE KEY UPDATE then.
    fn of(select: &str) -> Option<Source> {
        let Ok(Statement::Query(q)) = crate::sql::parse_one(select) else {
            return None;
        };
        let SetExpr::Select(sel) = q.body.as_ref() else {
            return None;
        };
        let mut qualifiers = Vec::new();
        for twj in &sel.from {
            for f in std::iter::once(&twj.relation).chain(twj.joins.iter().map(|j| &j.relation)) {
                match f {
                    TableFactor::Table { name, alias, .. } => qualifiers.push(match alias {
                        Some(a) => a.name.value.clone(),
                        None => name
                            .0
                            .last()
                            .and_then(|p| p.as_ident())
                            .map(|i| i.value.clone())
                            .unwrap_or_default(),
                    }),
                    TableFactor::Derived { alias: Some(a), .. } => {
                        qualifiers.push(a.name.value.clone())
                    }
                    _ => {}
                }
            }
        }
        let items = sel
            .projection
            .iter()
            .map(|it| match it {
                SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => match e {
                    Expr::Identifier(c) => Some((None, c.value.clone())),
                    Expr::CompoundIdentifier(p) if p.len() == 2 => {
                        Some((Some(p[0].value.clone()), p[1].value.clone()))
                    }
                    _ => None,
                },
                _ => None,
            })
            .collect();
        Some(Source { qualifiers, items })
    }

    fn names(&self, q: &str) -> bool {
        self.qualifiers.iter().any(|n| n.eq_ignore_ascii_case(q))
    }

    /// The first item that is column `c` of `q` (a bare `c` counts when the
    /// SELECT reads one table).
    fn item_of(&self, q: &str, c: &str) -> Option<usize> {
        let one_table = self.qualifiers.len() == 1;
        self.items.iter().position(|it| match it {
            Some((Some(iq), ic)) => iq.eq_ignore_ascii_case(q) && ic.eq_ignore_ascii_case(c),
            Some((None, ic)) => one_table && ic.eq_ignore_ascii_case(c),
            None => false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cols(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn select_columns_become_values() {
        let t = cols(&["id", "v"]);
        let r = rewrite(
            "ON DUPLICATE KEY UPDATE v = tb.v + 100",
            "SELECT k, v FROM tb",
            "ti",
            &t,
        )
        .unwrap();
        assert_eq!(
            r.as_deref(),
            Some("ON DUPLICATE KEY UPDATE v = VALUES(`v`) + 100")
        );
        let r = rewrite(
            "ON DUPLICATE KEY UPDATE v = x.k * 2, w = `x`.`v`",
            "SELECT x.v, x.k FROM tg AS x JOIN tb ON tb.k = x.k",
            "ti",
            &t,
        )
        .unwrap();
        assert_eq!(
            r.as_deref(),
            Some("ON DUPLICATE KEY UPDATE v = VALUES(`v`) * 2, w = VALUES(`id`)")
        );
        // Target columns, functions and other databases' names stay.
        assert_eq!(
            rewrite(
                "ON DUPLICATE KEY UPDATE v = ti.v + VALUES(v)",
                "SELECT k, v FROM tb",
                "ti",
                &t
            )
            .unwrap(),
            None
        );
        // Not an item: refused; the target's own name read by the SELECT: 1052.
        assert!(matches!(
            rewrite(
                "ON DUPLICATE KEY UPDATE v = tb.s",
                "SELECT k, v FROM tb",
                "ti",
                &t
            ),
            Err(ProxyError::NotSupported(_))
        ));
        assert!(matches!(
            rewrite(
                "ON DUPLICATE KEY UPDATE v = ti.v",
                "SELECT id, v FROM ti WHERE id < 5",
                "ti",
                &t
            ),
            Err(ProxyError::Backend { code: 1052, .. })
        ));
    }
}
