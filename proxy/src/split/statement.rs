//! What a statement says about the read/write split: TDSQL's `/*slave*/` hint
//! (read from the comments, before anything strips them), whether it is a plain
//! read a replica may answer, and the session variable of ours,
//! `setwise_read_from` (`SET setwise_read_from = 'replica' | 'primary' |
//! DEFAULT`, `SELECT @@setwise_read_from`).

use crate::error::ProxyError;
use crate::sql::effects::Effects;
use crate::sql::lexer::{string_value, Kind, Token};

/// The session variable that asks for replica reads.
pub const VAR: &str = "setwise_read_from";

/// Where a session asked its reads to go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadFrom {
    Primary,
    Replica,
}

impl ReadFrom {
    pub fn word(self) -> &'static str {
        match self {
            ReadFrom::Primary => "primary",
            ReadFrom::Replica => "replica",
        }
    }
}

impl From<topo::Reads> for ReadFrom {
    fn from(r: topo::Reads) -> Self {
        match r {
            topo::Reads::Primary => ReadFrom::Primary,
            topo::Reads::Replica => ReadFrom::Replica,
        }
    }
}

/// Whether the statement carries TDSQL's `/*slave*/` hint (any comment whose
/// text is `slave`, case and spaces aside). `tokens` are all tokens, comments
/// included.
pub fn slave_hint(sql: &str, tokens: &[Token]) -> bool {
    tokens.iter().any(|t| {
        t.kind == Kind::Comment
            && t.text(sql)
                .strip_prefix("/*")
                .and_then(|c| c.strip_suffix("*/"))
                .is_some_and(|c| c.trim().eq_ignore_ascii_case("slave"))
    })
}

/// Words that make a SELECT more than a plain read: locking reads, `INTO`
/// (a file, or variables), sequences, and functions about the session's own
/// previous statements.
const NOT_PLAIN: &[&str] = &[
    "UPDATE", // FOR UPDATE
    "SHARE",  // LOCK IN SHARE MODE, FOR SHARE
    "INTO",
    "NEXTVAL",
    "SETVAL",
    "LASTVAL",
    "NEXT",     // NEXT VALUE FOR
    "PREVIOUS", // PREVIOUS VALUE FOR
    "FOUND_ROWS",
    "ROW_COUNT",
    "LAST_INSERT_ID",
];

/// Session variables that describe the connection's own previous statements.
const SESSION_STATE_VARS: &[&str] = &[
    "last_gtid",
    "last_insert_id",
    "identity",
    "insert_id",
    "warning_count",
    "error_count",
];

/// Whether a replica may answer the statement: a SELECT that neither locks,
/// nor writes, nor leaves or reads state of the session's own connection.
/// `sig` are its significant tokens; `fx` what it does to its connection.
pub fn plain_read(sql: &str, sig: &[Token], fx: &Effects) -> bool {
    // SELECT, a parenthesized one (`(SELECT ...) UNION (SELECT ...)`), or WITH
    // ... SELECT (no write anywhere in it).
    let first_word = sig.iter().find(|t| !t.is_punct(sql, "("));
    let starts = sig.first().is_some_and(|t| t.is_word(sql, "SELECT"))
        || (sig.first().is_some_and(|t| t.is_punct(sql, "("))
            && first_word.is_some_and(|t| t.is_word(sql, "SELECT")))
        || (sig.first().is_some_and(|t| t.is_word(sql, "WITH"))
            && !sig.iter().any(|t| {
                ["INSERT", "DELETE", "REPLACE"]
                    .iter()
                    .any(|w| t.is_word(sql, w))
            }));
    if !starts {
        return false;
    }
    if fx.stateful || fx.pins || fx.named_lock || !fx.assigns.is_empty() {
        return false;
    }
    sig.iter().all(|t| match t.kind {
        Kind::Word => !NOT_PLAIN.iter().any(|w| t.is_word(sql, w)),
        Kind::Variable => {
            let v = t.text(sql).trim_start_matches('@').to_ascii_lowercase();
            let v = v.strip_prefix("session.").unwrap_or(&v);
            !SESSION_STATE_VARS.contains(&v)
        }
        _ => true,
    })
}

