//! Session state carried to the sets: `SET NAMES`, `SET [SESSION] var = ...`,
//! user variables and the client's handshake character set, kept per client and
//! applied to every backend connection it uses.
//!
//! The state is a list of `SET` statements. Backend pools are keyed by it
//! (`backend::PoolKey::init`), and mysql_async runs them once on each new pooled
//! connection — so a statement never pays a round trip for session state, and
//! sessions with the same state (the common case: an ORM's connect-time SETs)
//! share connections.

use std::collections::BTreeMap;
use std::sync::Arc;

use mysql_common::collations::{Collation, CollationId};

use crate::error::ProxyError;
use crate::sql::lexer::{Kind, Token};

/// What a `SET` statement asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SetRequest {
    /// `SET autocommit = 0|1`.
    Autocommit(bool),
    /// Assignments to carry to the backends: (key, assignment text).
    Vars(Vec<(String, String)>),
    /// `SET TRANSACTION ...` (no SESSION): applies to the next transaction only.
    NextTransaction(String),
    /// `SET autocommit = .., other = ..` in one statement.
    Both(bool, Vec<(String, String)>),
}

/// The session's variables, in the order they were first set.
#[derive(Debug, Clone, Default)]
pub struct SessionVars {
    /// Key (`names`, `sql_mode`, `@a`, ...) → (order, assignment text).
    vars: BTreeMap<String, (usize, String)>,
    next_order: usize,
    /// Statements for a new backend connection, rebuilt on every change.
    init: Arc<Vec<String>>,
    /// What sql_mode changes in how the gateway reads statements, rebuilt on every
    /// change (read per statement and per OK packet).
    modes: SqlModes,
}

/// The sql_mode flags that change how statement text reads.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct SqlModes {
    no_backslash_escapes: bool,
    ansi_quotes: bool,
}

impl SqlModes {
    /// The flags of a `sql_mode = '...'` assignment text (as written, or as the
    /// gateway evaluated it: `sql_mode = _utf8mb3'A,B' COLLATE ...`); none when its
    /// value is not a string (`DEFAULT`).
    fn of(text: &str) -> Self {
        let Ok(tokens) = crate::sql::lexer::tokenize(text) else {
            return Self::default();
        };
        let Some(lit) = tokens
            .iter()
            .find(|t| t.kind == crate::sql::lexer::Kind::String)
        else {
            return Self::default();
        };
        let value = crate::sql::lexer::string_value(text, lit);
        let mut m = Self::default();
        for mode in value.split(',').map(|m| m.trim().to_ascii_uppercase()) {
            match mode.as_str() {
                "NO_BACKSLASH_ESCAPES" => m.no_backslash_escapes = true,
                "ANSI_QUOTES" | "ANSI" | "DB2" | "MAXDB" | "MSSQL" | "ORACLE" | "POSTGRESQL" => {
                    m.ansi_quotes = true
                }
                _ => {}
            }
        }
        m
    }
}

impl SessionVars {
    /// State for a client that connected with collation `collation_id`.
    pub fn for_collation(collation_id: u8) -> Self {
        let mut v = Self::default();
        if let Some(names) = names_for_collation(collation_id) {
            v.vars.insert("names".into(), (0, names));
            v.next_order = 1;
        }
        v.rebuild();
        v
    }

    /// Statements to run on a new backend connection.
    pub fn init(&self) -> Arc<Vec<String>> {
        self.init.clone()
    }

    /// Applies assignments (later ones win). A variable set again moves to the
    /// end: replayed after the ones it may override (`SET NAMES` after a
    /// `character_set_results` set before it).
    pub fn apply(&mut self, assignments: &[(String, String)]) {
        for (k, text) in assignments {
            self.next_order += 1;
            self.vars.insert(k.clone(), (self.next_order, text.clone()));
        }
        self.rebuild();
    }

    /// The value text of user variable `key` (`@a`, lower case) as last
    /// assigned; `None` when never set in this session.
    pub fn user_value(&self, key: &str) -> Option<String> {
        let (_, text) = self.vars.get(key)?;
        let tokens = crate::sql::lexer::tokenize(text).ok()?;
        let eq = tokens
            .iter()
            .find(|t| t.is_punct(text, "=") || t.is_punct(text, ":="))?;
        Some(text[eq.end..].trim().to_string())
    }

    /// The assignment text of variable `key`, if the session set it.
    pub fn text(&self, key: &str) -> Option<&str> {
        self.vars.get(key).map(|(_, t)| t.as_str())
    }

    /// Whether sql_mode was set to include NO_BACKSLASH_ESCAPES.
    pub fn no_backslash_escapes(&self) -> bool {
        self.modes.no_backslash_escapes
    }

