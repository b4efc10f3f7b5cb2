//! One statement, classified once: its text is lexed once
//! ([`crate::sql::lexer`]) and read into a [`Command`] — the kind of statement
//! the session dispatch tells apart, carrying what its handler needs (a
//! database or savepoint name, a transaction's access mode, the explained
//! statement, the names a schema change acts on: [`ddl`]) — and is then
//! dispatched on that, never read again for it.
//!
//! Why a module of its own, at the top: the session dispatch (`session`),
//! schema changes (`ddl`, `schema`) and slot moves (`moving`) all read
//! statements; they depend on this module, and it depends only on the layers
//! below them (`sql`'s lexer, `explain`'s recognition of an EXPLAIN request,
//! `route::analyze`'s table reference). It never sees session state: what
//! depends on it (an open XA transaction, the session's temporary tables, the
//! read/write split) is decided by the session after classification.

pub mod ddl;
pub mod load;
pub mod lock;
pub mod maintenance;
mod tables;
#[cfg(test)]
mod tests;

use crate::error::ProxyError;
use crate::explain::ExplainRequest;
use crate::sql::lexer::{ident_text, significant, tokenize, Kind, Token};

pub use ddl::{if_exists, Ddl, Header, TableName};
pub use tables::lexed_tables;

/// A statement's text, lexed once, and what it is.
pub struct Statement<'a> {
    pub sql: &'a str,
    pub tokens: Vec<Token>,
    /// `tokens` without whitespace and comments.
    pub sig: Vec<Token>,
    /// The first keyword, upper-cased, after any leading `(` (`(SELECT ...)
    /// UNION (SELECT ...)` is a SELECT); "" when there is none.
    pub verb: String,
    /// The keywords at significant tokens 0, 1, 2, upper-cased ("" where
    /// another kind of token is).
    words: [String; 3],
    pub command: Command,
}

/// What the session dispatch tells apart, in the order it decides: a kind
/// earlier in this list wins over a later one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `GRANT`, `REVOKE`, `SET PASSWORD`, `SET [DEFAULT] ROLE`, `SHOW CREATE
    /// USER` or a statement reading an account table: refused (what it does).
    AccountManagement(String),
    /// `SHOW WARNINGS`, `SHOW ERRORS`, `SHOW COUNT(*) WARNINGS`, `SELECT
    /// @@warning_count`: reads the previous statement's diagnostics.
    DiagnosticsRead,
    /// `EXPLAIN <statement>`, `EXPLAIN SETWISE <statement>`.
    Explain(ExplainRequest),
    /// `USE db` (`None`: no name given).
    Use(Option<String>),
    /// `BEGIN`, `START TRANSACTION ...`.
    Begin(Begin),
    /// `COMMIT` / `ROLLBACK` of the whole transaction.
    End {
        commit: bool,
    },
    /// `SAVEPOINT s`, `ROLLBACK [WORK] TO [SAVEPOINT] s`, `RELEASE SAVEPOINT s`
    /// (`name`: `None` when none is given).
    Savepoint {
        op: SavepointOp,
        name: Option<String>,
    },
    Kill,
    Show(Show),
    /// `XA ...` (the application's own XA transaction).
    Xa,
    /// `LOCK TABLES ...`, `UNLOCK TABLES` ([`lock`]), `FLUSH TABLES [WITH READ
    /// LOCK]`; other `LOCK` / `UNLOCK` statements are refused.
    Lock(LockKind),
    Set,
    /// `CREATE TEMPORARY ...`, `DROP TEMPORARY ...`.
    Temporary,
    /// `CREATE`, `DROP`, `ALTER`, `TRUNCATE`, `RENAME` of anything else.
    Ddl(Ddl),
    /// SQL-level `PREPARE name FROM ...`, `EXECUTE name ...`, `DEALLOCATE
    /// PREPARE name`.
    SqlPrepared(SqlPrepared),
    /// `LOAD DATA [LOCAL] INFILE ... INTO TABLE t ...` ([`load`]).
    LoadData(load::LoadData),
    /// `ANALYZE | CHECK | OPTIMIZE | REPAIR TABLE ...` ([`maintenance`]).
    Maintenance(maintenance::Maintenance),
    /// Anything else: planned and run on the sets.
    Query,
}

/// Which `LOCK` / `UNLOCK` statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockKind {
    /// `LOCK TABLE[S] t READ, ...`.
    Tables,
    /// `UNLOCK TABLE[S]`.
    Unlock,
    /// `FLUSH [LOCAL | NO_WRITE_TO_BINLOG] TABLE[S] WITH READ LOCK`.
    GlobalRead,
    /// `FLUSH [LOCAL | NO_WRITE_TO_BINLOG] TABLE[S]` (no table list).
    FlushTables,
    /// Any other (`LOCK` of something else): refused.
    Other,
}

