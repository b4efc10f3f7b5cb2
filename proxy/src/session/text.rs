//! Rewrites of a classified statement's text (`crate::command::Statement`,
//! read off its tokens, never lexed again): the equivalent text that lets
//! sqlparser plan one (`LOCK IN SHARE MODE`, `a MOD b`, `GROUP BY x DESC`),
//! `CONNECTION_ID()` as the gateway's id, and calls replaced inside a select
//! list keeping their column names.

use crate::command::Statement;
use crate::sql::lexer::{Kind, Token};

/// A text sqlparser can parse that routes like `sql`: `LOCK IN SHARE MODE`
/// dropped, `a MOD b` as `a % b`, ASC/DESC dropped from GROUP BY lists. `None`
/// when nothing applies.
pub(crate) fn planning_text(stmt: &Statement) -> Option<String> {
    let (sql, sig) = (stmt.sql, &stmt.sig);
    let mut edits: Vec<(usize, usize, String)> = Vec::new();
    for (i, t) in sig.iter().enumerate() {
        if t.is_word(sql, "LOCK")
            && sig.get(i + 1).is_some_and(|t| t.is_word(sql, "IN"))
            && sig.get(i + 2).is_some_and(|t| t.is_word(sql, "SHARE"))
            && sig.get(i + 3).is_some_and(|t| t.is_word(sql, "MODE"))
        {
            edits.push((t.start, sig[i + 3].end, String::new()));
        } else if t.is_word(sql, "GROUP") && sig.get(i + 1).is_some_and(|t| t.is_word(sql, "BY")) {
            // MariaDB's `GROUP BY x DESC`: sqlparser takes no direction there; the
            // planner reads it from the client's text.
            let mut depth = 0i32;
            for u in &sig[i + 2..] {
                if u.is_punct(sql, "(") {
                    depth += 1;
                } else if u.is_punct(sql, ")") {
                    depth -= 1;
                    if depth < 0 {
                        break;
                    }
                } else if depth == 0 && u.kind == Kind::Word {
                    let w = u.text(sql).to_ascii_uppercase();
                    if matches!(w.as_str(), "ASC" | "DESC") {
                        edits.push((u.start, u.end, String::new()));
                    } else if GROUP_BY_ENDS.contains(&w.as_str()) {
                        break;
                    }
                } else if depth == 0 && u.is_punct(sql, ";") {
                    break;
                }
            }
        } else if t.is_word(sql, "MOD")
            && i > 0
            && !sig[i + 1..].first().is_some_and(|n| n.is_punct(sql, "("))
        {
            edits.push((t.start, t.end, "%".into()));
        }
    }
    if sig.first().is_some_and(|t| t.is_word(sql, "UPDATE")) {
        edits.extend(update_commas(sql, sig));
    }
    // Two GROUP BY lists (a text sqlparser refused) may find one ASC/DESC twice.
    edits.sort_by_key(|e| e.0);
    edits.dedup_by(|cur, prev| cur.0 < prev.1);
    (!edits.is_empty()).then(|| crate::route::select::apply_edits(sql, edits))
}

/// MariaDB's multi-table `UPDATE a, b SET ...`: sqlparser reads one table
/// reference there, so each comma of the list becomes `CROSS JOIN` (the same
/// rows: a comma is a cross join of lower precedence, and the list's ON
/// conditions name only tables to their left).
fn update_commas(sql: &str, sig: &[Token]) -> Vec<(usize, usize, String)> {
    let mut depth = 0i32;
    let mut commas = Vec::new();
    for u in &sig[1..] {
        if u.is_punct(sql, "(") {
            depth += 1;
        } else if u.is_punct(sql, ")") {
            depth -= 1;
        } else if depth == 0 && u.is_word(sql, "SET") {
            return commas;
        } else if depth == 0 && u.is_punct(sql, ",") {
            commas.push((u.start, u.end, " CROSS JOIN ".to_string()));
        }
    }
    Vec::new()
}

/// Words that end a GROUP BY list.
const GROUP_BY_ENDS: &[&str] = &[
    "HAVING",
    "ORDER",
    "LIMIT",
    "WINDOW",
    "WITH",
    "UNION",
    "EXCEPT",
    "INTERSECT",
    "PROCEDURE",
    "INTO",
    "FOR",
    "LOCK",
];

/// `sql` with each `CONNECTION_ID()` replaced by this connection's id; a
/// select item holding one, without an alias, keeps its column name (the
/// item's own text as alias). `None` when there is none.
pub(super) fn connection_id_text(stmt: &Statement, id: u32) -> Option<String> {
    let (sql, sig) = (stmt.sql, &stmt.sig[..]);
    let mut calls = Vec::new();
    for (i, t) in sig.iter().enumerate() {
        if t.is_word(sql, "CONNECTION_ID")
            && sig.get(i + 1).is_some_and(|t| t.is_punct(sql, "("))
            && sig.get(i + 2).is_some_and(|t| t.is_punct(sql, ")"))
        {
            calls.push((t.start, sig[i + 2].end, format!("CAST({id} AS UNSIGNED)")));
        }
    }
    (!calls.is_empty()).then(|| rewrite_keeping_names(sql, sig, calls))
}

