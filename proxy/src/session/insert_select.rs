//! `INSERT ... SELECT` into a table whose rows the gateway places — a sharded
//! table, or a broadcast one whose AUTO_INCREMENT ids the gateway assigns (as
//! Vitess does it) — or whose SELECT reads rows its target's sets do not all
//! hold (a broadcast table filled from a sharded or single one, a single table
//! from a sharded one or another set's single table): the SELECT is read first, through the executor like any
//! query (merged across sets where it must be, in the session's transaction
//! when one is open), and its rows are written into the statement as `VALUES`.
//! That text then runs as if the client had sent it: ids assigned, each row
//! routed by its shard key, atomic across sets, `Records: n  Duplicates: d
//! Warnings: w` summed — the same OK packet MariaDB sends for either form.
//!
//! Values are copied exactly or the statement is refused (1235), never
//! altered: numbers, decimals and DOUBLEs as MariaDB printed them (DOUBLE's
//! text is its shortest exact form), dates and times quoted, strings as hex in
//! the character set they arrived in, BIT as its number (or its bytes into a
//! string column). Refused: FLOAT values (printed with 6 digits, not exact),
//! geometries, ENUM / SET or temporal values into a numeric column (MariaDB
//! copies an ENUM's index and a date's number; their text would convert
//! otherwise), and a string that arrived in a character set narrower than
//! utf8mb4 holding `?` (what a character MariaDB could not convert becomes).
//!
//! Unlike one MariaDB, the rows read are not locked until written; rows are
//! held in the gateway up to `[join] memory_limit`.

use mysql_common::constants::{ColumnFlags, ColumnType};
use mysql_common::packets::Column;
use sqlparser::ast::{OnInsert, Statement};

use super::{fail, Session};
use crate::error::ProxyError;
use crate::exec::Answered;
use crate::front::{Handler, OkInfo, Responder};
use crate::join::key::charset_of;
use crate::join::Budget;
use crate::sql::lexer::{significant, tokenize, Token};

/// What kind of value a target column takes (from information_schema's
/// DATA_TYPE), as far as copying a value into it differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Class {
    Numeric,
    Text,
    Other,
}

pub(super) fn class_of(data_type: &str) -> Class {
    let t = data_type.to_ascii_lowercase();
    if t.ends_with("int") || matches!(t.as_str(), "decimal" | "float" | "double" | "year" | "bit") {
        Class::Numeric
    } else if t.contains("char") || t.contains("text") || t.contains("blob") || t.contains("binary")
    {
        Class::Text
    } else {
        Class::Other
    }
}

impl Session {
    /// Runs an `INSERT ... SELECT` whose rows the gateway must place: the
    /// SELECT read, the rows written as `VALUES`, that statement run.
    pub(super) async fn insert_select(&mut self, sql: &str, out: &mut Responder<'_>) -> Answered {
        // Runs as text, whatever protocol the client used (values spliced in).
        self.prepared = None;
        if self.is_locked() {
            if let Err(e) = self.locks_insert_select(sql).await {
                return fail(out, &e).await;
            }
        }
        if !self.autocommit {
            self.open_txn();
        }
        match self.insert_values_text(sql).await {
            Ok(Some(text)) => {
                out.records_info = true;
                let answered = Box::pin(self.statement_run(&text, out)).await;
                out.records_info = false;
                if matches!(answered, Ok(true)) {
                    // The VALUES statement's count, for the statement that ran it
                    // (its own took the OK it saw): what ROW_COUNT() answers next.
                    out.last_ok = Some((u64::try_from(self.row_count).unwrap_or(0), 0));
                }
                answered
            }
            Ok(None) => {
                out.status = self.status();
                out.ok(&OkInfo {
                    info: "Records: 0  Duplicates: 0  Warnings: 0".into(),
                    ..OkInfo::default()
                })
                .await?;
                Ok(true)
            }
            Err(e) => fail(out, &e).await,
        }
    }

