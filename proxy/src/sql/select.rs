//! The outer `SELECT`'s clauses located in the client's text (token spans), so a
//! statement that runs on several sets can be rewritten at token boundaries:
//! hidden columns appended to the select list, `ORDER BY` and `LIMIT` replaced.

use crate::sql::lexer::{top_level_words, Kind, Token};

/// A comma-separated item: its byte span, and for ORDER BY its direction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub start: usize,
    pub end: usize,
    /// `AS alias` or a trailing bare alias (select items only).
    pub alias: Option<String>,
    /// Byte span of the expression without alias / ASC / DESC.
    pub expr: (usize, usize),
    pub desc: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Shape {
    /// `DISTINCT` / `DISTINCTROW` modifier.
    pub distinct: bool,
    pub items: Vec<Item>,
    /// Byte offset just after the select list (where hidden columns go).
    pub list_end: usize,
    pub group_by: Vec<Item>,
    /// Span of the whole `GROUP BY ...` clause.
    pub group_span: Option<(usize, usize)>,
    pub having: bool,
    /// Span of the whole `HAVING ...` clause.
    pub having_span: Option<(usize, usize)>,
    pub order_by: Vec<Item>,
    /// Span of the whole `ORDER BY ...` clause.
    pub order_span: Option<(usize, usize)>,
    /// (offset, count) of `LIMIT`, when both are literals.
    pub limit: Option<(u64, u64)>,
    /// Span of the whole `LIMIT ...` clause.
    pub limit_span: Option<(usize, usize)>,
    /// Something after the clauses the merge cannot handle (e.g. `WITH ROLLUP`,
    /// `INTO`, `SQL_CALC_FOUND_ROWS`): the reason.
    pub unsupported: Option<String>,
    /// Span of `WITH ROLLUP` after the GROUP BY items (not among them). The
    /// grouped planner handles it; every other planner refuses it
    /// ([`ROLLUP`] in `unsupported`).
    pub rollup: Option<(usize, usize)>,
}

/// The `unsupported` reason a `WITH ROLLUP` alone gives.
pub const ROLLUP: &str = "GROUP BY ... WITH ROLLUP";

/// The `unsupported` reason `SQL_CALC_FOUND_ROWS` gives: the sorted merge
/// clears it (each set's count is summed, `crate::exec`); every other
/// planner refuses it.
pub const CALC_FOUND_ROWS: &str = "SQL_CALC_FOUND_ROWS";

const CLAUSES: &[&str] = &[
    "FROM",
    "WHERE",
    "GROUP",
    "HAVING",
    "WINDOW",
    "ORDER",
    "LIMIT",
    "PROCEDURE",
    "INTO",
    "FOR",
    "LOCK",
];

