//! A UNION (or EXCEPT / INTERSECT) whose branches the router cannot run together across sets
//! (aggregates or GROUP BY over several sets, branches on different sets or
//! on single tables): each branch is read first as a statement of its own —
//! merged across sets as the client's would be — and written back as a
//! derived table of its rows (`SELECT * FROM (...) AS setwise_branch`), each
//! value `CAST` to its branch column's type. The union itself is then run by
//! MariaDB on one set over those rows: its de-duplication, EXCEPT and
//! INTERSECT (and their precedence, as written), ORDER BY / LIMIT
//! and the type aggregation of the branches (an INT branch with a DECIMAL one
//! gives DECIMAL values) are MariaDB's own. The client gets the column
//! definitions of its statement with `LIMIT 0` (`super::selected`).
//!
//! A distinct or ordered union compares strings in its columns' collations,
//! which the column definitions do not carry: they are read on the set first
//! (`COLLATION()` of the union's columns) and written with each value. A
//! DECIMAL or floating-point branch column in a union column of strings or
//! dates is refused (MariaDB may print digits of AVG's internal scale there).

use mysql_common::constants::{ColumnFlags, ColumnType};
use mysql_common::packets::Column;
use sqlparser::ast::{Query, SetExpr, SetOperator};

use super::fetch::Fetched;
use super::selected::Columns;
use super::subquery::{Form, Sub, SubqueryPlan};
use crate::error::ProxyError;
use crate::exec::Exec;
use crate::sql::lexer::{clause_words, Token};

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
    let (sig, words) = clause_words(sql, tokens);
    if words
        .iter()
        .any(|(_, w)| ["INTO", "FOR", "LOCK", "PROCEDURE", "FETCH", "OFFSET"].contains(&w.as_str()))
    {
        return None;
    }
    let unions: Vec<usize> = words
        .iter()
        .filter(|(_, w)| ["UNION", "EXCEPT", "INTERSECT"].contains(&w.as_str()))
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

/// Whether `e` is UNIONs (EXCEPTs, INTERSECTs) of SELECTs (parenthesized ones
/// too, not with a LIMIT that no ORDER BY decides: which rows MariaDB keeps is
/// its scan's).
fn unions_only(e: &SetExpr) -> bool {
    match e {
        SetExpr::Select(_) => true,
        SetExpr::Query(q) => {
            q.with.is_none()
                && (q.limit_clause.is_none() || q.order_by.is_some())
                && unions_only(&q.body)
        }
        SetExpr::SetOperation {
            op: SetOperator::Union | SetOperator::Except | SetOperator::Intersect,
            left,
            right,
            ..
        } => unions_only(left) && unions_only(right),
        _ => false,
    }
}

/// Whether any set operation of `e` is a distinct one (EXCEPT and INTERSECT
/// without ALL are).
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

/// The union with every branch's rows written in (see the module doc).
pub async fn read(exec: &mut Exec<'_>, p: &SubqueryPlan) -> Result<String, ProxyError> {
    let mut budget = super::Budget::new("the rows of a UNION's branches");
    let mut arms = Vec::with_capacity(p.subs.len());
    for s in &p.subs {
        arms.push(super::capture::read(exec, &s.values_sql, &mut budget).await?);
    }
    let n = arms.first().map_or(0, |f| f.cols.len());
    if arms.iter().any(|f| f.cols.len() != n) {
        return Err(ProxyError::Backend {
            code: 1222,
            state: "21000".into(),
            message: "The used SELECT statements have a different number of columns".into(),
        });
    }
    for i in 0..n {
        let kinds: Vec<Kind> = arms.iter().map(|f| kind(&f.cols[i])).collect();
        // A fraction printed as text: MariaDB may show digits the branch's
        // own column does not (AVG's internal scale).
        if kinds.contains(&Kind::Fraction)
            && kinds
                .iter()
                .any(|k| matches!(k, Kind::Text | Kind::Temporal))
        {
            return Err(super::unsupported(
                "a UNION across sets mixing a DECIMAL or floating-point column with strings or dates in branches read by the gateway",
            ));
        }
    }
    let texts = arms
        .iter()
        .any(|f| f.cols.iter().any(|c| kind(c) == Kind::Text));
    let collations = match (&p.columns, p.compared && texts) {
        (Some(c), true) => {
            let set = c.sets.first().cloned().ok_or_else(|| {
                super::unsupported("a UNION across sets over tables no one set holds")
            })?;
            let body = &p.sql[p.subs[0].range.0..p.subs[p.subs.len() - 1].range.1];
            Some(read_collations(exec, &set, body, n, &mut budget).await?)
        }
        _ => None,
    };
    let reps = arms
        .iter()
        .map(|f| rows_text(f, collations.as_deref()))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(p.substitute(&reps))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Null,
    Integer,
    Fraction,
    Temporal,
    Text,
    Binary,
    Other,
}