    /// The statement with its SELECT replaced by the rows it gives; `None`
    /// when it gives none.
    async fn insert_values_text(&mut self, sql: &str) -> Result<Option<String>, ProxyError> {
        let tokens = tokenize(sql)
            .map_err(|e| ProxyError::Syntax(format!("{} near position {}", e.what, e.at)))?;
        let sig = significant(&tokens);
        let parts = split(sql, &sig)?;
        let (db, table) = self.insert_target(sql, &sig).ok_or_else(|| {
            ProxyError::NotSupported(
                "INSERT ... SELECT into a table the gateway cannot name".into(),
            )
        })?;
        let snap = self.snapshot();
        let (targets, names) = self
            .target_classes(&snap, &db, &table, &parts.columns)
            .await?;
        // The tail's references to the SELECT's columns, as the values they give.
        let tail = super::upsert_refs::rewrite(parts.tail, parts.select, &table, &names)?;
        let tail = tail.as_deref().unwrap_or(parts.tail);
        let fetched = {
            let mut exec = self.exec(&snap);
            exec.write = false;
            let mut budget = Budget::new("the rows of an INSERT ... SELECT");
            crate::join::capture::fetch_merged(&mut exec, parts.select, &mut budget).await?
        };
        if !targets.is_empty() && fetched.cols.len() != targets.len() {
            return Err(ProxyError::Backend {
                code: 1136,
                state: "21S01".into(),
                message: "Column count doesn't match value count at row 1".into(),
            });
        }
        if fetched.rows.is_empty() {
            return Ok(None);
        }
        let mut text = String::with_capacity(sql.len() + fetched.rows.len() * 32);
        text.push_str(parts.head);
        text.push_str(" VALUES ");
        for (i, row) in fetched.rows.iter().enumerate() {
            if i > 0 {
                text.push_str(", ");
            }
            text.push('(');
            for (j, cell) in row.iter().enumerate() {
                if j > 0 {
                    text.push_str(", ");
                }
                let col = fetched.cols.get(j).ok_or_else(|| {
                    ProxyError::Internal("INSERT ... SELECT: a row wider than its columns".into())
                })?;
                let class = targets.get(j).copied().unwrap_or(Class::Other);
                text.push_str(&literal(col, cell.as_deref(), class)?);
            }
            text.push(')');
        }
        if !tail.is_empty() {
            text.push(' ');
            text.push_str(tail);
        }
        Ok(Some(text))
    }

    /// The classes and names of the columns the rows go into, in the order the
    /// SELECT's columns fill them: the statement's column list, else every column.
    async fn target_classes(
        &self,
        snap: &topo::ClusterSnapshot,
        db: &str,
        table: &str,
        listed: &[String],
    ) -> Result<(Vec<Class>, Vec<String>), ProxyError> {
        // No such table: no classes (the INSERT gets MariaDB's own error).
        let cols = self.column_info(snap, db, table).await?.unwrap_or_default();
        if listed.is_empty() {
            let classes = cols.types.iter().map(|t| class_of(t)).collect();
            return Ok((classes, cols.names.as_ref().clone()));
        }
        let classes = listed
            .iter()
            .map(|name| cols.type_of(name).map_or(Class::Other, class_of))
            .collect();
        Ok((classes, listed.to_vec()))
    }
}

/// An `INSERT ... SELECT` cut where its SELECT is.
#[derive(Debug, PartialEq, Eq)]
struct Parts<'s> {
    /// `INSERT [IGNORE] INTO t [(cols)]`.
    head: &'s str,
    /// The SELECT (outer parentheses taken off).
    select: &'s str,
    /// `ON DUPLICATE KEY UPDATE ...` / `RETURNING ...`, or empty.
    tail: &'s str,
    /// The column list's names, unquoted.
    columns: Vec<String>,
}

