//! Derived tables and CTEs that compute over rows of a sharded table spread over
//! several sets (`SELECT COUNT(*) FROM (SELECT DISTINCT g FROM t) x`, a `GROUP BY`
//! not on the shard key, `ORDER BY ... LIMIT`, windows, `WITH ROLLUP`, a `UNION`
//! inside): materialized by the gateway, as MariaDB materializes them.
//!
//! - Each such block of the outer `FROM` runs as a statement of its own through
//!   the executor (scatter and merge, exact as for any top-level SELECT;
//!   [`crate::join::capture`]).
//! - Its rows are written into the outer statement in place of the block, as a
//!   `JSON_TABLE` whose columns carry the block's own types ([`columns`]): DECIMAL
//!   precision and scale, temporal fractions, character set and collation (read
//!   with `COLLATION()` on a set, since result metadata only carries the client's
//!   character set). Inline rows rather than a temporary table: the rewritten
//!   statement is planned and run like any other (in the session's transaction,
//!   on its pinned connections, on replicas, in both protocols, joined with
//!   broadcast tables or scattered with exact derived tables of the same table),
//!   with nothing to create on a connection and nothing left behind on errors.
//! - The outer statement's column definitions are MariaDB's own for the client's
//!   statement, read from one set running it ([`run`]): MariaDB describes a
//!   materialized derived column by its source (table, `NOT NULL`, a derived key's
//!   `PART_KEY` flag) where the rewritten statement has a `JSON_TABLE` column.
//!   The rewritten answer's types must agree with them, else 1235.
//!
//! Refused (1235) as before: `WITH RECURSIVE`, a CTE reading another CTE, scalar
//! and `IN` subqueries over the sharded table (`route::nested`).

pub mod columns;
pub mod run;
pub mod windows;

use sqlparser::ast::{Query, Spanned};

use crate::join::source::Source;
use crate::route::nested::{Inexact, Sharded};
use crate::sql::lexer::Token;

/// A derived block the gateway materializes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// Byte range of the block in the statement, its parentheses included.
    pub start: usize,
    pub end: usize,
    /// Its query as the client wrote it.
    pub sql: String,
    /// When the block stands for a table reference and its `WHERE` (a window
    /// query's rows, [`windows`]): the name its rows take in the statement.
    pub alias: Option<String>,
}

/// A statement whose derived blocks are materialized first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DerivedPlan {
    /// The client's statement.
    pub sql: String,
    /// In text order, not overlapping.
    pub blocks: Vec<Block>,
    /// A set holding the sharded table: where collations and the statement's
    /// column definitions are read.
    pub probe_set: String,
}

impl DerivedPlan {
    /// The gateway's plan as text lines.
    pub fn describe(&self) -> Vec<String> {
        let mut lines: Vec<String> = self
            .blocks
            .iter()
            .map(|b| format!("materialize (merged across sets): {}", b.sql))
            .collect();
        lines.push(format!(
            "then the statement over the materialized rows; column definitions from {}",
            self.probe_set
        ));
        lines
    }

    /// The queries the sets are asked (the blocks).
    pub fn side_queries(&self) -> Vec<String> {
        self.blocks.iter().map(|b| b.sql.clone()).collect()
    }
}