/// Locates the clauses of a plain `SELECT` (not a UNION, not parenthesized).
pub fn shape(sql: &str, tokens: &[Token]) -> Option<Shape> {
    let sig: Vec<&Token> = tokens.iter().filter(|t| !t.is_trivia()).collect();
    if !sig.first()?.is_word(sql, "SELECT") {
        return None;
    }
    let mut s = Shape::default();
    let mut i = 1;
    while let Some(t) = sig.get(i) {
        let w = t.text(sql).to_ascii_uppercase();
        match w.as_str() {
            "ALL" | "HIGH_PRIORITY" | "STRAIGHT_JOIN" | "SQL_SMALL_RESULT" | "SQL_BIG_RESULT"
            | "SQL_BUFFER_RESULT" | "SQL_CACHE" | "SQL_NO_CACHE"
                if t.kind == Kind::Word => {}
            "DISTINCT" | "DISTINCTROW" if t.kind == Kind::Word => s.distinct = true,
            "SQL_CALC_FOUND_ROWS" if t.kind == Kind::Word => {
                s.unsupported = Some(CALC_FOUND_ROWS.into())
            }
            _ => break,
        }
        i += 1;
    }
    // Top-level clause keywords (depth 0) from here on.
    let marks: Vec<(usize, String)> = top_level_words(sql, sig[i..].iter().copied())
        .into_iter()
        .map(|(j, w)| (j + i, w))
        .filter(|(_, w)| {
            CLAUSES.contains(&w.as_str()) || matches!(w.as_str(), "UNION" | "EXCEPT" | "INTERSECT")
        })
        .collect();
    if marks
        .iter()
        .any(|(_, w)| matches!(w.as_str(), "UNION" | "EXCEPT" | "INTERSECT"))
    {
        return None;
    }
    let end_of = |from: usize| -> usize {
        marks
            .iter()
            .find(|(j, _)| *j > from)
            .map(|(j, _)| *j)
            .unwrap_or(sig.len())
    };
    let list_end_idx = end_of(i - 1);
    s.items = split_items(sql, &sig[i..list_end_idx], false);
    s.list_end = sig[list_end_idx - 1].end;
    for (j, w) in &marks {
        let j = *j;
        match w.as_str() {
            "GROUP" | "ORDER" if sig.get(j + 1).is_some_and(|t| t.is_word(sql, "BY")) => {
                let end = end_of(j);
                let mut items_toks = &sig[j + 2..end];
                let clause_end = sig[end - 1].end;
                if w == "GROUP" {
                    let n = items_toks.len();
                    if n >= 3
                        && items_toks[n - 1].is_word(sql, "ROLLUP")
                        && items_toks[n - 2].is_word(sql, "WITH")
                    {
                        s.rollup = Some((items_toks[n - 2].start, items_toks[n - 1].end));
                        items_toks = &items_toks[..n - 2];
                        s.unsupported.get_or_insert_with(|| ROLLUP.into());
                    } else if items_toks.iter().any(|t| t.is_word(sql, "ROLLUP")) {
                        s.unsupported = Some("this GROUP BY ... ROLLUP".into());
                    }
                    s.group_by = split_items(sql, items_toks, true);
                    s.group_span = Some((sig[j].start, clause_end));
                } else {
                    s.order_by = split_items(sql, items_toks, true);
                    s.order_span = Some((sig[j].start, clause_end));
                }
            }
            "HAVING" => {
                s.having = true;
                let end = end_of(j);
                s.having_span = Some((sig[j].start, sig[end - 1].end));
            }
            "LIMIT" => {
                let end = end_of(j);
                s.limit_span = Some((sig[j].start, sig[end - 1].end));
                s.limit = parse_limit(sql, &sig[j + 1..end]);
                if s.limit.is_none() {
                    s.unsupported = Some("a LIMIT that is not literal numbers".into());
                }
            }
            "INTO" | "PROCEDURE" | "WINDOW" => s.unsupported = Some(format!("SELECT ... {w}")),
            _ => {}
        }
    }
    Some(s)
}

/// `n`, `o, n` or `n OFFSET o` → (offset, count).
pub(crate) fn parse_limit(sql: &str, toks: &[&Token]) -> Option<(u64, u64)> {
    let num = |t: &&Token| -> Option<u64> {
        (t.kind == Kind::Number)
            .then(|| t.text(sql).parse().ok())
            .flatten()
    };
    match toks {
        [n] => Some((0, num(n)?)),
        [o, c, n] if c.is_punct(sql, ",") => Some((num(o)?, num(n)?)),
        [n, w, o] if w.is_word(sql, "OFFSET") => Some((num(o)?, num(n)?)),
        _ => None,
    }
}

/// Splits tokens at depth-0 commas. `sort` items may end in ASC/DESC; select
/// items may end in an alias.
pub(crate) fn split_items(sql: &str, toks: &[&Token], sort: bool) -> Vec<Item> {
    let mut out = Vec::new();
    let mut depth = 0;
    let mut start = 0;
    for k in 0..=toks.len() {
        let at_end = k == toks.len();
        if !at_end {
            let t = toks[k];
            if t.is_punct(sql, "(") {
                depth += 1;
            } else if t.is_punct(sql, ")") {
                depth -= 1;
            }
            if !(depth == 0 && t.is_punct(sql, ",")) {
                continue;
            }
        }
        if k > start {
            out.push(item(sql, &toks[start..k], sort));
        }
        start = k + 1;
    }
    out
}

fn item(sql: &str, toks: &[&Token], sort: bool) -> Item {
    let start = toks[0].start;
    let end = toks[toks.len() - 1].end;
    let mut expr_end = toks.len();
    let mut alias = None;
    let mut desc = false;
    if sort {
        let last = toks[toks.len() - 1];
        if last.is_word(sql, "DESC") || last.is_word(sql, "ASC") {
            desc = last.is_word(sql, "DESC");
            expr_end -= 1;
        }
    } else if toks.len() >= 2 {
        let last = toks[toks.len() - 1];
        let before = toks[toks.len() - 2];
        let is_name = matches!(last.kind, Kind::Word | Kind::QuotedIdent | Kind::String);
        if is_name && before.is_word(sql, "AS") {
            alias = Some(unquote(sql, last));
            expr_end -= 2;
        } else if is_name
            && !before.is_punct(sql, ".")
            && !matches!(before.kind, Kind::Punct if !before.is_punct(sql, ")"))
            && last.kind != Kind::String
            && !is_keyword_tail(sql, last)
        {
            alias = Some(unquote(sql, last));
            expr_end -= 1;
        }
    }
    let expr = (start, toks[expr_end.max(1) - 1].end);
    Item {
        start,
        end,
        alias,
        expr,
        desc,
    }
}