/// Cuts `sql` (an INSERT / REPLACE whose source is a query) into its parts.
fn split<'s>(sql: &'s str, sig: &[Token]) -> Result<Parts<'s>, ProxyError> {
    let stmt = crate::sql::parse_one(sql).map_err(ProxyError::Syntax)?;
    let Statement::Insert(ins) = &stmt else {
        return Err(ProxyError::Internal(
            "INSERT ... SELECT: not an INSERT".into(),
        ));
    };
    let columns: Vec<String> = ins
        .columns
        .iter()
        .map(|c| c.to_string().trim_matches('`').to_string())
        .collect();
    // The source starts after the table name and its column list: the first
    // token, at depth 0, that opens the query.
    let mut depth = 0i64;
    let mut start = None;
    let mut lists = usize::from(!ins.columns.is_empty());
    for (i, t) in sig.iter().enumerate().skip(2) {
        let text = t.text(sql);
        if t.is_punct(sql, "(") {
            if depth == 0 {
                let next_opens_query = sig.get(i + 1).is_some_and(|n| {
                    n.is_word(sql, "SELECT") || n.is_word(sql, "WITH") || n.is_punct(sql, "(")
                });
                if lists == 0 && next_opens_query {
                    start = Some(i);
                    break;
                }
                lists = lists.saturating_sub(1);
            }
            depth += 1;
            continue;
        }
        if t.is_punct(sql, ")") {
            depth -= 1;
            continue;
        }
        if depth == 0
            && (text.eq_ignore_ascii_case("SELECT")
                || text.eq_ignore_ascii_case("WITH")
                || text.eq_ignore_ascii_case("TABLE"))
        {
            start = Some(i);
            break;
        }
    }
    let start = start.ok_or_else(|| ProxyError::Internal("INSERT ... SELECT: no SELECT".into()))?;
    // It ends at ON DUPLICATE KEY UPDATE / RETURNING at depth 0, or the end.
    let mut depth = 0i64;
    let mut found = None;
    for (i, t) in sig.iter().enumerate().skip(start) {
        if t.is_punct(sql, "(") {
            depth += 1;
        } else if t.is_punct(sql, ")") {
            depth -= 1;
        } else if depth == 0
            && ((t.is_word(sql, "ON")
                && sig.get(i + 1).is_some_and(|n| n.is_word(sql, "DUPLICATE")))
                || t.is_word(sql, "RETURNING"))
        {
            found = Some(i);
            break;
        }
    }
    let mut end = found.unwrap_or(sig.len());
    while end > start && sig[end - 1].is_punct(sql, ";") {
        end -= 1;
    }
    if end <= start {
        return Err(ProxyError::Internal(
            "INSERT ... SELECT: an empty SELECT".into(),
        ));
    }
    let (mut a, mut b) = (start, end);
    // `(SELECT ...)`: the parentheses off when they wrap the whole query.
    while sig[a].is_punct(sql, "(") && sig[b - 1].is_punct(sql, ")") && wraps(sql, &sig[a..b]) {
        a += 1;
        b -= 1;
    }
    let tail = match found {
        Some(at) => {
            let last = sig
                .iter()
                .rposition(|t| !t.is_punct(sql, ";"))
                .unwrap_or(sig.len() - 1);
            &sql[sig[at].start..sig[last].end]
        }
        None => "",
    };
    if matches!(ins.on, Some(OnInsert::DuplicateKeyUpdate(_))) && tail.is_empty() {
        return Err(ProxyError::Internal(
            "INSERT ... SELECT: ON DUPLICATE KEY UPDATE not found".into(),
        ));
    }
    Ok(Parts {
        head: sql[..sig[start].start].trim_end(),
        select: &sql[sig[a].start..sig[b - 1].end],
        tail,
        columns,
    })
}

/// Whether the first `(` of `toks` closes at its last token.
fn wraps(sql: &str, toks: &[Token]) -> bool {
    let mut depth = 0i64;
    for (i, t) in toks.iter().enumerate() {
        if t.is_punct(sql, "(") {
            depth += 1;
        } else if t.is_punct(sql, ")") {
            depth -= 1;
            if depth == 0 {
                return i == toks.len() - 1;
            }
        }
    }
    false
}

