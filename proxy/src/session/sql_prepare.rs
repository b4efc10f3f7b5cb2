//! SQL-level `PREPARE name FROM '...'` / `EXECUTE` / `DEALLOCATE` over one set:
//! which set holds the statement (those over several sets are `held.rs`'s).

use super::text::*;
use super::Session;
use crate::error::ProxyError;
use crate::show;
use crate::sql::lexer::{ident_text, significant, tokenize, Kind, Token};

impl Session {
    /// The set an SQL-level prepared statement runs on: `PREPARE s FROM 'text'`
    /// where the text's tables all live on one set (its connection then becomes
    /// the session's own), and `EXECUTE s` / `DEALLOCATE PREPARE s` where `s`
    /// was prepared. `None`: not such a statement.
    pub(super) fn sql_prepared(
        &mut self,
        sql: &str,
        sig: &[Token],
        first: &str,
    ) -> Option<Result<String, ProxyError>> {
        let name_at = match first {
            "PREPARE" | "EXECUTE" => 1,
            _ if word_at(sql, sig, 1) == "PREPARE" => 2,
            _ => return None,
        };
        let name = sig
            .get(name_at)
            .map(|t| ident_text(sql, t))?
            .to_ascii_lowercase();
        let snap = self.shared.routing.get();
        if first != "PREPARE" {
            // Unknown names go anywhere: MariaDB answers 1243.
            let set = self.sql_stmts.get(&name).cloned();
            return Some(set.map_or_else(|| show::any_set_of(&snap, self.db.as_deref()), Ok));
        }
        let text = match sig.get(name_at + 2) {
            Some(t) if t.kind == Kind::String => crate::sql::lexer::string_value(sql, t),
            _ => return Some(Err(ProxyError::NotSupported(
                "PREPARE from a variable through the gateway (give the text as a string literal)"
                    .into(),
            ))),
        };
        let tables = tokenize(&text)
            .map(|t| lexed_tables(&text, &significant(&t)))
            .unwrap_or_default();
        let one = crate::route::plan::single_set_for_tables(&snap, self.db.as_deref(), &tables);
        Some(match one {
            Ok(Some(set)) => {
                self.sql_stmts.insert(name, set.clone());
                Ok(set)
            }
            Ok(None) => Err(ProxyError::NotSupported(
                "PREPARE of a statement over tables on several sets (use the protocol's prepared statements)".into(),
            )),
            Err(e) => Err(e),
        })
    }
}
