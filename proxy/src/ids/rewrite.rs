//! Reading and filling the AUTO_INCREMENT column of an `INSERT`/`REPLACE`, as a
//! token-level edit of the client's text: which rows need an id (the column
//! omitted, `NULL`, `DEFAULT`, or `0` unless `NO_AUTO_VALUE_ON_ZERO`), which give
//! one explicitly, and the text with the gateway's ids written in.

use crate::error::ProxyError;
use crate::sql::lexer::{ident_text, quote_ident as quote, significant, string_value, Kind, Token};

/// What one row gives for the AUTO_INCREMENT column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Given {
    /// Needs a new id: write it over the byte range (a `NULL`, `DEFAULT`, `0`).
    Over(usize, usize),
    /// Needs a new id: the column is not given; write `text` at the position.
    At(usize, bool /* the row is empty: no comma */),
    /// An explicit value.
    Explicit(i128),
}

/// The AUTO_INCREMENT column of one `INSERT`'s rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ids {
    rows: Vec<Given>,
    /// Edit that adds the column to the column list (when it is not given).
    column: Option<(usize, String)>,
    /// The statement has `ON DUPLICATE KEY UPDATE`.
    pub on_duplicate: bool,
}

/// How an `INSERT` gives the AUTO_INCREMENT column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Form {
    /// Rows listed with `VALUES` or `SET`.
    Rows(Ids),
    /// `INSERT ... SELECT`/`TABLE`: the rows are not in the text.
    Select,
}

impl Ids {
    /// How many rows need a new id.
    pub fn needed(&self) -> u64 {
        self.rows
            .iter()
            .filter(|g| !matches!(g, Given::Explicit(_)))
            .count() as u64
    }

    /// The number of rows.
    pub fn rows(&self) -> usize {
        self.rows.len()
    }

    /// Per row, in order: `None` when it needs an id, `Some(v)` when it gives
    /// the positive id `v` itself (zero and negative ids are left out).
    pub fn row_ids(&self) -> Vec<Option<u64>> {
        self.rows
            .iter()
            .filter_map(|g| match g {
                Given::Explicit(v) if *v > 0 => Some(Some(u64::try_from(*v).unwrap_or(u64::MAX))),
                Given::Explicit(_) => None,
                _ => Some(None),
            })
            .collect()
    }

    /// The statement with `ids` written, in row order, into the rows that need
    /// one.
    pub fn fill(&self, sql: &str, column: &str, ids: &[u64]) -> String {
        let mut edits: Vec<(usize, usize, String)> = Vec::new();
        let mut ids = ids.iter();
        for g in &self.rows {
            let next = match g {
                Given::Explicit(_) => continue,
                _ => match ids.next() {
                    Some(id) => *id,
                    None => break,
                },
            };
            match *g {
                Given::Over(s, e) => edits.push((s, e, next.to_string())),
                Given::At(p, empty) => {
                    let sep = if empty { "" } else { ", " };
                    let text = match &self.column {
                        // `SET a = 1` form: a new assignment.
                        None => format!(", {} = {next}", quote(column)),
                        Some(_) => format!("{sep}{next}"),
                    };
                    edits.push((p, p, text));
                }
                Given::Explicit(_) => {}
            }
        }
        if let Some((p, text)) = &self.column {
            edits.push((*p, *p, text.clone()));
        }
        crate::sql::select::apply_edits(sql, edits)
    }
}

