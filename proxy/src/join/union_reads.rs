//! A UNION whose branches the router cannot run together across sets
//! (aggregates or GROUP BY over several sets, branches on different sets or
//! on single tables): each branch is read first as a statement of its own —
//! merged across sets as the client's would be — and written back as a
//! derived table of its rows (`SELECT * FROM (...) AS setwise_branch`), each
//! value `CAST` to its branch column's type. The union itself is then run by
//! MariaDB on one set over those rows: its de-duplication, ORDER BY / LIMIT
//! and the type aggregation of the branches (an INT branch with a DECIMAL one
//! gives DECIMAL values) are MariaDB's own. The client gets the column
//! definitions of its statement with `LIMIT 0` (`super::selected`).
//!
//! A string column of a distinct or ordered union is refused: its rows'
//! collation (which decides what is equal) is not in the column definitions.

use mysql_common::constants::{ColumnFlags, ColumnType};
use mysql_common::packets::Column;
use sqlparser::ast::{Query, SetExpr, SetOperator};

use super::fetch::Fetched;
use super::selected::Columns;
use super::subquery::{Form, Sub, SubqueryPlan};
use crate::error::ProxyError;
use crate::merge::value::Cell;
use crate::sql::lexer::{top_level_words, Token};

/// The plan reading every branch of the union `q` first; `None` when it is not
/// a union of SELECTs.
pub fn plan(
    snap: &topo::ClusterSnapshot,
    db: Option<&str>,
    sql: &str,
    tokens: &[Token],
    q: &Query,
) -> Option<SubqueryPlan> {
    if q.with.is_some() || !unions_only(&q.body) {
        return None;
    }
    let sig: Vec<&Token> = tokens
        .iter()
        .filter(|t| !t.is_trivia() && !t.is_punct(sql, ";"))
        .collect();
    let words = top_level_words(sql, sig.iter().copied());
    if words.iter().any(|(_, w)| {
        ["INTO", "FOR", "LOCK", "PROCEDURE", "INTERSECT", "EXCEPT", "FETCH", "OFFSET"]
            .contains(&w.as_str())
    }) {
        return None;
    }
    let unions: Vec<usize> = words
        .iter()
        .filter(|(_, w)| w == "UNION")
        .map(|(j, _)| *j)
        .collect();
    let last = *unions.last()?;
    // The union's own ORDER BY / LIMIT, after its last branch.
    let tail = words
        .iter()
        .find(|(j, w)| *j > last && (w == "ORDER" || w == "LIMIT"))
        .map(|(j, _)| *j);
    let end = tail.map_or(sig.len(), |j| j);
    let mut ranges = Vec::new();
    let mut start = 0;
    for &u in unions.iter().chain(std::iter::once(&end)) {
        if start >= u {
            return None;
        }
        ranges.push((sig[start].start, sig[u - 1].end));
        start = u + 1;
        if sig
            .get(start)
            .is_some_and(|t| t.is_word(sql, "ALL") || t.is_word(sql, "DISTINCT"))
        {
            start += 1;
        }
    }
    let subs = ranges
        .into_iter()
        .map(|(a, b)| Sub {
            range: (a, b),
            values_sql: unparenthesized(&sql[a..b]).to_string(),
            form: Form::Rows,
        })
        .collect();
    let limit = words
        .iter()
        .find(|(j, w)| *j > last && w == "LIMIT")
        .map_or(sig.last()?.end, |(j, _)| sig[*j].start);
    let tables = crate::route::analyze::analyze_node(q).tables;
    Some(SubqueryPlan {
        sql: sql.to_string(),
        subs,
        columns: Some(Columns {
            sql: format!("{} LIMIT 0", sql[..limit].trim_end()),
            sets: super::sets_holding_all(snap, db, &tables),
            anywhere: true,
        }),
        compared: distinct(&q.body) || q.order_by.is_some(),
    })
}

