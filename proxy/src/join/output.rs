//! Joined rows to the client: the column definitions (each side's, as its
//! sets sent them; the null-extended side of an outer join loses NOT NULL),
//! the gateway's IS [NOT] NULL tests, ORDER BY (held and sorted with the
//! merge's comparison, strings by collation weight), OFFSET/LIMIT, and the
//! projection to the client's select list.

use std::sync::Arc;

use mysql_common::constants::ColumnFlags;
use mysql_common::packets::Column;

use super::plan::{JoinKind, TwoSided};
use super::Budget;
use crate::error::ProxyError;
use crate::front::Responder;
use crate::merge::sort::RowOrder;
use crate::merge::value::Cell;
use crate::merge::KeySpec;

/// The layout of joined rows (side 0's cells, then side 1's).
pub struct Layout {
    /// Width of each side's rows.
    pub width: [usize; 2],
    /// Visible columns of each side.
    pub visible: [usize; 2],
    /// Output column → joined-row column.
    pub project: Vec<usize>,
    pub cols: Vec<Column>,
    /// Definitions of every joined-row column (for sorting).
    pub all: Vec<Column>,
}

impl Layout {
    /// `temp_table`: whether MariaDB sorts the joined rows through a temporary
    /// table, as its plan says; `None`: guessed from the ORDER BY.
    pub fn new(
        j: &TwoSided,
        side_cols: [&Arc<[Column]>; 2],
        temp_table: Option<bool>,
    ) -> Result<Layout, ProxyError> {
        let mut width = [0; 2];
        let mut visible = [0; 2];
        // First joined-row column of each side item.
        let mut starts: [Vec<(usize, usize)>; 2] = [vec![], vec![]];
        for s in 0..2 {
            let side = &j.sides[s];
            width[s] = side_cols[s].len();
            visible[s] = width[s]
                .checked_sub(side.hidden.len())
                .ok_or_else(|| ProxyError::Internal("join: a side has too few columns".into()))?;
            let fixed = side.items.len() - usize::from(side.star.is_some());
            let star_w = visible[s]
                .checked_sub(fixed)
                .ok_or_else(|| ProxyError::Internal("join: a side has too few columns".into()))?;
            if side.star.is_none() && star_w != 0 {
                return Err(ProxyError::Internal(
                    "join: a side has extra columns".into(),
                ));
            }
            let base = if s == 0 { 0 } else { width[0] };
            let mut at = base;
            for i in 0..side.items.len() {
                let w = if side.star == Some(i) { star_w } else { 1 };
                starts[s].push((at, w));
                at += w;
            }
        }
        let nulled = match j.kind {
            JoinKind::Outer { preserved } => Some(1 - preserved),
            JoinKind::Inner => None,
        };
        // ORDER BY columns of both tables, or of an outer join's null-extended
        // table (which cannot be read first): MariaDB sorts the joined rows
        // through a temporary table, whose columns carry no key flags.
        let temp_table = temp_table.unwrap_or_else(|| {
            j.order.iter().any(|k| k.side == 0) && j.order.iter().any(|k| k.side == 1)
                || j.order.iter().any(|k| Some(k.side) == nulled)
        });
        let keys = ColumnFlags::PRI_KEY_FLAG
            | ColumnFlags::UNIQUE_KEY_FLAG
            | ColumnFlags::MULTIPLE_KEY_FLAG
            | ColumnFlags::PART_KEY_FLAG;
        let mut all: Vec<Column> = Vec::with_capacity(width[0] + width[1]);
        for (s, cols) in side_cols.iter().enumerate() {
            for c in cols.iter() {
                let mut f = c.flags();
                if Some(s) == nulled {
                    f -= ColumnFlags::NOT_NULL_FLAG;
                }
                if temp_table {
                    f -= keys;
                }
                all.push(c.clone().with_flags(f));
            }
        }
        let mut project = Vec::new();
        let mut cols = Vec::new();
        for o in &j.out {
            let (at, w) = starts[o.side][o.item];
            project.extend(at..at + w);
            cols.extend(
                all[at..at + w]
                    .iter()
                    .map(|c| match temp_table && !o.constant {
                        true => materialized(c.clone()),
                        false => c.clone(),
                    }),
            );
        }
        Ok(Layout {
            width,
            visible,
            project,
            cols,
            all,
        })
    }