fn kind(c: &Column) -> Kind {
    use ColumnType::*;
    match c.column_type() {
        MYSQL_TYPE_NULL => Kind::Null,
        MYSQL_TYPE_TINY | MYSQL_TYPE_SHORT | MYSQL_TYPE_INT24 | MYSQL_TYPE_LONG
        | MYSQL_TYPE_LONGLONG => Kind::Integer,
        MYSQL_TYPE_NEWDECIMAL | MYSQL_TYPE_DECIMAL | MYSQL_TYPE_DOUBLE | MYSQL_TYPE_FLOAT => {
            Kind::Fraction
        }
        MYSQL_TYPE_DATE
        | MYSQL_TYPE_NEWDATE
        | MYSQL_TYPE_DATETIME
        | MYSQL_TYPE_TIMESTAMP
        | MYSQL_TYPE_DATETIME2
        | MYSQL_TYPE_TIMESTAMP2
        | MYSQL_TYPE_TIME
        | MYSQL_TYPE_TIME2 => Kind::Temporal,
        MYSQL_TYPE_VARCHAR
        | MYSQL_TYPE_VAR_STRING
        | MYSQL_TYPE_STRING
        | MYSQL_TYPE_TINY_BLOB
        | MYSQL_TYPE_MEDIUM_BLOB
        | MYSQL_TYPE_LONG_BLOB
        | MYSQL_TYPE_BLOB => {
            if super::key::charset_of(c) == "binary" {
                Kind::Binary
            } else {
                Kind::Text
            }
        }
        _ => Kind::Other,
    }
}

/// The collation of each of the union's `n` columns (`None`: not a string),
/// read on `set` from the union `body` with no rows.
async fn read_collations(
    exec: &mut Exec<'_>,
    set: &str,
    body: &str,
    n: usize,
    budget: &mut super::Budget,
) -> Result<Vec<Option<String>>, ProxyError> {
    let names: Vec<String> = (0..n).map(|i| format!("`setwise_c{i}`")).collect();
    let items: Vec<String> = names
        .iter()
        .map(|c| format!("IF(CHARSET({c}) = 'binary', NULL, COLLATION({c}))"))
        .collect();
    let sql = format!(
        "WITH `setwise_u`({}) AS ({body}) SELECT {} FROM (SELECT 1) AS `setwise_one` \
         LEFT JOIN (SELECT * FROM `setwise_u` LIMIT 0) AS `setwise_none` ON 0",
        names.join(", "),
        items.join(", ")
    );
    let f = super::fetch::fetch_on(exec, vec![set.to_string()], &sql, budget).await?;
    let row = f.rows.into_iter().next().unwrap_or_default();
    let named = |v: &Option<Vec<u8>>| {
        let s = String::from_utf8_lossy(v.as_deref()?).into_owned();
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')).then_some(s)
    };
    Ok((0..n).map(|i| row.get(i).and_then(named)).collect())
}