    /// Whether sql_mode was set to a mode that makes `"x"` an identifier:
    /// ANSI_QUOTES itself or a combination mode that includes it.
    pub fn ansi_quotes(&self) -> bool {
        self.modes.ansi_quotes
    }

    /// Forgets a variable (back to the backend's default).
    pub fn remove(&mut self, key: &str) {
        if self.vars.remove(key).is_some() {
            self.rebuild();
        }
    }

    fn rebuild(&mut self) {
        let mut items: Vec<&(usize, String)> = self.vars.values().collect();
        items.sort_by_key(|(o, _)| *o);
        self.init = Arc::new(items.into_iter().map(|(_, t)| format!("SET {t}")).collect());
        self.modes = self
            .vars
            .get("sql_mode")
            .map(|(_, t)| SqlModes::of(t))
            .unwrap_or_default();
    }
}

/// Whether an assignment's value must be evaluated once and kept as a literal
/// rather than replayed as written: anything but a plain number or string (an
/// expression may read other variables, which a replay in another order or
/// later would see changed, or the clock: `SET @t = NOW()`). `SET NAMES`,
/// `SET SESSION TRANSACTION ...` and autocommit are kept as written.
pub fn needs_evaluation(key: &str, text: &str) -> bool {
    if key == "names" || key == "autocommit" || text.starts_with("SESSION TRANSACTION") {
        return false;
    }
    let Ok(tokens) = crate::sql::lexer::tokenize(text) else {
        return true;
    };
    let sig = crate::sql::lexer::significant(&tokens);
    let Some(eq) = sig
        .iter()
        .position(|t| t.is_punct(text, "=") || t.is_punct(text, ":="))
    else {
        return true;
    };
    let value: Vec<_> = sig[eq + 1..]
        .iter()
        .filter(|t| !t.is_punct(text, "-") && !t.is_punct(text, "+"))
        .collect();
    !matches!(value.as_slice(), [t] if matches!(t.kind, Kind::Number | Kind::String))
}

/// `SET NAMES ...` for a handshake collation, when it differs from what backend
/// connections start with (utf8mb4_general_ci).
fn names_for_collation(id: u8) -> Option<String> {
    if id == 45 || id == 0 {
        return None;
    }
    let cid = CollationId::from(id as u16);
    if cid == CollationId::UNKNOWN_COLLATION_ID {
        return None;
    }
    let c = Collation::from(cid);
    // MySQL 8's *_0900_* collations do not exist in MariaDB: keep the charset only.
    if c.collation().contains("0900") {
        return (c.charset() != "utf8mb4").then(|| format!("NAMES {}", c.charset()));
    }
    Some(format!("NAMES {} COLLATE {}", c.charset(), c.collation()))
}

/// Parses a `SET` statement (`sig` = its significant tokens, `SET` first).
pub fn parse_set(sql: &str, sig: &[Token]) -> Result<SetRequest, ProxyError> {
    let word = |i: usize| {
        sig.get(i)
            .map(|t| t.text(sql).to_ascii_uppercase())
            .unwrap_or_default()
    };
    let mut i = 1;
    match word(1).as_str() {
        "GLOBAL" | "PERSIST" | "PERSIST_ONLY" => {
            return Err(ProxyError::NotSupported(
                "SET GLOBAL through the gateway (change the sets' configuration instead)".into(),
            ))
        }
        "SESSION" | "LOCAL" => i = 2,
        "TRANSACTION" => {
            return Ok(SetRequest::NextTransaction(
                sql[sig[0].start..].trim().to_string(),
            ));
        }
        _ => {}
    }
    if word(i) == "TRANSACTION" {
        return Ok(SetRequest::Vars(session_transaction(sql, &sig[i + 1..])?));
    }
    if word(i) == "NAMES"
        || word(i) == "CHARSET"
        || (word(i) == "CHARACTER" && word(i + 1) == "SET")
    {
        let text = sql[sig[i].start..]
            .trim_end()
            .trim_end_matches(';')
            .to_string();
        return Ok(SetRequest::Vars(vec![("names".into(), text)]));
    }
    // A comma-separated list of assignments.
    let mut out = Vec::new();
    let mut autocommit = None;
    let mut depth = 0;
    let mut start = i;
    let end = sig.len();
    for j in i..=end {
        let at_end = j == end;
        if !at_end {
            let t = &sig[j];
            if t.is_punct(sql, "(") {
                depth += 1;
            } else if t.is_punct(sql, ")") {
                depth -= 1;
            }
            let separator = depth == 0 && t.is_punct(sql, ",");
            let trailing_semicolon = t.is_punct(sql, ";") && j + 1 == end;
            if !separator && !trailing_semicolon {
                continue;
            }
        }
        if j > start {
            let (key, text, value) = assignment(sql, &sig[start..j])?;
            if key == "autocommit" {
                autocommit = Some(parse_bool(&value).ok_or_else(|| ProxyError::Backend {
                    code: 1231,
                    state: "42000".into(),
                    message: format!(
                        "Variable 'autocommit' can't be set to the value of '{value}'"
                    ),
                })?);
            } else {
                out.push((key, text));
            }
        }
        start = j + 1;
    }
    match (autocommit, out.is_empty()) {
        (Some(a), true) => Ok(SetRequest::Autocommit(a)),
        (None, false) => Ok(SetRequest::Vars(out)),
        // Drivers (Connector/J) set autocommit with other variables at connect.
        (Some(a), false) => Ok(SetRequest::Both(a, out)),
        (None, true) => Err(ProxyError::Syntax("SET needs an assignment".into())),
    }
}