/// Whether `e` is UNIONs of SELECTs (parenthesized ones too).
fn unions_only(e: &SetExpr) -> bool {
    match e {
        SetExpr::Select(_) => true,
        SetExpr::Query(q) => q.with.is_none() && unions_only(&q.body),
        SetExpr::SetOperation {
            op: SetOperator::Union,
            left,
            right,
            ..
        } => unions_only(left) && unions_only(right),
        _ => false,
    }
}

/// Whether any UNION of `e` is a distinct one.
fn distinct(e: &SetExpr) -> bool {
    match e {
        SetExpr::SetOperation {
            set_quantifier,
            left,
            right,
            ..
        } => {
            !matches!(set_quantifier, sqlparser::ast::SetQuantifier::All)
                || distinct(left)
                || distinct(right)
        }
        SetExpr::Query(q) => distinct(&q.body),
        _ => false,
    }
}

/// A branch's text without the parentheses around it.
fn unparenthesized(s: &str) -> &str {
    let t = s.trim();
    match t.strip_prefix('(').and_then(|x| x.strip_suffix(')')) {
        // `(SELECT a) UNION (SELECT b)` has no such branch: one pair only.
        Some(inner) if balanced(inner) => unparenthesized(inner),
        _ => t,
    }
}

fn balanced(s: &str) -> bool {
    let mut depth = 0i32;
    for c in s.chars() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth < 0 {
                    return false;
                }
            }
            _ => {}
        }
    }
    depth == 0
}

/// The branch's rows `f` as a derived table of values cast to its column
/// types. `compared`: the union de-duplicates or sorts (strings refused).
pub fn rows_text(f: &Fetched, compared: bool) -> Result<String, ProxyError> {
    let types: Vec<Option<String>> = f
        .cols
        .iter()
        .map(|c| cast_type(c, compared))
        .collect::<Result<_, _>>()?;
    let cell = |c: &Column, t: &Option<String>, v: &Cell| match (t, v) {
        (None, _) | (_, None) => "NULL".to_string(),
        (Some(t), Some(b)) => format!("CAST({} AS {t})", literal(c, b)),
    };
    // The first row fixes the names and types (typed NULLs, no row).
    let head: Vec<String> = f
        .cols
        .iter()
        .zip(&types)
        .map(|(c, t)| {
            let v = match t {
                Some(t) => format!("CAST(NULL AS {t})"),
                None => "NULL".to_string(),
            };
            format!("{v} AS `{}`", c.name_str().replace('`', "``"))
        })
        .collect();
    let mut parts = vec![format!("SELECT {} FROM DUAL WHERE 0", head.join(", "))];
    for r in &f.rows {
        let vals: Vec<String> = f
            .cols
            .iter()
            .zip(&types)
            .zip(r)
            .map(|((c, t), v)| cell(c, t, v))
            .collect();
        parts.push(format!("SELECT {}", vals.join(", ")));
    }
    Ok(format!(
        "SELECT * FROM ({}) AS setwise_branch",
        parts.join(" UNION ALL ")
    ))
}

/// A value of `c` as a literal its CAST reads back exactly.
fn literal(c: &Column, v: &[u8]) -> String {
    let hex: String = v.iter().map(|b| format!("{b:02X}")).collect();
    let cs = super::key::charset_of(c);
    if hex.is_empty() {
        format!("_{cs}''")
    } else {
        format!("_{cs} X'{hex}'")
    }
}

