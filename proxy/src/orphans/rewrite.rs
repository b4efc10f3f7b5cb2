//! The orphan filter's text rewrite (pure): a statement in, the same statement
//! seeing no row of the moving slots out, edited at exact places of the
//! client's text (never re-printed from the AST).
//!
//! Every query block (FROM, JOIN, subquery, derived table, CTE, UNION branch,
//! INSERT…SELECT) and UPDATE/DELETE gets a condition per reference to a moving
//! table: in its WHERE or, on the inner side of an outer join, in that join's ON
//! ([`super::outer`]); without an ON (USING, NATURAL), as a filtered derived
//! table in the reference's place ([`super::walk`]).
//! * Anything it cannot edit safely is [`Refused`]: other statements reading a
//!   moving table, text sqlparser cannot parse or an executable comment naming
//!   one, a WITH name shadowing one, `db.table.column` of a derived one, table
//!   functions and other rare table-reference forms.

use std::collections::HashSet;
use std::ops::ControlFlow;

use sqlparser::ast::{
    Expr, Query, Select, SelectItem, SelectItemQualifiedWildcardKind, Statement, TableFactor,
    Visit, Visitor,
};
use sqlparser::dialect::MySqlDialect;
use sqlparser::parser::Parser;

use super::locate::Text;
use super::moving::{refused, Edit};
pub use super::moving::{Moving, MovingTable, Refused};
use super::walk::Walk;
use crate::route::analyze::split_name;
use crate::sql::lexer::{ident_text, tokenize, Kind, Token};

/// `sql` seeing no orphan row of `m`'s tables: `None` when it needs no change.
pub fn rewrite(sql: &str, m: &Moving<'_>) -> Result<Option<String>, Refused> {
    if m.tables.is_empty() {
        return Ok(None);
    }
    // Text that does not lex does not run either (MariaDB refuses it).
    let Ok(tokens) = tokenize(sql) else {
        return Ok(None);
    };
    executable_comments(sql, &tokens, m)?;
    // A statement naming no moving table reads none of its rows (a view over
    // one is itself a sharded table of the snapshot; routines and triggers
    // never read sharded tables).
    if mentioned(sql, &tokens, m).is_none() {
        return Ok(None);
    }
    let stmt = match Parser::parse_sql(&MySqlDialect {}, &parseable(sql, &tokens)) {
        Ok(mut v) if v.len() == 1 => v.remove(0),
        _ => {
            return match mentioned(sql, &tokens, m) {
                Some(t) => Err(refused(
                    format!("a statement the gateway cannot parse naming `{}`", t.name),
                    t,
                )),
                None => Ok(None),
            }
        }
    };
    let text = Text::new(sql, &tokens);
    let mut w = Walk::new(&text, m, cte_names(&stmt));
    statement(&mut w, &stmt)?;
    let mut f = Factors {
        w: &mut w,
        err: None,
    };
    let _ = stmt.visit(&mut f);
    if let Some(e) = f.err {
        return Err(e);
    }
    for (db, t) in &w.three_part {
        if w.derived.iter().any(|(d, n)| d == db && n == t) {
            let mt = m.find(Some(db), t).expect("derived tables are moving");
            return Err(refused(
                format!("a column named with its database (`{db}`.`{t}`.column)"),
                mt,
            ));
        }
    }
    apply(sql, w.edits, m)
}

/// Applies non-overlapping edits.
fn apply(sql: &str, mut edits: Vec<Edit>, m: &Moving<'_>) -> Result<Option<String>, Refused> {
    if edits.is_empty() {
        return Ok(None);
    }
    edits.sort_by_key(|e| (e.start, e.end));
    let mut out = String::with_capacity(sql.len() + 128 * edits.len());
    let mut at = 0;
    for e in &edits {
        if e.start < at {
            return Err(Refused {
                what: "a statement whose table references overlap".into(),
                db: m.tables[0].db.clone(),
            });
        }
        out.push_str(&sql[at..e.start]);
        out.push_str(&e.text);
        at = e.end;
    }
    out.push_str(&sql[at..]);
    Ok(Some(out))
}

/// `sql` with MariaDB syntax sqlparser does not know, and that names no table,
/// blanked out or replaced by what it knows, keeping every position: `LOCK IN
/// SHARE MODE`, `GROUP BY a DESC`, `SOUNDS LIKE`, the `MOD` operator.
pub(super) fn parseable<'s>(sql: &'s str, tokens: &[Token]) -> std::borrow::Cow<'s, str> {
    let sig: Vec<&Token> = tokens.iter().filter(|t| !t.is_trivia()).collect();
    let mut edits: Vec<(usize, usize, &str)> = Vec::new();
    for (i, t) in sig.iter().enumerate() {
        let next_is = |w: &str| sig.get(i + 1).is_some_and(|n| n.is_word(sql, w));
        if t.is_word(sql, "LOCK")
            && next_is("IN")
            && sig.get(i + 3).is_some_and(|n| n.is_word(sql, "MODE"))
        {
            edits.push((t.start, sig[i + 3].end, ""));
        } else if (i > 0 && (t.is_word(sql, "ASC") || t.is_word(sql, "DESC")))
            || (t.is_word(sql, "SOUNDS") && next_is("LIKE"))
        {
            edits.push((t.start, t.end, ""));
        } else if t.is_word(sql, "MOD") && !sig.get(i + 1).is_some_and(|n| n.is_punct(sql, "(")) {
            edits.push((t.start, t.end, "%"));
        }
    }
    if edits.is_empty() {
        return std::borrow::Cow::Borrowed(sql);
    }
    let mut out = sql.to_string();
    for (s, e, with) in edits {
        let pad = " ".repeat(e - s - with.len());
        out.replace_range(s..e, &format!("{with}{pad}"));
    }
    std::borrow::Cow::Owned(out)
}

