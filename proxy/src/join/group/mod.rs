//! GROUP BY, aggregates (COUNT, SUM, MIN, MAX, AVG), DISTINCT and HAVING over
//! the rows of a cross-set join, grouped by the gateway.
//!
//! Each joined row becomes one "set row" of the merge's fold
//! ([`crate::merge::aggregate`]): COUNT(*) is 1, COUNT(x) 1 or 0, SUM / MIN /
//! MAX the value, AVG a hidden sum and count; group keys carry their collation
//! weight. The rows are sorted on the group keys and folded by the merge's
//! `Grouper` ([`super::grouping`] runs it); HAVING is the merge's [`Filter`]. Column definitions are
//! MariaDB's own: the client's statement with `LIMIT 0`, asked of a set that
//! holds both tables (none: refused with 1235).
//!
//! The pieces: the plan's types here; [`planner`] (the select list, GROUP BY,
//! DISTINCT and ORDER BY), [`having`], [`columns`] (the statement asked for
//! the column definitions), [`exprs`] (aggregate calls and select-list
//! references recognised).

mod columns;
mod exprs;
mod having;
mod planner;

pub use planner::{plan, Planner};

use crate::merge::filter::Filter;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fun {
    CountStar,
    Count,
    Sum,
    Min,
    Max,
    Avg,
}

/// A column of one side's query: side, hidden value, hidden weight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SideCol {
    pub side: usize,
    pub value: usize,
    pub weight: usize,
}

/// A result column (visible, or needed by HAVING / ORDER BY).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// A group key's value (as any row of the group has it).
    Key { col: SideCol, text: String },
    Agg {
        fun: Fun,
        arg: Option<SideCol>,
        text: String,
    },
}

impl Item {
    pub(super) fn text(&self) -> &str {
        match self {
            Item::Key { text, .. } | Item::Agg { text, .. } => text,
        }
    }
    /// Helper columns after the items: weight (keys, MIN/MAX), sum and count (AVG).
    pub(super) fn helpers(&self) -> usize {
        match self {
            Item::Key { .. }
            | Item::Agg {
                fun: Fun::Min | Fun::Max,
                ..
            } => 1,
            Item::Agg { fun: Fun::Avg, .. } => 2,
            Item::Agg { .. } => 0,
        }
    }
}

/// The grouping of a join's rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupPlan {
    /// Visible items first, then those only HAVING / ORDER BY use.
    pub items: Vec<Item>,
    pub visible: usize,
    /// GROUP BY keys (all items under DISTINCT).
    pub keys: Vec<SideCol>,
    /// No GROUP BY: one row even over no joined rows.
    pub one_row: bool,
    pub having: Option<Filter>,
    /// Result order: item, DESC.
    pub order: Vec<(usize, bool)>,
    pub offset: u64,
    pub limit: Option<u64>,
    /// The statement asked for the column definitions, and where.
    pub columns_sql: String,
    pub columns_set: String,
}

impl GroupPlan {
    /// First helper column of each item, in the folded rows.
    pub(super) fn helper_at(&self) -> Vec<usize> {
        let mut at = self.items.len();
        self.items
            .iter()
            .map(|it| {
                let a = at;
                at += it.helpers();
                a
            })
            .collect()
    }

    /// The grouping step, as a line of the plan's description.
    pub fn describe(&self) -> String {
        let aggs = self
            .items
            .iter()
            .filter(|i| matches!(i, Item::Agg { .. }))
            .count();
        format!(
            "  then in the gateway: group by {} keys, {} aggregates{}, {} sort keys, OFFSET {}, LIMIT {} (column definitions from {})",
            self.keys.len(),
            aggs,
            if self.having.is_some() { ", HAVING" } else { "" },
            self.order.len(),
            self.offset,
            self.limit.map_or("none".to_string(), |l| l.to_string()),
            self.columns_set
        )
    }

    /// The weight column of item `i`, when it has one.
    pub(super) fn weight_of(&self, i: usize) -> Option<usize> {
        (matches!(
            self.items[i],
            Item::Key { .. }
                | Item::Agg {
                    fun: Fun::Min | Fun::Max,
                    ..
                }
        ))
        .then(|| self.helper_at()[i])
    }
}
