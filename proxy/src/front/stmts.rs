//! The client's prepared statements, as the protocol sees them: id, text, `?`
//! positions, bound parameter types and long data. Executing one splices the
//! parameters into the text as literals ([`super::binary`]); a parameter that
//! is a LIMIT count or offset as the row count MariaDB makes of it
//! ([`super::limits`]).

use std::collections::HashMap;

use super::charset::Codec;
use super::packet::MAX_COMMAND;
use super::param_types::{self, BareParams, ClientType};
use super::params::{decode_params, splice, BadPacket, Literals, LONG_DATA_TOO_LONG};
use crate::sql::item_names::ItemNames;
use crate::sql::lexer::{tokenize, Kind};

pub struct Stmt {
    pub sql: String,
    /// Byte offsets of the `?` placeholders.
    pub placeholders: Vec<usize>,
    /// Per placeholder: a LIMIT count or offset.
    pub limits: Vec<bool>,
    /// Per placeholder: in a select list (its value's type types the
    /// column), and a whole item there.
    pub listed: Vec<(bool, bool)>,
    /// Its select items that hold a `?` (`None`: none), read once.
    pub items: Option<ItemNames>,
    /// Types bound by the last execute that sent them.
    pub types: Vec<(u8, bool)>,
    /// COM_STMT_SEND_LONG_DATA buffers, per parameter.
    pub long_data: Vec<Option<Vec<u8>>>,
    /// Long data passed max_allowed_packet: the next execute fails (as MariaDB's).
    pub long_data_overflow: bool,
}

/// A statement bound for one execute.
pub struct Bound {
    /// Text with the parameters as literals (what the gateway plans).
    pub spliced: String,
    /// The statement as prepared, with `?`, each cast where the sets would
    /// otherwise not type it as the client did ([`param_types::cast`]).
    pub sql: String,
    pub values: Vec<mysql_common::value::Value>,
    /// Its select items that are a bare `?` of a type the sets do not give.
    pub bare: Option<BareParams>,
    /// Its select items that hold a `?`, to name their columns.
    pub names: Option<ItemNames>,
}

#[derive(Default)]
pub struct Stmts {
    next_id: u32,
    map: HashMap<u32, Stmt>,
}

/// Most statements one connection may hold open (max_prepared_stmt_count-like).
pub const MAX_STMTS: usize = 16_382;

