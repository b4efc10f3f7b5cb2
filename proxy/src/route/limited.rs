//! The texts of an `UPDATE`/`DELETE ... [ORDER BY ...] LIMIT n` on rows of several
//! sets: the ordered, limited SELECT of the rows' key that chooses them (merged
//! across sets like any SELECT), and the write of exactly the chosen rows on each
//! set (the client's text with `key IN (...)` added to its WHERE). Running them
//! in one distributed transaction is `session::limited`'s job.

use crate::error::ProxyError;
use crate::sql::lexer::{qualified_name_at, top_level_words, Token};

/// Where the parts of the client's statement are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shape {
    pub db: Option<String>,
    pub table: String,
    /// The table reference as written (`t`, `d.t AS x`).
    table_text: String,
    /// Byte offset just after the `WHERE` keyword, when there is one.
    where_end: Option<usize>,
    /// Byte offset of `WHERE` (or of the ORDER BY / LIMIT when there is none):
    /// the SELECT takes the client's text from here on.
    rest_start: usize,
    /// Byte offset of `ORDER BY` / `LIMIT`: the end of the WHERE condition.
    tail_start: usize,
    /// Whether the statement has its own ORDER BY.
    ordered: bool,
    /// Byte range of the LIMIT's row count, when a plain number.
    limit_arg: Option<(usize, usize)>,
}

fn refuse(what: &str) -> ProxyError {
    ProxyError::NotSupported(format!(
        "UPDATE/DELETE with LIMIT on rows of several sets {what}"
    ))
}

/// Finds the parts of a single-table `UPDATE ... SET ...` or `DELETE FROM ...`
/// with `LIMIT`.
pub fn shape(sql: &str, sig: &[Token]) -> Result<Shape, ProxyError> {
    let words = top_level_words(sql, sig.iter());
    let find = |w: &str, from: usize| {
        words
            .iter()
            .find(|(i, x)| *i >= from && x == w)
            .map(|(i, _)| *i)
    };
    let first = words.first().map(|(_, w)| w.as_str()).unwrap_or("");
    // The table reference: [start, end) in sig.
    let (tstart, tend) = match first {
        "UPDATE" => {
            let mut i = 1;
            while sig
                .get(i)
                .is_some_and(|t| t.is_word(sql, "LOW_PRIORITY") || t.is_word(sql, "IGNORE"))
            {
                i += 1;
            }
            let set = find("SET", i).ok_or_else(|| refuse("(no SET)"))?;
            (i, set)
        }
        "DELETE" => {
            let from = find("FROM", 1).ok_or_else(|| refuse("(no FROM)"))?;
            let end = ["WHERE", "ORDER", "LIMIT", "RETURNING"]
                .iter()
                .filter_map(|w| find(w, from))
                .min()
                .unwrap_or(sig.len());
            (from + 1, end)
        }
        _ => return Err(refuse("(not an UPDATE or DELETE)")),
    };
    if find("RETURNING", tend).is_some() {
        return Err(refuse("with RETURNING"));
    }
    let table_toks = &sig[tstart..tend];
    if table_toks.is_empty()
        || table_toks
            .iter()
            .any(|t| t.is_punct(sql, ",") || t.is_word(sql, "JOIN"))
    {
        return Err(refuse("on several tables"));
    }
    let (db, table, _) =
        qualified_name_at(sql, sig, tstart).ok_or_else(|| refuse("(no table name)"))?;
    let table_text = sql[sig[tstart].start..sig[tend - 1].end].to_string();
    let at = |i: Option<usize>| i.map(|i| sig[i].start);
    let where_i = find("WHERE", tend);
    let tail = ["ORDER", "LIMIT"]
        .iter()
        .filter_map(|w| find(w, tend))
        .min();
    let tail_start = at(tail).unwrap_or(sql.len());
    let ordered = find("ORDER", tend).is_some();
    let limit_arg = find("LIMIT", tend)
        .and_then(|i| sig.get(i + 1).filter(|_| i + 2 == sig.len()))
        .filter(|t| t.kind == crate::sql::lexer::Kind::Number)
        .map(|t| (t.start, t.end));
    Ok(Shape {
        db,
        table,
        table_text,
        where_end: where_i.map(|i| sig[i].end),
        rest_start: at(where_i).unwrap_or(tail_start),
        tail_start,
        ordered,
        limit_arg,
    })
}