/// `BEGIN` / `START TRANSACTION` options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Begin {
    /// `READ ONLY` or `READ WRITE` (the last one given).
    pub access: Option<&'static str>,
    /// `WITH CONSISTENT SNAPSHOT`.
    pub consistent_snapshot: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SavepointOp {
    Set,
    RollbackTo,
    Release,
}

/// The `SHOW`s the gateway answers, or forwards (`Forward`: also `DESCRIBE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Show {
    Processlist { full: bool },
    Status,
    Variables,
    Digests,
    Grants,
    Databases,
    Forward,
}

/// An SQL-level prepared statement's name, as given, at significant token
/// `name_at` (its `USING` values follow it; a `PREPARE`'s text is two on).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqlPrepared {
    pub op: SqlOp,
    pub name: String,
    pub name_at: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SqlOp {
    Prepare,
    Execute,
    Deallocate,
}

impl<'a> Statement<'a> {
    /// Lexes and classifies `sql`; a text the lexer refuses is a syntax error.
    pub fn lex(sql: &'a str) -> Result<Self, ProxyError> {
        let tokens = tokenize(sql)
            .map_err(|e| ProxyError::Syntax(format!("{} near position {}", e.what, e.at)))?;
        Ok(Self::new(sql, tokens))
    }

    /// Classifies `sql`, lexed as `tokens`.
    pub fn new(sql: &'a str, tokens: Vec<Token>) -> Self {
        let sig = significant(&tokens);
        let words = [0, 1, 2].map(|i| word_at(sql, &sig, i));
        let lead = sig.iter().take_while(|t| t.is_punct(sql, "(")).count();
        let verb = word_at(sql, &sig, lead);
        let command = classify(sql, &sig, &verb, &words);
        Self {
            sql,
            tokens,
            sig,
            verb,
            words,
            command,
        }
    }

    /// The keyword at significant token `i` (0, 1 or 2), upper-cased; "" if
    /// none.
    pub fn word(&self, i: usize) -> &str {
        self.words.get(i).map_or("", String::as_str)
    }

    /// Whether the statement may change data (by its verb). Plain reads may
    /// span sets inside a transaction; writes may not (yet).
    pub fn is_write(&self) -> bool {
        is_write(&self.verb)
    }

    /// A bounded label for the statements counter.
    pub fn kind_label(&self) -> &'static str {
        match self.verb.as_str() {
            "SELECT" => "select",
            "INSERT" | "REPLACE" => "insert",
            "UPDATE" => "update",
            "DELETE" => "delete",
            "CREATE" | "DROP" | "ALTER" | "TRUNCATE" | "RENAME" => "ddl",
            "SHOW" | "DESCRIBE" | "DESC" => "show",
            "SET" | "USE" => "session",
            "BEGIN" | "START" | "COMMIT" | "ROLLBACK" | "SAVEPOINT" | "RELEASE" => "transaction",
            _ => "other",
        }
    }

    /// Whether the statement is a schema change (what `ROW_COUNT()` is 0 after).
    pub fn is_schema_change(&self) -> bool {
        matches!(
            self.verb.as_str(),
            "CREATE" | "DROP" | "ALTER" | "TRUNCATE" | "RENAME"
        )
    }

    /// The tables the lexer finds in the statement ([`lexed_tables`]).
    pub fn tables(&self) -> Vec<crate::route::analyze::TableRef> {
        lexed_tables(self.sql, &self.sig)
    }
}

/// Whether a statement with this verb may change data.
pub fn is_write(verb: &str) -> bool {
    !matches!(
        verb,
        "SELECT" | "SHOW" | "DESCRIBE" | "DESC" | "EXPLAIN" | "WITH"
    )
}