/// Words that end an expression without being an alias.
fn is_keyword_tail(sql: &str, t: &Token) -> bool {
    const KW: &[&str] = &["END", "NULL", "TRUE", "FALSE", "UNKNOWN"];
    KW.iter().any(|k| t.is_word(sql, k))
}

fn unquote(sql: &str, t: &Token) -> String {
    match t.kind {
        Kind::QuotedIdent => crate::sql::lexer::ident_text(sql, t),
        Kind::String => crate::sql::lexer::string_value(sql, t),
        _ => t.text(sql).to_string(),
    }
}

/// Applies byte-range edits (sorted, non-overlapping) to `sql`.
pub fn apply_edits(sql: &str, mut edits: Vec<(usize, usize, String)>) -> String {
    // Insertions at a point go before a replacement starting there.
    edits.sort_by_key(|e| (e.0, e.1));
    let mut out = String::with_capacity(sql.len() + 64);
    let mut last = 0;
    for (s, e, text) in edits {
        debug_assert!(s >= last, "overlapping edits");
        let s = s.max(last);
        let e = e.max(s);
        out.push_str(&sql[last..s]);
        out.push_str(&text);
        last = e;
    }
    out.push_str(&sql[last..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::lexer::tokenize;

    fn sh(sql: &str) -> Shape {
        shape(sql, &tokenize(sql).unwrap()).unwrap()
    }

    #[test]
    fn clauses() {
        let sql = "SELECT DISTINCT a, b + 1 AS s, COUNT(*) c, f(x, y) FROM t WHERE (a, b) IN ((1, 2)) GROUP BY a, b ORDER BY s DESC, 1 LIMIT 5, 10";
        let s = sh(sql);
        assert!(s.distinct);
        let aliases: Vec<_> = s.items.iter().map(|i| i.alias.as_deref()).collect();
        assert_eq!(aliases, vec![None, Some("s"), Some("c"), None]);
        assert_eq!(&sql[s.items[1].expr.0..s.items[1].expr.1], "b + 1");
        assert_eq!(
            &sql[..s.list_end],
            "SELECT DISTINCT a, b + 1 AS s, COUNT(*) c, f(x, y)"
        );
        assert_eq!(s.group_by.len(), 2);
        assert_eq!(s.order_by.len(), 2);
        assert!(s.order_by[0].desc && !s.order_by[1].desc);
        assert_eq!(s.limit, Some((5, 10)));
        let (a, b) = s.limit_span.unwrap();
        assert_eq!(&sql[a..b], "LIMIT 5, 10");
        let (a, b) = s.order_span.unwrap();
        assert_eq!(&sql[a..b], "ORDER BY s DESC, 1");
    }

    #[test]
    fn limit_forms_and_unions() {
        assert_eq!(sh("SELECT a FROM t LIMIT 3 OFFSET 7").limit, Some((7, 3)));
        assert_eq!(
            sh("SELECT a FROM t ORDER BY a LIMIT 3 FOR UPDATE").limit,
            Some((0, 3))
        );
        let sql = "SELECT a FROM t UNION SELECT b FROM u";
        assert!(shape(sql, &tokenize(sql).unwrap()).is_none());
        assert!(sh("SELECT a FROM t GROUP BY a WITH ROLLUP")
            .unsupported
            .is_some());
        assert_eq!(sh("SELECT t.a FROM t").items[0].alias, None);
        assert_eq!(
            sh("SELECT CASE WHEN a THEN 1 END FROM t").items[0].alias,
            None
        );
    }

    #[test]
    fn edits() {
        let sql = "SELECT a FROM t ORDER BY a LIMIT 2, 3";
        let s = sh(sql);
        let (ls, le) = s.limit_span.unwrap();
        let out = apply_edits(
            sql,
            vec![
                (s.list_end, s.list_end, ", w".into()),
                (ls, le, "LIMIT 5".into()),
            ],
        );
        assert_eq!(out, "SELECT a, w FROM t ORDER BY a LIMIT 5");
    }
}
