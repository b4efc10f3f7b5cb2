//! SQL-level `PREPARE name FROM '...'` / `EXECUTE` / `DEALLOCATE` over one set:
//! which set holds the statement (those over several sets are `held.rs`'s).
//! An `EXECUTE` finds its tables' placement again: when a slot move has put
//! them on another set (or on several) since the `PREPARE`, the statement is
//! taken over by the gateway (`reprepare.rs`) rather than run against rows that
//! are no longer all there.

use super::Session;
use crate::command::{lexed_tables, SqlOp, SqlPrepared};
use crate::error::ProxyError;
use crate::show;
use crate::sql::lexer::{significant, tokenize, Kind, Token};

/// Where an SQL-level prepared statement runs, and what decided it.
#[derive(Debug, Clone)]
pub(super) struct Pinned {
    pub set: String,
    /// The session's database at `PREPARE` (what unqualified names meant).
    pub db: Option<String>,
    pub tables: Vec<crate::route::analyze::TableRef>,
    /// The statement's text, as prepared.
    pub text: String,
    /// User variables the text assigns (read back after each `EXECUTE`).
    pub assigns: Vec<String>,
}

impl Session {
    /// The set an SQL-level prepared statement runs on: `PREPARE s FROM 'text'`
    /// where the text's tables all live on one set (its connection then becomes
    /// the session's own), and `EXECUTE s` / `DEALLOCATE PREPARE s` where `s`
    /// was prepared. `None`: not such a statement.
    pub(super) fn sql_prepared(
        &mut self,
        sql: &str,
        sig: &[Token],
        stmt: &SqlPrepared,
    ) -> Option<Result<String, ProxyError>> {
        let name_at = stmt.name_at;
        let name = stmt.name.to_ascii_lowercase();
        let snap = self.shared.routing.get();
        if stmt.op != SqlOp::Prepare {
            // Unknown names go anywhere: MariaDB answers 1243.
            let Some(p) = self.sql_stmts.get(&name) else {
                return Some(show::any_set_of(&snap, self.db.as_deref()));
            };
            if stmt.op == SqlOp::Execute {
                let now =
                    crate::route::plan::single_set_for_tables(&snap, p.db.as_deref(), &p.tables);
                if !matches!(&now, Ok(Some(s)) if *s == p.set) {
                    return Some(Err(ProxyError::NeedReprepare));
                }
                // What the text assigns lives on the set's connection: read back.
                let assigns = p.assigns.clone();
                for a in assigns {
                    if !self.effects_next.assigns.contains(&a) {
                        self.effects_next.assigns.push(a);
                    }
                }
            }
            return Some(Ok(p.set.clone()));
        }
        let text = match sig.get(name_at + 2) {
            Some(t) if t.kind == Kind::String => crate::sql::lexer::string_value(sql, t),
            _ => return Some(Err(ProxyError::NotSupported(
                "PREPARE from a variable through the gateway (give the text as a string literal)"
                    .into(),
            ))),
        };
        // Read as MariaDB reads it: the executable comments it runs unwrapped.
        let text = match crate::sql::exec_comment::unwrap(&text) {
            Ok(Some(t)) => t,
            _ => text,
        };
        let (tables, assigns) = tokenize(&text)
            .map(|t| {
                let sig = significant(&t);
                let fx = crate::sql::effects::classify(&text, &sig);
                (lexed_tables(&text, &sig), fx.assigns)
            })
            .unwrap_or_default();
        let one = crate::route::plan::single_set_for_tables(&snap, self.db.as_deref(), &tables);
        Some(match one {
            Ok(Some(set)) => {
                let pinned = Pinned {
                    set: set.clone(),
                    db: self.db.clone(),
                    tables,
                    text,
                    assigns,
                };
                self.sql_stmts.insert(name, pinned);
                Ok(set)
            }
            Ok(None) => Err(ProxyError::NotSupported(
                "PREPARE of a statement over tables on several sets (use the protocol's prepared statements)".into(),
            )),
            Err(e) => Err(e),
        })
    }
}