/// The command of `sql` (significant tokens `sig`, verb `verb`, first words
/// `w`), in the dispatch's order.
fn classify(sql: &str, sig: &[Token], verb: &str, w: &[String; 3]) -> Command {
    if let Some(what) = account_management(sql, sig, w) {
        return Command::AccountManagement(what);
    }
    if is_diagnostics_read(sql, verb, &w[1]) {
        return Command::DiagnosticsRead;
    }
    if let Some(req) = crate::explain::classify(sql, sig) {
        return Command::Explain(req);
    }
    let (w1, w2) = (w[1].as_str(), w[2].as_str());
    match verb {
        "USE" => Command::Use(sig.get(1).map(|t| ident_text(sql, t))),
        "BEGIN" | "START" if verb == "BEGIN" || w1 == "TRANSACTION" => Command::Begin(Begin {
            access: access_mode(sql, sig),
            consistent_snapshot: sig
                .windows(2)
                .any(|p| p[0].is_word(sql, "CONSISTENT") && p[1].is_word(sql, "SNAPSHOT")),
        }),
        "COMMIT" | "ROLLBACK" if !sig.iter().any(|t| t.is_word(sql, "TO")) => Command::End {
            commit: verb == "COMMIT",
        },
        "SAVEPOINT" | "RELEASE" | "ROLLBACK" => Command::Savepoint {
            op: match w[0].as_str() {
                "SAVEPOINT" => SavepointOp::Set,
                "RELEASE" => SavepointOp::Release,
                _ => SavepointOp::RollbackTo,
            },
            name: savepoint_name(sql, sig),
        },
        "KILL" => Command::Kill,
        "SHOW" if w1 == "PROCESSLIST" || (w1 == "FULL" && w2 == "PROCESSLIST") => {
            Command::Show(Show::Processlist { full: w1 == "FULL" })
        }
        "SHOW" if w1 == "STATUS" || (matches!(w1, "SESSION" | "LOCAL") && w2 == "STATUS") => {
            Command::Show(Show::Status)
        }
        "SHOW" if w1 == "VARIABLES" || (matches!(w1, "SESSION" | "LOCAL") && w2 == "VARIABLES") => {
            Command::Show(Show::Variables)
        }
        "SHOW" if w1 == "SETWISE" && w2 == "DIGESTS" => Command::Show(Show::Digests),
        "SHOW" if w1 == "GRANTS" => Command::Show(Show::Grants),
        "XA" => Command::Xa,
        "LOCK" | "UNLOCK" => Command::Lock(match (verb, w1) {
            ("LOCK", "TABLE" | "TABLES") => LockKind::Tables,
            ("UNLOCK", "TABLE" | "TABLES")
                if sig.iter().filter(|t| !t.is_punct(sql, ";")).count() == 2 =>
            {
                LockKind::Unlock
            }
            _ => LockKind::Other,
        }),
        "FLUSH" => flush(sql, sig),
        "SET" => Command::Set,
        "SHOW" if matches!(w1, "DATABASES" | "SCHEMAS") => Command::Show(Show::Databases),
        "SHOW" | "DESCRIBE" | "DESC" => Command::Show(Show::Forward),
        "CREATE" | "DROP" if w1 == "TEMPORARY" => Command::Temporary,
        "CREATE" | "DROP" | "ALTER" | "TRUNCATE" | "RENAME" => {
            Command::Ddl(ddl::classify(sql, sig))
        }
        "PREPARE" | "EXECUTE" | "DEALLOCATE" => sql_prepared(sql, sig, verb, w1),
        "LOAD" => load::parse(sql, sig).map_or(Command::Query, Command::LoadData),
        "ANALYZE" | "CHECK" | "OPTIMIZE" | "REPAIR" | "CHECKSUM" => {
            maintenance::parse(sql, sig, verb).map_or(Command::Query, Command::Maintenance)
        }
        _ => Command::Query,
    }
}

/// `FLUSH [LOCAL | NO_WRITE_TO_BINLOG] TABLE[S] [WITH READ LOCK]`; any other
/// `FLUSH` is a query (refused by the planner).
fn flush(sql: &str, sig: &[Token]) -> Command {
    let words: Vec<String> = sig
        .iter()
        .filter(|t| !t.is_punct(sql, ";"))
        .map(|t| match t.kind {
            Kind::Word => t.text(sql).to_ascii_uppercase(),
            _ => String::new(),
        })
        .collect();
    let mut w: Vec<&str> = words.iter().map(String::as_str).collect();
    if matches!(w.get(1), Some(&"LOCAL" | &"NO_WRITE_TO_BINLOG")) {
        w.remove(1);
    }
    match w[..] {
        ["FLUSH", "TABLE" | "TABLES"] => Command::Lock(LockKind::FlushTables),
        ["FLUSH", "TABLE" | "TABLES", "WITH", "READ", "LOCK"] => {
            Command::Lock(LockKind::GlobalRead)
        }
        _ => Command::Query,
    }
}

/// `PREPARE name`, `EXECUTE name`, `DEALLOCATE PREPARE name`; other texts
/// with these verbs are queries.
fn sql_prepared(sql: &str, sig: &[Token], verb: &str, w1: &str) -> Command {
    let (op, name_at) = match verb {
        "PREPARE" => (SqlOp::Prepare, 1),
        "EXECUTE" => (SqlOp::Execute, 1),
        _ if w1 == "PREPARE" => (SqlOp::Deallocate, 2),
        _ => return Command::Query,
    };
    match sig.get(name_at) {
        Some(t) => Command::SqlPrepared(SqlPrepared {
            op,
            name: ident_text(sql, t),
            name_at,
        }),
        None => Command::Query,
    }
}

/// The keyword at significant token `i`, upper-cased ("" if none).
fn word_at(sql: &str, sig: &[Token], i: usize) -> String {
    sig.get(i)
        .filter(|t| t.kind == Kind::Word)
        .map(|t| t.text(sql).to_ascii_uppercase())
        .unwrap_or_default()
}