/// `SET [SESSION | LOCAL] setwise_read_from = 'replica' | 'primary' | DEFAULT`
/// (also `@@setwise_read_from`, `@@session.setwise_read_from`): `None` when the
/// statement does not name the variable; `Some(Ok(None))` for DEFAULT (the
/// user's own setting again).
pub fn parse_set(sql: &str, sig: &[Token]) -> Option<Result<Option<ReadFrom>, ProxyError>> {
    let names_var = |t: &Token| is_var(sql, t);
    if !sig.iter().any(names_var) {
        return None;
    }
    let mut i = 1;
    if sig
        .get(i)
        .is_some_and(|t| t.is_word(sql, "SESSION") || t.is_word(sql, "LOCAL"))
    {
        i += 1;
    }
    let refuse = |why: &str| {
        Some(Err(ProxyError::NotSupported(format!(
            "{why} (use `SET {VAR} = 'replica' | 'primary' | DEFAULT` on its own)"
        ))))
    };
    if !sig.get(i).is_some_and(names_var) {
        return refuse(&format!("{VAR} set with other variables or GLOBAL"));
    }
    if !sig
        .get(i + 1)
        .is_some_and(|t| t.is_punct(sql, "=") || t.is_punct(sql, ":="))
    {
        return refuse(&format!("{VAR} without a value"));
    }
    let Some(v) = sig.get(i + 2) else {
        return refuse(&format!("{VAR} without a value"));
    };
    let rest = &sig[i + 3..];
    if !rest.iter().all(|t| t.is_punct(sql, ";")) {
        return refuse(&format!("{VAR} set with other variables or an expression"));
    }
    let word = match v.kind {
        Kind::String => string_value(sql, v),
        Kind::Word => v.text(sql).to_string(),
        _ => String::new(),
    };
    Some(match word.to_ascii_lowercase().as_str() {
        "replica" | "slave" => Ok(Some(ReadFrom::Replica)),
        "primary" | "master" => Ok(Some(ReadFrom::Primary)),
        "default" if v.kind == Kind::Word => Ok(None),
        _ => Err(ProxyError::Backend {
            code: 1231,
            state: "42000".into(),
            message: format!(
                "Variable '{VAR}' can't be set to the value of '{}'",
                v.text(sql).trim_matches(|c| c == '\'' || c == '"')
            ),
        }),
    })
}

fn is_var(sql: &str, t: &Token) -> bool {
    match t.kind {
        Kind::Word => t.text(sql).eq_ignore_ascii_case(VAR),
        Kind::Variable => {
            let v = t.text(sql).to_ascii_lowercase();
            v == format!("@@{VAR}") || v == format!("@@session.{VAR}")
        }
        _ => false,
    }
}