impl Stmts {
    /// Registers `sql`; returns its id and placeholder count, or the lexer's complaint.
    /// Executable comments MariaDB runs are unwrapped first (their `?` count).
    pub fn add(&mut self, sql: &str) -> Result<(u32, usize), String> {
        let lex = |e: crate::sql::lexer::LexError| format!("{} near position {}", e.what, e.at);
        let unwrapped = crate::sql::exec_comment::unwrap(sql).map_err(lex)?;
        let sql = unwrapped.as_deref().unwrap_or(sql);
        let tokens = tokenize(sql).map_err(lex)?;
        let placeholders: Vec<usize> = tokens
            .iter()
            .filter(|t| t.kind == Kind::Placeholder)
            .map(|t| t.start)
            .collect();
        let limits = super::limits::limit_placeholders(sql, &tokens);
        let listed = crate::sql::item_names::listed_placeholders(sql, &tokens)
            .into_iter()
            .zip(crate::sql::item_names::whole_item_placeholders(
                sql, &tokens,
            ))
            .collect();
        self.next_id = self.next_id.wrapping_add(1).max(1);
        let n = placeholders.len();
        self.map.insert(
            self.next_id,
            Stmt {
                sql: sql.to_string(),
                placeholders,
                limits,
                listed,
                items: ItemNames::of(sql),
                types: Vec::new(),
                long_data: vec![None; n],
                long_data_overflow: false,
            },
        );
        Ok((self.next_id, n))
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    pub fn close(&mut self, id: u32) {
        self.map.remove(&id);
    }

    pub fn reset(&mut self, id: u32) -> bool {
        match self.map.get_mut(&id) {
            Some(s) => {
                s.long_data.iter_mut().for_each(|d| *d = None);
                s.long_data_overflow = false;
                true
            }
            None => false,
        }
    }

    /// Appends to a parameter's long data, up to max_allowed_packet (beyond,
    /// the data is dropped and the next execute fails).
    pub fn long_data(&mut self, id: u32, param: usize, data: &[u8]) {
        let Some(s) = self.map.get_mut(&id) else {
            return;
        };
        if let Some(slot) = s.long_data.get_mut(param) {
            let buf = slot.get_or_insert_with(Vec::new);
            if buf.len() + data.len() > MAX_COMMAND {
                *slot = None;
                s.long_data_overflow = true;
            } else {
                buf.extend_from_slice(data);
            }
        }
    }

    /// This execute's parameters: the text with them spliced in as literals, the
    /// text as prepared, and the typed values. `None` when `id` is unknown.
    pub fn bind(
        &mut self,
        id: u32,
        params: &[u8],
        backslash_escapes: bool,
        codec: Codec,
    ) -> Option<Result<Bound, BadPacket>> {
        let lit = Literals {
            backslash_escapes,
            codec,
        };
        let s = self.map.get_mut(&id)?;
        if std::mem::take(&mut s.long_data_overflow) {
            s.long_data.iter_mut().for_each(|d| *d = None);
            return Some(Err(BadPacket(LONG_DATA_TOO_LONG)));
        }
        let n = s.placeholders.len();
        Some(
            decode_params(params, n, &mut s.types, &mut s.long_data, lit).map(|mut p| {
                for (p, _) in p.iter_mut().zip(&s.limits).filter(|(_, l)| **l) {
                    if let Some(n) = super::limits::limit_value(&p.value) {
                        p.literal = n.to_string();
                    }
                }
                for (p, &(_, whole)) in p.iter_mut().zip(&s.listed).filter(|(_, l)| l.0) {
                    if let Some(l) = crate::sql::item_names::listed(&p.value, &p.literal, whole) {
                        p.literal = l;
                    }
                }
                let casts: Vec<Option<String>> = p
                    .iter()
                    .map(|p| param_types::cast(p.ty.0, &p.value))
                    .collect();
                let texts = |inner: &dyn Fn(usize) -> String| -> Vec<String> {
                    casts
                        .iter()
                        .enumerate()
                        .map(|(i, c)| match c {
                            Some(ty) => param_types::wrap(&inner(i), ty),
                            None => inner(i),
                        })
                        .collect()
                };
                let spliced = texts(&|i| p[i].literal.clone());
                let spliced = splice(&s.sql, &s.placeholders, spliced.iter().map(String::as_str));
                let sql = if casts.iter().any(Option::is_some) {
                    let q = texts(&|_| "?".into());
                    splice(&s.sql, &s.placeholders, q.iter().map(String::as_str))
                } else {
                    s.sql.clone()
                };
                // (Only for statements with a `?` among their select items.)
                let bare = s.items.as_ref().and_then(|i| {
                    let types = p
                        .iter()
                        .map(|p| ClientType {
                            code: p.ty.0,
                            unsigned: p.ty.1,
                            null: p.value == mysql_common::value::Value::NULL,
                        })
                        .collect();
                    BareParams::of(i, types)
                });
                Bound {
                    spliced,
                    bare,
                    names: s.items.clone(),
                    sql,
                    values: p.into_iter().map(|p| p.value).collect(),
                }
            }),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_data_past_max_allowed_packet_fails_the_next_execute() {
        let mut s = Stmts::default();
        let (id, _) = s.add("SELECT ?").unwrap();
        let chunk = vec![b'x'; 1 << 20];
        for _ in 0..(MAX_COMMAND >> 20) + 1 {
            s.long_data(id, 0, &chunk);
        }
        // Dropped, not kept growing.
        assert!(s.map[&id].long_data[0].is_none());
        let params = [0u8, 1, 253, 0];
        let Some(Err(bad)) = s.bind(id, &params, true, Codec::Utf8) else {
            panic!("the execute after too much long data must fail");
        };
        assert_eq!(bad.error().code(), 1105);
        // The statement lives on: the next execute binds again.
        s.long_data(id, 0, b"ok");
        let b = s.bind(id, &params, true, Codec::Utf8).unwrap().unwrap();
        assert_eq!(b.spliced, "SELECT 'ok'");
    }
}