/// Finds how the INSERT (or REPLACE) `sql` gives column `auto` (the table's
/// columns in order are `columns`). `zero_generates`: `0` asks for a new id
/// (sql_mode without NO_AUTO_VALUE_ON_ZERO).
pub fn analyze(
    sql: &str,
    tokens: &[Token],
    auto: &str,
    columns: &[String],
    zero_generates: bool,
) -> Result<Form, ProxyError> {
    let sig = significant(tokens);
    let is = |i: usize, w: &str| sig.get(i).is_some_and(|t| t.is_word(sql, w));
    let p = |i: usize, x: &str| sig.get(i).is_some_and(|t| t.is_punct(sql, x));
    let mut i = 1;
    while ["LOW_PRIORITY", "DELAYED", "HIGH_PRIORITY", "IGNORE", "INTO"]
        .iter()
        .any(|w| is(i, w))
    {
        i += 1;
    }
    // The table name: [db .] name.
    i += 1;
    if p(i, ".") {
        i += 2;
    }
    let name_end = sig.get(i - 1).map(|t| t.end).unwrap_or(sql.len());
    if is(i, "PARTITION") && p(i + 1, "(") {
        i = close_of(sql, &sig, i + 1)? + 1;
    }
    let on_duplicate = sig.iter().any(|t| t.is_word(sql, "DUPLICATE"));
    // The column list, if any.
    let mut list: Option<(usize, usize)> = None;
    if p(i, "(") && !is(i + 1, "SELECT") && !is(i + 1, "WITH") && !p(i + 1, "(") {
        let close = close_of(sql, &sig, i)?;
        list = Some((i, close));
        i = close + 1;
    }
    if is(i, "SET") {
        return set_form(sql, &sig, i + 1, auto, zero_generates, on_duplicate);
    }
    if !(is(i, "VALUES") || is(i, "VALUE")) {
        return Ok(Form::Select);
    }
    // Where the column is in each row: its index, or None (not given).
    let (at, column) = match list {
        Some((open, close)) => {
            let names = elements(sql, &sig, open, close);
            let at = names.iter().position(|&(s, e)| {
                e == s + 1 && ident_text(sql, &sig[s]).eq_ignore_ascii_case(auto)
            });
            let column = match at {
                Some(_) => None,
                None => {
                    let sep = if names.is_empty() { "" } else { ", " };
                    Some((sig[close].start, format!("{sep}{}", quote(auto))))
                }
            };
            (at, column)
        }
        None => {
            let k = columns.iter().position(|c| c.eq_ignore_ascii_case(auto));
            (k, None)
        }
    };
    let mut rows = Vec::new();
    let mut column = column;
    let mut j = i + 1;
    let mut all_empty = true;
    loop {
        if !p(j, "(") {
            return Err(unsupported("this form of VALUES"));
        }
        let close = close_of(sql, &sig, j)?;
        let elems = elements(sql, &sig, j, close);
        all_empty &= elems.is_empty();
        let given = match at {
            Some(k) if list.is_some() || !elems.is_empty() => match elems.get(k) {
                Some(&(s, e)) => classify(sql, &sig[s..e], auto, zero_generates)?,
                // Fewer values than columns: MariaDB's own error follows.
                None => Given::Explicit(0),
            },
            _ => Given::At(sig[close].start, elems.is_empty()),
        };
        rows.push(given);
        j = close + 1;
        if p(j, ",") {
            j += 1;
        } else {
            break;
        }
    }
    if list.is_none() {
        if at.is_none() {
            // No list and a table without that column (cannot happen) or
            // `VALUES ()` rows: give the column a list of its own.
            if !all_empty {
                return Err(unsupported(
                    "an INSERT without a column list whose rows omit the AUTO_INCREMENT column",
                ));
            }
        }
        if all_empty {
            column = Some((name_end, format!(" ({})", quote(auto))));
            for g in rows.iter_mut() {
                if let Given::At(p, _) = g {
                    *g = Given::At(*p, true);
                }
            }
        }
    }
    Ok(Form::Rows(Ids {
        rows,
        column,
        on_duplicate,
    }))
}

