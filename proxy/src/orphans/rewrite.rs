//! The orphan filter's text rewrite (pure): a statement in, the same statement
//! seeing no row of the moving slots out, edited at exact places of the
//! client's text (never re-printed from the AST).
//!
//! * A table reference `t [AS a]` of a moving table in any query block (FROM,
//!   JOIN, subquery, derived table, CTE, UNION branch, INSERT…SELECT) becomes
//!   `(SELECT * FROM t WHERE <outside>) AS a` (alias `t` when none): the join
//!   semantics around it (LEFT/RIGHT JOIN, NATURAL, USING) stay MariaDB's own.
//!   `PARTITION (…)` and index hints move inside.
//! * The tables an UPDATE or DELETE writes cannot be derived tables: their
//!   conditions go into the statement's WHERE as `(<outside>) AND (<where>)`
//!   (or a new WHERE before ORDER BY / LIMIT / RETURNING). A moving table on the
//!   inner side of an outer join of a multi-table UPDATE/DELETE is refused.
//! * Anything it cannot edit safely is [`Refused`]: other statements reading a
//!   moving table, text sqlparser cannot parse or an executable comment naming
//!   one, a WITH name shadowing one, `db.table.column` of a derived one, table
//!   functions and other rare table-reference forms.

use std::collections::HashSet;
use std::ops::ControlFlow;

use sqlparser::ast::{
    Delete, Expr, FromTable, JoinOperator, ObjectName, Query, Select, SelectItem,
    SelectItemQualifiedWildcardKind, Spanned, Statement, TableFactor, TableWithJoins, Update,
    Visit, Visitor,
};
use sqlparser::dialect::MySqlDialect;
use sqlparser::parser::Parser;
use topo::moves::SlotSpan;
use topo::KeyType;

use super::locate::{quote, Text};
use crate::route::analyze::split_name;
use crate::sql::lexer::{ident_text, tokenize, Kind, Token};

/// A sharded table (or sharded view) some of whose rows on the set are orphans.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MovingTable {
    pub db: String,
    pub name: String,
    pub key: String,
    pub key_type: KeyType,
    pub slots: u32,
    /// The slots whose rows the set holds without owning them.
    pub spans: Vec<SlotSpan>,
}

impl MovingTable {
    /// The condition keeping the rows of `col` (quoted) outside the orphans.
    fn outside(&self, col: &str) -> String {
        topo::slot::outside_spans_sql(col, self.key_type, self.slots, &self.spans)
    }
}

/// What a statement is filtered against: the moving tables of one set.
#[derive(Debug, Clone)]
pub struct Moving<'a> {
    /// The session's current database (unqualified names resolve there).
    pub session_db: Option<&'a str>,
    pub tables: Vec<MovingTable>,
}

impl Moving<'_> {
    /// The moving table `db.name` (the session's database when `db` is None).
    pub fn find(&self, db: Option<&str>, name: &str) -> Option<&MovingTable> {
        let db = db.or(self.session_db)?;
        self.tables.iter().find(|t| t.db == db && t.name == name)
    }

    /// A moving table of this name in any database.
    fn named(&self, name: &str) -> Option<&MovingTable> {
        self.tables.iter().find(|t| t.name == name)
    }
}

/// A statement that cannot be filtered: `what` it is, and the database whose
/// slots move.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub what: String,
    pub db: String,
}

fn refused(what: impl Into<String>, t: &MovingTable) -> Refused {
    Refused {
        what: what.into(),
        db: t.db.clone(),
    }
}