    /// Joined-row index of hidden column `h` of `side`.
    pub fn hidden(&self, side: usize, h: usize) -> usize {
        let base = if side == 0 { 0 } else { self.width[0] };
        base + self.visible[side] + h
    }
}

/// An expression item's definition as MariaDB sends it after sorting the
/// joined rows through a temporary table, where it became a field of its
/// type: named by its column name (`org_name`), without the BINARY flag of a
/// numeric expression, a string without the 39 (not fixed) decimals.
fn materialized(c: Column) -> Column {
    use mysql_common::constants::ColumnType as T;
    if !c.org_name_ref().is_empty() {
        return c;
    }
    let name = c.name_ref().to_vec();
    let mut c = c.with_org_name(&name);
    match c.column_type() {
        T::MYSQL_TYPE_TINY
        | T::MYSQL_TYPE_SHORT
        | T::MYSQL_TYPE_INT24
        | T::MYSQL_TYPE_LONG
        | T::MYSQL_TYPE_LONGLONG
        | T::MYSQL_TYPE_DECIMAL
        | T::MYSQL_TYPE_NEWDECIMAL
        | T::MYSQL_TYPE_FLOAT
        | T::MYSQL_TYPE_DOUBLE => {
            let f = c.flags() - ColumnFlags::BINARY_FLAG;
            c = c.with_flags(f);
        }
        T::MYSQL_TYPE_VARCHAR
        | T::MYSQL_TYPE_VAR_STRING
        | T::MYSQL_TYPE_STRING
        | T::MYSQL_TYPE_TINY_BLOB
        | T::MYSQL_TYPE_MEDIUM_BLOB
        | T::MYSQL_TYPE_LONG_BLOB
        | T::MYSQL_TYPE_BLOB
            if c.decimals() == 39 =>
        {
            c = c.with_decimals(0);
        }
        _ => {}
    }
    c
}

/// Receives joined rows and answers the client.
pub struct Emitter<'j> {
    j: &'j TwoSided,
    /// `SELECT COUNT(*)`: the column definition MariaDB gives it, and the count.
    pub count_col: Option<Column>,
    counted: u64,
    /// GROUP BY / aggregates: MariaDB's definitions of the grouped items, and
    /// the grouping once the layout is known.
    pub group_cols: Option<Vec<Column>>,
    /// Whether MariaDB's plan sorts through a temporary table (`None`: not
    /// known, guessed from the ORDER BY).
    pub temp_table: Option<bool>,
    grouping: Option<super::grouping::Grouping>,
    pub layout: Option<Layout>,
    order: Option<RowOrder>,
    held: Vec<Vec<Cell>>,
    skipped: u64,
    sent: u64,
    started: bool,
}

impl<'j> Emitter<'j> {
    pub fn new(j: &'j TwoSided) -> Self {
        Self {
            j,
            count_col: None,
            counted: 0,
            group_cols: None,
            temp_table: None,
            grouping: None,
            layout: None,
            order: None,
            held: Vec::new(),
            skipped: 0,
            sent: 0,
            started: false,
        }
    }

    /// Sets the layout once both sides' column definitions are known.
    pub fn set_layout(&mut self, side_cols: [&Arc<[Column]>; 2]) -> Result<(), ProxyError> {
        if self.layout.is_some() {
            return Ok(());
        }
        let l = Layout::new(self.j, side_cols, self.temp_table)?;
        if let (Some(gp), Some(cols)) = (&self.j.group, &self.group_cols) {
            self.grouping = Some(super::grouping::Grouping::new(gp, &l, cols)?);
        }
        if !self.j.order.is_empty() {
            let keys: Vec<KeySpec> = self
                .j
                .order
                .iter()
                .map(|k| KeySpec {
                    value: l.hidden(k.side, k.value),
                    weight: Some(l.hidden(k.side, k.weight)),
                    desc: k.desc,
                })
                .collect();
            self.order = Some(RowOrder::new(&keys, &l.all));
        }
        self.layout = Some(l);
        Ok(())
    }