/// Applies `edits` (byte spans of `sql` and their replacements); the items of
/// the select list they fall in that have no alias get their original text as
/// alias, so a rewritten call keeps MariaDB's column name.
pub(super) fn rewrite_keeping_names(
    sql: &str,
    sig: &[Token],
    mut edits: Vec<(usize, usize, String)>,
) -> String {
    let mut renamed = Vec::new();
    for item in select_items(sql, sig).into_iter().filter(|i| !i.aliased) {
        let (s, e) = (sig[item.first].start, sig[item.end - 1].end);
        let inside: Vec<_> = edits
            .iter()
            .filter(|c| c.0 >= s && c.1 <= e)
            .map(|(a, b, t)| (a - s, b - s, t.clone()))
            .collect();
        if inside.is_empty() {
            continue;
        }
        edits.retain(|c| !(c.0 >= s && c.1 <= e));
        let text = crate::route::select::apply_edits(&sql[s..e], inside);
        renamed.push((
            s,
            e,
            format!("{text} AS `{}`", sql[s..e].replace('`', "``")),
        ));
    }
    edits.extend(renamed);
    crate::route::select::apply_edits(sql, edits)
}

/// An item of a `SELECT` statement's own select list: significant tokens
/// `first..end`, and whether an alias names its column.
pub(super) struct SelectItem {
    pub first: usize,
    pub end: usize,
    pub aliased: bool,
}

/// The items of a `SELECT` statement's own (top-level) select list; none for
/// other statements.
pub(super) fn select_items(sql: &str, sig: &[Token]) -> Vec<SelectItem> {
    if !sig.first().is_some_and(|t| t.is_word(sql, "SELECT")) {
        return Vec::new();
    }
    let mut i = 1;
    while sig.get(i).is_some_and(|t| {
        let w = t.text(sql).to_ascii_uppercase();
        t.kind == Kind::Word
            && (matches!(
                w.as_str(),
                "ALL" | "DISTINCT" | "DISTINCTROW" | "HIGH_PRIORITY" | "STRAIGHT_JOIN"
            ) || w.starts_with("SQL_"))
    }) {
        i += 1;
    }
    const ENDS: &[&str] = &[
        "FROM",
        "WHERE",
        "GROUP",
        "HAVING",
        "ORDER",
        "LIMIT",
        "UNION",
        "INTO",
        "FOR",
        "LOCK",
        "WINDOW",
        "EXCEPT",
        "INTERSECT",
    ];
    let mut items = Vec::new();
    let mut depth = 0i32;
    let mut start = i;
    let mut j = i;
    loop {
        let t = sig.get(j);
        let boundary = match t {
            None => true,
            Some(t) if depth == 0 && t.is_punct(sql, ",") => true,
            Some(t)
                if depth == 0
                    && (t.is_punct(sql, ";")
                        || (t.kind == Kind::Word && ENDS.iter().any(|w| t.is_word(sql, w)))) =>
            {
                true
            }
            Some(t) => {
                if t.is_punct(sql, "(") {
                    depth += 1;
                } else if t.is_punct(sql, ")") {
                    depth -= 1;
                }
                false
            }
        };
        if boundary {
            if j > start {
                items.push(SelectItem {
                    first: start,
                    end: j,
                    aliased: has_alias(sql, &sig[start..j]),
                });
            }
            if t.is_none_or(|t| !t.is_punct(sql, ",")) {
                break;
            }
            start = j + 1;
        }
        j += 1;
    }
    items
}

/// Whether a select item ends with an alias (`x AS a`, `x a`, `f() 'a'`).
fn has_alias(sql: &str, item: &[Token]) -> bool {
    let n = item.len();
    if n < 2 {
        return false;
    }
    let (last, prev) = (&item[n - 1], &item[n - 2]);
    let keyword_end = ["END", "NULL", "TRUE", "FALSE", "UNKNOWN"]
        .iter()
        .any(|w| last.is_word(sql, w));
    // Word operators take the last token as their operand: `x LIKE 'a%'`.
    let operator_before = [
        "COLLATE", "IS", "NOT", "BINARY", "INTERVAL", "LIKE", "REGEXP", "RLIKE", "ESCAPE", "AND",
        "OR", "XOR", "DIV", "MOD", "BETWEEN",
    ]
    .iter()
    .any(|w| prev.is_word(sql, w));
    matches!(last.kind, Kind::Word | Kind::QuotedIdent | Kind::String)
        && !keyword_end
        && !operator_before
        && (prev.is_word(sql, "AS")
            || prev.is_punct(sql, ")")
            || matches!(
                prev.kind,
                Kind::Word | Kind::QuotedIdent | Kind::Number | Kind::String
            ))
}