/// The plan materializing the outer query's inexact derived blocks, when the
/// refusal of `route::nested::check` is about them and each can be located in
/// the text; `None` otherwise (the refusal stands).
pub fn plan(
    sql: &str,
    tokens: &[Token],
    q: &Query,
    sharded: &[Sharded<'_>],
    sets: &[String],
) -> Option<DerivedPlan> {
    if q.with.as_ref().is_some_and(|w| w.recursive) {
        return None;
    }
    let found: Vec<Inexact<'_>> = sharded
        .iter()
        .flat_map(|s| crate::route::nested::inexact(q, s))
        .collect();
    if found.is_empty() {
        return None;
    }
    let src = Source::new(sql, tokens);
    let mut blocks: Vec<Block> = Vec::with_capacity(found.len());
    for b in found {
        let body: &Query = match b {
            Inexact::Derived(sub) => sub,
            Inexact::Cte(at) => &q.with.as_ref()?.cte_tables[at].query,
        };
        // A block reading a CTE of the statement: its text alone does not run.
        if let Some(with) = &q.with {
            let names = crate::route::analyze::analyze_node(body).tables;
            if names.iter().any(|t| {
                t.db.is_none()
                    && with
                        .cte_tables
                        .iter()
                        .any(|o| o.alias.name.value.eq_ignore_ascii_case(&t.name))
            }) {
                return None;
            }
        }
        let (a, close) = src.parenthesized(body.span())?;
        let start = src.sig[a - 1].start;
        let end = src.sig[close].end;
        let text = &sql[src.sig[a].start..src.sig[close - 1].end];
        blocks.push(Block {
            start,
            end,
            sql: text.to_string(),
            alias: None,
        });
    }
    blocks.sort_by_key(|b| b.start);
    blocks.dedup_by_key(|b| b.start);
    if blocks.windows(2).any(|w| w[0].end > w[1].start) {
        return None;
    }
    Some(DerivedPlan {
        sql: sql.to_string(),
        blocks,
        probe_set: sets.first()?.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::route::analyze::TableRef;
    use sqlparser::ast::Statement;

    fn planned(sql: &str) -> Option<DerivedPlan> {
        let tokens = crate::sql::lexer::tokenize(sql).unwrap();
        let Statement::Query(q) = crate::sql::parse_one(sql).unwrap() else {
            panic!()
        };
        let tref = TableRef {
            db: None,
            name: "t".into(),
            alias: None,
            pos: 0,
        };
        let sharded = Sharded {
            tref: &tref,
            key: "id",
        };
        plan(sql, &tokens, &q, &[sharded], &["s1".to_string()])
    }

    fn blocks(sql: &str) -> Vec<String> {
        planned(sql)
            .map(|p| {
                p.blocks
                    .iter()
                    .map(|b| {
                        assert_eq!(&sql[b.start..b.start + 1], "(");
                        assert_eq!(&sql[b.end - 1..b.end], ")");
                        b.sql.clone()
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    #[test]
    fn inexact_blocks_are_located() {
        assert_eq!(
            blocks("SELECT * FROM (SELECT g, COUNT(*) c FROM t GROUP BY g) x ORDER BY c"),
            ["SELECT g, COUNT(*) c FROM t GROUP BY g"]
        );
        assert_eq!(
            blocks("SELECT COUNT(*) FROM ( SELECT DISTINCT g FROM t ) AS x"),
            ["SELECT DISTINCT g FROM t"]
        );
        assert_eq!(
            blocks("WITH c AS (SELECT g, MAX(v) m FROM t GROUP BY g) SELECT * FROM c JOIN b ON b.k = c.g"),
            ["SELECT g, MAX(v) m FROM t GROUP BY g"]
        );
        assert_eq!(
            blocks("SELECT * FROM (SELECT id FROM t ORDER BY id LIMIT 5) x JOIN (SELECT g FROM t UNION SELECT k FROM b) y ON x.id = y.g"),
            ["SELECT id FROM t ORDER BY id LIMIT 5", "SELECT g FROM t UNION SELECT k FROM b"]
        );
        // Exact blocks stay as they are.
        assert_eq!(
            blocks("SELECT * FROM (SELECT id, g FROM t) a JOIN (SELECT g, COUNT(*) n FROM t GROUP BY g) z ON a.g = z.g"),
            ["SELECT g, COUNT(*) n FROM t GROUP BY g"]
        );
    }

    #[test]
    fn other_refusals_stand() {
        for sql in [
            "SELECT (SELECT COUNT(*) FROM t) AS n",
            "SELECT k FROM b WHERE k IN (SELECT g FROM t)",
            "SELECT * FROM (SELECT id, g FROM t) x",
            "WITH RECURSIVE c AS (SELECT g FROM t GROUP BY g) SELECT * FROM c",
            "WITH a AS (SELECT g, COUNT(*) n FROM t GROUP BY g), c AS (SELECT * FROM a) SELECT * FROM c",
            "WITH k AS (SELECT k FROM b) SELECT * FROM (SELECT g, COUNT(*) n FROM t JOIN k ON k.k = t.g GROUP BY g) x",
        ] {
            assert!(planned(sql).is_none(), "{sql}");
        }
    }
}