/// `INSERT ... SET a = 1, b = 2 [ON DUPLICATE KEY UPDATE ...]`.
fn set_form(
    sql: &str,
    sig: &[Token],
    from: usize,
    auto: &str,
    zero_generates: bool,
    on_duplicate: bool,
) -> Result<Form, ProxyError> {
    let mut depth = 0i32;
    let mut start = from;
    let mut end = sig.len();
    let mut items = Vec::new();
    for (j, t) in sig.iter().enumerate().skip(from) {
        if t.is_punct(sql, "(") {
            depth += 1;
        } else if t.is_punct(sql, ")") {
            depth -= 1;
        } else if depth == 0 && (t.is_punct(sql, ",") || t.is_punct(sql, ";")) {
            items.push((start, j));
            start = j + 1;
            if t.is_punct(sql, ";") {
                end = j;
                break;
            }
        } else if depth == 0 && (t.is_word(sql, "ON") || t.is_word(sql, "RETURNING")) {
            end = j;
            break;
        }
    }
    if start < end {
        items.push((start, end));
    }
    let mut given = None;
    for &(s, e) in &items {
        let Some(eq) = (s..e).find(|&k| sig[k].is_punct(sql, "=")) else {
            continue;
        };
        if eq == 0 {
            continue;
        }
        let name = ident_text(sql, &sig[eq - 1]);
        if name.eq_ignore_ascii_case(auto) {
            given = Some(classify(sql, &sig[eq + 1..e], auto, zero_generates)?);
        }
    }
    let given = match given {
        Some(g) => g,
        None => {
            let last = items
                .last()
                .map(|&(_, e)| sig[e - 1].end)
                .unwrap_or(sql.len());
            Given::At(last, false)
        }
    };
    Ok(Form::Rows(Ids {
        rows: vec![given],
        column: None,
        on_duplicate,
    }))
}

/// The significant-token index of the `)` closing the `(` at `open`.
fn close_of(sql: &str, sig: &[Token], open: usize) -> Result<usize, ProxyError> {
    let mut d = 0;
    for (j, t) in sig.iter().enumerate().skip(open) {
        if t.is_punct(sql, "(") {
            d += 1;
        } else if t.is_punct(sql, ")") {
            d -= 1;
            if d == 0 {
                return Ok(j);
            }
        }
    }
    Err(ProxyError::Syntax("unbalanced parentheses".into()))
}

/// The comma-separated elements inside `(` at `open` and `)` at `close`, as
/// significant-token ranges.
fn elements(sql: &str, sig: &[Token], open: usize, close: usize) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    if close == open + 1 {
        return out;
    }
    let mut depth = 0;
    let mut start = open + 1;
    for (j, t) in sig.iter().enumerate().take(close).skip(open + 1) {
        if t.is_punct(sql, "(") {
            depth += 1;
        } else if t.is_punct(sql, ")") {
            depth -= 1;
        } else if depth == 0 && t.is_punct(sql, ",") {
            out.push((start, j));
            start = j + 1;
        }
    }
    out.push((start, close));
    out
}

fn classify(
    sql: &str,
    toks: &[Token],
    auto: &str,
    zero_generates: bool,
) -> Result<Given, ProxyError> {
    let (Some(first), Some(last)) = (toks.first(), toks.last()) else {
        return Err(unsupported("an empty value"));
    };
    let over = Given::Over(first.start, last.end);
    let value = match toks {
        [t] if t.is_word(sql, "NULL") || t.is_word(sql, "DEFAULT") => return Ok(over),
        [t] if t.kind == Kind::Number => number(t.text(sql)),
        [t] if t.kind == Kind::String => number(string_value(sql, t).trim()),
        [s, t] if t.kind == Kind::Number && (s.is_punct(sql, "-") || s.is_punct(sql, "+")) => {
            number(t.text(sql)).map(|v| if s.is_punct(sql, "-") { -v } else { v })
        }
        _ => None,
    };
    match value {
        Some(0) if zero_generates => Ok(over),
        Some(v) => Ok(Given::Explicit(v)),
        None => Err(unsupported(&format!(
            "a value for the AUTO_INCREMENT column `{auto}` that is not a number literal ({})",
            &sql[first.start..last.end]
        ))),
    }
}

