//! A query block's moving tables: each condition goes where it filters the
//! table and nothing else — at the innermost outer join that makes the table
//! null-supplying (LEFT JOIN's right side, RIGHT JOIN's left side), into that
//! join's ON as `(<outside>) AND (<on>)`; when no outer join does, into the
//! block's WHERE. Filtering a null-supplying side in its join's ON is filtering
//! the table itself: its rows that fail match nothing and the preserved rows
//! stay, null-extended when nothing else matches. A join with no ON (USING,
//! NATURAL) or an ON the gateway cannot locate leaves its tables to
//! [`Walk::factor`]: a filtered derived table in the reference's place.

use sqlparser::ast::{JoinConstraint, JoinOperator, Select, Spanned, TableFactor, TableWithJoins};

use super::moving::{refused, Edit, Refused};
use super::walk::{cond_on, key_of, Conds, Walk, AFTER_WHERE};

/// Where a table's condition goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    Where,
    /// The ON of `ons[i]`.
    On(usize),
    /// A derived table in the reference's place.
    Derived,
}

/// An outer join's ON clause: after its keyword, up to its end.
struct On {
    kw_end: usize,
    end: usize,
    conds: Vec<String>,
}

/// Words that end an ON condition: the next join, or the block's next clause.
const ON_END: &[&str] = &[
    ",",
    "JOIN",
    "INNER",
    "LEFT",
    "RIGHT",
    "CROSS",
    "STRAIGHT_JOIN",
    "NATURAL",
    "FULL",
    "WHERE",
];

impl Walk<'_, '_> {
    /// A query block: its moving tables filtered in its WHERE or its outer
    /// joins' ON (the others become derived tables when visited).
    pub fn select(&mut self, s: &Select) -> Result<(), Refused> {
        let mut c = Conds::default();
        let mut ons: Vec<On> = Vec::new();
        for twj in &s.from {
            self.block_list(twj, Place::Where, &mut c, &mut ons)?;
        }
        let Some(mt) = c.first.clone() else {
            return Ok(());
        };
        if let Some(kind) = &self.other {
            return Err(refused(format!("{kind} reading `{}`", mt.name), &mt));
        }
        for on in ons.into_iter().filter(|o| !o.conds.is_empty()) {
            self.edits.push(Edit {
                start: on.kw_end,
                end: on.kw_end,
                text: format!(" {} AND (", on.conds.join(" AND ")),
            });
            self.edits.push(Edit {
                start: on.end,
                end: on.end,
                text: ")".into(),
            });
        }
        if c.all.is_empty() {
            return Ok(());
        }
        let start = self
            .text
            .offset(s.select_token.0.span.start)
            .ok_or_else(|| self.locate_err(&mt))?;
        self.where_edit(start, s.selection.is_some(), &c, AFTER_WHERE, Some("FROM"))
    }

    /// Places the conditions of a table list whose tables go to `ctx` unless
    /// an outer join inside makes them null-supplying.
    fn block_list(
        &mut self,
        twj: &TableWithJoins,
        ctx: Place,
        c: &mut Conds,
        ons: &mut Vec<On>,
    ) -> Result<(), Refused> {
        let mut place = vec![ctx; twj.joins.len() + 1];
        for (i, j) in twj.joins.iter().enumerate() {
            match &j.join_operator {
                JoinOperator::Join(_)
                | JoinOperator::Inner(_)
                | JoinOperator::CrossJoin(_)
                | JoinOperator::StraightJoin(_) => {}
                JoinOperator::Left(k) | JoinOperator::LeftOuter(k) => {
                    place[i + 1] = self.on_place(k, ons);
                }
                JoinOperator::Right(k) | JoinOperator::RightOuter(k) => {
                    let p = self.on_place(k, ons);
                    for e in place.iter_mut().take(i + 1).filter(|e| **e == ctx) {
                        *e = p;
                    }
                }
                // Not MariaDB's: every table a derived table, to be safe.
                _ => place.iter_mut().for_each(|e| *e = Place::Derived),
            }
        }
        let relations = std::iter::once(&twj.relation).chain(twj.joins.iter().map(|j| &j.relation));
        for (tf, p) in relations.zip(place) {
            self.block_target(tf, p, c, ons)?;
        }
        Ok(())
    }

    fn block_target(
        &mut self,
        tf: &TableFactor,
        place: Place,
        c: &mut Conds,
        ons: &mut Vec<On>,
    ) -> Result<(), Refused> {
        match tf {
            TableFactor::Table { name, alias, .. } => {
                let Some(mt) = self.resolve(name)? else {
                    return Ok(());
                };
                let cond = cond_on(&mt, alias.as_ref());
                match place {
                    Place::Where => c.all.push(cond),
                    Place::On(i) => ons[i].conds.push(cond),
                    Place::Derived => {}
                }
                if place != Place::Derived {
                    self.skip.insert(key_of(tf));
                }
                c.first.get_or_insert(mt);
                Ok(())
            }
            TableFactor::NestedJoin {
                table_with_joins, ..
            } => self.block_list(table_with_joins, place, c, ons),
            // Derived tables and the like: their own blocks are visited.
            _ => Ok(()),
        }
    }

    /// The ON clause of an outer join with constraint `k`, when it has one
    /// the gateway can locate.
    fn on_place(&self, k: &JoinConstraint, ons: &mut Vec<On>) -> Place {
        let JoinConstraint::On(expr) = k else {
            return Place::Derived;
        };
        let sql = self.text.sql;
        let Some(start) = self.text.offset(expr.span().start) else {
            return Place::Derived;
        };
        // The ON keyword: before the expression's first token and any `(`
        // opening it (sqlparser's span of `(a)` starts at `a`).
        let mut i = self.text.sig_at(start);
        while i > 0 && self.text.sig[i - 1].is_punct(sql, "(") {
            i -= 1;
        }
        if i == 0 || !self.text.sig[i - 1].is_word(sql, "ON") {
            return Place::Derived;
        }
        let kw = i - 1;
        let mut stops = ON_END.to_vec();
        stops.extend(AFTER_WHERE);
        let stop = self.text.find_top(kw + 1, &stops);
        let Some(end) = self.text.end_before(stop).filter(|_| stop > kw + 1) else {
            return Place::Derived;
        };
        ons.push(On {
            kw_end: self.text.sig[kw].end,
            end,
            conds: Vec::new(),
        });
        Place::On(ons.len() - 1)
    }
}