/// A value of result column `col` as an SQL literal for a column of `class`.
pub(super) fn literal(col: &Column, v: Option<&[u8]>, class: Class) -> Result<String, ProxyError> {
    use ColumnType::*;
    let Some(v) = v else {
        return Ok("NULL".into());
    };
    let refuse = |what: &str| {
        Err(ProxyError::NotSupported(format!(
            "INSERT ... SELECT across sets of {what} (column `{}`)",
            col.name_str()
        )))
    };
    let hex = |v: &[u8]| v.iter().map(|b| format!("{b:02X}")).collect::<String>();
    let flags = col.flags();
    match col.column_type() {
        MYSQL_TYPE_FLOAT => refuse("a FLOAT value (its text is rounded to 6 digits)"),
        MYSQL_TYPE_GEOMETRY => refuse("a geometry"),
        MYSQL_TYPE_BIT if class == Class::Text => Ok(format!("_binary X'{}'", hex(v))),
        MYSQL_TYPE_BIT => Ok(v
            .iter()
            .fold(0u128, |n, b| n << 8 | u128::from(*b))
            .to_string()),
        MYSQL_TYPE_TINY
        | MYSQL_TYPE_SHORT
        | MYSQL_TYPE_LONG
        | MYSQL_TYPE_INT24
        | MYSQL_TYPE_LONGLONG
        | MYSQL_TYPE_YEAR
        | MYSQL_TYPE_DECIMAL
        | MYSQL_TYPE_NEWDECIMAL
        | MYSQL_TYPE_DOUBLE
            if !v.is_empty()
                && v.iter()
                    .all(|b| b.is_ascii_alphanumeric() || b"-+.".contains(b)) =>
        {
            let text = String::from_utf8_lossy(v);
            // inf / nan are not numbers MariaDB reads back.
            if text
                .bytes()
                .any(|b| b.is_ascii_alphabetic() && b != b'e' && b != b'E')
            {
                return refuse("a DOUBLE that is not a finite number");
            }
            Ok(text.into_owned())
        }
        MYSQL_TYPE_DATE
        | MYSQL_TYPE_DATETIME
        | MYSQL_TYPE_TIMESTAMP
        | MYSQL_TYPE_NEWDATE
        | MYSQL_TYPE_DATETIME2
        | MYSQL_TYPE_TIMESTAMP2
        | MYSQL_TYPE_TIME
        | MYSQL_TYPE_TIME2 => {
            if class == Class::Numeric {
                return refuse("a date or time into a numeric column");
            }
            if !v.iter().all(|b| b.is_ascii_digit() || b" -:.".contains(b)) {
                return refuse("a date or time MariaDB printed oddly");
            }
            Ok(format!("'{}'", String::from_utf8_lossy(v)))
        }
        _ => {
            if class == Class::Numeric
                && (flags.contains(ColumnFlags::ENUM_FLAG) || flags.contains(ColumnFlags::SET_FLAG))
            {
                return refuse("an ENUM or SET value into a numeric column");
            }
            let cs = charset_of(col);
            if !matches!(cs, "utf8mb4" | "binary") && v.contains(&b'?') {
                return refuse(&format!(
                    "a string with '?' received in {cs}, which may stand for a character {cs} \
                     cannot hold (SET NAMES utf8mb4 first)"
                ));
            }
            if v.is_empty() {
                return Ok(format!("_{cs}''"));
            }
            Ok(format!("_{cs} X'{}'", hex(v)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(sql: &str) -> Parts<'_> {
        let tokens = tokenize(sql).unwrap();
        split(sql, &significant(&tokens)).unwrap()
    }

    #[test]
    fn cuts_the_select_out() {
        let p = parts("INSERT INTO t (a, `b`) SELECT x, y FROM s WHERE x > 1");
        assert_eq!(p.head, "INSERT INTO t (a, `b`)");
        assert_eq!(p.select, "SELECT x, y FROM s WHERE x > 1");
        assert_eq!(p.tail, "");
        assert_eq!(p.columns, vec!["a", "b"]);

        let p = parts("insert ignore t select * from s;");
        assert_eq!(p.head, "insert ignore t");
        assert_eq!(p.select, "select * from s");

        let p = parts("INSERT INTO t (a) (SELECT a FROM s ORDER BY a LIMIT 3)");
        assert_eq!(p.head, "INSERT INTO t (a)");
        assert_eq!(p.select, "SELECT a FROM s ORDER BY a LIMIT 3");

        let p = parts(
            "INSERT INTO t (a, b) SELECT s.a, s.b FROM s JOIN u ON u.a = s.a \
             ON DUPLICATE KEY UPDATE b = VALUES(b) + 1",
        );
        assert_eq!(p.select, "SELECT s.a, s.b FROM s JOIN u ON u.a = s.a");
        assert_eq!(p.tail, "ON DUPLICATE KEY UPDATE b = VALUES(b) + 1");

        let p = parts("REPLACE INTO t SELECT a, (SELECT 1) FROM s WHERE a IN (SELECT 2)");
        assert_eq!(p.head, "REPLACE INTO t");
        assert_eq!(
            p.select,
            "SELECT a, (SELECT 1) FROM s WHERE a IN (SELECT 2)"
        );
    }

    #[test]
    fn target_classes() {
        assert_eq!(class_of("bigint"), Class::Numeric);
        assert_eq!(class_of("decimal"), Class::Numeric);
        assert_eq!(class_of("varchar"), Class::Text);
        assert_eq!(class_of("longblob"), Class::Text);
        assert_eq!(class_of("datetime"), Class::Other);
        assert_eq!(class_of("enum"), Class::Other);
    }
}
