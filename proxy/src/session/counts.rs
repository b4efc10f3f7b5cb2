//! `ROW_COUNT()` answered by the session: what the session's previous statement
//! did (rows an INSERT/UPDATE/DELETE changed, as its OK packet says; 0 after
//! DDL and statements without rows; -1 after a result set or an error), as one
//! MariaDB connection answers — not whatever the pooled connection that runs the
//! asking statement did last.

use super::text::rewrite_keeping_names;
use super::Session;
use crate::command::Statement;
use crate::front::Responder;

/// The spans of each `name()` call (a function of no arguments) in a statement
/// that evaluates expressions; none in any other statement.
pub(super) fn calls_of(stmt: &Statement<'_>, name: &str) -> Vec<(usize, usize)> {
    let evaluated = matches!(
        stmt.word(0),
        "SELECT" | "INSERT" | "REPLACE" | "UPDATE" | "DELETE" | "SET" | "DO" | "WITH" | "VALUES"
    );
    if !evaluated {
        return Vec::new();
    }
    let (sql, sig) = (stmt.sql, &stmt.sig[..]);
    sig.windows(3)
        .filter(|w| w[0].is_word(sql, name) && w[1].is_punct(sql, "(") && w[2].is_punct(sql, ")"))
        .map(|w| (w[0].start, w[2].end))
        .collect()
}

impl Session {
    /// `sql` with each `ROW_COUNT()` replaced by the session's value, typed as
    /// MariaDB types the call (`COALESCE(n, ROW_COUNT())`: BIGINT(21) NOT NULL)
    /// and keeping its column name; `None` when it calls none.
    pub(super) fn row_count_text(&self, stmt: &Statement<'_>) -> Option<String> {
        let calls: Vec<(usize, usize, String)> = calls_of(stmt, "ROW_COUNT")
            .into_iter()
            .map(|(a, b)| (a, b, format!("COALESCE({}, ROW_COUNT())", self.row_count)))
            .collect();
        (!calls.is_empty()).then(|| rewrite_keeping_names(stmt.sql, &stmt.sig, calls))
    }

    /// After a statement (`ok`: it succeeded): what `ROW_COUNT()` answers next.
    pub(super) fn note_row_count(&mut self, stmt: &Statement<'_>, out: &Responder<'_>, ok: bool) {
        self.row_count = match out.last_ok {
            _ if !ok => -1,
            _ if stmt.is_schema_change() => 0,
            Some((affected, _)) => affected as i64,
            None => -1,
        };
    }
}