/// `sig` without its trailing `;` tokens.
pub(crate) fn without_semicolons<'t>(sql: &str, sig: &'t [Token]) -> &'t [Token] {
    let end = sig.len()
        - sig
            .iter()
            .rev()
            .take_while(|t| t.is_punct(sql, ";"))
            .count();
    &sig[..end]
}

/// The savepoint's name: the statement's last token before any `;`.
fn savepoint_name(sql: &str, sig: &[Token]) -> Option<String> {
    let end = without_semicolons(sql, sig).len();
    sig[..end]
        .last()
        .filter(|t| end > 1 && matches!(t.kind, Kind::Word | Kind::QuotedIdent))
        .map(|t| ident_text(sql, t))
}

/// `SHOW WARNINGS`, `SHOW ERRORS`, `SHOW COUNT(*) WARNINGS`, `SELECT @@warning_count`:
/// statements that read the previous statement's diagnostics.
fn is_diagnostics_read(sql: &str, first: &str, second: &str) -> bool {
    match first {
        "SHOW" => matches!(second, "WARNINGS" | "ERRORS" | "COUNT"),
        "SELECT" if sql.contains("@@") => {
            let l = sql.to_ascii_lowercase();
            (l.contains("@@warning_count")
                || l.contains("@@error_count")
                || l.contains("@@session.warning_count")
                || l.contains("@@session.error_count"))
                && !l.contains(" from ")
        }
        _ => false,
    }
}

/// `READ ONLY` or `READ WRITE` from `START TRANSACTION ...` options (the last one given).
fn access_mode(sql: &str, sig: &[Token]) -> Option<&'static str> {
    let mut mode = None;
    for w in sig.windows(2) {
        if w[0].is_word(sql, "READ") {
            if w[1].is_word(sql, "ONLY") {
                mode = Some("READ ONLY");
            } else if w[1].is_word(sql, "WRITE") {
                mode = Some("READ WRITE");
            }
        }
    }
    mode
}

/// Account management (`GRANT`, `REVOKE`, `SET PASSWORD`, `SET [DEFAULT] ROLE`)
/// would act on the sets' own accounts — the backend account the gateway uses
/// above all — and the account tables (`mysql.user`, `mysql.global_priv`, ...,
/// `information_schema.USER_PRIVILEGES`, ..., `SHOW CREATE USER`) would show
/// them: what the statement does, to refuse it. (`CREATE`/`ALTER`/`DROP`/
/// `RENAME USER` are refused with DDL.)
fn account_management(sql: &str, sig: &[Token], w: &[String; 3]) -> Option<String> {
    let (first, second) = (w[0].as_str(), w[1].as_str());
    Some(match (first, second) {
        ("GRANT" | "REVOKE", _) => first.to_string(),
        ("SET", "PASSWORD" | "ROLE") => format!("SET {second}"),
        ("SET", "DEFAULT") if w[2] == "ROLE" => "SET DEFAULT ROLE".into(),
        ("SHOW", "CREATE") if w[2] == "USER" => "SHOW CREATE USER".into(),
        _ => account_table(sql, sig)?,
    })
}

/// Tables that list accounts and their privileges.
const ACCOUNT_TABLES: &[(&str, &str)] = &[
    ("mysql", "user"),
    ("mysql", "global_priv"),
    ("mysql", "db"),
    ("mysql", "tables_priv"),
    ("mysql", "columns_priv"),
    ("mysql", "procs_priv"),
    ("mysql", "proxies_priv"),
    ("mysql", "roles_mapping"),
    ("information_schema", "user_privileges"),
    ("information_schema", "schema_privileges"),
    ("information_schema", "table_privileges"),
    ("information_schema", "column_privileges"),
    ("information_schema", "applicable_roles"),
    ("information_schema", "enabled_roles"),
    ("information_schema", "users"),
    ("information_schema", "user_statistics"),
];

/// "reading `db`.`table`" when the statement names an account table.
fn account_table(sql: &str, sig: &[Token]) -> Option<String> {
    sig.windows(3).find_map(|w| {
        if !w[1].is_punct(sql, ".") {
            return None;
        }
        ACCOUNT_TABLES
            .iter()
            .find(|(d, t)| name_is(sql, &w[0], d) && name_is(sql, &w[2], t))
            .map(|(d, t)| format!("reading `{d}`.`{t}`"))
    })
}

/// Whether `t` is the name `name` (any case, backquoted or not), without allocating.
pub fn name_is(sql: &str, t: &Token, name: &str) -> bool {
    matches!(t.kind, Kind::Word | Kind::QuotedIdent)
        && t.text(sql).trim_matches('`').eq_ignore_ascii_case(name)
}