/// A moving table named (as an identifier) in `tokens`.
fn mentioned<'m>(sql: &str, tokens: &[Token], m: &'m Moving<'_>) -> Option<&'m MovingTable> {
    tokens
        .iter()
        .filter(|t| matches!(t.kind, Kind::Word | Kind::QuotedIdent))
        .find_map(|t| m.named(&ident_text(sql, t)))
}

/// Refuses `/*! ... */` and `/*M! ... */` (MariaDB runs their text, sqlparser
/// skips it) when they name a moving table.
fn executable_comments(sql: &str, tokens: &[Token], m: &Moving<'_>) -> Result<(), Refused> {
    for t in tokens.iter().filter(|t| t.kind == Kind::Comment) {
        let c = t.text(sql);
        let body = match c.strip_prefix("/*!").or_else(|| c.strip_prefix("/*M!")) {
            Some(b) => b.strip_suffix("*/").unwrap_or(b),
            None => continue,
        };
        let body = body.trim_start_matches(|ch: char| ch.is_ascii_digit());
        let inner = tokenize(body).unwrap_or_default();
        if let Some(mt) = mentioned(body, &inner, m) {
            return Err(refused(
                format!("an executable comment (/*! ... */) naming `{}`", mt.name),
                mt,
            ));
        }
    }
    Ok(())
}

/// Every name a `WITH` defines anywhere in the statement.
fn cte_names(stmt: &Statement) -> HashSet<String> {
    struct Ctes(HashSet<String>);
    impl Visitor for Ctes {
        type Break = ();
        fn pre_visit_query(&mut self, q: &Query) -> ControlFlow<()> {
            if let Some(with) = &q.with {
                for c in &with.cte_tables {
                    self.0.insert(c.alias.name.value.clone());
                }
            }
            ControlFlow::Continue(())
        }
    }
    let mut c = Ctes(HashSet::new());
    let _ = stmt.visit(&mut c);
    c.0
}

/// The UPDATE/DELETE conditions; other statements than reads and writes are
/// noted (a moving table they read is refused).
fn statement(w: &mut Walk<'_, '_>, s: &Statement) -> Result<(), Refused> {
    match s {
        Statement::Query(_) | Statement::Insert(_) | Statement::Set(_) => Ok(()),
        Statement::Update(u) => w.update(u),
        Statement::Delete(d) => w.delete(d),
        Statement::Explain { statement, .. } => self::statement(w, statement),
        _ => {
            let first = w.text.sig.first().map(|t| t.text(w.text.sql));
            w.other = Some(first.unwrap_or("").to_ascii_uppercase());
            Ok(())
        }
    }
}

/// Visits every table reference and `db.table.column` of the statement.
struct Factors<'w, 't, 'a> {
    w: &'w mut Walk<'t, 'a>,
    err: Option<Refused>,
}

impl Visitor for Factors<'_, '_, '_> {
    type Break = ();

    fn pre_visit_table_factor(&mut self, tf: &TableFactor) -> ControlFlow<()> {
        match self.w.factor(tf) {
            Ok(()) => ControlFlow::Continue(()),
            Err(e) => {
                self.err = Some(e);
                ControlFlow::Break(())
            }
        }
    }

    fn pre_visit_expr(&mut self, e: &Expr) -> ControlFlow<()> {
        if let Expr::CompoundIdentifier(ids) = e {
            if ids.len() >= 3 {
                let n = ids.len();
                self.w
                    .three_part
                    .push((ids[n - 3].value.clone(), ids[n - 2].value.clone()));
            }
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_select(&mut self, s: &Select) -> ControlFlow<()> {
        for item in &s.projection {
            if let SelectItem::QualifiedWildcard(
                SelectItemQualifiedWildcardKind::ObjectName(n),
                _,
            ) = item
            {
                if let (Some(db), t) = split_name(n) {
                    self.w.three_part.push((db, t));
                }
            }
        }
        match self.w.select(s) {
            Ok(()) => ControlFlow::Continue(()),
            Err(e) => {
                self.err = Some(e);
                ControlFlow::Break(())
            }
        }
    }
}

#[cfg(test)]
#[path = "rewrite_tests.rs"]
mod tests;
