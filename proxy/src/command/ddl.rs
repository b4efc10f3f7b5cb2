//! What a schema change (`CREATE` / `DROP` / `ALTER` / `TRUNCATE` / `RENAME`)
//! acts on, read once off its first words: the database or table names `ddl`
//! and `schema` run it with.

use crate::error::ProxyError;
use crate::sql::lexer::{qualified_name_at, Token};

/// A name the statement gives, or the syntax error for its absence.
pub type Named<T> = Result<T, &'static str>;

/// A table's name as written: `db.name` or `name`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableName {
    pub db: Option<String>,
    pub name: String,
}

/// A schema change, by what it acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ddl {
    CreateDatabase {
        if_not_exists: bool,
        name: Named<String>,
    },
    DropDatabase {
        if_exists: bool,
        name: Named<String>,
    },
    /// `CREATE [OR REPLACE] TABLE [IF NOT EXISTS] name ...`.
    CreateTable(Named<TableName>),
    /// `DROP TABLE [IF EXISTS] a, b, ...`: each name with its text as written.
    DropTable {
        if_exists: bool,
        tables: Vec<(TableName, String)>,
    },
    /// `ALTER ... TABLE ...`: `TABLE` is significant token `at`.
    AlterTable { at: usize },
    /// `TRUNCATE [TABLE] name`.
    Truncate(Named<TableName>),
    /// `CREATE [UNIQUE|FULLTEXT|SPATIAL] INDEX ... ON name`, `DROP INDEX ... ON name`.
    Index(Named<TableName>),
    /// A function, procedure, trigger or view.
    Routine(Header),
    /// `CREATE / DROP / ALTER SEQUENCE name`.
    Sequence(Named<TableName>),
    /// `RENAME TABLE[S] ...`.
    RenameTable,
    /// `CREATE TEMPORARY ...` (the session runs temporary tables itself).
    CreateTemporary,
    /// Anything else, refused: its first two words.
    Other(String, String),
}

impl Ddl {
    /// The name, or the syntax error its absence is.
    pub fn named<T: Clone>(n: &Named<T>) -> Result<T, ProxyError> {
        n.clone().map_err(|m| ProxyError::Syntax(m.into()))
    }
}

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
    let (if_exists, i) = if_exists(sql, sig, at + 1);
    let (db, name, used) = qualified_name_at(sql, sig, i)?;
    Some(Header {
        kind,
        if_exists,
        db,
        name,
        after: i + used,
    })
}

/// `[IF [NOT] EXISTS]` at `sig[i..]`: whether present, and the index after it.
pub fn if_exists(sql: &str, sig: &[Token], i: usize) -> (bool, usize) {
    if sig.get(i).is_some_and(|t| t.is_word(sql, "IF")) {
        let n = if sig.get(i + 1).is_some_and(|t| t.is_word(sql, "NOT")) {
            3
        } else {
            2
        };
        (true, i + n)
    } else {
        (false, i)
    }
}

/// The table named at `sig[i..]`.
fn table_at(sql: &str, sig: &[Token], i: usize, missing: &'static str) -> Named<TableName> {
    qualified_name_at(sql, sig, i)
        .map(|(db, name, _)| TableName { db, name })
        .ok_or(missing)
}

/// What the schema change `sig` acts on.
pub(super) fn classify(sql: &str, sig: &[Token]) -> Ddl {
    let w = |i: usize| {
        sig.get(i)
            .map(|t| t.text(sql).to_ascii_uppercase())
            .unwrap_or_default()
    };
    let position = |word: &str| sig.iter().position(|t| t.is_word(sql, word));
    match (w(0).as_str(), w(1).as_str()) {
        ("CREATE", "DATABASE" | "SCHEMA") | ("DROP", "DATABASE" | "SCHEMA") => {
            let (given, i) = if_exists(sql, sig, 2);
            let creates = w(0) == "CREATE";
            let missing = if creates {
                "CREATE DATABASE needs a name"
            } else {
                "DROP DATABASE needs a name"
            };
            let name = qualified_name_at(sql, sig, i)
                .map(|(_, name, _)| name)
                .ok_or(missing);
            if creates {
                Ddl::CreateDatabase {
                    if_not_exists: given,
                    name,
                }
            } else {
                Ddl::DropDatabase {
                    if_exists: given,
                    name,
                }
            }
        }
        ("CREATE", "TABLE") | ("CREATE", "OR") if w(1) == "TABLE" || w(3) == "TABLE" => {
            let (_, i) = if_exists(sql, sig, position("TABLE").unwrap_or(1) + 1);
            Ddl::CreateTable(table_at(sql, sig, i, "CREATE TABLE needs a name"))
        }
        ("DROP", "TABLE") => {
            let (if_exists, mut i) = if_exists(sql, sig, 2);
            let mut tables = Vec::new();
            while let Some((db, name, used)) = qualified_name_at(sql, sig, i) {
                let text = sql[sig[i].start..sig[i + used - 1].end].to_string();
                tables.push((TableName { db, name }, text));
                i += used;
                if !sig.get(i).is_some_and(|t| t.is_punct(sql, ",")) {
                    break;
                }
                i += 1;
            }
            Ddl::DropTable { if_exists, tables }
        }
        ("ALTER", _) if sig.iter().take(4).any(|t| t.is_word(sql, "TABLE")) => Ddl::AlterTable {
            at: position("TABLE").unwrap_or(1),
        },
        ("TRUNCATE", _) => {
            let at = if w(1) == "TABLE" { 2 } else { 1 };
            Ddl::Truncate(table_at(sql, sig, at, "expected a table name"))
        }
        ("CREATE", "INDEX" | "UNIQUE" | "FULLTEXT" | "SPATIAL") | ("DROP", "INDEX") => {
            Ddl::Index(match position("ON") {
                Some(on) => table_at(sql, sig, on + 1, "expected a table name"),
                None => Err("index statement without ON <table>"),
            })
        }
        ("CREATE" | "DROP" | "ALTER", _) if header(sql, sig).is_some() => {
            Ddl::Routine(header(sql, sig).expect("checked"))
        }
        // Sequences live on their database's home set, like single tables.
        ("CREATE" | "DROP" | "ALTER", _) if sequence_name_at(sql, sig).is_some() => {
            let at = sequence_name_at(sql, sig).unwrap_or(2);
            Ddl::Sequence(table_at(sql, sig, at, "expected a table name"))
        }
        ("RENAME", "TABLE" | "TABLES") => Ddl::RenameTable,
        ("CREATE", "TEMPORARY") => Ddl::CreateTemporary,
        (a, b) => Ddl::Other(a.to_string(), b.to_string()),
    }
}

/// In `CREATE [OR REPLACE] SEQUENCE [IF NOT EXISTS] name`, `DROP SEQUENCE [IF
/// EXISTS] name`, `ALTER SEQUENCE [IF EXISTS] name`: the index of the name.
fn sequence_name_at(sql: &str, sig: &[Token]) -> Option<usize> {
    let at = (1..4).find(|&i| sig.get(i).is_some_and(|t| t.is_word(sql, "SEQUENCE")))?;
    let before_ok = sig[1..at]
        .iter()
        .all(|t| t.is_word(sql, "OR") || t.is_word(sql, "REPLACE"));
    before_ok.then(|| if_exists(sql, sig, at + 1).1)
}
