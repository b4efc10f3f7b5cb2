//! `INSERT/REPLACE/DELETE ... RETURNING` that writes on several sets (a multi-row
//! INSERT split by shard key, a DELETE over every set, a write to a broadcast
//! table): each set answers with its own rows, which the gateway does not merge
//! yet — MariaDB returns them in the statement's row order, across every set.
//! Such a write is refused with 1235 before anything runs, never answered with
//! an OK packet that drops the rows (what the write path did before).

use crate::error::ProxyError;
use crate::sql::lexer::{significant, tokenize};

/// Whether `sql` has a `RETURNING` clause (the word outside strings and comments).
pub fn has_returning(sql: &str) -> bool {
    let Ok(tokens) = tokenize(sql) else {
        return false;
    };
    significant(&tokens)
        .iter()
        .any(|t| t.is_word(sql, "RETURNING"))
}

/// The refusal of a RETURNING write on several sets.
pub fn refused() -> ProxyError {
    ProxyError::NotSupported(
        "INSERT/REPLACE/DELETE ... RETURNING that writes on several sets (their rows are not merged yet)"
            .into(),
    )
}

#[cfg(test)]
mod tests {
    use super::has_returning;

    #[test]
    fn finds_the_clause_only() {
        assert!(has_returning(
            "INSERT INTO t (a) VALUES (1), (2) RETURNING id"
        ));
        assert!(has_returning("delete from t where a > 1 returning *"));
        assert!(!has_returning("INSERT INTO t (a) VALUES ('RETURNING')"));
        assert!(!has_returning(
            "INSERT INTO t (a) VALUES (1) /* RETURNING */"
        ));
        assert!(!has_returning("DELETE FROM t WHERE a = 1"));
    }
}