/// `SET SESSION TRANSACTION c1, c2`: one assignment per characteristic, keyed
/// like the variables they set (`tx_isolation`, `tx_read_only`), so a later
/// `SET tx_isolation = ...` replaces it. Each is replayed as `SET SESSION
/// TRANSACTION c` (without SESSION it would apply to the next transaction only,
/// and be refused inside one).
fn session_transaction(sql: &str, chars: &[Token]) -> Result<Vec<(String, String)>, ProxyError> {
    let mut out = Vec::new();
    for part in chars.split(|t| t.is_punct(sql, ",")).map(|p| {
        let end = p.len() - p.iter().rev().take_while(|t| t.is_punct(sql, ";")).count();
        &p[..end]
    }) {
        let (Some(first), Some(last)) = (part.first(), part.last()) else {
            return Err(ProxyError::Syntax(
                "SET TRANSACTION needs ISOLATION LEVEL ... or READ ONLY / READ WRITE".into(),
            ));
        };
        let key = if first.is_word(sql, "ISOLATION") {
            "tx_isolation"
        } else if first.is_word(sql, "READ") {
            "tx_read_only"
        } else {
            return Err(ProxyError::Syntax(format!(
                "unknown transaction characteristic '{}'",
                &sql[first.start..last.end]
            )));
        };
        out.push((
            key.to_string(),
            format!("SESSION TRANSACTION {}", &sql[first.start..last.end]),
        ));
    }
    Ok(out)
}

/// Variables with two names: the key both are filed under.
fn canonical_var(name: &str) -> &str {
    match name {
        "transaction_isolation" => "tx_isolation",
        "transaction_read_only" => "tx_read_only",
        other => other,
    }
}

/// One `[@@[session.]]name = expr` / `@user := expr`: (key, text, value text).
fn assignment(sql: &str, toks: &[Token]) -> Result<(String, String, String), ProxyError> {
    let eq = toks
        .iter()
        .position(|t| t.is_punct(sql, "=") || t.is_punct(sql, ":="))
        .ok_or_else(|| ProxyError::Syntax("SET needs name = value".into()))?;
    if eq == 0 || eq + 1 >= toks.len() {
        return Err(ProxyError::Syntax("SET needs name = value".into()));
    }
    let name_text = sql[toks[0].start..toks[eq - 1].end].to_string();
    let lowered = name_text.to_ascii_lowercase().replace('`', "");
    let key = if toks[0].kind == Kind::Variable && !lowered.starts_with("@@") {
        lowered // a user variable, `@a`
    } else {
        let k = lowered.trim_start_matches("@@");
        let k = k
            .strip_prefix("session.")
            .or_else(|| k.strip_prefix("local."))
            .unwrap_or(k);
        if k.starts_with("global.") {
            return Err(ProxyError::NotSupported(
                "SET GLOBAL through the gateway".into(),
            ));
        }
        canonical_var(k).to_string()
    };
    let value = sql[toks[eq + 1].start..toks[toks.len() - 1].end].to_string();
    let text = sql[toks[0].start..toks[toks.len() - 1].end].to_string();
    Ok((key, text, value))
}

