//! What a statement does to its backend connection's session beyond its answer:
//! user variables assigned (`SELECT @a := ...`, `... INTO @a`), SQL-level prepared
//! statements, named locks, procedure calls (which may change anything). A pooled
//! connection such a statement ran on no longer carries exactly its pool's
//! session state, so it must never be lent to another session: the executor
//! closes it instead (inside a transaction, when the transaction ends).

use super::lexer::{Kind, Token};

/// Statements whose first word marks them as changing the connection's session.
const STATEFUL_FIRST: &[&str] = &["CALL", "PREPARE", "EXECUTE", "DEALLOCATE", "HANDLER"];

/// Functions whose call changes state held by the connection.
const STATEFUL_CALLS: &[&str] = &[
    "GET_LOCK",
    "RELEASE_LOCK",
    "RELEASE_ALL_LOCKS",
    "LAST_INSERT_ID",
    "SETVAL",
];

/// Whether `sql` (its significant tokens `sig`) may leave session state on the
/// connection it runs on that the gateway does not carry itself.
pub fn changes_session(sql: &str, sig: &[Token]) -> bool {
    if sig
        .first()
        .is_some_and(|t| STATEFUL_FIRST.iter().any(|w| t.is_word(sql, w)))
    {
        return true;
    }
    sig.iter().enumerate().any(|(i, t)| {
        let next = sig.get(i + 1);
        let user_var = |t: &Token| t.kind == Kind::Variable && !t.text(sql).starts_with("@@");
        t.is_punct(sql, ":=")
            || (t.is_word(sql, "INTO") && next.is_some_and(user_var))
            || (t.kind == Kind::Word
                && next.is_some_and(|n| n.is_punct(sql, "("))
                && STATEFUL_CALLS.iter().any(|w| t.is_word(sql, w))
                // LAST_INSERT_ID() only reads; LAST_INSERT_ID(x) sets it.
                && !(t.is_word(sql, "LAST_INSERT_ID")
                    && sig.get(i + 2).is_some_and(|c| c.is_punct(sql, ")"))))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::lexer::{significant, tokenize};

    fn c(sql: &str) -> bool {
        changes_session(sql, &significant(&tokenize(sql).unwrap()))
    }

    #[test]
    fn stateful_statements() {
        assert!(c("SELECT @rn := @rn + 1 AS rn, id FROM t"));
        assert!(c("SELECT id INTO @x FROM t LIMIT 1"));
        assert!(c("SELECT GET_LOCK('a', 1)"));
        assert!(c("select release_lock('a')"));
        assert!(c("CALL p(1)"));
        assert!(c("PREPARE s FROM 'SELECT 1'"));
        assert!(c("UPDATE t SET id = LAST_INSERT_ID(id + 1)"));
        assert!(!c("SELECT LAST_INSERT_ID()"));
        assert!(!c("SELECT @a, @@sql_mode FROM t WHERE x = 'GET_LOCK('"));
        assert!(!c("SELECT id FROM t WHERE a = 1"));
        assert!(!c("INSERT INTO t VALUES (1)"));
        assert!(!c("SELECT 1 INTO OUTFILE '/tmp/x'"));
    }
}
