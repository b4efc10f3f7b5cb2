//! `LOCK TABLE[S] t1 [[AS] a] READ [LOCAL], db.t2 [LOW_PRIORITY] WRITE
//! [CONCURRENT], ... [WAIT n | NOWAIT]` read into its clauses: each table, its
//! alias, whether it is locked for writing, and the clause's text as the client
//! wrote it (so a set is sent exactly the clauses of the tables it holds).

use crate::error::ProxyError;
use crate::sql::lexer::{ident_text, Kind, Token};

/// One `table [AS alias] lock_type` of a `LOCK TABLES`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockClause {
    pub db: Option<String>,
    pub name: String,
    pub alias: Option<String>,
    /// `WRITE` (any form); `false`: `READ [LOCAL]`.
    pub write: bool,
    /// The clause's text, as written.
    pub text: String,
}

/// A `LOCK TABLES` statement's clauses and its trailing `WAIT n` / `NOWAIT`
/// (text as written, "" if none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockTables {
    pub clauses: Vec<LockClause>,
    pub tail: String,
}

fn syntax(sql: &str, at: Option<&Token>) -> ProxyError {
    let near = at.map_or("", |t| &sql[t.start..]);
    ProxyError::Syntax(format!(
        "check the manual that corresponds to your MariaDB server version for the right syntax to use near '{}'",
        near.chars().take(80).collect::<String>()
    ))
}

/// Reads `LOCK TABLE[S] ...` (`sig`: its significant tokens).
pub fn parse(sql: &str, sig: &[Token]) -> Result<LockTables, ProxyError> {
    let sig = super::without_semicolons(sql, sig);
    let is_name = |t: &Token| matches!(t.kind, Kind::Word | Kind::QuotedIdent);
    let word = |i: usize| -> String {
        sig.get(i)
            .filter(|t| t.kind == Kind::Word)
            .map(|t| t.text(sql).to_ascii_uppercase())
            .unwrap_or_default()
    };
    let mut i = 2;
    let mut clauses = Vec::new();
    loop {
        let start = sig.get(i).filter(|t| is_name(t));
        let Some(start) = start else {
            return Err(syntax(sql, sig.get(i)));
        };
        let (db, name) = if sig.get(i + 1).is_some_and(|t| t.is_punct(sql, "."))
            && sig.get(i + 2).is_some_and(is_name)
        {
            i += 3;
            (Some(ident_text(sql, start)), ident_text(sql, &sig[i - 1]))
        } else {
            i += 1;
            (None, ident_text(sql, start))
        };
        let mut alias = None;
        if word(i) == "AS" {
            i += 1;
            match sig.get(i).filter(|t| is_name(t)) {
                Some(t) => alias = Some(ident_text(sql, t)),
                None => return Err(syntax(sql, sig.get(i))),
            }
            i += 1;
        } else if sig.get(i).is_some_and(|t| {
            t.kind == Kind::QuotedIdent
                || (t.kind == Kind::Word
                    && !matches!(word(i).as_str(), "READ" | "WRITE" | "LOW_PRIORITY"))
        }) {
            alias = Some(ident_text(sql, &sig[i]));
            i += 1;
        }
        let write = match word(i).as_str() {
            "READ" => {
                i += 1;
                if word(i) == "LOCAL" {
                    i += 1;
                }
                false
            }
            "LOW_PRIORITY" if word(i + 1) == "WRITE" => {
                i += 2;
                true
            }
            "WRITE" => {
                i += 1;
                if word(i) == "CONCURRENT" {
                    i += 1;
                }
                true
            }
            _ => return Err(syntax(sql, sig.get(i))),
        };
        let last = &sig[i - 1];
        clauses.push(LockClause {
            db,
            name,
            alias,
            write,
            text: sql[start.start..last.end].to_string(),
        });
        match sig.get(i) {
            Some(t) if t.is_punct(sql, ",") => i += 1,
            None => break,
            Some(t) if matches!(word(i).as_str(), "WAIT" | "NOWAIT") => {
                let tail = sql[t.start..sig[sig.len() - 1].end].to_string();
                return Ok(LockTables { clauses, tail });
            }
            Some(t) => return Err(syntax(sql, Some(t))),
        }
    }
    Ok(LockTables {
        clauses,
        tail: String::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::lexer::{significant, tokenize};

    fn lock(sql: &str) -> Result<LockTables, ProxyError> {
        let sig = significant(&tokenize(sql).unwrap());
        parse(sql, &sig)
    }

    #[test]
    fn clauses_aliases_and_modes() {
        let l = lock("LOCK TABLES `t` READ   LOCAL ,db.u AS a WRITE, v b LOW_PRIORITY WRITE, w WRITE CONCURRENT WAIT 3;").unwrap();
        let got: Vec<_> = l
            .clauses
            .iter()
            .map(|c| {
                (
                    c.db.as_deref(),
                    c.name.as_str(),
                    c.alias.as_deref(),
                    c.write,
                    c.text.as_str(),
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                (None, "t", None, false, "`t` READ   LOCAL"),
                (Some("db"), "u", Some("a"), true, "db.u AS a WRITE"),
                (None, "v", Some("b"), true, "v b LOW_PRIORITY WRITE"),
                (None, "w", None, true, "w WRITE CONCURRENT"),
            ]
        );
        assert_eq!(l.tail, "WAIT 3");
        assert_eq!(lock("LOCK TABLE t read").unwrap().clauses.len(), 1);
    }

    #[test]
    fn malformed_is_a_syntax_error() {
        for sql in [
            "LOCK TABLES",
            "LOCK TABLES t",
            "LOCK TABLES t READ,",
            "LOCK TABLES t READ u",
        ] {
            assert_eq!(lock(sql).unwrap_err().code(), 1064, "{sql}");
        }
    }
}
