//! SQL text handling that does not need a full parse: the lexer, the TDSQL
//! `shardkey=` table option, the outer SELECT's clauses located in the text
//! ([`select`]), and sqlparser's entry point.

pub mod comment_only;
pub mod effects;
pub mod exec_comment;
pub mod item_names;
pub mod lexer;
pub mod scan;
pub mod select;
pub mod shardkey;
pub mod token;
pub mod xa;

use sqlparser::ast::Statement;
use sqlparser::dialect::MySqlDialect;
use sqlparser::parser::Parser;

/// Parses one statement with sqlparser's MySQL dialect.
pub fn parse_one(sql: &str) -> Result<Statement, String> {
    let mut v = Parser::parse_sql(&MySqlDialect {}, sql).map_err(|e| e.to_string())?;
    match v.len() {
        1 => Ok(v.remove(0)),
        0 => Err("empty statement".into()),
        _ => Err("several statements".into()),
    }
}
