//! Schema statements beyond tables' own DDL (`ddl`): renaming tables with their
//! topo records ([`rename`]), views recorded with the placement of what they
//! read ([`views`]), stored functions, procedures and triggers placed where they
//! see the right rows ([`routines`]); what their bodies touch is read by
//! [`body`]; a sharded table's key column renamed by ALTER TABLE is followed
//! ([`keycol`]); a text key's collation is read from its CREATE TABLE
//! ([`key_collation`]).

pub mod body;
pub mod key_collation;
pub mod keycol;
pub mod rename;
pub mod routines;
pub mod views;

use crate::ddl_apply::DdlResult;
use crate::error::ProxyError;
use crate::front::Responder;
use crate::schema_session::SchemaSession;
use crate::sql::lexer::Token;

pub use crate::command::ddl::{header, Header};

/// Dispatches a CREATE / DROP / ALTER of a function, procedure, trigger or view.
pub(crate) async fn run(
    s: &mut SchemaSession<'_>,
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
