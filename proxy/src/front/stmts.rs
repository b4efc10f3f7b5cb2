//! The client's prepared statements, as the protocol sees them: id, text, `?`
//! positions, bound parameter types and long data. Executing one splices the
//! parameters into the text as literals ([`super::binary`]); a parameter that
//! is a LIMIT count or offset as the row count MariaDB makes of it
//! ([`super::limits`]).

use std::collections::HashMap;

use super::binary::{decode_params, substitute, BadPacket, Literals};
use super::charset::Codec;
use crate::sql::lexer::{tokenize, Kind};

pub struct Stmt {
    pub sql: String,
    /// Byte offsets of the `?` placeholders.
    pub placeholders: Vec<usize>,
    /// Per placeholder: a LIMIT count or offset.
    pub limits: Vec<bool>,
    /// Types bound by the last execute that sent them.
    pub types: Vec<(u8, bool)>,
    /// COM_STMT_SEND_LONG_DATA buffers, per parameter.
    pub long_data: Vec<Option<Vec<u8>>>,
}

/// A statement bound for one execute.
pub struct Bound {
    /// Text with the parameters as literals (what the gateway plans).
    pub spliced: String,
    /// The statement as prepared, with `?`.
    pub sql: String,
    pub values: Vec<mysql_common::value::Value>,
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
    pub fn add(&mut self, sql: &str) -> Result<(u32, usize), String> {
        let tokens = tokenize(sql).map_err(|e| format!("{} near position {}", e.what, e.at))?;
        let placeholders: Vec<usize> = tokens
            .iter()
            .filter(|t| t.kind == Kind::Placeholder)
            .map(|t| t.start)
            .collect();
        let limits = super::limits::limit_placeholders(sql, &tokens);
        self.next_id = self.next_id.wrapping_add(1).max(1);
        let n = placeholders.len();
        self.map.insert(
            self.next_id,
            Stmt {
                sql: sql.to_string(),
                placeholders,
                limits,
                types: Vec::new(),
                long_data: vec![None; n],
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
                true
            }
            None => false,
        }
    }

    pub fn long_data(&mut self, id: u32, param: usize, data: &[u8]) {
        if let Some(slot) = self
            .map
            .get_mut(&id)
            .and_then(|s| s.long_data.get_mut(param))
        {
            slot.get_or_insert_with(Vec::new).extend_from_slice(data);
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
        let n = s.placeholders.len();
        Some(
            decode_params(params, n, &mut s.types, &mut s.long_data, lit).map(|mut p| {
                for (p, _) in p.iter_mut().zip(&s.limits).filter(|(_, l)| **l) {
                    if let Some(n) = super::limits::limit_value(&p.value) {
                        p.literal = n.to_string();
                    }
                }
                Bound {
                    spliced: substitute(&s.sql, &s.placeholders, &p),
                    sql: s.sql.clone(),
                    values: p.into_iter().map(|p| p.value).collect(),
                }
            }),
        )
    }
}