    /// No more rows are wanted (LIMIT reached, nothing to sort).
    pub fn full(&self) -> bool {
        self.order.is_none() && self.j.limit.is_some_and(|l| self.sent >= l)
    }

    /// One joined row (both sides' full rows, concatenated).
    pub async fn push(
        &mut self,
        row: Vec<Cell>,
        budget: &mut Budget,
        out: &mut Responder<'_>,
    ) -> Result<(), ProxyError> {
        let l = self.layout.as_ref().expect("layout first");
        for t in &self.j.null_tests {
            if row[l.hidden(t.side, t.col)].is_none() != t.is_null {
                return Ok(());
            }
        }
        if self.j.count.is_some() {
            self.counted += 1;
            return Ok(());
        }
        if let Some(g) = &mut self.grouping {
            return g.push(&row, budget);
        }
        if self.order.is_some() {
            budget.hold(&row)?;
            self.held.push(row);
            return Ok(());
        }
        self.send(&row, out).await
    }

    async fn send(&mut self, row: &[Cell], out: &mut Responder<'_>) -> Result<(), ProxyError> {
        if self.j.limit.is_some_and(|l| self.sent >= l) {
            return Ok(());
        }
        if self.skipped < self.j.offset {
            self.skipped += 1;
            return Ok(());
        }
        let l = self.layout.as_ref().expect("layout first");
        if !self.started {
            out.columns(&l.cols).await?;
            self.started = true;
        }
        self.sent += 1;
        let project = &l.project;
        out.text_row(project.iter().map(|&i| row[i].as_deref()))
            .await?;
        Ok(())
    }

    /// Sorts what was held, sends it, ends the result.
    pub async fn finish(
        &mut self,
        warnings: u16,
        out: &mut Responder<'_>,
    ) -> Result<(), ProxyError> {
        if let Some(col) = self.count_col.take() {
            out.columns(std::slice::from_ref(&col)).await?;
            if self.j.offset == 0 && self.j.limit != Some(0) {
                let n = self.counted.to_string();
                out.text_row([Some(n.as_bytes())]).await?;
            }
            out.end_rows(warnings).await?;
            return Ok(());
        }
        if let (Some(gp), Some(g)) = (&self.j.group, self.grouping.take()) {
            let cols = self.group_cols.take().unwrap_or_default();
            let rows = g.finish(gp)?;
            out.columns(&cols[..gp.visible]).await?;
            for r in &rows {
                out.text_row(r[..gp.visible].iter().map(|c| c.as_deref()))
                    .await?;
            }
            out.end_rows(warnings).await?;
            return Ok(());
        }
        if let Some(o) = self.order.take() {
            let mut held = std::mem::take(&mut self.held);
            held.sort_by(|a, b| o.compare(a, b));
            for r in &held {
                if self.j.limit.is_some_and(|l| self.sent >= l) {
                    break;
                }
                self.send(r, out).await?;
            }
        }
        if !self.started {
            let l = self.layout.as_ref().expect("layout first");
            out.columns(&l.cols).await?;
            self.started = true;
        }
        out.end_rows(warnings).await?;
        Ok(())
    }
}

/// Whether MariaDB's plan for the client's join (`explain`: it under
/// `EXPLAIN`, run on `set`, which holds both tables) sorts through a temporary
/// table — its result columns then carry no key flags. `None` when the plan
/// could not be read.
pub async fn sorts_through_temporary(
    exec: &mut crate::exec::Exec<'_>,
    set: &str,
    explain: &str,
) -> Option<bool> {
    let mut budget = Budget::new("the EXPLAIN of a join across sets");
    let st = super::fetch::start(exec, &[set.to_string()], explain)
        .await
        .ok()?;
    let (cols, rows, _) = super::fetch::finish(exec, st, &mut budget).await.ok()?;
    let extra = cols
        .iter()
        .position(|c| c.name_ref().eq_ignore_ascii_case(b"Extra"))?;
    Some(rows.iter().any(|r| {
        r.get(extra)
            .and_then(|c| c.as_deref())
            .is_some_and(|e| e.windows(15).any(|w| w == b"Using temporary"))
    }))
}
