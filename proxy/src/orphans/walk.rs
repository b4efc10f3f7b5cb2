//! Where each moving table's condition goes, one query block or UPDATE/DELETE
//! at a time (the edits of [`super::rewrite`]):
//!
//! * a query block's tables: see [`super::outer`] (WHERE, an outer join's ON,
//!   or a filtered derived table in the reference's place, made here by
//!   [`Walk::factor`]);
//! * the tables an UPDATE/DELETE writes: `(<outside on alias.key>) AND
//!   (<where>)` in its WHERE; on the inner side of an outer join they are
//!   refused (a derived table cannot be written).

use std::collections::HashSet;

use sqlparser::ast::{
    Delete, FromTable, JoinOperator, ObjectName, Spanned, TableAlias, TableFactor, TableWithJoins,
    Update,
};

use super::locate::{quote, Text};
use super::moving::{refused, Edit, Moving, MovingTable, Refused};
use crate::route::analyze::split_name;
use crate::sql::lexer::Kind;

/// The condition keeping `mt`'s rows outside the orphans, on its alias (or
/// its qualified name).
pub(super) fn cond_on(mt: &MovingTable, alias: Option<&TableAlias>) -> String {
    let qualifier = match alias {
        Some(a) => quote(&a.name.value),
        None => format!("{}.{}", quote(&mt.db), quote(&mt.name)),
    };
    format!(
        "({})",
        mt.outside(&format!("{qualifier}.{}", quote(&mt.key)))
    )
}

/// Words that end a query block.
const BLOCK_END: &[&str] = &["UNION", "EXCEPT", "INTERSECT", "MINUS"];
/// Words that end a block's WHERE (or FROM): the clauses after it.
pub(super) const AFTER_WHERE: &[&str] = &[
    "GROUP",
    "HAVING",
    "WINDOW",
    "ORDER",
    "LIMIT",
    "FOR",
    "LOCK",
    "INTO",
    "FETCH",
    "PROCEDURE",
    "ON",
    "UNION",
    "EXCEPT",
    "INTERSECT",
    "MINUS",
];

pub(super) fn key_of(tf: &TableFactor) -> usize {
    tf as *const TableFactor as usize
}

/// The conditions gathered for one block.
#[derive(Default)]
pub(super) struct Conds {
    pub all: Vec<String>,
    pub first: Option<MovingTable>,
}

/// The state of one rewrite.
pub(super) struct Walk<'t, 'a> {
    pub text: &'t Text<'t>,
    pub m: &'t Moving<'a>,
    pub edits: Vec<Edit>,
    /// Table factors filtered in their block's WHERE (not made derived tables).
    pub skip: HashSet<usize>,
    pub ctes: HashSet<String>,
    /// Tables made derived tables, `(db, name)`.
    pub derived: Vec<(String, String)>,
    /// `(db, table)` of every `db.table.column` and `db.table.*`.
    pub three_part: Vec<(String, String)>,
    /// The statement is not one whose reads can be filtered (its first word).
    pub other: Option<String>,
}

impl<'t, 'a> Walk<'t, 'a> {
    pub fn new(text: &'t Text<'t>, m: &'t Moving<'a>, ctes: HashSet<String>) -> Self {
        Self {
            text,
            m,
            edits: Vec::new(),
            skip: HashSet::new(),
            ctes,
            derived: Vec::new(),
            three_part: Vec::new(),
            other: None,
        }
    }
}

impl Walk<'_, '_> {
    pub(super) fn locate_err(&self, t: &MovingTable) -> Refused {
        refused(
            format!(
                "a statement whose reference to `{}` the gateway cannot locate",
                t.name
            ),
            t,
        )
    }

    pub fn update(&mut self, u: &Update) -> Result<(), Refused> {
        let mut c = Conds::default();
        self.list(&u.table, false, &mut c)?;
        let Some(mt) = c.first.clone() else {
            return Ok(());
        };
        let start = self
            .text
            .offset(u.update_token.0.span.start)
            .ok_or_else(|| self.locate_err(&mt))?;
        self.where_edit(start, u.selection.is_some(), &c, &["ORDER", "LIMIT"], None)
    }

    pub fn delete(&mut self, d: &Delete) -> Result<(), Refused> {
        let mut c = Conds::default();
        let (FromTable::WithFromKeyword(from) | FromTable::WithoutKeyword(from)) = &d.from;
        for twj in from.iter().chain(d.using.iter().flatten()) {
            self.list(twj, false, &mut c)?;
        }
        let Some(mt) = c.first.clone() else {
            return Ok(());
        };
        let start = self
            .text
            .offset(d.delete_token.0.span.start)
            .ok_or_else(|| self.locate_err(&mt))?;
        let after = ["ORDER", "LIMIT", "RETURNING"];
        self.where_edit(start, d.selection.is_some(), &c, &after, None)
    }