/// The CAST type keeping what a value of `c` is in a union (`None`: NULL).
fn cast_type(c: &Column, compared: bool) -> Result<Option<String>, ProxyError> {
    use ColumnType::*;
    let refused = |what: &str| {
        super::unsupported(format!(
            "a UNION across sets with {what} in a branch read by the gateway"
        ))
    };
    let unsigned = c.flags().contains(ColumnFlags::UNSIGNED_FLAG);
    let dec = c.decimals();
    Ok(Some(match c.column_type() {
        MYSQL_TYPE_NULL => return Ok(None),
        MYSQL_TYPE_TINY | MYSQL_TYPE_SHORT | MYSQL_TYPE_INT24 | MYSQL_TYPE_LONG
        | MYSQL_TYPE_LONGLONG => {
            if unsigned {
                "UNSIGNED".into()
            } else {
                "SIGNED".into()
            }
        }
        MYSQL_TYPE_NEWDECIMAL | MYSQL_TYPE_DECIMAL => format!("DECIMAL(65, {})", dec.min(38)),
        MYSQL_TYPE_DOUBLE => "DOUBLE".into(),
        MYSQL_TYPE_FLOAT => "FLOAT".into(),
        MYSQL_TYPE_DATE | MYSQL_TYPE_NEWDATE => "DATE".into(),
        MYSQL_TYPE_DATETIME | MYSQL_TYPE_TIMESTAMP | MYSQL_TYPE_DATETIME2
        | MYSQL_TYPE_TIMESTAMP2 => format!("DATETIME({})", dec.min(6)),
        MYSQL_TYPE_TIME | MYSQL_TYPE_TIME2 => format!("TIME({})", dec.min(6)),
        MYSQL_TYPE_VARCHAR | MYSQL_TYPE_VAR_STRING | MYSQL_TYPE_STRING
        | MYSQL_TYPE_TINY_BLOB | MYSQL_TYPE_MEDIUM_BLOB | MYSQL_TYPE_LONG_BLOB
        | MYSQL_TYPE_BLOB => {
            let cs = super::key::charset_of(c);
            if cs == "binary" {
                "BINARY".into()
            } else if compared {
                return Err(refused("strings de-duplicated or sorted"));
            } else {
                format!("CHAR CHARACTER SET {cs}")
            }
        }
        other => return Err(refused(&format!("a {other:?} column"))),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn branches_and_their_rows() {
        let sql = "SELECT COUNT(*) AS n FROM a UNION ALL (SELECT SUM(x) FROM b) UNION SELECT 1 ORDER BY n DESC LIMIT 2";
        let st = crate::sql::parse_one(sql).unwrap();
        let sqlparser::ast::Statement::Query(q) = &st else {
            panic!()
        };
        let snap = topo::ClusterSnapshot::default();
        let p = plan(&snap, None, sql, &crate::sql::lexer::tokenize(sql).unwrap(), q).unwrap();
        let arms: Vec<&str> = p.subs.iter().map(|s| s.values_sql.as_str()).collect();
        assert_eq!(
            arms,
            vec!["SELECT COUNT(*) AS n FROM a", "SELECT SUM(x) FROM b", "SELECT 1"]
        );
        assert_eq!(&sql[p.subs[1].range.0..p.subs[1].range.1], "(SELECT SUM(x) FROM b)");
        let c = p.columns.as_ref().unwrap();
        assert!(c.sql.ends_with("ORDER BY n DESC LIMIT 0"), "{}", c.sql);
        assert!(p.compared);
        let f = Fetched {
            cols: Arc::from(vec![
                Column::new(ColumnType::MYSQL_TYPE_LONGLONG).with_name(b"n"),
                Column::new(ColumnType::MYSQL_TYPE_NEWDECIMAL)
                    .with_name(b"s")
                    .with_decimals(2),
            ]),
            rows: vec![vec![Some(b"5".to_vec()), None]],
            warnings: 0,
            sets: Vec::new(),
        };
        assert_eq!(
            rows_text(&f, true).unwrap(),
            "SELECT * FROM (SELECT CAST(NULL AS SIGNED) AS `n`, CAST(NULL AS DECIMAL(65, 2)) AS `s` \
             FROM DUAL WHERE 0 UNION ALL SELECT CAST(_utf8mb4 X'35' AS SIGNED), NULL) AS setwise_branch"
        );
        let text = Column::new(ColumnType::MYSQL_TYPE_VAR_STRING).with_character_set(45);
        assert!(cast_type(&text, true).is_err());
        assert_eq!(
            cast_type(&text, false).unwrap().as_deref(),
            Some("CHAR CHARACTER SET utf8mb4")
        );
    }
}
