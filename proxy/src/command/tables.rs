//! The tables a statement names, found by the lexer alone: for statements
//! sqlparser cannot parse, texts inside statements (`PREPARE ... FROM '...'`,
//! a view's query, a routine's body) and quick checks that need no parse.

use crate::route::analyze::TableRef;
use crate::sql::lexer::{ident_text, Kind, Token};

/// Table names of a statement sqlparser cannot parse, found by the lexer: the
/// name after FROM, JOIN, INTO, UPDATE or TABLE (and each after a comma in FROM).
pub fn lexed_tables(sql: &str, sig: &[Token]) -> Vec<TableRef> {
    let is_name = |t: &Token| matches!(t.kind, Kind::Word | Kind::QuotedIdent);
    let mut out = Vec::new();
    let mut i = 0;
    while i < sig.len() {
        let w = sig[i].text(sql).to_ascii_uppercase();
        let after = matches!(w.as_str(), "FROM" | "JOIN" | "INTO" | "UPDATE" | "TABLE")
            && sig[i].kind == Kind::Word;
        if after && sig.get(i + 1).is_some_and(is_name) {
            let a = &sig[i + 1];
            let (db, name, used) = if sig.get(i + 2).is_some_and(|t| t.is_punct(sql, "."))
                && sig.get(i + 3).is_some_and(is_name)
            {
                (Some(ident_text(sql, a)), ident_text(sql, &sig[i + 3]), 3)
            } else {
                (None, ident_text(sql, a), 1)
            };
            // `SELECT ... FROM (subquery)` and keywords are not tables.
            if !matches!(
                name.to_ascii_uppercase().as_str(),
                "SELECT" | "DUAL" | "LATERAL"
            ) {
                out.push(TableRef {
                    db,
                    name,
                    alias: None,
                    pos: usize::MAX,
                });
            }
            i += 1 + used;
            continue;
        }
        i += 1;
    }
    out
}
