//! What a statement does to its backend connection's session beyond its answer:
//! user variables assigned (`SELECT @a := ...`, `... INTO @a`), SQL-level prepared
//! statements, named locks, procedure calls (which may change anything). A pooled
//! connection such a statement ran on no longer carries exactly its pool's
//! session state, so it must never be lent to another session: the executor
//! closes it instead (inside a transaction, when the transaction ends).

use super::lexer::{Kind, Token};

/// What one statement does to its connection's session, read in one pass over
/// its significant tokens ([`classify`]).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Effects {
    /// It may leave session state on its connection that the gateway does not
    /// carry itself: the connection must not be lent to anyone else.
    pub stateful: bool,
    /// It leaves state that must stay on its connection for the rest of the
    /// session (a named lock taken, an SQL-level prepared statement, an open
    /// HANDLER, a sequence's last value): the connection becomes the session's
    /// own (`crate::exec::Pins`).
    pub pins: bool,
    /// It calls a named-lock function: without a table it runs on one fixed set,
    /// so every session's locks meet on the same server.
    pub named_lock: bool,
    /// User variables it assigns (`@a := ...`, `INTO @a, @b`), lower-cased
    /// without the `@`, each once.
    pub assigns: Vec<String>,
}

/// Functions whose call changes state held by the connection.
const STATEFUL_CALLS: &[&str] = &[
    "GET_LOCK",
    "RELEASE_LOCK",
    "RELEASE_ALL_LOCKS",
    "LAST_INSERT_ID",
    "SETVAL",
];

/// Functions of named locks: a lock lives on the connection that took it.
const LOCK_CALLS: &[&str] = &[
    "GET_LOCK",
    "RELEASE_LOCK",
    "RELEASE_ALL_LOCKS",
    "IS_FREE_LOCK",
    "IS_USED_LOCK",
];

/// Reads a statement's [`Effects`] off its significant tokens `sig`.
pub fn classify(sql: &str, sig: &[Token]) -> Effects {
    let mut fx = Effects::default();
    if let Some(first) = sig.first() {
        // Procedures may change anything; SQL-level prepared statements and
        // handlers live on the connection.
        let is = |w: &str| first.is_word(sql, w);
        fx.stateful = ["CALL", "PREPARE", "EXECUTE", "DEALLOCATE", "HANDLER"]
            .iter()
            .any(|w| is(w));
        fx.pins = is("PREPARE") || is("HANDLER");
    }
    let user_var = |t: &Token| t.kind == Kind::Variable && !t.text(sql).starts_with("@@");
    let name = |t: &Token| {
        let n = t.text(sql)[1..].trim_matches(|c| c == '`' || c == '\'' || c == '"');
        n.to_ascii_lowercase()
    };
    let assign = |fx: &mut Effects, n: String| {
        fx.stateful = true;
        if !fx.assigns.contains(&n) {
            fx.assigns.push(n);
        }
    };
    for (i, t) in sig.iter().enumerate() {
        let next = sig.get(i + 1);
        if t.is_punct(sql, ":=") {
            fx.stateful = true;
            if let Some(v) = i.checked_sub(1).map(|p| &sig[p]).filter(|v| user_var(v)) {
                assign(&mut fx, name(v));
            }
            continue;
        }
        // CALL p(@out): a procedure may set any variable it is given (OUT / INOUT).
        if user_var(t) && sig.first().is_some_and(|f| f.is_word(sql, "CALL")) {
            assign(&mut fx, name(t));
            continue;
        }
        if t.kind != Kind::Word {
            continue;
        }
        if t.is_word(sql, "INTO") {
            let mut j = i + 1;
            while let Some(v) = sig.get(j).filter(|v| user_var(v)) {
                assign(&mut fx, name(v));
                if !sig.get(j + 1).is_some_and(|c| c.is_punct(sql, ",")) {
                    break;
                }
                j += 2;
            }
        } else if next.is_some_and(|n| n.is_punct(sql, "(")) {
            // LAST_INSERT_ID() only reads; LAST_INSERT_ID(x) sets it.
            let reads_only = t.is_word(sql, "LAST_INSERT_ID")
                && sig.get(i + 2).is_some_and(|c| c.is_punct(sql, ")"));
            if !reads_only && STATEFUL_CALLS.iter().any(|w| t.is_word(sql, w)) {
                fx.stateful = true;
            }
            if LOCK_CALLS.iter().any(|w| t.is_word(sql, w)) {
                fx.named_lock = true;
            }
            if t.is_word(sql, "GET_LOCK") || t.is_word(sql, "NEXTVAL") {
                fx.pins = true;
            }
        } else if t.is_word(sql, "NEXT") && next.is_some_and(|n| n.is_word(sql, "VALUE")) {
            // NEXT VALUE FOR s: a sequence's LASTVAL is the connection's.
            fx.pins = true;
        }
    }
    fx
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::lexer::{significant, tokenize};

    fn fx(sql: &str) -> Effects {
        classify(sql, &significant(&tokenize(sql).unwrap()))
    }

    fn c(sql: &str) -> bool {
        fx(sql).stateful
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
        let p = |sql: &str| fx(sql).pins;
        assert!(p("SELECT NEXTVAL(s)"));
        assert!(p("INSERT INTO t VALUES (NEXT VALUE FOR s, 1)"));
        assert!(p("SELECT GET_LOCK('a', 0)"));
        assert!(!p("SELECT LASTVAL(s)"));
        assert!(fx("SELECT IS_FREE_LOCK('a')").named_lock);
        assert!(!fx("SELECT LOCKED FROM t").named_lock);
    }

    #[test]
    fn assigned_names() {
        let a = |sql: &str| fx(sql).assigns;
        assert_eq!(a("SELECT @Rn := @rn + 1, @x FROM t"), vec!["rn"]);
        assert_eq!(a("SELECT a, b INTO @a, @`b c` FROM t"), vec!["a", "b c"]);
        assert_eq!(a("SELECT @a := 1, @a := 2"), vec!["a"]);
        assert!(a("SELECT @a FROM t WHERE x = 1").is_empty());
    }
}
