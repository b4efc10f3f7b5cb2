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

/// Functions of named locks: a lock lives on the connection that took it.
const LOCK_CALLS: &[&str] = &[
    "GET_LOCK",
    "RELEASE_LOCK",
    "RELEASE_ALL_LOCKS",
    "IS_FREE_LOCK",
    "IS_USED_LOCK",
];

/// Whether `sql` calls a named-lock function. Such a statement without a table
/// runs on one fixed set, so every session's locks meet on the same server.
pub fn calls_named_lock(sql: &str, sig: &[Token]) -> bool {
    sig.windows(2).any(|w| {
        w[0].kind == Kind::Word
            && w[1].is_punct(sql, "(")
            && LOCK_CALLS.iter().any(|f| w[0].is_word(sql, f))
    })
}

/// Whether `sql` leaves state that must stay on its connection for the rest of
/// the session: a named lock taken, an SQL-level prepared statement, an open
/// HANDLER. Its connection becomes the session's own (`crate::exec::Pins`).
pub fn pins_connection(sql: &str, sig: &[Token]) -> bool {
    sig.first()
        .is_some_and(|t| t.is_word(sql, "PREPARE") || t.is_word(sql, "HANDLER"))
        || sig.windows(2).any(|w| {
            (w[1].is_punct(sql, "(")
                && (w[0].is_word(sql, "GET_LOCK") || w[0].is_word(sql, "NEXTVAL")))
                // NEXT VALUE FOR s: a sequence's LASTVAL is the connection's.
                || (w[0].is_word(sql, "NEXT") && w[1].is_word(sql, "VALUE"))
        })
}

/// The user variables `sql` assigns while it runs (`@a := ...`, `INTO @a, @b`),
/// lower-cased without the `@`, each once.
pub fn assigned_user_vars(sql: &str, sig: &[Token]) -> Vec<String> {
    let user_var = |t: &Token| t.kind == Kind::Variable && !t.text(sql).starts_with("@@");
    let name = |t: &Token| {
        let n = t.text(sql)[1..].trim_matches(|c| c == '`' || c == '\'' || c == '"');
        n.to_ascii_lowercase()
    };
    let mut out: Vec<String> = Vec::new();
    let mut push = |n: String| {
        if !out.contains(&n) {
            out.push(n);
        }
    };
    for (i, t) in sig.iter().enumerate() {
        if t.is_punct(sql, ":=") && i > 0 && user_var(&sig[i - 1]) {
            push(name(&sig[i - 1]));
        } else if t.is_word(sql, "INTO") {
            let mut j = i + 1;
            while let Some(v) = sig.get(j).filter(|v| user_var(v)) {
                push(name(v));
                if !sig.get(j + 1).is_some_and(|c| c.is_punct(sql, ",")) {
                    break;
                }
                j += 2;
            }
        }
    }
    out
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
        let p = |sql: &str| pins_connection(sql, &significant(&tokenize(sql).unwrap()));
        assert!(p("SELECT NEXTVAL(s)"));
        assert!(p("INSERT INTO t VALUES (NEXT VALUE FOR s, 1)"));
        assert!(p("SELECT GET_LOCK('a', 0)"));
        assert!(!p("SELECT LASTVAL(s)"));
    }

    #[test]
    fn assigned_names() {
        let a = |sql: &str| assigned_user_vars(sql, &significant(&tokenize(sql).unwrap()));
        assert_eq!(a("SELECT @Rn := @rn + 1, @x FROM t"), vec!["rn"]);
        assert_eq!(a("SELECT a, b INTO @a, @`b c` FROM t"), vec!["a", "b c"]);
        assert_eq!(a("SELECT @a := 1, @a := 2"), vec!["a"]);
        assert!(a("SELECT @a FROM t WHERE x = 1").is_empty());
    }
}