/// The branch's rows `f` as a derived table of values cast to its column
/// types; `collations`: the union's, when it compares strings.
fn rows_text(f: &Fetched, collations: Option<&[Option<String>]>) -> Result<String, ProxyError> {
    let types: Vec<Option<Cast>> = f
        .cols
        .iter()
        .enumerate()
        .map(|(i, c)| cast_type(c, collations.map(|cs| cs.get(i).cloned().flatten())))
        .collect::<Result<_, _>>()?;
    let typed = |t: &Option<Cast>, v: &str| match t {
        None => "NULL".to_string(),
        Some(Cast::As(t)) => format!("CAST({v} AS {t})"),
        Some(Cast::Text { charset, collation }) => {
            let c = match collation {
                Some(c) => format!(" COLLATE {c}"),
                None => String::new(),
            };
            format!("CONVERT({v} USING {charset}){c}")
        }
    };
    // The first row fixes the names and types (typed NULLs, no row).
    let head: Vec<String> = f
        .cols
        .iter()
        .zip(&types)
        .map(|(c, t)| {
            format!(
                "{} AS `{}`",
                typed(t, "NULL"),
                c.name_str().replace('`', "``")
            )
        })
        .collect();
    let mut parts = vec![format!("SELECT {} FROM DUAL WHERE 0", head.join(", "))];
    for r in &f.rows {
        let vals: Vec<String> = f
            .cols
            .iter()
            .zip(&types)
            .zip(r)
            .map(|((c, t), v)| match v {
                None => typed(t, "NULL"),
                Some(b) => typed(t, &literal(c, b)),
            })
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

/// How a value of a branch column keeps its type in the union.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Cast {
    /// `CAST(v AS type)`.
    As(String),
    /// `CONVERT(v USING charset) [COLLATE collation]`.
    Text {
        charset: String,
        collation: Option<String>,
    },
}

/// The CAST keeping what a value of `c` is in a union (`None`: NULL).
/// `collation`: `Some` when the union compares strings (the column's
/// collation, `None` in it for a column that is no string).
fn cast_type(c: &Column, collation: Option<Option<String>>) -> Result<Option<Cast>, ProxyError> {
    use ColumnType::*;
    let unsigned = c.flags().contains(ColumnFlags::UNSIGNED_FLAG);
    let dec = c.decimals();
    let t = match c.column_type() {
        MYSQL_TYPE_NULL => return Ok(None),
        MYSQL_TYPE_TINY | MYSQL_TYPE_SHORT | MYSQL_TYPE_INT24 | MYSQL_TYPE_LONG
        | MYSQL_TYPE_LONGLONG => {
            if unsigned {
                "UNSIGNED".to_string()
            } else {
                "SIGNED".to_string()
            }
        }
        MYSQL_TYPE_NEWDECIMAL | MYSQL_TYPE_DECIMAL => format!("DECIMAL(65, {})", dec.min(38)),
        MYSQL_TYPE_DOUBLE => "DOUBLE".into(),
        MYSQL_TYPE_FLOAT => "FLOAT".into(),
        MYSQL_TYPE_DATE | MYSQL_TYPE_NEWDATE => "DATE".into(),
        MYSQL_TYPE_DATETIME
        | MYSQL_TYPE_TIMESTAMP
        | MYSQL_TYPE_DATETIME2
        | MYSQL_TYPE_TIMESTAMP2 => format!("DATETIME({})", dec.min(6)),
        MYSQL_TYPE_TIME | MYSQL_TYPE_TIME2 => format!("TIME({})", dec.min(6)),
        _ if kind(c) == Kind::Binary => "BINARY".into(),
        _ if kind(c) == Kind::Text => {
            return match collation {
                None => Ok(Some(Cast::Text {
                    charset: super::key::charset_of(c).to_string(),
                    collation: None,
                })),
                Some(Some(coll)) => Ok(Some(Cast::Text {
                    charset: coll.split('_').next().unwrap_or("utf8mb4").to_string(),
                    collation: Some(coll),
                })),
                Some(None) => Err(super::unsupported(
                    "a UNION across sets whose string column's collation could not be read",
                )),
            }
        }
        other => {
            return Err(super::unsupported(format!(
                "a UNION across sets with a {other:?} column in a branch read by the gateway"
            )))
        }
    };
    Ok(Some(Cast::As(t)))
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
        let p = plan(
            &snap,
            None,
            sql,
            &crate::sql::lexer::tokenize(sql).unwrap(),
            q,
        )
        .unwrap();
        let arms: Vec<&str> = p.subs.iter().map(|s| s.values_sql.as_str()).collect();
        assert_eq!(
            arms,
            vec![
                "SELECT COUNT(*) AS n FROM a",
                "SELECT SUM(x) FROM b",
                "SELECT 1"
            ]
        );
        assert_eq!(
            &sql[p.subs[1].range.0..p.subs[1].range.1],
            "(SELECT SUM(x) FROM b)"
        );
        let c = p.columns.as_ref().unwrap();
        assert!(c.sql.ends_with("ORDER BY n DESC LIMIT 0"), "{}", c.sql);
        assert!(p.compared);
        let unordered = "(SELECT a FROM t LIMIT 3) UNION ALL (SELECT a FROM t LIMIT 3)";
        let st = crate::sql::parse_one(unordered).unwrap();
        let sqlparser::ast::Statement::Query(q) = &st else {
            panic!()
        };
        let toks = crate::sql::lexer::tokenize(unordered).unwrap();
        assert!(plan(&snap, None, unordered, &toks, q).is_none());
        let f = Fetched {
            cols: Arc::from(vec![
                Column::new(ColumnType::MYSQL_TYPE_LONGLONG).with_name(b"n"),
                Column::new(ColumnType::MYSQL_TYPE_NEWDECIMAL)
                    .with_name(b"s")
                    .with_decimals(2),
                Column::new(ColumnType::MYSQL_TYPE_VAR_STRING)
                    .with_name(b"t")
                    .with_character_set(45),
            ]),
            rows: vec![vec![Some(b"5".to_vec()), None, Some(b"a".to_vec())]],
            warnings: 0,
            sets: Vec::new(),
        };
        assert_eq!(
            rows_text(&f, None).unwrap(),
            "SELECT * FROM (SELECT CAST(NULL AS SIGNED) AS `n`, CAST(NULL AS DECIMAL(65, 2)) AS `s`, \
             CONVERT(NULL USING utf8mb4) AS `t` FROM DUAL WHERE 0 \
             UNION ALL SELECT CAST(_utf8mb4 X'35' AS SIGNED), CAST(NULL AS DECIMAL(65, 2)), \
             CONVERT(_utf8mb4 X'61' USING utf8mb4)) AS setwise_branch"
        );
        let colls = [None, None, Some("latin1_bin".to_string())];
        assert!(rows_text(&f, Some(&colls))
            .unwrap()
            .contains("CONVERT(_utf8mb4 X'61' USING latin1) COLLATE latin1_bin"));
        assert!(rows_text(&f, Some(&[None, None, None])).is_err());
        let text = crate::sql::parse_one(&rows_text(&f, Some(&colls)).unwrap());
        assert!(text.is_ok(), "{text:?}");
    }
}