    /// Conditions for the moving tables of a table list.
    fn list(&mut self, twj: &TableWithJoins, nullable: bool, c: &mut Conds) -> Result<(), Refused> {
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
        self.target(&twj.relation, nullable || right_after(0), c)?;
        for (i, j) in twj.joins.iter().enumerate() {
            let inner = match &j.join_operator {
                JoinOperator::Join(_)
                | JoinOperator::Inner(_)
                | JoinOperator::CrossJoin(_)
                | JoinOperator::StraightJoin(_)
                | JoinOperator::Right(_)
                | JoinOperator::RightOuter(_) => false,
                JoinOperator::Left(_) | JoinOperator::LeftOuter(_) => true,
                // Not MariaDB's: treated as outer, to be safe.
                _ => true,
            };
            self.target(&j.relation, nullable || inner || right_after(i + 1), c)?;
        }
        Ok(())
    }

    fn target(&mut self, tf: &TableFactor, nullable: bool, c: &mut Conds) -> Result<(), Refused> {
        match tf {
            TableFactor::Table { name, alias, .. } => {
                let Some(mt) = self.resolve(name)? else {
                    return Ok(());
                };
                if nullable {
                    return Err(refused(
                        format!(
                            "a multi-table UPDATE or DELETE with `{}` on the inner side of an outer join",
                            mt.name
                        ),
                        &mt,
                    ));
                }
                self.skip.insert(key_of(tf));
                c.all.push(cond_on(&mt, alias.as_ref()));
                c.first.get_or_insert(mt);
                Ok(())
            }
            TableFactor::NestedJoin {
                table_with_joins, ..
            } => self.list(table_with_joins, nullable, c),
            // Derived tables and the like: their own blocks are visited.
            _ => Ok(()),
        }
    }

    /// The moving table a table name resolves to (None: another table, or a
    /// WITH name); a WITH name equal to a moving table's is refused.
    pub(super) fn resolve(&self, name: &ObjectName) -> Result<Option<MovingTable>, Refused> {
        let (db, t) = split_name(name);
        if db.is_none() && self.ctes.contains(&t) {
            return match self.m.find(None, &t) {
                Some(mt) => Err(refused(
                    format!("a WITH query named like the table `{t}`"),
                    mt,
                )),
                None => Ok(None),
            };
        }
        Ok(self.m.find(db.as_deref(), &t).cloned())
    }

    /// `c` added to the WHERE of the statement or block starting at `start`
    /// (its WHERE ends at one of `after`); without a WHERE, one is added after
    /// the FROM clause (from the `from` keyword on, when given).
    pub(super) fn where_edit(
        &mut self,
        start: usize,
        has_where: bool,
        c: &Conds,
        after: &[&str],
        from_kw: Option<&str>,
    ) -> Result<(), Refused> {
        let mt = c.first.as_ref().expect("conditions");
        let sql = self.text.sql;
        let begin = self.text.sig_at(start);
        let all = c.all.join(" AND ");
        let mut stops: Vec<&str> = BLOCK_END.to_vec();
        if has_where {
            stops.push("WHERE");
            let w = self.text.find_top(begin, &stops);
            let kw = *self
                .text
                .sig
                .get(w)
                .filter(|t| t.is_word(sql, "WHERE"))
                .ok_or_else(|| self.locate_err(mt))?;
            let stop = self.text.find_top(w + 1, after);
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
            return Ok(());
        }
        let mut from = begin;
        if let Some(word) = from_kw {
            stops.push(word);
            from = self.text.find_top(begin, &stops);
            if !self
                .text
                .sig
                .get(from)
                .is_some_and(|t| t.is_word(sql, word))
            {
                return Err(self.locate_err(mt));
            }
        }
        let mut ends: Vec<&str> = after.to_vec();
        ends.push("WHERE");
        let stop = self.text.find_top(from + 1, &ends);
        if self
            .text
            .sig
            .get(stop)
            .is_some_and(|t| t.is_word(sql, "WHERE"))
        {
            return Err(self.locate_err(mt));
        }
        let at = self
            .text
            .end_before(stop)
            .filter(|_| stop > from + 1)
            .ok_or_else(|| self.locate_err(mt))?;
        self.edits.push(Edit {
            start: at,
            end: at,
            text: format!(" WHERE {all}"),
        });
        Ok(())
    }

    /// A table reference not filtered in its block's WHERE (the inner side of
    /// an outer join): made a filtered derived table when its table moves.
    pub fn factor(&mut self, tf: &TableFactor) -> Result<(), Refused> {
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
            return Ok(());
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
}