fn parse_bool(v: &str) -> Option<bool> {
    match v.trim().trim_matches('\'').to_ascii_lowercase().as_str() {
        "1" | "on" | "true" => Some(true),
        "0" | "off" | "false" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::lexer::{significant, tokenize};

    fn p(sql: &str) -> Result<SetRequest, ProxyError> {
        parse_set(sql, &significant(&tokenize(sql).unwrap()))
    }

    #[test]
    fn autocommit() {
        assert_eq!(
            p("SET autocommit=0").unwrap(),
            SetRequest::Autocommit(false)
        );
        assert_eq!(
            p("set @@session.autocommit = ON").unwrap(),
            SetRequest::Autocommit(true)
        );
        assert!(p("SET autocommit = 7").is_err());
        assert_eq!(
            p("SET autocommit=1, sql_mode = concat(@@sql_mode, ',STRICT_TRANS_TABLES')").unwrap(),
            SetRequest::Both(
                true,
                vec![(
                    "sql_mode".into(),
                    "sql_mode = concat(@@sql_mode, ',STRICT_TRANS_TABLES')".into()
                )]
            )
        );
    }

    #[test]
    fn vars() {
        assert_eq!(
            p("SET SESSION sql_mode = 'ANSI', @@time_zone = '+00:00', @a := (1, 2)").unwrap(),
            SetRequest::Vars(vec![
                ("sql_mode".into(), "sql_mode = 'ANSI'".into()),
                ("time_zone".into(), "@@time_zone = '+00:00'".into()),
                ("@a".into(), "@a := (1, 2)".into()),
            ])
        );
        assert_eq!(
            p("SET NAMES utf8mb4 COLLATE utf8mb4_unicode_ci").unwrap(),
            SetRequest::Vars(vec![(
                "names".into(),
                "NAMES utf8mb4 COLLATE utf8mb4_unicode_ci".into()
            )])
        );
        assert!(matches!(
            p("SET TRANSACTION ISOLATION LEVEL READ COMMITTED").unwrap(),
            SetRequest::NextTransaction(_)
        ));
        assert_eq!(
            p("SET SESSION TRANSACTION READ ONLY").unwrap(),
            SetRequest::Vars(vec![(
                "tx_read_only".into(),
                "SESSION TRANSACTION READ ONLY".into()
            )])
        );
        assert_eq!(
            p("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED, READ WRITE;").unwrap(),
            SetRequest::Vars(vec![
                (
                    "tx_isolation".into(),
                    "SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED".into()
                ),
                (
                    "tx_read_only".into(),
                    "SESSION TRANSACTION READ WRITE".into()
                ),
            ])
        );
        assert_eq!(
            p("SET @@session.transaction_isolation = 'READ-COMMITTED'").unwrap(),
            SetRequest::Vars(vec![(
                "tx_isolation".into(),
                "@@session.transaction_isolation = 'READ-COMMITTED'".into()
            )])
        );
        assert!(p("SET SESSION TRANSACTION").is_err());
        assert!(p("SET GLOBAL max_connections = 1").is_err());
    }

    #[test]
    fn literal_values_are_kept_as_written() {
        assert!(!needs_evaluation("@a", "@a = 1"));
        assert!(!needs_evaluation("@a", "@a := -1.5"));
        assert!(!needs_evaluation("sql_mode", "sql_mode = 'ANSI'"));
        let m = SqlModes::of(
            "sql_mode = _utf8mb3'ANSI_QUOTES,NO_BACKSLASH_ESCAPES' COLLATE utf8mb3_general_ci",
        );
        assert!(m.ansi_quotes && m.no_backslash_escapes);
        assert!(SqlModes::of("sql_mode = 'postgresql'").ansi_quotes);
        assert_eq!(
            SqlModes::of("sql_mode = 'REAL_AS_FLOAT'"),
            SqlModes::default()
        );
        assert_eq!(SqlModes::of("sql_mode = DEFAULT"), SqlModes::default());
        assert!(!needs_evaluation("names", "NAMES utf8mb4"));
        assert!(!needs_evaluation(
            "tx_isolation",
            "SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED"
        ));
        assert!(needs_evaluation("@b", "@b = @a + 1"));
        assert!(needs_evaluation("@t", "@t = NOW()"));
        assert!(needs_evaluation(
            "sql_mode",
            "sql_mode = CONCAT(@@sql_mode, ',ANSI')"
        ));
        assert!(needs_evaluation(
            "character_set_client",
            "character_set_client = @saved"
        ));
        assert!(needs_evaluation("sql_mode", "sql_mode = DEFAULT"));
    }

    #[test]
    fn state_order_and_collation() {
        let mut v = SessionVars::for_collation(8);
        assert_eq!(
            *v.init(),
            vec!["SET NAMES latin1 COLLATE latin1_swedish_ci".to_string()]
        );
        v.apply(&[("sql_mode".into(), "sql_mode = ''".into())]);
        v.apply(&[("names".into(), "NAMES utf8mb4".into())]);
        assert_eq!(
            *v.init(),
            vec![
                "SET sql_mode = ''".to_string(),
                "SET NAMES utf8mb4".to_string()
            ]
        );
        assert!(SessionVars::for_collation(45).init().is_empty());
        assert!(SessionVars::for_collation(255).init().is_empty());
    }
}
