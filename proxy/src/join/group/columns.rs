//! The statement that gives a grouped join's column definitions: the
//! client's own, with the items only HAVING / ORDER BY read added and a
//! condition no row passes in its WHERE, asked of a set holding both tables.

use sqlparser::ast::Select;

use super::{Item, Planner};
use crate::error::ProxyError;
use crate::join::unsupported;
use crate::sql::select::Shape;

/// The statement for the column definitions of `p`'s join, with `extra` items.
pub(super) fn sql(
    p: &Planner<'_, '_>,
    shape: &Shape,
    sel: &Select,
    extra: &[Item],
) -> Result<String, ProxyError> {
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
    Ok(columns_sql(p.sql, shape, extra, where_span, &never))
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