impl Shape {
    /// `SELECT <keys> FROM <table> [WHERE ...] [ORDER BY ...] LIMIT n`. Without
    /// an ORDER BY the rows are taken in `by` order (the key's, as InnoDB's scan
    /// of the table gives them on one server; MariaDB leaves the order open).
    pub fn select_text(&self, sql: &str, keys: &[String], by: &[String]) -> String {
        if self.ordered || by.is_empty() {
            return format!(
                "SELECT {} FROM {} {}",
                keys.join(", "),
                self.table_text,
                &sql[self.rest_start..]
            );
        }
        format!(
            "SELECT {} FROM {} {} ORDER BY {} {}",
            keys.join(", "),
            self.table_text,
            &sql[self.rest_start..self.tail_start],
            by.join(", "),
            &sql[self.tail_start..]
        )
    }

    /// The client's text with `cond` added to its WHERE (kept: the chosen rows
    /// still match it, their rows being locked since they were chosen).
    pub fn write_text(&self, sql: &str, cond: &str) -> String {
        match self.where_end {
            Some(w) => format!(
                "{} {cond} AND ({}) {}",
                &sql[..w],
                &sql[w..self.tail_start],
                &sql[self.tail_start..]
            ),
            None => format!(
                "{} WHERE {cond} {}",
                &sql[..self.tail_start],
                &sql[self.tail_start..]
            ),
        }
    }
}

impl Shape {
    /// The client's text with its LIMIT's row count replaced by `n`: what one set
    /// runs when the table has no key to name rows by (the set's own first `n`
    /// rows in the statement's order are the ones the merge chose there, up to
    /// ties). `None` when the row count is not a plain number.
    pub fn limited_to(&self, sql: &str, n: usize) -> Option<String> {
        let (a, b) = self.limit_arg?;
        Some(format!("{}{n}{}", &sql[..a], &sql[b..]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::lexer::{significant, tokenize};

    fn sh(sql: &str) -> Shape {
        let t = tokenize(sql).unwrap();
        shape(sql, &significant(&t)).unwrap()
    }

    #[test]
    fn update_with_where() {
        let sql =
            "UPDATE IGNORE d.t AS x SET v = (SELECT 1 WHERE 1) WHERE v > 2 ORDER BY v LIMIT 3";
        let s = sh(sql);
        assert_eq!(s.db.as_deref(), Some("d"));
        assert_eq!(s.table, "t");
        assert_eq!(
            s.select_text(sql, &["`id`".into()], &["`id`".into()]),
            "SELECT `id` FROM d.t AS x WHERE v > 2 ORDER BY v LIMIT 3"
        );
        assert_eq!(
            s.write_text(sql, "`id` IN (1)"),
            "UPDATE IGNORE d.t AS x SET v = (SELECT 1 WHERE 1) WHERE `id` IN (1) AND ( v > 2 ) ORDER BY v LIMIT 3"
        );
    }

    #[test]
    fn delete_without_where() {
        let sql = "DELETE FROM t ORDER BY v DESC LIMIT 2";
        let s = sh(sql);
        assert_eq!(
            s.select_text(sql, &["id".into()], &[]),
            "SELECT id FROM t ORDER BY v DESC LIMIT 2"
        );
        assert_eq!(
            s.write_text(sql, "0"),
            "DELETE FROM t  WHERE 0 ORDER BY v DESC LIMIT 2"
        );
        // No ORDER BY: the key's order.
        let sql = "DELETE FROM t WHERE v = 1 LIMIT 2";
        assert_eq!(
            sh(sql).select_text(sql, &["HEX(`k`)".into()], &["`k`".into()]),
            "SELECT HEX(`k`) FROM t WHERE v = 1  ORDER BY `k` LIMIT 2"
        );
    }

    #[test]
    fn limit_replaced() {
        let sql = "DELETE FROM t WHERE a = 1 ORDER BY b LIMIT 10";
        assert_eq!(
            sh(sql).limited_to(sql, 3).as_deref(),
            Some("DELETE FROM t WHERE a = 1 ORDER BY b LIMIT 3")
        );
    }

    #[test]
    fn refusals() {
        for sql in [
            "DELETE FROM t WHERE a = 1 LIMIT 1 RETURNING id",
            "UPDATE t, u SET t.a = 1 LIMIT 1",
        ] {
            let t = tokenize(sql).unwrap();
            assert!(shape(sql, &significant(&t)).is_err(), "{sql}");
        }
    }
}
