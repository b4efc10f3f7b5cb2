//! `EXPLAIN <statement>` and the gateway's own plan statement, `EXPLAIN SETWISE
//! <statement>`.
//!
//! * `EXPLAIN [EXTENDED | PARTITIONS | FORMAT=JSON] stmt` (also `DESCRIBE stmt`,
//!   `ANALYZE FORMAT=JSON` is not one of them): MariaDB's own EXPLAIN, asked of
//!   every set that would run the statement with the text the gateway would send
//!   it ([`per_set`]); the sets' rows one set after another, in the plan's order.
//! * `EXPLAIN SETWISE stmt`: what the gateway would do, without doing it — one row
//!   per step ([`steps`]): the text sent to each set, then how the answers are
//!   combined (concatenated, merge-sorted, grouped, limited, affected rows summed,
//!   a two-phase commit).
//!
//! This module is pure: classifying the request and describing a plan. The
//! session runs it (`session/explain.rs`).

pub mod orphans;
mod steps;

pub use steps::{steps, Step};

use crate::route::plan::{Plan, Target};
use crate::sql::lexer::{Kind, Token};

/// Which EXPLAIN a statement asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExplainKind {
    /// MariaDB's EXPLAIN from the set(s).
    Sets,
    /// `EXPLAIN SETWISE`: the gateway's plan.
    Gateway,
}

/// An EXPLAIN of a statement: which kind, and where the explained statement
/// starts in the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExplainRequest {
    pub kind: ExplainKind,
    /// Byte offset of the explained statement in the client's text.
    pub inner: usize,
    /// Byte offset where the client's EXPLAIN options end (`EXPLAIN FORMAT=JSON `);
    /// `sql[..prefix_end]` is put before each set's text.
    pub prefix_end: usize,
}

impl ExplainRequest {
    /// The explained statement.
    pub fn inner<'a>(&self, sql: &'a str) -> &'a str {
        sql[self.inner..].trim_end_matches(|c: char| c == ';' || c.is_whitespace())
    }

    /// The EXPLAIN words to put before a set's text (`EXPLAIN FORMAT=JSON`).
    pub fn prefix<'a>(&self, sql: &'a str) -> &'a str {
        sql[..self.prefix_end].trim()
    }
}

/// Words a statement EXPLAIN can describe starts with.
const EXPLAINABLE: [&str; 7] = [
    "SELECT", "INSERT", "REPLACE", "UPDATE", "DELETE", "WITH", "VALUES",
];

/// Whether `sig` (significant tokens of `sql`) is an EXPLAIN of a statement,
/// rather than `DESCRIBE table` / `EXPLAIN table` (which are SHOW COLUMNS) or
/// `EXPLAIN FOR CONNECTION n`.
pub fn classify(sql: &str, sig: &[Token]) -> Option<ExplainRequest> {
    let first = sig.first()?;
    if !["EXPLAIN", "DESCRIBE", "DESC"]
        .iter()
        .any(|w| first.is_word(sql, w))
    {
        return None;
    }
    let mut i = 1;
    let mut kind = ExplainKind::Sets;
    if sig.get(i).is_some_and(|t| t.is_word(sql, "SETWISE"))
        && sig.get(i + 1).is_some_and(|t| starts_statement(sql, t))
    {
        kind = ExplainKind::Gateway;
        i += 1;
    } else {
        // EXTENDED | PARTITIONS | FORMAT = name
        if sig
            .get(i)
            .is_some_and(|t| t.is_word(sql, "EXTENDED") || t.is_word(sql, "PARTITIONS"))
        {
            i += 1;
        } else if sig.get(i).is_some_and(|t| t.is_word(sql, "FORMAT"))
            && sig.get(i + 1).is_some_and(|t| t.is_punct(sql, "="))
            && sig.get(i + 2).is_some_and(|t| t.kind == Kind::Word)
        {
            i += 3;
        }
    }
    let start = sig.get(i)?;
    if !starts_statement(sql, start) {
        return None;
    }
    let prefix_end = match kind {
        ExplainKind::Sets => start.start,
        ExplainKind::Gateway => 0,
    };
    Some(ExplainRequest {
        kind,
        inner: start.start,
        prefix_end,
    })
}

fn starts_statement(sql: &str, t: &Token) -> bool {
    t.is_punct(sql, "(") || EXPLAINABLE.iter().any(|w| t.is_word(sql, w))
}

/// The text each set is asked: the client's EXPLAIN words before the text the
/// plan sends that set, one entry per set in the plan's order.
pub fn per_set(
    plan: &Plan,
    inner: &str,
    prefix: &str,
) -> Result<Vec<(String, String)>, crate::error::ProxyError> {
    if matches!(plan.merge, crate::route::plan::Merge::Join(_)) {
        return Err(crate::error::ProxyError::Internal(
            "a gateway join is explained side by side (session/explain.rs)".into(),
        ));
    }
    let texts: Vec<(String, String)> = match &plan.target {
        Target::Sets(sets) => {
            let text = match &plan.merge {
                crate::route::plan::Merge::Merged(spec) => spec.sql.as_str(),
                _ => inner,
            };
            sets.iter().map(|s| (s.clone(), text.to_string())).collect()
        }
        Target::PerSet(parts) => parts.clone(),
    };
    Ok(texts
        .into_iter()
        .map(|(set, text)| (set, format!("{prefix} {text}")))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::lexer::{significant, tokenize};

    fn req(sql: &str) -> Option<(ExplainKind, String, String)> {
        let toks = tokenize(sql).unwrap();
        let sig = significant(&toks);
        classify(sql, &sig).map(|r| (r.kind, r.prefix(sql).to_string(), r.inner(sql).to_string()))
    }

    #[test]
    fn explains_of_statements() {
        assert_eq!(
            req("EXPLAIN SELECT 1"),
            Some((ExplainKind::Sets, "EXPLAIN".into(), "SELECT 1".into()))
        );
        assert_eq!(
            req("explain format = json select * from t;"),
            Some((
                ExplainKind::Sets,
                "explain format = json".into(),
                "select * from t".into()
            ))
        );
        assert_eq!(
            req("DESC EXTENDED UPDATE t SET a = 1"),
            Some((
                ExplainKind::Sets,
                "DESC EXTENDED".into(),
                "UPDATE t SET a = 1".into()
            ))
        );
        assert_eq!(
            req("EXPLAIN SETWISE SELECT a FROM t"),
            Some((ExplainKind::Gateway, "".into(), "SELECT a FROM t".into()))
        );
        assert_eq!(
            req("EXPLAIN (SELECT 1) UNION (SELECT 2)").map(|r| r.2),
            Some("(SELECT 1) UNION (SELECT 2)".into())
        );
    }

    #[test]
    fn describe_of_a_table_is_not_an_explain() {
        assert_eq!(req("DESCRIBE t"), None);
        assert_eq!(req("EXPLAIN setwise"), None);
        assert_eq!(req("DESC t col"), None);
        assert_eq!(req("EXPLAIN FOR CONNECTION 5"), None);
        assert_eq!(req("SELECT 1"), None);
    }
}
