//! Schema statements beyond tables' own DDL (`ddl`): renaming tables with their
//! topo records ([`rename`]), views recorded with the placement of what they
//! read ([`views`]), stored functions, procedures and triggers placed where they
//! see the right rows ([`routines`]); what their bodies touch is read by
//! [`body`]; a sharded table's key column renamed by ALTER TABLE is followed
//! ([`keycol`]).

pub mod body;
pub mod keycol;
pub mod rename;
pub mod routines;
pub mod views;

use crate::ddl::DdlResult;
use crate::error::ProxyError;
use crate::front::Responder;
use crate::session::Session;
use crate::sql::lexer::{qualified_name_at, Token};

/// The object a `CREATE` / `DROP` / `ALTER` names, read off its first words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// `FUNCTION`, `PROCEDURE`, `TRIGGER` or `VIEW`.
    pub kind: &'static str,
    /// `IF [NOT] EXISTS` given.
    pub if_exists: bool,
    pub db: Option<String>,
    pub name: String,
    /// Index in `sig` just after the name.
    pub after: usize,
}

impl Header {
    /// The object's database: the one named, else the session's.
    pub fn database(&self, session_db: Option<&String>) -> Result<String, ProxyError> {
        self.db
            .clone()
            .or_else(|| session_db.cloned())
            .ok_or(ProxyError::NoDatabaseSelected)
    }
}

const KINDS: [&str; 4] = ["FUNCTION", "PROCEDURE", "TRIGGER", "VIEW"];

/// `CREATE [OR REPLACE] [DEFINER = u] [ALGORITHM = a] [SQL SECURITY s]
/// [AGGREGATE] {FUNCTION|PROCEDURE|TRIGGER|VIEW} [IF [NOT] EXISTS] [db.]name`
/// (and `DROP` / `ALTER` of those).
pub fn header(sql: &str, sig: &[Token]) -> Option<Header> {
    // Before the kind only option words, `=`, user names and `@` come.
    let at = (1..sig.len().min(16)).find(|&i| KINDS.iter().any(|k| sig[i].is_word(sql, k)))?;
    if sig[1..at]
        .iter()
        .any(|t| t.is_word(sql, "TABLE") || t.is_punct(sql, "("))
    {
        return None;
    }
    let kind = KINDS.into_iter().find(|k| sig[at].is_word(sql, k))?;
    let (if_exists, i) = crate::ddl::if_exists(sql, sig, at + 1);
    let (db, name, used) = qualified_name_at(sql, sig, i)?;
    Some(Header {
        kind,
        if_exists,
        db,
        name,
        after: i + used,
    })
}

/// Dispatches a CREATE / DROP / ALTER of a function, procedure, trigger or view.
pub(crate) async fn run(
    s: &mut Session,
    sql: &str,
    sig: &[Token],
    h: Header,
    out: &mut Responder<'_>,
) -> DdlResult {
    let verb = sig[0].text(sql).to_ascii_uppercase();
    match (verb.as_str(), h.kind) {
        ("CREATE" | "ALTER", "VIEW") => views::create(s, sql, sig, &h, out).await,
        ("DROP", "VIEW") => views::drop(s, sql, sig, &h, out).await,
        ("CREATE", _) => routines::create(s, sql, sig, &h, out).await,
        ("DROP" | "ALTER", _) => routines::where_it_is(s, sql, &h, out).await,
        _ => Err(ProxyError::NotSupported(format!(
            "{verb} {} through the gateway",
            h.kind
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::lexer::{significant, tokenize};

    fn h(sql: &str) -> Option<Header> {
        let t = tokenize(sql).unwrap();
        header(sql, &significant(&t))
    }

    #[test]
    fn headers() {
        let x =
            h("CREATE DEFINER=`root`@`%` FUNCTION IF NOT EXISTS d.f(a INT) RETURNS INT RETURN a")
                .unwrap();
        assert_eq!(
            (x.kind, x.if_exists, x.db.as_deref(), x.name.as_str()),
            ("FUNCTION", true, Some("d"), "f")
        );
        let x = h("CREATE OR REPLACE ALGORITHM = MERGE SQL SECURITY INVOKER VIEW v AS SELECT 1")
            .unwrap();
        assert_eq!((x.kind, x.name.as_str()), ("VIEW", "v"));
        let x = h("DROP TRIGGER IF EXISTS tr").unwrap();
        assert_eq!((x.kind, x.if_exists), ("TRIGGER", true));
        assert!(h("CREATE TABLE view (a INT)").is_none());
    }
}