/// `SELECT @@setwise_read_from` (or `@@session.`), alone: the text that answers
/// it with `value`, under the column name the client wrote.
pub fn select_text(sql: &str, sig: &[Token], value: ReadFrom) -> Option<String> {
    let n = sig.len()
        - sig
            .iter()
            .rev()
            .take_while(|t| t.is_punct(sql, ";"))
            .count();
    if n != 2 || !sig[0].is_word(sql, "SELECT") || sig[1].kind != Kind::Variable {
        return None;
    }
    if !is_var(sql, &sig[1]) {
        return None;
    }
    Some(format!(
        "SELECT '{}' AS `{}`",
        value.word(),
        sig[1].text(sql).replace('`', "``")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::lexer::{significant, tokenize};

    fn read(sql: &str) -> bool {
        let t = tokenize(sql).unwrap();
        let sig = significant(&t);
        let fx = crate::sql::effects::classify(sql, &sig);
        plain_read(sql, &sig, &fx)
    }

    #[test]
    fn hint_is_found_in_comments_only() {
        let h = |s: &str| slave_hint(s, &tokenize(s).unwrap());
        assert!(h("/*slave*/ SELECT 1"));
        assert!(h("SELECT /* SLAVE */ 1"));
        assert!(!h("SELECT '/*slave*/'"));
        assert!(!h("SELECT 1 /*slaves*/"));
        assert!(!h("SELECT 1"));
    }

    #[test]
    fn plain_reads() {
        assert!(read("SELECT * FROM t WHERE id = 1"));
        assert!(read("SELECT @@server_id, @a"));
        assert!(read("SELECT 'FOR UPDATE' FROM t"));
        assert!(!read("SELECT * FROM t FOR UPDATE"));
        assert!(!read("SELECT * FROM t LOCK IN SHARE MODE"));
        assert!(!read("SELECT * FROM t INTO OUTFILE '/tmp/x'"));
        assert!(!read("SELECT a INTO @x FROM t"));
        assert!(!read("SELECT @x := 1"));
        assert!(!read("SELECT GET_LOCK('a', 1)"));
        assert!(!read("SELECT NEXTVAL(s)"));
        assert!(!read("SELECT NEXT VALUE FOR s"));
        assert!(!read("SELECT @@last_gtid"));
        assert!(!read("SELECT @@session.last_insert_id"));
        assert!(!read("SELECT FOUND_ROWS()"));
        assert!(!read("UPDATE t SET a = 1"));
        assert!(!read("INSERT INTO t SELECT * FROM u"));
        assert!(read("(SELECT a FROM t) UNION (SELECT a FROM u)"));
        assert!(read("WITH c AS (SELECT a FROM t) SELECT * FROM c"));
        assert!(!read("WITH c AS (SELECT a FROM t) DELETE FROM u"));
        assert!(!read("WITH c AS (SELECT a FROM t) UPDATE u SET a = 1"));
        assert!(!read("(SELECT a FROM t FOR UPDATE)"));
    }

    #[test]
    fn session_variable() {
        let set = |s: &str| {
            let t = tokenize(s).unwrap();
            parse_set(s, &significant(&t))
        };
        assert!(set("SET NAMES utf8mb4").is_none());
        assert_eq!(
            set("SET setwise_read_from = 'replica'").unwrap().unwrap(),
            Some(ReadFrom::Replica)
        );
        assert_eq!(
            set("SET SESSION setwise_read_from='PRIMARY';")
                .unwrap()
                .unwrap(),
            Some(ReadFrom::Primary)
        );
        assert_eq!(
            set("SET @@session.setwise_read_from = replica")
                .unwrap()
                .unwrap(),
            Some(ReadFrom::Replica)
        );
        assert_eq!(
            set("SET setwise_read_from = DEFAULT").unwrap().unwrap(),
            None
        );
        let e = set("SET setwise_read_from = 'x'").unwrap().unwrap_err();
        assert_eq!(e.code(), 1231);
        let e = set("SET a = 1, setwise_read_from = 'replica'")
            .unwrap()
            .unwrap_err();
        assert_eq!(e.code(), 1235);
        let e = set("SET GLOBAL setwise_read_from = 'replica'")
            .unwrap()
            .unwrap_err();
        assert_eq!(e.code(), 1235);
    }

    #[test]
    fn select_variable() {
        let sel = |s: &str| {
            let t = tokenize(s).unwrap();
            select_text(s, &significant(&t), ReadFrom::Replica)
        };
        assert_eq!(
            sel("SELECT @@setwise_read_from").unwrap(),
            "SELECT 'replica' AS `@@setwise_read_from`"
        );
        assert!(sel("SELECT @@session.setwise_read_from;").is_some());
        assert!(sel("SELECT @@setwise_read_from, 1").is_none());
        assert!(sel("SELECT @@server_id").is_none());
    }
}