/// A number literal as the integer MariaDB stores (decimals rounded half away
/// from zero).
fn number(text: &str) -> Option<i128> {
    if let Ok(v) = text.parse::<i128>() {
        return Some(v);
    }
    if let Some(h) = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        return i128::from_str_radix(h, 16).ok();
    }
    let f: f64 = text.parse().ok()?;
    f.is_finite().then(|| f.round() as i128)
}

fn unsupported(what: &str) -> ProxyError {
    ProxyError::NotSupported(format!(
        "{what} in an INSERT whose AUTO_INCREMENT ids the gateway assigns"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::lexer::tokenize;

    fn fill(sql: &str, cols: &[&str], zero: bool) -> (String, u64, Option<u64>) {
        let toks = tokenize(sql).unwrap();
        let cols: Vec<String> = cols.iter().map(|c| c.to_string()).collect();
        match analyze(sql, &toks, "id", &cols, zero).unwrap() {
            Form::Rows(ids) => {
                let n = ids.needed();
                let max = ids.row_ids().into_iter().flatten().max();
                (
                    ids.fill(sql, "id", &(100..100 + n).collect::<Vec<_>>()),
                    n,
                    max,
                )
            }
            Form::Select => panic!("select"),
        }
    }

    #[test]
    fn omitted_column_is_added() {
        let (s, n, _) = fill(
            "INSERT INTO t2.o (user_id) VALUES (1), (2) ON DUPLICATE KEY UPDATE user_id = 3",
            &["id", "user_id"],
            true,
        );
        assert_eq!(
            s,
            "INSERT INTO t2.o (user_id, `id`) VALUES (1, 100), (2, 101) ON DUPLICATE KEY UPDATE user_id = 3"
        );
        assert_eq!(n, 2);
        let (s, _, _) = fill("INSERT INTO t () VALUES ()", &["id"], true);
        assert_eq!(s, "INSERT INTO t (`id`) VALUES (100)");
        let (s, _, _) = fill("INSERT INTO t VALUES (), ()", &["id"], true);
        assert_eq!(s, "INSERT INTO t (`id`) VALUES (100), (101)");
    }

    #[test]
    fn null_zero_default_and_explicit() {
        let (s, n, max) = fill(
            "insert into t (v, ID) values (1, NULL), (2, 0), (3, 57), (4, default), (5, '9')",
            &["id", "v"],
            true,
        );
        assert_eq!(
            s,
            "insert into t (v, ID) values (1, 100), (2, 101), (3, 57), (4, 102), (5, '9')"
        );
        assert_eq!((n, max), (3, Some(57)));
        let (s, n, _) = fill("INSERT INTO t VALUES (0, 'a')", &["id", "v"], false);
        assert_eq!((s.as_str(), n), ("INSERT INTO t VALUES (0, 'a')", 0));
        let (s, _, _) = fill("INSERT INTO t VALUES (NULL, 'a')", &["id", "v"], true);
        assert_eq!(s, "INSERT INTO t VALUES (100, 'a')");
    }

    #[test]
    fn set_form() {
        let (s, n, _) = fill("INSERT INTO t SET v = 1", &["id", "v"], true);
        assert_eq!((s.as_str(), n), ("INSERT INTO t SET v = 1, `id` = 100", 1));
        let (s, _, _) = fill("INSERT t SET id = NULL, v = 1", &["id", "v"], true);
        assert_eq!(s, "INSERT t SET id = 100, v = 1");
    }

    #[test]
    fn select_and_expressions() {
        let sql = "INSERT INTO t (v) SELECT v FROM u";
        let toks = tokenize(sql).unwrap();
        assert_eq!(analyze(sql, &toks, "id", &[], true).unwrap(), Form::Select);
        let sql = "INSERT INTO t (id, v) VALUES (1 + 1, 2)";
        let toks = tokenize(sql).unwrap();
        let e = analyze(sql, &toks, "id", &[], true).unwrap_err();
        assert_eq!(e.code(), 1235);
    }
}