/// One change to the text: `start..end` replaced by `text`.
#[derive(Debug)]
struct Edit {
    start: usize,
    end: usize,
    text: String,
}

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
    let stmt = match Parser::parse_sql(&MySqlDialect {}, sql) {
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
    let mut w = Walk {
        text: &text,
        m,
        edits: Vec::new(),
        skip: HashSet::new(),
        ctes: cte_names(&stmt),
        derived: Vec::new(),
        three_part: Vec::new(),
        other: None,
    };
    w.statement(&stmt)?;
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

fn key_of(tf: &TableFactor) -> usize {
    tf as *const TableFactor as usize
}

/// The state of one rewrite.
struct Walk<'t, 'a> {
    text: &'t Text<'t>,
    m: &'t Moving<'a>,
    edits: Vec<Edit>,
    /// Table factors an UPDATE/DELETE writes (filtered in its WHERE instead).
    skip: HashSet<usize>,
    ctes: HashSet<String>,
    /// Tables made derived tables, `(db, name)`.
    derived: Vec<(String, String)>,
    /// `(db, table)` of every `db.table.column` and `db.table.*`.
    three_part: Vec<(String, String)>,
    /// The statement is not one whose reads can be filtered (its first word).
    other: Option<String>,
}

impl Walk<'_, '_> {
    fn locate_err(&self, t: &MovingTable) -> Refused {
        refused(
            format!(
                "a statement whose reference to `{}` the gateway cannot locate",
                t.name
            ),
            t,
        )
    }

    fn statement(&mut self, s: &Statement) -> Result<(), Refused> {
        match s {
            Statement::Query(_) | Statement::Insert(_) | Statement::Set(_) => Ok(()),
            Statement::Update(u) => self.update(u),
            Statement::Delete(d) => self.delete(d),
            Statement::Explain { statement, .. } => self.statement(statement),
            _ => {
                let first = self.text.sig.first().map(|t| t.text(self.text.sql));
                self.other = Some(first.unwrap_or("").to_ascii_uppercase());
                Ok(())
            }
        }
    }

    fn update(&mut self, u: &Update) -> Result<(), Refused> {
        let mut conds = Vec::new();
        let mut first = None;
        self.list(&u.table, false, &mut conds, &mut first)?;
        let Some(mt) = first else { return Ok(()) };
        let start = self
            .text
            .offset(u.update_token.0.span.start)
            .ok_or_else(|| self.locate_err(&mt))?;
        self.where_edit(start, u.selection.is_some(), &conds, &mt)
    }

    fn delete(&mut self, d: &Delete) -> Result<(), Refused> {
        let mut conds = Vec::new();
        let mut first = None;
        let (FromTable::WithFromKeyword(from) | FromTable::WithoutKeyword(from)) = &d.from;
        for twj in from.iter().chain(d.using.iter().flatten()) {
            self.list(twj, false, &mut conds, &mut first)?;
        }
        let Some(mt) = first else { return Ok(()) };
        let start = self
            .text
            .offset(d.delete_token.0.span.start)
            .ok_or_else(|| self.locate_err(&mt))?;
        self.where_edit(start, d.selection.is_some(), &conds, &mt)
    }

    /// Conditions for the moving tables of an UPDATE/DELETE table list.
    fn list(
        &mut self,
        twj: &TableWithJoins,
        nullable: bool,
        conds: &mut Vec<String>,
        first: &mut Option<MovingTable>,
    ) -> Result<(), Refused> {
        let right: Vec<bool> = twj
            .joins
            .iter()
            .map(|j| {
                matches!(
                    j.join_operator,
                    JoinOperator::Right(_) | JoinOperator::RightOuter(_)
                )
            })
            .collect();
        let right_after = |i: usize| right[i..].iter().any(|r| *r);
        self.target(&twj.relation, nullable || right_after(0), conds, first)?;
        for (i, j) in twj.joins.iter().enumerate() {
            let inner = match &j.join_operator {
                JoinOperator::Join(_)
                | JoinOperator::Inner(_)
                | JoinOperator::CrossJoin(_)
                | JoinOperator::StraightJoin(_)
                | JoinOperator::Right(_)
                | JoinOperator::RightOuter(_) => false,
                JoinOperator::Left(_) | JoinOperator::LeftOuter(_) => true,
                // Not MariaDB's: nullable, to be safe.
                _ => true,
            };
            self.target(
                &j.relation,
                nullable || inner || right_after(i + 1),
                conds,
                first,
            )?;
        }
        Ok(())
    }

    fn target(
        &mut self,
        tf: &TableFactor,
        nullable: bool,
        conds: &mut Vec<String>,
        first: &mut Option<MovingTable>,
    ) -> Result<(), Refused> {
        match tf {
            TableFactor::Table { name, alias, .. } => {
                self.skip.insert(key_of(tf));
                let (db, t) = split_name(name);
                if db.is_none() && self.ctes.contains(&t) {
                    return Ok(());
                }
                let Some(mt) = self.m.find(db.as_deref(), &t) else {
                    return Ok(());
                };
                if nullable {
                    return Err(refused(
                        format!(
                            "a multi-table UPDATE or DELETE with `{}` on the inner side of an outer join",
                            mt.name
                        ),
                        mt,
                    ));
                }
                let qualifier = match alias {
                    Some(a) => quote(&a.name.value),
                    None => name
                        .0
                        .iter()
                        .filter_map(|p| p.as_ident().map(|i| quote(&i.value)))
                        .collect::<Vec<_>>()
                        .join("."),
                };
                conds.push(format!(
                    "({})",
                    mt.outside(&format!("{qualifier}.{}", quote(&mt.key)))
                ));
                first.get_or_insert_with(|| mt.clone());
                Ok(())
            }
            TableFactor::NestedJoin {
                table_with_joins, ..
            } => self.list(table_with_joins, nullable, conds, first),
            // Derived tables and the like: filtered inside by the visitor.
            _ => Ok(()),
        }
    }

    /// `conds` added to the WHERE of the UPDATE/DELETE starting at `start`.
    fn where_edit(
        &mut self,
        start: usize,
        has_where: bool,
        conds: &[String],
        mt: &MovingTable,
    ) -> Result<(), Refused> {
        const AFTER: &[&str] = &["ORDER", "LIMIT", "RETURNING"];
        let from = self.text.sig_at(start);
        let all = conds.join(" AND ");
        if has_where {
            let w = self.text.find_top(from, &["WHERE"]);
            let kw = *self
                .text
                .sig
                .get(w)
                .filter(|t| t.is_word(self.text.sql, "WHERE"))
                .ok_or_else(|| self.locate_err(mt))?;
            let stop = self.text.find_top(w + 1, AFTER);
            let end = self
                .text
                .end_before(stop)
                .filter(|&e| e > kw.end)
                .ok_or_else(|| self.locate_err(mt))?;
            self.edits.push(Edit {
                start: kw.end,
                end: kw.end,
                text: format!(" {all} AND ("),
            });
            self.edits.push(Edit {
                start: end,
                end,
                text: ")".into(),
            });
        } else {
            let stop = self
                .text
                .find_top(from, &["ORDER", "LIMIT", "RETURNING", "WHERE"]);
            if self
                .text
                .sig
                .get(stop)
                .is_some_and(|t| t.is_word(self.text.sql, "WHERE"))
            {
                return Err(self.locate_err(mt));
            }
            let at = self
                .text
                .end_before(stop)
                .ok_or_else(|| self.locate_err(mt))?;
            self.edits.push(Edit {
                start: at,
                end: at,
                text: format!(" WHERE {all}"),
            });
        }
        Ok(())
    }

    /// A table reference read by a query block: made a filtered derived table
    /// when its table moves.
    fn factor(&mut self, tf: &TableFactor) -> Result<(), Refused> {
        let TableFactor::Table {
            name,
            alias,
            args,
            with_hints,
            version,
            partitions,
            with_ordinality,
            json_path,
            sample,
            index_hints,
        } = tf
        else {
            return Ok(());
        };
        if self.skip.contains(&key_of(tf)) {
            return Ok(());
        }
        let (db, t) = split_name(name);
        if db.is_none() && self.ctes.contains(&t) {
            return match self.m.find(None, &t) {
                Some(mt) => Err(refused(
                    format!("a WITH query named like the table `{t}`"),
                    mt,
                )),
                None => Ok(()),
            };
        }
        let Some(mt) = self.m.find(db.as_deref(), &t) else {
            return Ok(());
        };
        if let Some(kind) = &self.other {
            return Err(refused(format!("{kind} reading `{}`", mt.name), mt));
        }
        if args.is_some()
            || !with_hints.is_empty()
            || version.is_some()
            || *with_ordinality
            || json_path.is_some()
            || sample.is_some()
            || alias.as_ref().is_some_and(|a| !a.columns.is_empty())
        {
            return Err(refused(
                format!("this form of reference to `{}`", mt.name),
                mt,
            ));
        }
        let sql = self.text.sql;
        let (start, name_end) = self
            .text
            .range(name.span())
            .ok_or_else(|| self.locate_err(mt))?;
        let mut end = name_end;
        let mut part = "";
        if !partitions.is_empty() {
            let i = self.text.sig_at(name_end);
            let kw = self
                .text
                .sig
                .get(i)
                .filter(|t| t.is_word(sql, "PARTITION"))
                .ok_or_else(|| self.locate_err(mt))?;
            let close = self
                .text
                .close_of(i + 1)
                .ok_or_else(|| self.locate_err(mt))?;
            end = self.text.sig[close].end;
            part = &sql[kw.start..end];
        }
        let alias_text = match alias {
            Some(a) => {
                let (s, e) = self
                    .text
                    .range(a.name.span)
                    .filter(|&(s, _)| s >= end)
                    .ok_or_else(|| self.locate_err(mt))?;
                end = e;
                sql[s..e].to_string()
            }
            None => quote(&t),
        };
        let mut hints = "";
        if !index_hints.is_empty() {
            let mut i = self.text.sig_at(end);
            let from = self
                .text
                .sig
                .get(i)
                .ok_or_else(|| self.locate_err(mt))?
                .start;
            for _ in index_hints {
                while self.text.sig.get(i).is_some_and(|t| t.kind == Kind::Word) {
                    i += 1;
                }
                let close = self
                    .text
                    .close_of(i)
                    .filter(|_| self.text.sig[i].is_punct(sql, "("))
                    .ok_or_else(|| self.locate_err(mt))?;
                end = self.text.sig[close].end;
                i = close + 1;
            }
            hints = &sql[from..end];
        }
        let mut inner = sql[start..name_end].to_string();
        for extra in [part, hints] {
            if !extra.is_empty() {
                inner.push(' ');
                inner.push_str(extra);
            }
        }
        let cond = mt.outside(&quote(&mt.key));
        self.edits.push(Edit {
            start,
            end,
            text: format!("(SELECT * FROM {inner} WHERE {cond}) AS {alias_text}"),
        });
        self.derived.push((mt.db.clone(), mt.name.clone()));
        Ok(())
    }

    fn note_qualified(&mut self, name: &ObjectName) {
        if let (Some(db), t) = split_name(name) {
            self.three_part.push((db, t));
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
                self.w.note_qualified(n);
            }
        }
        ControlFlow::Continue(())
    }
}

#[cfg(test)]
#[path = "rewrite_tests.rs"]
mod tests;
