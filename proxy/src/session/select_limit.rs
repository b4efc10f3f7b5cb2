//! `sql_select_limit`: MariaDB caps the rows of a top-level SELECT without a
//! LIMIT of its own at the session's value. The gateway keeps the variable
//! itself (`limits.rs`; on the sets it would cut each set's part of a merged
//! read) and writes it into the client's statement as a `LIMIT n`, which the
//! planner then applies to the whole answer, over every set.

use crate::command::Statement;
use crate::sql::lexer::Token;

/// `stmt` with ` LIMIT n` where MariaDB applies `sql_select_limit = n`: a
/// SELECT (or `WITH ... SELECT`, a UNION's whole result) without its own
/// LIMIT / FETCH at the top level, before a trailing `FOR UPDATE` / `LOCK IN
/// SHARE MODE`. `None` when nothing applies (also `SELECT ... INTO`, left
/// as it is).
pub(super) fn select_limit_text(stmt: &Statement<'_>, n: u64) -> Option<String> {
    if !matches!(stmt.verb.as_str(), "SELECT" | "WITH") {
        return None;
    }
    let (sql, sig) = (stmt.sql, &stmt.sig[..]);
    let at = insertion_point(sql, sig)?;
    let mut out = String::with_capacity(sql.len() + 24);
    out.push_str(sql[..at].trim_end());
    out.push_str(&format!(" LIMIT {n}"));
    if at < sql.len() {
        out.push(' ');
        out.push_str(sql[at..].trim_start());
    }
    Some(out)
}

/// Where the LIMIT goes, or `None` when the statement has its own limit (or
/// an INTO).
fn insertion_point(sql: &str, sig: &[Token]) -> Option<usize> {
    let mut depth = 0i32;
    let mut at = None;
    for (i, t) in sig.iter().enumerate() {
        if t.is_punct(sql, "(") {
            depth += 1;
            continue;
        }
        if t.is_punct(sql, ")") {
            depth -= 1;
            continue;
        }
        if depth != 0 {
            continue;
        }
        let next = |w: &str| sig.get(i + 1).is_some_and(|n| n.is_word(sql, w));
        if ["LIMIT", "FETCH", "OFFSET", "INTO", "PROCEDURE"]
            .iter()
            .any(|w| t.is_word(sql, w))
        {
            return None;
        }
        let tail = (t.is_word(sql, "FOR") && (next("UPDATE") || next("SHARE")))
            || (t.is_word(sql, "LOCK") && next("IN"))
            || t.is_punct(sql, ";");
        if tail && at.is_none() {
            at = Some(t.start);
        }
    }
    Some(at.unwrap_or(sql.len()))
}

#[cfg(test)]
mod tests {
    use super::select_limit_text;
    use crate::command::Statement;

    fn limited(sql: &str) -> Option<String> {
        select_limit_text(&Statement::lex(sql).unwrap(), 5)
    }

    #[test]
    fn a_limit_where_mariadb_applies_the_variable() {
        assert_eq!(
            limited("SELECT id FROM t ORDER BY id").as_deref(),
            Some("SELECT id FROM t ORDER BY id LIMIT 5")
        );
        assert_eq!(
            limited("SELECT id FROM t WHERE id IN (SELECT a FROM u LIMIT 2) FOR UPDATE").as_deref(),
            Some("SELECT id FROM t WHERE id IN (SELECT a FROM u LIMIT 2) LIMIT 5 FOR UPDATE")
        );
        assert_eq!(
            limited("SELECT a FROM t UNION SELECT b FROM u LOCK IN SHARE MODE").as_deref(),
            Some("SELECT a FROM t UNION SELECT b FROM u LIMIT 5 LOCK IN SHARE MODE")
        );
        assert_eq!(
            limited("WITH x AS (SELECT 1 LIMIT 1) SELECT * FROM x").as_deref(),
            Some("WITH x AS (SELECT 1 LIMIT 1) SELECT * FROM x LIMIT 5")
        );
        assert_eq!(limited("SELECT id FROM t LIMIT 9"), None);
        assert_eq!(
            limited("SELECT id FROM t ORDER BY id OFFSET 1 ROWS FETCH FIRST 2 ROWS ONLY"),
            None
        );
        assert_eq!(limited("SELECT id INTO @x FROM t"), None);
        assert_eq!(limited("UPDATE t SET a = 1"), None);
    }
}
